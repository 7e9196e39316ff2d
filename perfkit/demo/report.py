"""``DemoResult`` -> ``Document`` (pure): one summary of every tool's answer."""

from __future__ import annotations

from typing import Any

from perfkit.demo.run import DemoResult
from perfkit.demo.stats import StatsComparison, StatsQuery, log_top
from perfkit.report.model import Clipped, Column, Document, Table

SCHEMA_VERSION = 1


def _short(text: str, n: int = 60) -> Clipped:
    """Tables show ``n`` characters of the query; CSV and JSON all of it."""
    return Clipped(text, n)


def _pool_rows(pool: Any) -> list[list[Any]]:
    rows = []
    for p in pool.points:
        if p.status != "ok" or p.latency is None:
            continue
        rows.append(
            [
                p.mode,
                p.clients,
                p.pool_size if p.pool_size is not None else "",
                round(p.throughput, 1),
                round(p.latency.p50_ms, 3),
                round(p.latency.p95_ms, 3),
            ]
        )
    return rows


#: rows of the pg_stat_statements table (JSON has them all)
_STATS_ROWS = 10


def _stats_row_json(q: StatsQuery) -> dict[str, Any]:
    return {
        "fingerprint": q.fingerprint,
        "query": q.query,
        "calls": q.stats_calls,
        "exec_ms": q.stats_total_ms,
        "plan_ms": q.stats_plan_ms,
        "log_calls": q.log_calls,
        "log_ms": q.log_total_ms,
        "agrees": q.agrees,
    }


def _texts(queries: tuple[StatsQuery, ...]) -> str:
    return "; ".join(q.query for q in queries)


def stats_section(st: StatsComparison, log_fps: Any) -> tuple[dict[str, Any], list[str]]:
    """The JSON section ``stats`` and the summary lines of the live path."""
    problems = ([st.problem] if st.problem else []) + list(st.delta_problems)
    data: dict[str, Any] = {
        "source": "pg_stat_statements",
        "status": "complete" if st.complete else "partial",
        "complete": st.complete,
        "problems": problems,
        "notes": list(st.notes),
    }
    if st.problem is not None:
        data.update(
            calls=None, queries=None, exec_ms=None, plan_ms=None, top=[], log_top=[], rows=[]
        )
        data["agreement"] = None
        return data, [f"pg_stat_statements over the workload: PARTIAL, not read ({st.problem})"]
    stats_q = st.stats_queries
    top = [q.fingerprint for q in stats_q[: len(log_top(log_fps))]]
    ltop = log_top(log_fps, len(top))
    joined, differ = st.joined, st.differ
    data.update(
        seconds=round(st.seconds, 3),
        calls=st.calls,
        queries=len(stats_q),
        exec_ms=st.total_ms,
        plan_ms=sum(q.stats_plan_ms or 0.0 for q in stats_q),
        top=top,
        log_top=ltop,
        agreement={
            "joined": len(joined),
            "equal": len(joined) - len(differ),
            "differ": [q.fingerprint for q in differ],
            "stats_only": [q.fingerprint for q in st.stats_only],
            "log_only": [q.fingerprint for q in st.log_only],
        },
        rows=[_stats_row_json(q) for q in st.queries],
    )
    head = "pg_stat_statements over the workload" + ("" if st.complete else " (PARTIAL)")
    n = len(top)
    if top == ltop:
        ranking = f"the top {n} by time are the log's top {n}"
    else:
        same = len(set(top) & set(ltop))
        ranking = (
            f"{same} of its top {n} by time (exec + plan) are in the log's top {n} (the "
            "log's durations also cover parse and bind)"
        )
    lines = [f"{head}: {st.calls:,} calls of {len(stats_q)} queries; {ranking}"]
    agree = f"calls agree exactly for {len(joined) - len(differ)} of {len(joined)} fingerprints"
    parts = [f"log vs pg_stat_statements: {agree} both paths saw"]
    if differ:
        parts.append(
            "differ: " + "; ".join(f"{q.query} ({q.log_calls} vs {q.stats_calls})" for q in differ)
        )
    if st.stats_only:
        parts.append(
            f"only in pg_stat_statements (not logged: the session's logging was off): "
            f"{_texts(st.stats_only)}"
        )
    if st.log_only:
        parts.append(f"only in the log: {_texts(st.log_only)}")
    lines.append("; ".join(parts))
    lines += [f"pg_stat_statements: {p}" for p in st.delta_problems]
    return data, lines


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _stats_table(st: StatsComparison) -> Table:
    return Table(
        "stats",
        "pg_stat_statements over the workload, joined with the log",
        [
            Column("query", "query"),
            Column("calls", "calls", "right"),
            Column("log_calls", "log calls", "right"),
            Column("time_ms", "exec+plan ms", "right", "{:,.1f}"),
            Column("log_ms", "log ms", "right", "{:,.1f}"),
            Column("agrees", "agree"),
        ],
        [
            [
                _short(q.query, 45),
                *map(_blank, (q.stats_calls, q.log_calls, q.stats_time_ms, q.log_total_ms)),
                "yes" if q.agrees else "no",
            ]
            for q in st.queries[:_STATS_ROWS]
        ],
    )


