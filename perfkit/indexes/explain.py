"""``perfkit explain``: plans of the workload's queries and what they show."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfkit.db.guard import advanced_sequences, explain_guard, sequence_values
from perfkit.indexes.advisor import PlannedQuery, choose_parameters
from perfkit.indexes.catalog import Catalog, Relation, load_catalog
from perfkit.indexes.plan import ExplainFailed, Plan, PlanNode, explain
from perfkit.indexes.shape import ParseFailed, analyze_query
from perfkit.indexes.workload import Workload
from perfkit.report.model import Column, Document, Table
from perfkit.report.progress import NullProgress, ProgressSink

SCHEMA_VERSION = 1
#: A node whose own cost is at least this share of the plan is highlighted.
COSTLY_SHARE = 0.3


@dataclass(frozen=True)
class Finding:
    kind: str  # seq_scan | estimate | spill | nested_loop_seq | not_analyzed
    node: str
    detail: str
    advice: str


@dataclass(frozen=True)
class ExplainedQuery:
    query: str
    source: str
    params: str
    cost: float | None
    execution_ms: float | None
    findings: tuple[Finding, ...]
    parsed: Plan | None
    error: str | None
    plan: Any = None  # the server's JSON plan
    refused: bool = False  # the statement guard did not send it (``error`` says why)
    effects: tuple[str, ...] = ()  # what a rollback did not undo ("advanced sequence s")


@dataclass(frozen=True)
class ExplainResult:
    analyze: bool
    min_rows: int
    queries: tuple[ExplainedQuery, ...]
    #: what reading the workload warned about (an inferred log prefix, skipped lines, ...)
    warnings: tuple[str, ...] = ()


def _rows(node: PlanNode) -> float:
    if node.actual_rows is not None:
        return node.actual_rows * (node.actual_loops or 1.0)
    return node.plan_rows


def _relation(catalog: Catalog, relation: str | None) -> Relation | None:
    if not relation:
        return None
    schema, _, name = relation.rpartition(".")
    return catalog.resolve(name, schema or None)


def _table_rows(catalog: Catalog, relation: str | None) -> float:
    rel = _relation(catalog, relation)
    return rel.rows if rel else 0.0


def findings_for(plan: Plan, catalog: Catalog, min_rows: int) -> list[Finding]:
    out: list[Finding] = []
    seen_tables: set[str] = set()
    for node in plan.nodes():
        if node.relation:
            seen_tables.add(node.relation)
        if node.node_type == "Seq Scan" and node.relation:
            total = _table_rows(catalog, node.relation)
            kept = _rows(node)
            if node.rows_removed is not None:
                removed = node.rows_removed * (node.actual_loops or 1.0)
                share = removed / (removed + kept) if removed + kept else 0.0
            else:
                share = 1 - kept / total if total and "Filter" in node.detail else 0.0
            if total >= min_rows and share > 0.5:
                out.append(
                    Finding(
                        "seq_scan",
                        node.label,
                        f"reads {total:,.0f} rows and discards {share:.0%} ({node.detail})",
                        "an index on the filtered columns (see perfkit suggest-indexes)",
                    )
                )
        if node.actual_rows is not None and node.actual_loops:
            est, act = node.plan_rows, node.actual_rows
            hi, lo = max(est, act), max(min(est, act), 1.0)
            if hi / lo > 10 and hi >= 100:
                multi = node.detail.count(" AND ") > 0
                advice = (
                    f"ANALYZE {node.relation}; if it persists, CREATE STATISTICS on the "
                    "correlated columns"
                    if node.relation and multi
                    else f"ANALYZE {node.relation or 'the tables involved'}"
                )
                out.append(
                    Finding(
                        "estimate",
                        node.label,
                        f"estimated {est:,.0f} rows, got {act:,.0f} ({hi / lo:,.0f}x off)",
                        advice,
                    )
                )
        if node.sort_space_type == "Disk" or (node.hash_batches or 0) > 1:
            what = (
                f"sort spilled to disk ({node.sort_method})"
                if node.sort_space_type == "Disk"
                else f"hash used {node.hash_batches} batches"
            )
            out.append(Finding("spill", node.label, what, "raise work_mem for this query"))
        if node.node_type == "Nested Loop" and len(node.children) == 2:
            inner = node.children[1]
            for sub in inner.walk():
                if sub.node_type == "Seq Scan" and _table_rows(catalog, sub.relation) >= min_rows:
                    out.append(
                        Finding(
                            "nested_loop_seq",
                            node.label,
                            f"inner side scans {sub.relation} "
                            f"({_table_rows(catalog, sub.relation):,.0f} rows) sequentially",
                            f"an index on {sub.relation}'s join column",
                        )
                    )
                    break
    for table in sorted(seen_tables):
        rel = _relation(catalog, table)
        if rel is not None and not rel.analyzed and rel.relkind in ("r", "m"):
            out.append(
                Finding(
                    "not_analyzed",
                    table,
                    "never analyzed: estimates are guesses",
                    f"ANALYZE {table}",
                )
            )
    return out


def render_tree(plan: Plan, width: int = 100, *, color: bool = False) -> str:
    """A readable plan tree; costly nodes are marked ``!!`` with their share of the cost
    (and shown in bold red with ``color``, for a terminal)."""
    total = plan.cost or 1.0
    lines: list[str] = []

    def walk(node: PlanNode, depth: int) -> None:
        share = node.self_cost / total
        mark = "!!" if share >= COSTLY_SHARE else "  "
        stats = f"cost={node.total_cost:,.0f} rows={node.plan_rows:,.0f}"
        if node.actual_time_ms is not None:
            stats += f" actual={node.actual_time_ms:.2f}ms rows={_rows(node):,.0f}"
        if share >= COSTLY_SHARE:
            stats += f" ({share:.0%} of cost)"
        head = f"{mark} {'   ' * depth}-> {node.label}"
        line = f"{head}  {stats}"[:width]
        lines.append(f"\x1b[1;31m{line}\x1b[0m" if color and share >= COSTLY_SHARE else line)
        if node.detail:
            lines.append(f"   {'   ' * depth}     {node.detail}"[:width])
        for c in node.children:
            walk(c, depth + 1)

    walk(plan.root, 0)
    return "\n".join(lines)


def explain_workload(
    conn: Any,
    workload: Workload,
    *,
    analyze: bool = False,
    min_rows: int = 10_000,
    progress: ProgressSink | None = None,
    allow_effects: frozenset[str] = frozenset(),
) -> ExplainResult:
    """EXPLAIN (or EXPLAIN ANALYZE, rolled back) each workload query.

    Each query goes through the statement guard (:mod:`perfkit.db.guard`): text holding
    several statements is split and each is judged and reported alone; refused ones are
    reported with the reason and never sent. Reads run READ ONLY; DML under ``analyze``
    runs in a rolled-back transaction and its sequence advances are reported.
    ``allow_effects`` names the side effects the user allowed (``--allow-side-effects``).
    """
    prog = progress or NullProgress()
    catalog = load_catalog(conn)
    guard = explain_guard(conn, analyze=analyze, allow_effects=allow_effects)
    out = []
    prog.start("explaining", total=len(workload.queries))
    for whole in workload.queries:
        prog.advance(1)
        verdicts = guard.judge(whole.sql)
        if not verdicts:
            continue
        for verdict in verdicts:
            q = whole
            if len(verdicts) > 1:
                q = dataclasses.replace(whole, sql=verdict.text, display=verdict.text, params=None)
            if not verdict.allowed:
                reason = f"refused ({verdict.kind}): {verdict.message}"
                out.append(
                    ExplainedQuery(
                        q.display, q.source, "none", None, None, (), None, reason, refused=True
                    )
                )
                continue
            out.append(_explain_one(conn, q, verdict, catalog, analyze, min_rows))
    prog.finish()
    return ExplainResult(analyze, min_rows, tuple(out), workload.warnings)


def _explain_one(
    conn: Any, q: Any, verdict: Any, catalog: Catalog, analyze: bool, min_rows: int
) -> ExplainedQuery:
    it = PlannedQuery(q)
    try:
        it.shape = analyze_query(q.sql, catalog)
    except ParseFailed:
        it.shape = None
    choose_parameters(it, catalog)
    plan: Plan | None = None
    error = None
    effects: tuple[str, ...] = ()
    run = analyze and it.mode != "generic"
    watch = run and verdict.needs_write  # reads run READ ONLY: they cannot advance one
    before = sequence_values(conn) if watch else {}
    try:
        plan = explain(
            conn, q.sql, it.values, generic=it.mode == "generic", analyze=run, verdict=verdict
        )
    except ExplainFailed as exc:
        error = str(exc)
    finally:
        if watch:
            effects = advanced_sequences(before, sequence_values(conn))
    if plan is None:
        return ExplainedQuery(
            q.display, q.source, it.mode, None, None, (), None, error, effects=effects
        )
    return ExplainedQuery(
        query=q.display,
        source=q.source,
        params=it.mode,
        cost=plan.cost,
        execution_ms=plan.execution_ms,
        findings=tuple(findings_for(plan, catalog, min_rows)),
        parsed=plan,
        error=None,
        plan=plan.raw,
        effects=effects,
    )


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def to_document(
    result: ExplainResult, *, include_plans: bool = True, color: bool = False
) -> Document:
    """The report; ``color`` puts ANSI highlights in the plan trees (terminal only)."""
    data = {
        "analyze": result.analyze,
        "min_rows": result.min_rows,
        "queries": [
            {
                "query": q.query,
                "source": q.source,
                "params": q.params,
                "cost": q.cost,
                "execution_ms": q.execution_ms,
                "error": q.error,
                "refused": q.refused,
                "effects": list(q.effects),
                "findings": [
                    {"kind": f.kind, "node": f.node, "detail": f.detail, "advice": f.advice}
                    for f in q.findings
                ],
                **({"plan": q.plan} if include_plans else {}),
            }
            for q in result.queries
        ],
    }
    rows = []
    for i, q in enumerate(result.queries, 1):
        if q.error:
            rows.append([i, "refused" if q.refused else "error", "", q.error, ""])
        for e in q.effects:
            rows.append([i, "effect", "", e, "not undone by the rollback"])
        for f in q.findings:
            rows.append([i, f.kind, f.node, f.detail, f.advice])
    extras: list[str] = []
    for i, q in enumerate(result.queries, 1):
        head = f"[{i}] {_short(q.query, 90)}"
        if q.params not in ("none",):
            head += f"  (parameters: {q.params})"
        if q.parsed is not None:
            body = render_tree(q.parsed, color=color)
        elif q.refused:
            body = f"   not sent: {q.error}"
        else:
            body = f"   could not explain: {q.error}"
        if q.effects:
            body += "\n   not undone by the rollback: " + ", ".join(q.effects)
        extras.append(f"{head}\n{body}\n")
    n_find = sum(len(q.findings) for q in result.queries)
    n_refused = sum(1 for q in result.queries if q.refused)
    return Document(
        kind="explain",
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=[
            Table(
                "findings",
                "Findings",
                [
                    Column("n", "#", "right"),
                    Column("kind", "kind"),
                    Column("node", "plan node"),
                    Column("detail", "detail"),
                    Column("advice", "advice"),
                ],
                rows,
            )
        ],
        title="perfkit explain" + (" --analyze" if result.analyze else ""),
        summary=[
            f"{len(result.queries)} queries, {n_find} findings"
            + (f", {n_refused} refused by the statement guard" if n_refused else "")
        ],
        extras=tuple(extras),
        verdict=f"{n_find} finding(s)" if n_find else "no findings",
        warnings=result.warnings,
    )


__all__: Sequence[str] = ("ExplainResult", "explain_workload", "render_tree", "to_document")
