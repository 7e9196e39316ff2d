"""Page parts several report pages share (pure): the rest of a report as generic
sections, plan trees with their costly nodes marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfkit.html.frame import Section, esc, fmt, generic

__all__ = ["COSTLY_SHARE", "costly_nodes", "plan_tree", "rest_section"]

#: a plan node is marked costly when its own cost (or time) is at least this share of
#: the whole plan's
COSTLY_SHARE = 0.2


def rest_section(
    report: Mapping[str, Any], used: Sequence[str], title: str = "Everything else"
) -> Section | None:
    """The report's keys no section of the page showed yet (nothing is left out)."""
    skip = {"schema_version", "kind", "warnings", *used}
    rest = {k: v for k, v in report.items() if k not in skip and v not in (None, [], {})}
    if not rest:
        return None
    return Section("more", title, generic(rest, "more"))


def _own(node: Mapping[str, Any], key: str) -> float | None:
    total = node.get(key)
    if not isinstance(total, (int, float)):
        return None

    def loops(n: Mapping[str, Any]) -> float:
        return float(n.get("Actual Loops") or 1) if key == "Actual Total Time" else 1.0

    kids = sum(
        float(k.get(key) or 0.0) * loops(k)
        for k in node.get("Plans") or []
        if isinstance(k, Mapping)
    )
    return max(float(total) * loops(node) - kids, 0.0)


def _measure(root: Mapping[str, Any]) -> str:
    return "Actual Total Time" if "Actual Total Time" in root else "Total Cost"


def costly_nodes(plan: Mapping[str, Any], share: float = COSTLY_SHARE) -> list[str]:
    """Paths ("0", "0.1", ...) of the nodes whose own cost (time with ANALYZE) is at least
    ``share`` of the root's."""
    root = plan.get("Plan", plan)
    key = _measure(root)
    whole = float(root.get(key) or 0.0)
    out: list[str] = []

    def walk(n: Mapping[str, Any], path: str) -> None:
        own = _own(n, key)
        if whole > 0 and own is not None and own >= share * whole:
            out.append(path)
        for i, k in enumerate(n.get("Plans") or []):
            if isinstance(k, Mapping):
                walk(k, f"{path}.{i}")

    walk(root, "0")
    return out


_DETAIL_KEYS = (
    "Relation Name",
    "Alias",
    "Index Name",
    "Index Cond",
    "Filter",
    "Hash Cond",
    "Join Filter",
    "Merge Cond",
    "Sort Key",
    "Group Key",
    "Rows Removed by Filter",
)


def plan_tree(plan: Mapping[str, Any]) -> str:
    """An EXPLAIN (FORMAT JSON) plan as a nested list; nodes with at least
    :data:`COSTLY_SHARE` of the plan's own cost (or time) are marked."""
    root = plan.get("Plan", plan)
    if not isinstance(root, Mapping):
        return "<p class=note>no plan</p>"
    key = _measure(root)
    hot = set(costly_nodes(plan))

    def node(n: Mapping[str, Any], path: str) -> str:
        name = str(n.get("Node Type", "?"))
        if n.get("Join Type"):
            name = f"{n['Join Type']} {name}"
        cost = f"cost {fmt(n.get('Startup Cost'))}..{fmt(n.get('Total Cost'))}"
        rows = f"rows {fmt(n.get('Plan Rows'))}"
        actual = ""
        if "Actual Total Time" in n:
            actual = (
                f", actual {fmt(n.get('Actual Total Time'))} ms x "
                f"{fmt(n.get('Actual Loops'))}, rows {fmt(n.get('Actual Rows'))}"
            )
        own = _own(n, key)
        detail = "; ".join(
            f"{k.lower()}: {fmt(n[k])}" for k in _DETAIL_KEYS if n.get(k) not in (None, "")
        )
        mark = (
            f' <span class="mark">costly: own {"time" if key != "Total Cost" else "cost"} '
            f"{fmt(own, '{:,.2f}')}</span>"
            if path in hot
            else ""
        )
        kids = "".join(
            node(k, f"{path}.{i}")
            for i, k in enumerate(n.get("Plans") or [])
            if isinstance(k, Mapping)
        )
        return (
            f'<li><span class="node{" hot" if path in hot else ""}">{esc(name)} '
            f'<span class="c">{esc(cost)}, {esc(rows)}{esc(actual)}</span>{mark}</span>'
            + (f'<div class="note">{esc(detail)}</div>' if detail else "")
            + (f'<ul class="plan">{kids}</ul>' if kids else "")
            + "</li>"
        )

    return f'<ul class="plan root">{node(root, "0")}</ul>'
