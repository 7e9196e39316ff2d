"""``SuggestResult`` -> ``Document`` (pure)."""

from __future__ import annotations

from typing import Any

from perfkit.indexes.model import Suggestion, SuggestResult
from perfkit.report.model import Clipped, Column, Document, Table

SCHEMA_VERSION = 1


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _compact(s: Suggestion) -> str:
    """``orders (customer_id) WHERE ...``: the statement without its boilerplate."""
    text = s.statement
    on = text.find(" ON ")
    return text[on + 4 :] if on >= 0 else text


def _write_cost(s: Suggestion) -> dict[str, Any] | None:
    w = s.write_cost
    if w is None:
        return None
    return {
        "entry_bytes": w.entry_bytes,
        "row_bytes": w.row_bytes,
        "ratio": w.ratio,
        "inserts_per_s": w.inserts_per_s,
        "updates_per_s": w.updates_per_s,
        "deletes_per_s": w.deletes_per_s,
        "bytes_per_s": w.bytes_per_s,
        "updated_columns": list(w.updated_columns),
        "breaks_hot": w.breaks_hot,
    }


def _writes_text(s: Suggestion) -> str:
    w = s.write_cost
    if w is None:
        return str(s.table_writes)
    text = f"+{w.ratio:.0%}"
    if w.breaks_hot:
        text += " no HOT"
    return text


