"""The pool page: throughput and latency percentiles against clients, per mode and
pool size (fresh against pooled), the recommended pool size marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.html.frame import Chart, Col, Section, cards, chart, fmt, page, table
from perfkit.html.parts import rest_section

__all__ = ["render", "series_of"]


def _label(p: Mapping[str, Any], multi: bool) -> str:
    mode = str(p.get("mode"))
    name = mode if p.get("pool_size") is None else f"{mode} size {p['pool_size']}"
    return f"{p.get('endpoint')}: {name}" if multi else name


def series_of(
    report: Mapping[str, Any],
) -> tuple[list[int], dict[str, dict[int, Mapping[str, Any]]]]:
    """The measured points (status ok) as ``(clients, {series label: {clients: point}})``."""
    points = [p for p in report.get("points") or [] if p.get("status") == "ok"]
    multi = len({p.get("endpoint") for p in points}) > 1
    clients = sorted({int(p["clients"]) for p in points})
    out: dict[str, dict[int, Mapping[str, Any]]] = {}
    for p in points:
        out.setdefault(_label(p, multi), {})[int(p["clients"])] = p
    return clients, out


def render(report: Mapping[str, Any]) -> str:
    clients, series = series_of(report)
    recs = list(report.get("recommendations") or [])
    recommended = {(r.get("endpoint"), r.get("mode"), r.get("pool_size")) for r in recs}
    multi = len({p.get("endpoint") for p in report.get("points") or []}) > 1

    def is_rec(label: str) -> bool:
        return any(
            _label({"endpoint": e, "mode": m, "pool_size": s}, multi) == label
            for e, m, s in recommended
        )

    def line(pick: Any) -> list[dict[str, Any]]:
        out = []
        for i, (label, by) in enumerate(series.items()):
            rec = is_rec(label)
            fresh = label.endswith("fresh")
            out.append(
                {
                    "label": label + (" (recommended)" if rec else ""),
                    "values": [pick(by[c]) if c in by else None for c in clients],
                    "width": 3.5 if rec else 1.5,
                    "dash": fresh,
                    "points": True,
                    "color": "#D55E00" if fresh else _COLOURS[i % len(_COLOURS)],
                }
            )
        return out

    charts = []
    if clients:
        cats = [str(c) for c in clients]
        charts.append(
            Chart(
                "chart-throughput",
                "Throughput (requests/s) against clients",
                x=list(range(len(clients))),
                series=line(lambda p: p.get("throughput")),
                x_label="clients",
                y_label="requests/s",
                alt="throughput per clients and mode; the numbers are in the points table",
                extra={"xCategories": cats},
            )
        )
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            charts.append(
                Chart(
                    f"chart-{q}",
                    f"Latency {q[:3]} (ms) against clients",
                    x=list(range(len(clients))),
                    series=line(lambda p, q=q: (p.get("latency") or {}).get(q)),
                    x_label="clients",
                    y_label="ms",
                    alt=f"{q[:3]} latency per clients and mode; the numbers are in the points table",
                    extra={"xCategories": cats, "height": 220},
                )
            )
    rows = []
    for p in report.get("points") or []:
        lat = p.get("latency") or {}
        con = p.get("connect") or {}
        rows.append(
            {
                **p,
                "p50": lat.get("p50_ms"),
                "p95": lat.get("p95_ms"),
                "p99": lat.get("p99_ms"),
                "connect_p50": con.get("p50_ms"),
            }
        )
    cols = (
        Col("endpoint", "endpoint"),
        Col("mode", "mode"),
        Col("clients", "clients", "{:,}", True),
        Col("pool_size", "pool size", "{:,}", True),
        Col("requests", "requests", "{:,}", True),
        Col("errors", "errors", "{:,}", True),
        Col("throughput", "req/s", "{:,.1f}", True),
        Col("p50", "p50 ms", "{:,.2f}", True),
        Col("p95", "p95 ms", "{:,.2f}", True),
        Col("p99", "p99 ms", "{:,.2f}", True),
        Col("connect_p50", "connect p50 ms", "{:,.2f}", True),
        Col("status", "status"),
    )
    sections = [
        Section(
            "charts",
            "Throughput and latency",
            "".join(chart(c) for c in charts) or "<p class=note>no point was measured</p>",
        ),
        Section(
            "points", "Points", table("points", cols, rows, total=report.get("points_planned"))
        ),
    ]
    rec_rows = [{**r, **c} for r in recs for c in (r.get("by_clients") or [{}])]
    sections.append(
        Section(
            "recommendation",
            "Recommended pool size",
            table(
                "recommendations",
                (
                    Col("endpoint", "endpoint"),
                    Col("clients", "clients", "{:,}", True),
                    Col("recommended_pool_size", "recommended size", "{:,}", True),
                    Col("recommended_throughput", "its req/s", "{:,.1f}", True),
                    Col("best_pool_size", "best size", "{:,}", True),
                    Col("best_throughput", "best req/s", "{:,.1f}", True),
                    Col("fresh_throughput", "fresh req/s", "{:,.1f}", True),
                    Col("speedup", "speedup", "{:,.1f}x", True),
                ),
                rec_rows,
                search=False,
            ),
        )
    )
    rest = rest_section(report, ("points", "recommendations"))
    if rest:
        sections.append(rest)
    items = [
        ("status", fmt(report.get("status"))),
        ("points", f"{len(report.get('points') or [])} of {fmt(report.get('points_planned'))}"),
        ("workload", fmt(report.get("workload"))[:40]),
    ]
    for r in recs:
        items.append((f"recommended pool size ({r.get('endpoint')})", fmt(r.get("pool_size"))))
        items.append(("speedup over fresh", fmt(r.get("speedup"), "{:,.1f}x")))
    warnings = list(report.get("warnings") or [])
    if report.get("status") not in (None, "complete"):
        warnings.append(
            f"run {report.get('status')}: {len(report.get('points') or [])} of "
            f"{report.get('points_planned')} points measured ({report.get('error')})"
        )
    return page(
        kind="pool",
        title="perfkit pool: a fresh connection per request vs a pool",
        subtitle=f"workload {report.get('workload')}",
        summary=cards(items),
        sections=sections,
        charts=charts,
        warnings=warnings,
    )


_COLOURS = ("#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#999999")
