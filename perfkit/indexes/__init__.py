"""Missing indexes and plan analysis: ``perfkit suggest-indexes`` and ``perfkit explain``.

Entry points: :func:`perfkit.indexes.run.suggest`, :func:`perfkit.indexes.run.explain_queries`;
the library core is :func:`perfkit.indexes.advisor.suggest_indexes`.
"""
