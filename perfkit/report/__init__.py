"""Report model and renderers.

Core functions return frozen dataclasses; each capability converts its result to a
:class:`Document` (``to_document()``), and the renderers here turn a document into
``table`` / ``json`` / ``csv`` / ``markdown`` text. The renderers are pure: text in,
text out. Only :mod:`perfkit.report.terminal` imports rich.
"""

from perfkit.report.model import Column, Document, Table
from perfkit.report.output import write_atomic
from perfkit.report.progress import NullProgress, ProgressSink
from perfkit.report.render import FORMATS, render

__all__ = [
    "FORMATS",
    "Column",
    "Document",
    "NullProgress",
    "ProgressSink",
    "Table",
    "render",
    "write_atomic",
]
