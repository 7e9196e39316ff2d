"""Running EXPLAIN safely and reading its JSON plan.

Every EXPLAIN runs in its own transaction or savepoint, so one failing query leaves the
session usable. Parameters (``$1``) are bound server-side with unknown type, exactly as
an application's extended-protocol statement would be, so ``$n`` queries are planned
with real values and without rewriting their text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfkit.db.guard import Verdict

ParamMode = str  # "none" | "example" | "pg_stats" | "generic"

_PARAM = re.compile(r"\$(\d+)")


class ExplainFailed(Exception):
    """The server refused to plan the query; ``str()`` is its first error line."""


def param_count(sql: str) -> int:
    """Highest ``$n`` in ``sql`` (0 when it has none). Strings are not parsed: callers
    pass statements whose ``$n`` are placeholders."""
    nums = [int(m.group(1)) for m in _PARAM.finditer(_strip_literals(sql))]
    return max(nums, default=0)


_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)


def _strip_literals(sql: str) -> str:
    return _LITERALS.sub(" ", sql)


@dataclass(frozen=True)
class PlanNode:
    node_type: str
    relation: str | None  # schema.name when the plan names one
    alias: str | None
    index_name: str | None
    startup_cost: float
    total_cost: float
    plan_rows: float
    actual_rows: float | None
    actual_loops: float | None
    actual_time_ms: float | None
    rows_removed: float | None
    detail: str  # the condition or key that explains the node
    parent_relationship: str | None
    sort_space_type: str | None
    sort_method: str | None
    hash_batches: int | None
    children: tuple[PlanNode, ...] = ()

    def walk(self) -> Iterator[PlanNode]:
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def label(self) -> str:
        parts = [self.node_type]
        if self.index_name:
            parts.append(f"using {self.index_name}")
        if self.relation:
            parts.append(f"on {self.relation}")
        return " ".join(parts)

    @property
    def self_cost(self) -> float:
        return max(0.0, self.total_cost - sum(c.total_cost for c in self.children))


@dataclass(frozen=True)
class Plan:
    root: PlanNode
    planning_ms: float | None = None
    execution_ms: float | None = None
    raw: Any = field(default=None, compare=False, repr=False)

    @property
    def cost(self) -> float:
        return self.root.total_cost

    def nodes(self) -> Iterator[PlanNode]:
        return self.root.walk()

    def summary(self, table: str | None = None) -> str:
        """The costliest scan of this plan (of ``table`` or its partitions when given),
        e.g. ``Seq Scan on public.orders``."""
        scans = [n for n in self.nodes() if n.relation]
        if table:
            name = table.partition(".")[2] or table
            mine = [n for n in scans if n.relation in (table, name) or _partition_of(n, name)]
            scans = mine or scans
        best = max(scans or list(self.nodes()), key=lambda n: n.total_cost)
        return best.label


def _partition_of(node: PlanNode, name: str) -> bool:
    # partitions are usually named after their parent (events_2024a of events)
    rel = node.relation or ""
    return rel.startswith(name + "_") or rel.startswith(name + "p")


_DETAIL_KEYS = ("Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter")


def parse_node(d: dict[str, Any]) -> PlanNode:
    rel = d.get("Relation Name")
    if rel and d.get("Schema"):
        rel = f"{d['Schema']}.{rel}"
    detail = ""
    for key in _DETAIL_KEYS:
        if d.get(key):
            detail = f"{key}: {d[key]}"
            break
    if not detail and d.get("Sort Key"):
        detail = "Sort Key: " + ", ".join(d["Sort Key"])
    removed = d.get("Rows Removed by Filter")
    batches = d.get("Hash Batches")
    return PlanNode(
        node_type=str(d.get("Node Type", "?")),
        relation=rel,
        alias=d.get("Alias"),
        index_name=d.get("Index Name"),
        startup_cost=float(d.get("Startup Cost", 0.0)),
        total_cost=float(d.get("Total Cost", 0.0)),
        plan_rows=float(d.get("Plan Rows", 0.0)),
        actual_rows=float(d["Actual Rows"]) if "Actual Rows" in d else None,
        actual_loops=float(d["Actual Loops"]) if "Actual Loops" in d else None,
        actual_time_ms=float(d["Actual Total Time"]) if "Actual Total Time" in d else None,
        rows_removed=float(removed) if removed is not None else None,
        detail=detail,
        parent_relationship=d.get("Parent Relationship"),
        sort_space_type=d.get("Sort Space Type"),
        sort_method=d.get("Sort Method"),
        hash_batches=int(batches) if batches is not None else None,
        children=tuple(parse_node(c) for c in d.get("Plans", ())),
    )


def parse_plan(doc: Any) -> Plan:
    """A :class:`Plan` from EXPLAIN (FORMAT JSON) output (a list of one object)."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    top = doc[0] if isinstance(doc, list) else doc
    return Plan(
        root=parse_node(top["Plan"]),
        planning_ms=top.get("Planning Time"),
        execution_ms=top.get("Execution Time"),
        raw=top,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def explain(
    conn: Any,
    sql: str,
    params: Sequence[str | None] | None = None,
    *,
    generic: bool = False,
    analyze: bool = False,
    verdict: Verdict | None = None,
) -> Plan:
    """EXPLAIN ``sql`` in a rolled-back transaction (or savepoint) on ``conn``.

    ``params`` bind ``$1..$n``; ``generic`` plans without values instead (GENERIC_PLAN on
    16+, a prepared statement with ``force_generic_plan`` before). ``analyze`` executes
    the statement. ``sql`` goes through the statement guard first (``verdict``, or the
    guard's default for EXPLAIN): one statement, that EXPLAIN takes, with no side effect
    a rollback cannot undo; a refusal raises :class:`ExplainFailed` with the reason.
    Reads run READ ONLY; only DML, row locks and flagged effects run READ WRITE, and
    only under ``analyze`` (a plan alone runs nothing).
    """
    import psycopg

    from perfkit.db.guard import explain_guard

    if verdict is None:
        verdict = explain_guard(conn, analyze=analyze).judge_one(sql)
    if not verdict.allowed:
        raise ExplainFailed(f"refused ({verdict.kind}): {verdict.message}")
    opts = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    mode = "READ WRITE" if analyze and verdict.needs_write else "READ ONLY"
    cur = psycopg.RawCursor(conn)
    prepared = False
    try:
        # always undone: an analyzed statement really ran (DML, volatile functions)
        with conn.transaction(force_rollback=True):
            cur.execute(f"SET TRANSACTION {mode}")
            if generic and int(conn.info.server_version) >= 160000:
                cur.execute(f"EXPLAIN (GENERIC_PLAN, {opts}) {sql}")
            elif generic:
                n = param_count(sql)
                cur.execute(f"PREPARE perfkit_explain AS {sql}")
                prepared = True
                cur.execute("SHOW plan_cache_mode")
                old = cur.fetchone()
                cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                args = "(" + ", ".join(["NULL"] * n) + ")" if n else ""
                cur.execute(f"EXPLAIN ({opts}) EXECUTE perfkit_explain{args}")
                row = cur.fetchone()
                cur.execute(f"SET LOCAL plan_cache_mode = {old[0] if old else 'auto'}")
            else:
                cur.execute(f"EXPLAIN ({opts}) {sql}", list(params) if params else None)
            if not (generic and prepared):
                row = cur.fetchone()
    except psycopg.errors.QueryCanceled as exc:
        raise ExplainFailed(_first_line(exc)) from None
    except psycopg.Error as exc:
        from perfkit.db.connect import is_connection_lost, map_error

        if is_connection_lost(exc):
            raise map_error(exc, "database") from None
        raise ExplainFailed(_first_line(exc)) from None
    finally:
        if prepared:
            # prepared statements outlive a rolled-back savepoint
            try:
                with conn.transaction():
                    cur.execute("DEALLOCATE perfkit_explain")
            except psycopg.Error:
                pass
    if row is None:
        raise ExplainFailed("EXPLAIN returned no plan")
    return parse_plan(row[0])
