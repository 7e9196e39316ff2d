"""The check page: pass/fail per metric with its baseline and current samples as
strips."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.html.frame import Chart, Col, Section, cards, chart, fmt, page, table
from perfkit.html.parts import rest_section

__all__ = ["metrics", "render"]

_FAILING = ("regression", "error")
_CLASS = {"regression": "fail", "error": "fail", "pass": "pass", "improved": "pass"}


def metrics(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every metric of the report, those of checks that ran and those gone since the
    baseline."""
    out = [m for c in report.get("checks") or [] for m in c.get("metrics") or []]
    return out + list(report.get("gone") or [])


def _samples(side: Any) -> list[float]:
    return list((side or {}).get("samples") or []) if isinstance(side, Mapping) else []


def _central(side: Any) -> Any:
    """A metric side's figure: its median (timings) or value (deterministic metrics)."""
    if isinstance(side, Mapping):
        return side.get("median", side.get("value"))
    return side


def render(report: Mapping[str, Any]) -> str:
    ms = metrics(report)
    charts: list[Chart] = []
    strips = []
    for i, m in enumerate(ms):
        base, cur = _samples(m.get("baseline")), _samples(m.get("current"))
        if not base and not cur:
            continue
        n = max(len(base), len(cur))
        c = Chart(
            f"strip-{i}",
            f"{m.get('id')}: {m.get('status')} - samples ({m.get('unit') or ''}) in run order",
            x=list(range(1, n + 1)),
            series=[
                {
                    "label": "baseline",
                    "values": base + [None] * (n - len(base)),
                    "color": "#999999",
                },
                {
                    "label": "current",
                    "values": cur + [None] * (n - len(cur)),
                    "color": "#D55E00" if m.get("status") in _FAILING else "#0072B2",
                },
            ],
            kind="points",
            x_label="sample",
            y_label=str(m.get("unit") or ""),
            alt=f"{m.get('id')}: baseline {len(base)} samples, current {len(cur)} samples",
            extra={"height": 170},
        )
        charts.append(c)
        strips.append(chart(c))
    rows = []
    for m in ms:
        rows.append(
            {
                **m,
                "baseline_value": _central(m.get("baseline")),
                "current_value": _central(m.get("current")),
                "limit": fmt(m.get("limits")),
            }
        )
    state = [f' class="{_CLASS.get(str(r.get("status")), "")}"' for r in rows]
    sections = [
        Section(
            "metrics",
            "Metrics",
            table(
                "metrics",
                (
                    Col("id", "metric"),
                    Col("status", "status"),
                    Col("baseline_value", "baseline", "{:,.4g}", True),
                    Col("current_value", "current", "{:,.4g}", True),
                    Col("change", "change", "{:+.1%}", True),
                    Col("p_value", "p", "{:.3g}", True),
                    Col("unit", "unit"),
                    Col("limit", "limit"),
                    Col("note", "note"),
                ),
                rows,
                row_attrs=state,
            ),
        ),
        Section("samples", "Samples", "".join(strips) or "<p class=note>no samples</p>"),
    ]
    errors = [c for c in report.get("checks") or [] if c.get("error")]
    if errors:
        sections.append(
            Section(
                "errors",
                "Checks that could not run",
                table("errors", (Col("name", "check"), Col("error", "error")), errors),
            )
        )
    rest = rest_section(report, ("checks", "gone", "verdict", "message"))
    if rest:
        sections.append(rest)
    failed = sum(1 for r in rows if r.get("status") in _FAILING)
    verdict = str(report.get("verdict") or "")
    summary = cards(
        [
            ("verdict", verdict),
            ("metrics", fmt(len(rows))),
            ("regressions and errors", fmt(failed)),
            ("checks", fmt(len(report.get("checks") or []))),
        ]
    )
    return page(
        kind="check",
        title=f"perfkit check: {verdict}",
        subtitle=str(report.get("message") or ""),
        summary=summary,
        sections=sections,
        charts=charts,
        warnings=list(report.get("warnings") or []),
    )
