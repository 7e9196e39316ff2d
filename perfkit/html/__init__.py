"""HTML reports: one self-contained page from any perfkit JSON report.

:func:`render` takes the JSON report (a dict, as ``--format json`` writes it), checks its
``kind`` and ``schema_version`` and hands it to the page module registered for that kind
(:mod:`perfkit.html.pages`; a new page is one module there). Pages are pure functions of
the JSON: every figure a page shows or embeds comes from it (aggregated, bounded), the
charting library (uPlot, MIT, ``assets/``) is inlined, so the file opens from ``file://``
without network access.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from perfkit.errors import InputError

if TYPE_CHECKING:
    from perfkit.report.model import Document

__all__ = ["PAGES", "SUPPORTED_SCHEMA", "check_report", "render", "render_document"]

#: The JSON schema version each page understands, by report ``kind``.
SUPPORTED_SCHEMA: dict[str, int] = {
    "analyze": 1,
    "pool": 1,
    "batch": 1,
    "replay": 1,
    "explain": 1,
    "suggest-indexes": 1,
    "coldstart": 1,
    "check": 1,
    "db-status": 1,
    "demo": 1,
    "stats-delta": 1,
    "pool-storm": 1,
}

#: kind -> module under perfkit.html.pages with ``render(report) -> str``
PAGES: dict[str, str] = {
    "analyze": "analyze",
    "pool": "pool",
    "batch": "batch",
    "replay": "replay",
    "explain": "plans",
    "suggest-indexes": "plans",
    "coldstart": "coldstart",
    "check": "check",
    "db-status": "generic",
    "demo": "generic",
    "stats-delta": "stats",
    "pool-storm": "storm",
}


def check_report(report: Any, source: str = "<report>") -> tuple[str, int]:
    """The report's ``(kind, schema_version)``; :class:`InputError` naming ``source`` when
    it is not a perfkit JSON report this version can draw."""
    if not isinstance(report, Mapping):
        raise InputError(source, "not a perfkit JSON report (expected a JSON object)")
    kind = report.get("kind")
    version = report.get("schema_version")
    if not isinstance(kind, str) or not isinstance(version, int) or isinstance(version, bool):
        raise InputError(
            source, "not a perfkit JSON report (no 'kind' and 'schema_version' at the top)"
        )
    if kind not in SUPPORTED_SCHEMA:
        known = ", ".join(sorted(SUPPORTED_SCHEMA))
        raise InputError(source, f"no HTML page for report kind {kind!r} (known: {known})")
    if version != SUPPORTED_SCHEMA[kind]:
        raise InputError(
            source,
            f"{kind} report schema_version {version} is not supported by this perfkit "
            f"(it reads version {SUPPORTED_SCHEMA[kind]})",
        )
    return kind, version


def render(report: Mapping[str, Any], source: str = "<report>") -> str:
    """The HTML page of a perfkit JSON report."""
    import importlib

    kind, _ = check_report(report, source)
    module = importlib.import_module(f"perfkit.html.pages.{PAGES[kind]}")
    page: Callable[[Mapping[str, Any]], str] = module.render
    try:
        return page(report)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputError(source, f"malformed {kind} report: {type(exc).__name__}: {exc}") from None


def render_document(doc: Document) -> str:
    """The HTML page of a report as its command made it: drawn from its JSON form (the
    same page ``perfkit report`` makes from the saved JSON)."""
    import json

    from perfkit.report.render import render_json

    return render(json.loads(render_json(doc)), f"perfkit {doc.kind}")