def to_document(result: DemoResult) -> Document:
    from perfkit.indexes.report import to_document as suggest_document

    an = result.analyze
    sg = result.suggest
    top = list(an.fingerprints[:8])
    verified = [(s, v) for s in sg.suggestions for v in s.verification]
    data: dict[str, Any] = {
        "database": result.database,
        "kept": result.kept,
        "size": {
            "users": result.size.users,
            "accounts": result.size.accounts,
            "leads": result.size.leads,
            "activities": result.size.activities,
        },
        "statements": result.statements,
        "workload_s": round(result.workload_s, 3),
        "log_bytes": result.log_bytes,
        "log_events": result.log_events,
        "steps": [{"step": s, "seconds": round(t, 3)} for s, t in result.steps],
        "total_s": round(result.total_s, 3),
        "analyze": {
            "queries": an.summary.queries,
            "fingerprints": an.summary.fingerprints,
            "total_ms": an.summary.total_ms,
            "top": [
                {
                    "id": f.id,
                    "query": f.query,
                    "calls": f.calls,
                    "total_ms": f.total_ms,
                    "p95_ms": f.p95_ms,
                    "share": f.share,
                }
                for f in top
            ],
        },
        "suggest_indexes": dict(suggest_document(sg).data),
        "pool": None,
        "pool_note": result.pool_note,
    }
    data["stats"], stats_lines = stats_section(result.stats, an.fingerprints)
    tables = [
        Table(
            "fingerprints",
            "analyze: where the time goes",
            [
                Column("query", "query"),
                Column("calls", "calls", "right"),
                Column("total_ms", "total ms", "right", "{:,.1f}"),
                Column("p95_ms", "p95 ms", "right", "{:.2f}"),
                Column("share", "share", "right", "{:.0%}"),
            ],
            [[_short(f.query), f.calls, f.total_ms, f.p95_ms, f.share] for f in top],
        ),
        Table(
            "suggestions",
            "suggest-indexes --verify: measured before -> after",
            [
                Column("index", "index"),
                Column("query", "query"),
                Column("before", "before ms", "right", "{:.2f}"),
                Column("after", "after ms", "right", "{:.2f}"),
            ],
            [
                [s.statement.partition(" ON ")[2], _short(v.query, 40), v.before_ms, v.after_ms]
                for s, v in verified
            ],
        ),
    ]
    summary = [
        f"database {result.database}: {result.size.leads:,} leads, "
        f"{result.size.activities:,} activities, {result.size.accounts:,} accounts, "
        f"{result.size.users} users",
        f"workload: {result.statements:,} statements in {result.workload_s:.1f} s, logged "
        f"({result.log_events:,} log events read back)",
        f"analyze: {an.summary.fingerprints} fingerprints, {an.summary.total_ms:,.0f} ms in total",
        *stats_lines,
        f"suggest-indexes: {len(sg.suggestions)} index(es) from {len(sg.queries)} fingerprints "
        f"({sg.explain_calls} EXPLAIN calls, {sg.method})",
    ]
    if result.stats.problem is None:
        tables.insert(1, _stats_table(result.stats))
    if result.pool is not None:
        rows = _pool_rows(result.pool)
        data["pool"] = {
            "recommended_pool_size": (
                result.pool.recommendations[0].pool_size if result.pool.recommendations else None
            ),
            "points": [
                dict(
                    zip(
                        ("mode", "clients", "pool_size", "throughput", "p50_ms", "p95_ms"),
                        r,
                        strict=True,
                    )
                )
                for r in rows
            ],
        }
        tables.append(
            Table(
                "pool",
                "pool: fresh connections vs a pool",
                [
                    Column("mode", "mode"),
                    Column("clients", "clients", "right"),
                    Column("pool_size", "pool", "right"),
                    Column("throughput", "req/s", "right", "{:,.1f}"),
                    Column("p50", "p50 ms", "right", "{:.3f}"),
                    Column("p95", "p95 ms", "right", "{:.3f}"),
                ],
                rows,
            )
        )
        if result.pool.recommendations:
            summary.append(f"pool: recommended size {result.pool.recommendations[0].pool_size}")
    elif result.pool_note:
        summary.append(result.pool_note)
    summary.append(
        "steps: "
        + ", ".join(f"{s} {t:.1f} s" for s, t in result.steps)
        + f"; total {result.total_s:.1f} s"
    )
    if verified:
        before = sum(v.before_ms for _, v in verified)
        after = sum(v.after_ms for _, v in verified)
        verdict = (
            f"{len(sg.suggestions)} index(es) take the verified queries from {before:.1f} ms "
            f"to {after:.1f} ms"
        )
    else:
        verdict = "no index was verified"
    if result.kept:
        verdict += f"; database {result.database} kept"
    return Document(
        kind="demo",
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=tables,
        title="perfkit demo",
        summary=summary,
        verdict=verdict,
        warnings=(*sg.warnings, *_stats_warnings(result.stats)),
    )


def _stats_warnings(st: StatsComparison) -> tuple[str, ...]:
    if st.complete:
        return ()
    why = st.problem or "; ".join(st.delta_problems)
    return (f"pg_stat_statements section is PARTIAL: {why}",)
