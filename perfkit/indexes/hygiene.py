"""Index hygiene: duplicates, indexes that are a prefix of another, never-scanned indexes."""

from __future__ import annotations

from perfkit.indexes.catalog import Catalog, ExistingIndex
from perfkit.indexes.model import HygieneItem


def _sig(ix: ExistingIndex) -> tuple[str, tuple[str, ...], str]:
    return (ix.method, tuple(c.lower() for c in ix.keys), (ix.predicate or "").replace(" ", ""))


def hygiene(catalog: Catalog) -> list[HygieneItem]:
    out: list[HygieneItem] = []
    by_table: dict[str, list[ExistingIndex]] = {}
    for ix in catalog.indexes:
        if ix.valid:
            by_table.setdefault(ix.qualified_table, []).append(ix)
    for table, idxs in sorted(by_table.items()):
        flagged: set[str] = set()
        for i, a in enumerate(idxs):
            for b in idxs[i + 1 :]:
                if _sig(a) == _sig(b) and a.columns == b.columns:
                    # keep the one a constraint needs; report the other
                    drop, keep = (a, b) if not a.constraint_backed else (b, a)
                    if drop.name not in flagged:
                        flagged.add(drop.name)
                        out.append(
                            HygieneItem(
                                "duplicate",
                                table,
                                drop.name,
                                f"duplicate of {keep.name}",
                                drop.size_bytes,
                                drop.definition,
                            )
                        )
        for a in idxs:
            if a.name in flagged or a.method != "btree" or a.is_unique or a.constraint_backed:
                continue
            a_include = {c.lower() for c in a.columns[a.nkeys :]}
            for b in idxs:
                if b is a or b.name in flagged or b.method != "btree":
                    continue
                longer = len(b.keys) > len(a.keys)
                same = len(b.keys) == len(a.keys) and len(b.columns) > len(a.columns)
                if not (longer or same) or _sig(a)[2] != _sig(b)[2]:
                    continue
                if [c.lower() for c in b.keys[: len(a.keys)]] != [c.lower() for c in a.keys]:
                    continue
                # an INCLUDE column of a must be in b too, or a serves index-only scans b cannot
                if not a_include <= {c.lower() for c in b.columns}:
                    continue
                flagged.add(a.name)
                detail = (
                    f"its keys are a prefix of {b.name}"
                    if longer
                    else f"{b.name} has the same keys and more INCLUDE columns"
                )
                out.append(HygieneItem("prefix", table, a.name, detail, a.size_bytes, a.definition))
                break
        for a in idxs:
            if a.name in flagged or a.is_unique or a.is_primary or a.constraint_backed:
                continue
            if a.idx_scan == 0:
                out.append(
                    HygieneItem(
                        "unused",
                        table,
                        a.name,
                        "never scanned since statistics were reset",
                        a.size_bytes,
                        a.definition,
                    )
                )
    return out
