"""auto_explain plans in server logs (``duration: N ms  plan:`` records).

A plan record is never an executed statement (the statement itself is logged by
``log_min_duration_statement`` or not at all; counting plans too would count the
statement twice). Each plan is attached to the fingerprint of its ``Query Text`` and
reduced to its *shape*: the tree of plan nodes (node type, index, relation) without
costs, row counts or times, hashed. Per fingerprint the distinct shapes are counted,
the slowest plan is kept (text capped at :data:`PLAN_CHARS`), and a change of shape
between consecutive plans in log order is recorded ("12:03: Index Scan on orders →
Seq Scan on orders"). Text and JSON plan formats (``auto_explain.log_format``) give the
same shape for the same plan; other formats (YAML, XML) are counted as unparsed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from perfkit.querylog.fingerprint import Fingerprinter

__all__ = [
    "CHANGE_LIMIT",
    "PLAN_CHARS",
    "SHAPE_LIMIT",
    "FingerprintPlans",
    "PlanChange",
    "PlanCollector",
    "PlanShape",
    "PlansResult",
    "plan_shape",
]

#: Distinct shapes kept per fingerprint (more are counted in ``other_shapes``).
SHAPE_LIMIT = 20
#: Shape changes kept per fingerprint (the first ones; all are counted).
CHANGE_LIMIT = 20
#: Characters of the slowest plan's text kept.
PLAN_CHARS = 20_000

Meta = tuple[Any, ...]


@dataclass(frozen=True)
class PlanShape:
    hash: str  # 16 hex digits
    summary: str  # the scan nodes: "Index Scan using orders_pkey on orders"
    nodes: tuple[str, ...]  # every node, indented by depth
    count: int
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    max_ms: float


@dataclass(frozen=True)
class PlanChange:
    ts: dt.datetime | None
    fingerprint: str
    before: str  # summary of the previous shape
    after: str
    before_hash: str
    after_hash: str
    source: str
    line: int


@dataclass(frozen=True)
class FingerprintPlans:
    fingerprint: str
    query: str
    plans: int
    shapes: tuple[PlanShape, ...]  # in order of first appearance
    other_shapes: int
    slowest_ms: float
    slowest_ts: dt.datetime | None
    slowest_format: str  # text | json
    slowest_plan: str
    changes: tuple[PlanChange, ...]
    changes_total: int


@dataclass(frozen=True)
class PlansResult:
    plans: int
    unparsed: int  # plan records whose format perfkit does not read
    fingerprints: tuple[FingerprintPlans, ...]  # most changes first, then most plans
    other_fingerprints: int
    changes: tuple[PlanChange, ...]  # of every fingerprint, in log order


# --- shapes --------------------------------------------------------------------------------
_STOP = ("Query Parameters: ", "Query Identifier: ")


def _text_plan(body: str) -> tuple[str, list[str]] | None:
    """Query text and node lines (depth-indented) of a text-format plan."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("Query Text: "):
        return None
    query_lines = [lines[0][12:]]
    nodes: list[str] = []
    stack: list[int] = []  # indentation of the open ancestors
    in_query = True
    for ln in lines[1:]:
        cost = ln.find("  (cost=")
        if cost < 0:
            if in_query:
                if ln.startswith(_STOP):
                    in_query = False
                else:
                    query_lines.append(ln)
            continue
        in_query = False
        head = ln[:cost].replace('"', "")  # identifiers are quoted in text, not in JSON
        label = head.lstrip(" ")
        indent = len(head) - len(label)
        if label.startswith("->"):
            label = label[2:].lstrip(" ")
        while stack and stack[-1] >= indent:
            stack.pop()
        nodes.append("  " * len(stack) + label)
        stack.append(indent)
    if not nodes:
        return None
    return "\n".join(query_lines), nodes


_AGG = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"}
_JOIN_TYPES = {"Left", "Right", "Full", "Semi", "Anti", "Right Semi", "Right Anti"}


def _json_label(node: dict[str, Any]) -> str:
    """A JSON plan node as EXPLAIN's text format names it."""
    kind = str(node.get("Node Type", "?"))
    if kind == "ModifyTable":
        kind = str(node.get("Operation", kind))
    elif kind == "Aggregate":
        kind = _AGG.get(str(node.get("Strategy")), kind)
    elif kind == "SetOp":
        if node.get("Strategy") == "Hashed":
            kind = "HashSetOp"
        if node.get("Command") is not None:
            kind += f" {node['Command']}"
    join = node.get("Join Type")
    if join in _JOIN_TYPES and kind.endswith("Join"):
        kind = f"{kind[:-4]}{join} Join"
    elif join in _JOIN_TYPES and kind == "Nested Loop":
        kind = f"Nested Loop {join} Join"
    label = kind
    if node.get("Scan Direction") == "Backward":
        label += " Backward"
    index = node.get("Index Name")
    rel = node.get("Relation Name")
    if index is not None and rel is None:  # Bitmap Index Scan on <index>
        return f"{label} on {index}"
    if index is not None:
        label += f" using {index}"
    alias = node.get("Alias")
    named = rel or node.get("CTE Name") or node.get("Function Name")
    if named is not None:
        schema = node.get("Schema")
        label += (
            f" on {schema}.{named}" if schema is not None and rel is not None else f" on {named}"
        )
        if alias is not None and alias != named:
            label += f" {alias}"
    elif (
        node.get("Subplan Name") is None and node.get("Alias") is not None and kind.endswith("Scan")
    ):
        label += f" on {node['Alias']}"
    return label


