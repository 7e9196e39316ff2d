"""``type = "suggest-indexes"``: fail when the workload needs an index the baseline did not.

The measurement is ``perfkit suggest-indexes`` (:func:`perfkit.indexes.run.suggest`).
Each suggested index becomes a metric of its own (``index:<table>(<columns>)``) that
fails when the baseline did not have it; ``missing_indexes`` counts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv

INDEX_PREFIX = "index:"


class SuggestIndexesCheck(CheckType):
    name: ClassVar[str] = "suggest-indexes"
    summary: ClassVar[str] = "indexes a workload is missing (perfkit suggest-indexes)"
    requires: ClassVar[tuple[str, ...]] = (
        "perfkit.indexes.run:suggest",
        "perfkit.indexes.advisor:SuggestOptions",
    )
    params: ClassVar[tuple[Param, ...]] = (
        Param("queries", "str_list", default=(), help="SQL statements of the workload"),
        Param("files", "str_list", default=(), help=".sql files or logs (relative to config)"),
        Param("log_format", "str", default=None, help="force the log format"),
        Param("dsn", "str", default=None, help="database (default: --dsn, [db] dsn, embedded)"),
        Param("min_savings", "percent", default="50%", help="cost a suggestion must save"),
        Param("min_cost", "float", default=100.0, min=0, help="cheaper queries are ignored"),
        Param(
            "trial",
            "bool",
            default=False,
            help="cost candidates by building them in a rolled-back transaction on a "
            "non-embedded target without HypoPG (blocks writes to the table meanwhile)",
        ),
    )

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        if not params["queries"] and not params["files"]:
            fail("queries", "missing: give queries, files or both")

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        return (
            MetricSpec("missing_indexes", "count", "deterministic", "lower", "indexes suggested"),
        )

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.check.types.base import resolve_path
        from perfkit.indexes.advisor import SuggestOptions
        from perfkit.indexes.run import WorkloadSpec, suggest

        p = check.params
        spec = WorkloadSpec(
            statements=tuple(p["queries"]),
            paths=tuple(resolve_path(check.base_dir, f) for f in p["files"]),
            log_format=p["log_format"],
        )
        result = suggest(
            spec,
            SuggestOptions(
                min_savings=p["min_savings"], min_cost=p["min_cost"], allow_trial=p["trial"]
            ),
            dsn=p["dsn"] or env.dsn,
            config=env.config.data,
            statement_timeout=env.statement_timeout,
        )
        metrics = [
            Metric("missing_indexes", "count", "deterministic", (float(len(result.suggestions)),))
        ]
        for s in result.suggestions:
            metrics.append(
                Metric(
                    INDEX_PREFIX + index_key(s.table, s.columns, s.expression, s.where),
                    "count",
                    "deterministic",
                    (1.0,),
                    fail_if_new=True,
                )
            )
        return tuple(metrics)


def index_key(
    table: str, columns: tuple[str, ...], expression: str | None, where: str | None
) -> str:
    """A stable name for a suggested index, independent of its generated name."""
    cols = ", ".join(columns) if columns else (expression or "")
    table = table.removeprefix("public.")
    return f"{table}({cols})" + (f" WHERE {where}" if where else "")
