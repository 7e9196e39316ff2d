"""A page for reports without a page of their own (db status, demo): every key of the
JSON as tables and lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.html.frame import page
from perfkit.html.parts import rest_section

__all__ = ["render"]


def render(report: Mapping[str, Any]) -> str:
    rest = rest_section(report, (), title="Report")
    return page(
        kind=str(report["kind"]),
        title=f"perfkit {report['kind']}",
        sections=[rest] if rest else [],
        warnings=list(report.get("warnings") or []),
    )