def _json_plan(body: str) -> tuple[str, list[str]] | None:
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if not isinstance(obj, dict) or not isinstance(obj.get("Plan"), dict):
        return None
    nodes: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        nodes.append("  " * depth + _json_label(node))
        for child in node.get("Plans") or ():
            if isinstance(child, dict):
                walk(child, depth + 1)

    walk(obj["Plan"], 0)
    return str(obj.get("Query Text", "")), nodes


def plan_shape(body: str) -> tuple[str, str, tuple[str, ...], str] | None:
    """``(query text, shape hash, nodes, format)`` of an auto_explain plan body (what
    follows ``plan:``), or None if it is in no format perfkit reads."""
    body = body.lstrip("\n")
    fmt = "json" if body[:1] in "{[" else "text"
    parsed = _json_plan(body) if fmt == "json" else _text_plan(body)
    if parsed is None:
        return None
    query, nodes = parsed
    digest = hashlib.blake2b("\n".join(nodes).encode(), digest_size=8).hexdigest()
    return query, digest, tuple(nodes), fmt


def _summary(nodes: tuple[str, ...]) -> str:
    scans = [n.strip() for n in nodes if "Scan" in n]
    return ", ".join(scans) if scans else nodes[0].strip()


# --- collection ------------------------------------------------------------------------
class _Shape:
    __slots__ = ("count", "first", "hash", "last", "max_ms", "nodes", "summary")

    def __init__(self, digest: str, nodes: tuple[str, ...]) -> None:
        self.hash = digest
        self.nodes = nodes
        self.summary = _summary(nodes)
        self.count = 0
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.max_ms = -1.0


class _FpPlans:
    __slots__ = (
        "changes",
        "changes_total",
        "first_hash",
        "first_line",
        "first_source",
        "first_summary",
        "first_ts",
        "last_hash",
        "last_summary",
        "other_shapes",
        "plans",
        "query",
        "shapes",
        "slow_fmt",
        "slow_ms",
        "slow_plan",
        "slow_ts",
    )

    def __init__(self, query: str) -> None:
        self.query = query
        self.plans = 0
        self.shapes: dict[str, _Shape] = {}
        self.other_shapes = 0
        self.slow_ms = -1.0
        self.slow_ts: dt.datetime | None = None
        self.slow_plan = ""
        self.slow_fmt = "text"
        self.changes: list[PlanChange] = []
        self.changes_total = 0
        self.first_hash = ""
        self.first_summary = ""
        self.first_ts: dt.datetime | None = None
        self.first_source = ""
        self.first_line = 0
        self.last_hash = ""
        self.last_summary = ""


