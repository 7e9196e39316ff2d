"""``type = "explain"``: the planner's view of one query - cost, rows, large seq scans.

The measurement is ``perfkit explain``'s (:func:`perfkit.indexes.run.explain_queries`):
the query is planned, never run, on a read-only session with perfkit's statement
timeout. Plans are deterministic for a given schema and statistics, so these metrics
compare exactly unless limits say otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.errors import DatabaseError, InputError, UnsafeOperation


class ExplainCheck(CheckType):
    name: ClassVar[str] = "explain"
    summary: ClassVar[str] = "plan cost, estimated rows and large seq scans of a query"
    requires: ClassVar[tuple[str, ...]] = ("perfkit.indexes.run:explain_queries",)
    one_of: ClassVar[tuple[str, ...]] = ("query", "file")
    params: ClassVar[tuple[Param, ...]] = (
        Param("query", "str", required=True, help="the SQL to plan"),
        Param("file", "path", required=True, help="a .sql file holding one statement"),
        Param("dsn", "str", default=None, help="database (default: --dsn, [db] dsn, embedded)"),
        Param(
            "large_table_rows",
            "int",
            default=10_000,
            min=0,
            help="a seq scan filtering most rows of a table this big counts",
        ),
    )

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        return (
            MetricSpec("cost", "cost", "deterministic", "lower", "total plan cost"),
            MetricSpec("rows", "rows", "deterministic", "lower", "estimated rows returned"),
            MetricSpec("seq_scans", "count", "deterministic", "lower", "seq scans on large tables"),
        )

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.db.guard import Guard, explain_policy
        from perfkit.indexes.run import WorkloadSpec, explain_queries

        p = check.params
        if p["file"] is not None:
            if not p["file"].is_file():
                raise InputError(p["file"], "SQL file not found")
            spec = WorkloadSpec(paths=(p["file"],))
            text = p["file"].read_text(encoding="utf-8", errors="replace")
        else:
            spec = WorkloadSpec(statements=(p["query"],))
            text = p["query"]
        # the statement guard first: what it refuses is named, and nothing is sent
        verdicts = Guard(explain_policy(analyze=False)).judge(text)
        where = p["file"] or "query"
        if len(verdicts) > 1:
            raise InputError(
                where,
                f"holds {len(verdicts)} statements; an explain check plans exactly one: "
                + "; ".join(v.describe() for v in verdicts),
            )
        if verdicts and not verdicts[0].allowed:
            raise UnsafeOperation(f"{where}: not sent: {verdicts[0].describe()}")
        result = explain_queries(
            spec,
            min_rows=p["large_table_rows"],
            dsn=p["dsn"] or env.dsn,
            config=env.config.data,
            statement_timeout=env.statement_timeout,
        )
        if len(result.queries) != 1:
            raise InputError(
                p["file"] or "query",
                f"holds {len(result.queries)} statements; an explain check plans exactly one",
            )
        q = result.queries[0]
        if q.refused:
            raise UnsafeOperation(f"{p['file'] or 'query'}: not sent: {q.error}")
        if q.error is not None or q.cost is None or q.plan is None:
            raise DatabaseError("explain", f"cannot plan the query: {q.error or 'no plan'}")
        seq = sum(1 for f in q.findings if f.kind == "seq_scan")
        return (
            Metric("cost", "cost", "deterministic", (float(q.cost),)),
            Metric("rows", "rows", "deterministic", (float(q.plan["Plan"]["Plan Rows"]),)),
            Metric("seq_scans", "count", "deterministic", (float(seq),)),
        )
