"""The explain and suggest-indexes pages: plan trees with the costly nodes marked,
suggestions with their cost before/after and the measured before/after of verified
indexes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.html.frame import Chart, Col, Section, cards, chart, esc, fmt, generic, page, table
from perfkit.html.parts import COSTLY_SHARE, plan_tree, rest_section

__all__ = ["render"]

_LEGEND = (
    f"<p class=note>Marked nodes: their own cost (time with ANALYZE, times loops) is at "
    f"least {COSTLY_SHARE:.0%} of the whole plan's.</p>"
)


def _explain(report: Mapping[str, Any]) -> str:
    queries = list(report.get("queries") or [])
    sections = []
    rows = []
    for i, q in enumerate(queries):
        rows.append(
            {
                "n": i + 1,
                "source": q.get("source"),
                "cost": q.get("cost"),
                "execution_ms": q.get("execution_ms"),
                "findings": len(q.get("findings") or []),
                "error": q.get("error"),
                "query": q.get("query"),
            }
        )
    overview = table(
        "queries",
        (
            Col("n", "#", "{:d}", True),
            Col("source", "source"),
            Col("cost", "cost", "{:,.2f}", True),
            Col("execution_ms", "execution ms", "{:,.2f}", True),
            Col("findings", "findings", "{:d}", True),
            Col("error", "error"),
            Col("query", "query", clip=120),
        ),
        rows,
    )
    sections.append(Section("queries", "Queries", overview))
    for i, q in enumerate(queries):
        parts = [f'<pre class="sql">{esc(q.get("query"))}</pre>']
        if q.get("error"):
            parts.append(f'<p class="fail">error: {esc(q["error"])}</p>')
        findings = q.get("findings") or []
        if findings:
            parts.append(generic(findings, f"findings-{i}"))
        if q.get("plan"):
            parts.append(_LEGEND + plan_tree(q["plan"]))
        sections.append(Section(f"q{i + 1}", f"Query {i + 1}", "".join(parts)))
    rest = rest_section(report, ("queries",))
    if rest:
        sections.append(rest)
    summary = cards(
        [
            ("queries", fmt(len(queries))),
            ("findings", fmt(sum(len(q.get("findings") or []) for q in queries))),
            ("with ANALYZE", fmt(bool(report.get("analyze")))),
        ]
    )
    return page(
        kind="explain",
        title="perfkit explain",
        subtitle=f"{len(queries)} queries",
        summary=summary,
        sections=sections,
        warnings=list(report.get("warnings") or []),
    )


def _suggest(report: Mapping[str, Any]) -> str:
    sugg = list(report.get("suggestions") or [])
    sections: list[Section] = []
    charts: list[Chart] = []
    rows = [
        {
            "n": i + 1,
            **s,
            "before_after": f"{fmt(s.get('cost_before'))} -> {fmt(s.get('cost_after'))}",
        }
        for i, s in enumerate(sugg)
    ]
    sections.append(
        Section(
            "suggestions",
            "Suggested indexes",
            table(
                "suggestions",
                (
                    Col("n", "#", "{:d}", True),
                    Col("statement", "index", clip=140),
                    Col("cost_before", "cost before", "{:,.2f}", True),
                    Col("cost_after", "cost after", "{:,.2f}", True),
                    Col("savings", "saves", "{:.1%}", True),
                    Col("size_bytes", "size bytes", "{:,}", True),
                    Col("table_rows", "table rows", "{:,}", True),
                ),
                rows,
            ),
        )
    )
    for i, s in enumerate(sugg):
        parts = [
            f'<pre class="sql">{esc(s.get("statement"))}</pre>',
            '<dl class="kv">'
            f"<dt>plan before</dt><dd>{esc(s.get('plan_before'))}</dd>"
            f"<dt>plan after</dt><dd>{esc(s.get('plan_after'))}</dd>"
            f"<dt>cost</dt><dd>{esc(fmt(s.get('cost_before')))} -> "
            f"{esc(fmt(s.get('cost_after')))} ({esc(fmt(s.get('savings'), '{:.1%}'))} less)</dd>"
            "</dl>",
        ]
        per = s.get("per_query") or []
        if per:
            parts.append("<h3>Queries it helps</h3>")
            parts.append(
                table(
                    f"per-{i}",
                    (
                        Col("query", "query", clip=120),
                        Col("cost_before", "cost before", "{:,.2f}", True),
                        Col("cost_after", "cost after", "{:,.2f}", True),
                        Col("savings", "saves", "{:.1%}", True),
                    ),
                    per,
                )
            )
        ver = s.get("verification") or []
        if ver:
            c = Chart(
                id=f"verify-{i}",
                title="Verified: measured time before and after the index (ms, EXPLAIN ANALYZE)",
                x=list(range(len(ver))),
                series=[
                    {
                        "label": "before ms",
                        "values": [v.get("before_ms") for v in ver],
                        "color": "#D55E00",
                    },
                    {
                        "label": "after ms",
                        "values": [v.get("after_ms") for v in ver],
                        "color": "#009E73",
                    },
                ],
                kind="points",
                y_label="ms",
                alt="measured before/after per query; the numbers are in the table below",
                extra={
                    "xCategories": [f"q{j + 1} {v.get('values') or ''}" for j, v in enumerate(ver)],
                    "height": 220,
                },
            )
            charts.append(c)
            parts.append("<h3>Verification</h3>" + chart(c))
            parts.append(
                table(
                    f"verify-table-{i}",
                    (
                        Col("query", "query", clip=100),
                        Col("values", "values"),
                        Col("before_ms", "before ms", "{:,.3f}", True),
                        Col("after_ms", "after ms", "{:,.3f}", True),
                        Col("helps", "helps"),
                        Col("plan_before", "plan before", clip=80),
                        Col("plan_after", "plan after", clip=80),
                    ),
                    ver,
                )
            )
        if s.get("write_cost"):
            parts.append("<h3>Write cost</h3>" + generic(s["write_cost"], f"write-{i}"))
        sections.append(
            Section(
                f"s{i + 1}", f"Index {i + 1}: {s.get('name') or s.get('table')}", "".join(parts)
            )
        )
    queries = [q for q in report.get("queries") or [] if isinstance(q, Mapping)]
    sections.append(
        Section(
            "queries",
            "Queries",
            table(
                "queries",
                (
                    Col("query", "query", clip=120),
                    Col("source", "source"),
                    Col("calls", "calls", "{:,}", True),
                    Col("cost", "cost", "{:,.2f}", True),
                    Col("plan", "plan"),
                ),
                [
                    {**q, "plan": q["plan"] if isinstance(q.get("plan"), str) else ""}
                    for q in queries
                ],
            ),
        )
    )
    plans = [q for q in queries if isinstance(q.get("plan"), Mapping)]
    if plans:
        body = _LEGEND + "".join(
            f"<h3>{esc(' '.join(str(q.get('query')).split())[:120])}</h3>{plan_tree(q['plan'])}"
            for q in plans
        )
        sections.append(Section("plans", "Plans", body))
    rest = rest_section(report, ("suggestions", "queries"))
    if rest:
        sections.append(rest)
    summary = cards(
        [
            ("suggestions", fmt(len(sugg))),
            ("verified", fmt(sum(1 for s in sugg if s.get("verification")))),
            ("candidates costed", fmt(report.get("candidates_costed"))),
            ("EXPLAIN calls", fmt(report.get("explain_calls"))),
            ("method", fmt(report.get("method"))),
        ]
    )
    return page(
        kind="suggest-indexes",
        title="perfkit suggest-indexes",
        subtitle=str(report.get("method_note") or ""),
        summary=summary,
        sections=sections,
        charts=charts,
        warnings=list(report.get("warnings") or []),
    )


def render(report: Mapping[str, Any]) -> str:
    return _suggest(report) if report["kind"] == "suggest-indexes" else _explain(report)