def to_document(result: SuggestResult) -> Document:
    data: dict[str, Any] = {
        "method": result.method,
        "method_note": result.method_note,
        "server_version": result.server_version,
        "min_savings": result.min_savings,
        "explain_calls": result.explain_calls,
        "candidates_costed": result.candidates_costed,
        "suggestions": [
            {
                "table": s.table,
                "columns": list(s.columns),
                "expression": s.expression,
                "where": s.where,
                "include": list(s.include),
                "statement": s.statement,
                "queries": list(s.queries),
                "cost_before": round(s.cost_before, 2),
                "cost_after": round(s.cost_after, 2),
                "size_bytes": s.size_bytes,
                "savings": round(s.savings, 4),
                "plan_before": s.plan_before,
                "plan_after": s.plan_after,
                "table_rows": s.table_rows,
                "table_writes": s.table_writes,
                "per_query": [
                    {
                        "query": q.query,
                        "cost_before": round(q.cost_before, 2),
                        "cost_after": round(q.cost_after, 2),
                        "savings": round(q.savings, 4),
                        "indexes": list(q.indexes),
                    }
                    for q in s.per_query
                ],
                "write_cost": _write_cost(s),
                "verification": [
                    {
                        "query": v.query,
                        "values": v.values,
                        "before_ms": v.before_ms,
                        "after_ms": v.after_ms,
                        "cost_before": v.cost_before,
                        "cost_after": v.cost_after,
                        "helps": v.helps,
                        "plan_before": v.plan_before,
                        "plan_after": v.plan_after,
                    }
                    for v in s.verification
                ],
            }
            for s in result.suggestions
        ],
        "no_suggestion": [
            {"query": n.query, "reason": n.reason, "code": n.code} for n in result.no_suggestion
        ],
        "rejected": [
            {"statement": n.query, "reason": n.reason, "code": n.code} for n in result.rejected
        ],
        "workload_share_before": round(result.workload_cost_before, 4),
        "workload_share_after": round(result.workload_cost_after, 4),
        "hygiene": [
            {
                "kind": h.kind,
                "table": h.table,
                "index": h.index,
                "detail": h.detail,
                "size_bytes": h.size_bytes,
                "definition": h.definition,
            }
            for h in result.hygiene
        ],
        "advice": [
            {
                "kind": a.kind,
                "table": a.table,
                "column": a.column,
                "statement": a.statement,
                "queries": list(a.queries),
                "note": a.note,
            }
            for a in result.advice
        ],
        "queries": [
            {
                "id": q.id,
                "query": q.query,
                "source": q.source,
                "calls": q.calls,
                "total_ms": q.total_ms,
                "params": q.params,
                "cost": q.cost,
                "plan": q.plan,
            }
            for q in result.queries
        ],
        "applied": [
            {"name": a.name, "statement": a.statement, "status": a.status, "detail": a.detail}
            for a in result.applied
        ],
        "warnings": list(result.warnings),
    }
    verified = any(s.verification for s in result.suggestions)
    sug_rows = []
    for i, s in enumerate(result.suggestions, 1):
        measured = ""
        if s.verification:
            b = sum(v.before_ms for v in s.verification)
            a = sum(v.after_ms for v in s.verification)
            measured = f"{b:.2f} -> {a:.2f} ms"
        sug_rows.append(
            [
                i,
                _compact(s),
                len(s.queries),
                f"{s.cost_before:,.0f} -> {s.cost_after:,.0f}",
                f"{s.savings:.0%}",
                _size(s.size_bytes),
                _writes_text(s),
                *([measured] if verified else []),
            ]
        )
    sug_cols = [
        Column("n", "#", "right"),
        Column("statement", "index"),
        Column("queries", "queries", "right"),
        Column("cost", "cost", "right"),
        Column("savings", "saved", "right"),
        Column("size", "size", "right"),
        Column("writes", "writes", "right"),
    ]
    if verified:
        sug_cols.append(Column("measured", "measured", "right"))
    tables = [
        Table("suggestions", "Suggested indexes", sug_cols, sug_rows),
        Table(
            "no_suggestion",
            "Queries without a suggestion",
            [Column("query", "query"), Column("reason", "reason")],
            [[Clipped(n.query, 70), n.reason] for n in result.no_suggestion],
        ),
    ]
    if result.advice:
        tables.append(
            Table(
                "advice",
                "Advice (not costed)",
                [Column("statement", "index"), Column("queries", "queries", "right")],
                [[a.statement, len(a.queries)] for a in result.advice],
            )
        )
    tables.append(
        Table(
            "hygiene",
            "Index hygiene",
            [
                Column("kind", "kind"),
                Column("index", "index"),
                Column("detail", "detail"),
                Column("size", "size", "right"),
            ],
            [
                [h.kind, f"{h.table}.{h.index}".partition(".")[2], h.detail, _size(h.size_bytes)]
                for h in result.hygiene
            ],
        )
    )
    if result.applied:
        tables.append(
            Table(
                "applied",
                "Applied",
                [Column("name", "index"), Column("status", "status"), Column("detail", "detail")],
                [[a.name, a.status, a.detail] for a in result.applied],
            )
        )
    modes: dict[str, int] = {}
    for q in result.queries:
        modes[q.params] = modes.get(q.params, 0) + 1
    param_line = ", ".join(f"{k}: {v}" for k, v in sorted(modes.items()) if k != "none")
    summary = [
        f"{len(result.queries)} queries, {len(result.suggestions)} suggestions, "
        f"{result.candidates_costed} candidates costed with {result.explain_calls} EXPLAIN calls",
        f"costing: {result.method_note}",
    ]
    if param_line:
        summary.append(f"$n parameters planned with {param_line}")
    for info in result.queries:
        if info.params not in ("none",):
            summary.append(f"  {info.params:<8} {_short(info.query, 80)}")
    verdict = (
        f"{len(result.suggestions)} index(es) save at least {result.min_savings:.0%} "
        "of their queries' cost"
        if result.suggestions
        else f"no index saves {result.min_savings:.0%} or more"
    )
    extras = []
    for i, s in enumerate(result.suggestions, 1):
        lines = [f"[{i}] {s.statement}", f"    plan: {s.plan_before} -> {s.plan_after}"]
        for v in s.verification:
            mark = "" if v.helps else "  (does not help these values)"
            query = v.query.removesuffix(f" [{v.values}]")
            lines.append(
                f"    measured ({v.values}): {v.before_ms:.2f} ms -> {v.after_ms:.2f} ms  "
                f"{_short(query, 50)}{mark}"
            )
        for pq in s.per_query[:5]:
            others = [n for n in pq.indexes if n != s.name]
            with_set = f" (with {', '.join(others)})" if others else ""
            lines.append(f"    helps: {_short(pq.query, 70)}  saves {pq.savings:.0%}{with_set}")
        if len(s.per_query) > 5:
            lines.append(f"    helps: ... and {len(s.per_query) - 5} more")
        w = s.write_cost
        if w is not None:
            rate = (
                f", ~{_size(int(w.bytes_per_s))}/s at the table's write rate"
                if w.bytes_per_s
                else ""
            )
            lines.append(
                f"    writes: +{w.entry_bytes:.0f} B per inserted row ({w.ratio:.0%} of a "
                f"{w.row_bytes:.0f} B row){rate}"
            )
            if w.breaks_hot:
                lines.append(
                    f"    writes: indexes {', '.join(w.updated_columns)}, which the workload's "
                    "UPDATEs set: those updates can no longer be HOT"
                )
        extras.append("\n".join(lines))
    for n in result.rejected:
        extras.append(f"rejected: {n.query}\n    {n.reason}")
    return Document(
        kind="suggest-indexes",
        extras=tuple(extras),
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=tables,
        title="perfkit suggest-indexes",
        summary=summary,
        verdict=verdict,
        warnings=tuple(result.warnings),
    )
