"""pg_stat_statements over an interval: snapshots of the view, and their per-query delta.

* :mod:`perfkit.livestats.snapshot` reads one snapshot (SQL per server version) and
  saves/loads it as versioned JSON;
* :mod:`perfkit.livestats.delta` turns two snapshots into what happened between them,
  and says when that is not the whole story (a reset, evictions, texts not readable);
* :mod:`perfkit.livestats.run` is what the CLI and the check type call;
* :mod:`perfkit.livestats.document` renders a delta (pure).
"""
