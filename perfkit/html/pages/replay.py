"""The replay page: the runs, and the measured cache against analyze's simulation per
fingerprint (hits and time saved)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.html.frame import Chart, Col, Section, cards, chart, fmt, page, table
from perfkit.html.parts import rest_section

__all__ = ["TOP", "render"]

#: fingerprints in the measured-against-simulated charts (all are in the table)
TOP = 30


_LABELS = {
    "hits": "measured hits",
    "simulated_hits": "simulated hits",
    "saved_ms": "measured saved ms",
    "simulated_saved_ms": "simulated saved ms",
    "direct_p95_ms": "direct p95",
    "cached_p95_ms": "cached p95",
}


def render(report: Mapping[str, Any]) -> str:
    fps = list(report.get("fingerprints") or [])
    runs = list(report.get("runs") or [])
    cmp_ = report.get("comparison") or {}
    charts: list[Chart] = []
    top = sorted(fps, key=lambda f: -(f.get("calls") or 0))[:TOP]
    cats = [f"{str(f.get('fingerprint'))[:8]}" for f in top]
    pairs = []
    if top and any(f.get("simulated_hits") is not None for f in top):
        pairs.append(
            (
                "chart-hits",
                f"Cache hits per fingerprint: measured against simulated ({len(top)} most called)",
                "hits",
                "hits",
                "simulated_hits",
            )
        )
        pairs.append(
            (
                "chart-saved",
                "Time saved per fingerprint (ms): measured against simulated",
                "ms",
                "saved_ms",
                "simulated_saved_ms",
            )
        )
    if top:
        pairs.append(
            (
                "chart-p95",
                "p95 latency per fingerprint (ms): direct against cached run",
                "ms",
                "direct_p95_ms",
                "cached_p95_ms",
            )
        )
    for cid, title, unit, first, second in pairs:
        charts.append(
            Chart(
                cid,
                title,
                x=list(range(len(top))),
                series=[
                    {"label": _LABELS[k], "values": [f.get(k) for f in top], "color": colour}
                    for k, colour in ((first, "#0072B2"), (second, "#E69F00"))
                ],
                kind="points",
                x_label="fingerprint",
                y_label=unit,
                alt=f"{title}; the numbers are in the table",
                extra={"xCategories": cats},
            )
        )
    sections = [
        Section(
            "runs",
            "Runs",
            table(
                "runs",
                (
                    Col("mode", "run"),
                    Col("statements", "statements", "{:,}", True),
                    Col("elapsed_s", "elapsed s", "{:,.3f}", True),
                    Col("throughput", "stmt/s", "{:,.1f}", True),
                    Col("total_ms", "total ms", "{:,.1f}", True),
                    Col("p50_ms", "p50 ms", "{:,.3f}", True),
                    Col("p95_ms", "p95 ms", "{:,.3f}", True),
                    Col("p99_ms", "p99 ms", "{:,.3f}", True),
                    Col("errors", "errors", "{:,}", True),
                    Col("skipped_writes", "skipped writes", "{:,}", True),
                ),
                runs,
                search=False,
            ),
        ),
        Section(
            "measured",
            "Measured against simulated",
            "".join(chart(c) for c in charts)
            + table(
                "fingerprints",
                (
                    Col("fp8", "fingerprint"),
                    Col("calls", "calls", "{:,}", True),
                    Col("hits", "hits", "{:,}", True),
                    Col("simulated_hits", "simulated hits", "{:,}", True),
                    Col("saved_ms", "saved ms", "{:,.1f}", True),
                    Col("simulated_saved_ms", "simulated saved ms", "{:,.1f}", True),
                    Col("direct_p95_ms", "direct p95", "{:,.3f}", True),
                    Col("cached_p95_ms", "cached p95", "{:,.3f}", True),
                    Col("cacheable", "cacheable"),
                    Col("query", "query", clip=100),
                ),
                [{**f, "fp8": str(f.get("fingerprint"))[:8]} for f in fps],
            ),
        ),
    ]
    rest = rest_section(report, ("runs", "fingerprints"))
    if rest:
        sections.append(rest)
    items = [
        ("statements", fmt(report.get("events"))),
        ("sessions", fmt(report.get("sessions"))),
        ("target", fmt(report.get("target"))),
    ]
    if cmp_:
        items += [
            ("measured hit rate", fmt(cmp_.get("measured_hit_rate"), "{:.1%}")),
            ("simulated hit rate", fmt(cmp_.get("simulated_hit_rate"), "{:.1%}")),
            ("measured saved", fmt(cmp_.get("measured_saved_ms"), "{:,.1f} ms")),
            ("simulated saved", fmt(cmp_.get("simulated_saved_ms"), "{:,.1f} ms")),
        ]
    warnings = list(report.get("warnings") or [])
    if report.get("interrupted"):
        warnings.append("PARTIAL: the replay was interrupted; the figures cover what ran")
    return page(
        kind="replay",
        title="perfkit replay",
        subtitle=", ".join(str(s) for s in report.get("sources") or []),
        summary=cards(items),
        sections=sections,
        charts=charts,
        warnings=warnings,
    )