class PlanCollector:
    """Plans by fingerprint; :meth:`merge` adds the plans of the input that follows."""

    def __init__(self, fingerprinter: Fingerprinter, cap: int | None) -> None:
        self.fpr = fingerprinter
        self.cap = cap
        # a range of a parallel run keeps every shape: the parent applies the limit
        self.shape_limit = SHAPE_LIMIT if cap is not None else None
        self.plans = 0
        self.unparsed = 0
        self.by_fp: dict[str, _FpPlans] = {}
        self.other_fps = 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("fpr", None)
        return state

    def message(self, msg: str, meta: Meta, source: str, line: int) -> None:
        """A ``duration: N ms  plan:`` message (other durations are ignored)."""
        i = msg.find(" ms  plan:", 10)
        if i < 0:
            return
        try:
            ms = float(msg[10:i])
        except ValueError:
            return
        self.plans += 1
        body = msg[i + 10 :]
        shape = plan_shape(body)
        if shape is None:
            self.unparsed += 1
            return
        query, digest, nodes, fmt = shape
        fp = self.fpr(query)
        p = self.by_fp.get(fp.id)
        if p is None:
            if self.cap is not None and len(self.by_fp) >= self.cap:
                self.other_fps += 1
                return
            p = self.by_fp[fp.id] = _FpPlans(fp.query)
        ts = meta[0]
        p.plans += 1
        s = p.shapes.get(digest)
        if s is None:
            if self.shape_limit is not None and len(p.shapes) >= self.shape_limit:
                p.other_shapes += 1
                summary = _summary(nodes)
            else:
                s = p.shapes[digest] = _Shape(digest, nodes)
                summary = s.summary
        else:
            summary = s.summary
        if s is not None:
            s.count += 1
            if s.first is None:
                s.first = ts
            if ts is not None:
                s.last = ts
            if ms > s.max_ms:
                s.max_ms = ms
        if ms > p.slow_ms:
            p.slow_ms, p.slow_ts, p.slow_fmt = ms, ts, fmt
            text = body.strip("\n")
            p.slow_plan = text if len(text) <= PLAN_CHARS else text[:PLAN_CHARS] + "\n..."
        if p.plans == 1:
            p.first_hash, p.first_summary, p.first_ts = digest, summary, ts
            p.first_source, p.first_line = source, line
        elif digest != p.last_hash:
            p.changes_total += 1
            if len(p.changes) < CHANGE_LIMIT:
                p.changes.append(
                    PlanChange(
                        ts, fp.id, p.last_summary, summary, p.last_hash, digest, source, line
                    )
                )
        p.last_hash, p.last_summary = digest, summary

    def merge(self, other: PlanCollector) -> None:
        self.plans += other.plans
        self.unparsed += other.unparsed
        self.other_fps += other.other_fps
        for fid, theirs in other.by_fp.items():
            mine = self.by_fp.get(fid)
            if mine is None:
                if self.cap is not None and len(self.by_fp) >= self.cap:
                    self.other_fps += theirs.plans
                    continue
                mine = self.by_fp[fid] = _FpPlans(theirs.query)
                mine.first_hash, mine.first_summary = theirs.first_hash, theirs.first_summary
                mine.first_ts = theirs.first_ts
                mine.first_source, mine.first_line = theirs.first_source, theirs.first_line
                mine.last_hash = theirs.first_hash  # no change at the join
            _fold(mine, theirs, fid, self.shape_limit)

    def result(self) -> PlansResult:
        fps = []
        changes: list[PlanChange] = []
        for fid, p in self.by_fp.items():
            shapes = tuple(
                PlanShape(s.hash, s.summary, s.nodes, s.count, s.first, s.last, s.max_ms)
                for s in p.shapes.values()
            )
            fps.append(
                FingerprintPlans(
                    fingerprint=fid,
                    query=p.query,
                    plans=p.plans,
                    shapes=shapes,
                    other_shapes=p.other_shapes,
                    slowest_ms=p.slow_ms,
                    slowest_ts=p.slow_ts,
                    slowest_format=p.slow_fmt,
                    slowest_plan=p.slow_plan,
                    changes=tuple(p.changes),
                    changes_total=p.changes_total,
                )
            )
            changes.extend(p.changes)
        fps.sort(key=lambda f: (-f.changes_total, -f.plans, f.fingerprint))
        changes.sort(key=_change_order)
        return PlansResult(
            plans=self.plans,
            unparsed=self.unparsed,
            fingerprints=tuple(fps),
            other_fingerprints=self.other_fps,
            changes=tuple(changes),
        )


def _change_order(c: PlanChange) -> tuple[float, str, int]:
    t = c.ts
    if t is None:
        return (math.inf, c.source, c.line)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return (t.timestamp(), c.source, c.line)


def _fold(mine: _FpPlans, theirs: _FpPlans, fid: str, limit: int | None) -> None:
    """``theirs`` (later in the log) into ``mine``, as one pass would have seen them."""
    mine.plans += theirs.plans
    for digest, s in theirs.shapes.items():
        m = mine.shapes.get(digest)
        if m is None:
            if limit is not None and len(mine.shapes) >= limit:
                mine.other_shapes += s.count
                continue
            mine.shapes[digest] = s
            continue
        m.count += s.count
        if m.first is None:
            m.first = s.first
        if s.last is not None:
            m.last = s.last
        if s.max_ms > m.max_ms:
            m.max_ms = s.max_ms
    mine.other_shapes += theirs.other_shapes
    if theirs.slow_ms > mine.slow_ms:
        mine.slow_ms, mine.slow_ts = theirs.slow_ms, theirs.slow_ts
        mine.slow_fmt, mine.slow_plan = theirs.slow_fmt, theirs.slow_plan
    if theirs.first_hash != mine.last_hash:
        mine.changes_total += 1
        if len(mine.changes) < CHANGE_LIMIT:
            mine.changes.append(
                PlanChange(
                    theirs.first_ts,
                    fid,
                    mine.last_summary,
                    theirs.first_summary,
                    mine.last_hash,
                    theirs.first_hash,
                    theirs.first_source,
                    theirs.first_line,
                )
            )
    mine.changes_total += theirs.changes_total
    room = CHANGE_LIMIT - len(mine.changes)
    if room > 0:
        mine.changes.extend(theirs.changes[:room])
    mine.last_hash, mine.last_summary = theirs.last_hash, theirs.last_summary
