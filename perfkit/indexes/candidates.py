"""Candidate indexes for one query, from its column usage and the table's statistics."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from perfkit.db.ident import quote_ident, quote_table
from perfkit.indexes.catalog import Catalog, ExistingIndex
from perfkit.indexes.shape import Key, TableAccess

MAX_KEYS = 3
MAX_INCLUDE = 3
#: A constant predicate selecting at most this share of a table earns a partial index...
PARTIAL_MAX_SHARE = 0.05
#: ... when its column has at most this many distinct values (a status, a flag), or the
#: workload shows the constant in every call of the statement.
FEW_DISTINCT = 100


@dataclass(frozen=True)
class IndexDef:
    """An index perfkit may suggest."""

    table: str  # schema.name
    keys: tuple[Key, ...]
    include: tuple[str, ...] = ()
    where: str | None = None
    partitioned: bool = False
    method: str = "btree"

    @property
    def columns(self) -> list[str]:
        return [k.column or k.text for k in self.keys]

    @property
    def expression(self) -> str | None:
        exprs = [k.text for k in self.keys if k.is_expr]
        return ", ".join(exprs) if exprs else None

    def key_sql(self) -> str:
        parts = []
        for k in self.keys:
            text = f"({k.text})" if k.is_expr else quote_ident(k.text)
            if k.opclass:
                text += f" {k.opclass}"
            parts.append(text + (" DESC" if k.desc else ""))
        return ", ".join(parts)

    @property
    def signature(self) -> str:
        inc = ",".join(self.include)
        return f"{self.table}|{self.method}|{self.key_sql()}|{inc}|{self.where or ''}"

    def name(self) -> str:
        """A readable index name within PostgreSQL's 63-byte limit."""
        _, _, table = self.table.partition(".")
        words = [
            re.sub(r"[^a-z0-9]+", "_", (k.column or k.text).lower()).strip("_") for k in self.keys
        ]
        if any(k.is_expr for k in self.keys):
            words = [re.sub(r"[^a-z0-9]+", "_", k.text.lower()).strip("_") for k in self.keys]
        base = "_".join([table.lower(), *words])
        if self.where:
            base += "_part"
        if any(k.opclass.endswith("pattern_ops") for k in self.keys):
            base += "_pattern"
        if self.method != "btree":
            base += f"_{self.method}"
        suffix = "_idx"
        if len(base) + len(suffix) > 63 or not re.match(r"^[a-z_][a-z0-9_]*$", base):
            digest = hashlib.sha1(self.signature.encode()).hexdigest()[:8]
            base = re.sub(r"[^a-z0-9_]+", "_", base.lower())[: 63 - len(suffix) - 9] + "_" + digest
        return base + suffix

    def statement(self, *, concurrently: bool = True, name: str | None = None) -> str:
        conc = concurrently and not self.partitioned
        sql = "CREATE INDEX " + ("CONCURRENTLY " if conc else "")
        sql += f"{quote_ident(name or self.name())} ON {quote_table(self.table)}"
        if self.method != "btree":
            sql += f" USING {self.method}"
        sql += f" ({self.key_sql()})"
        if self.include:
            sql += " INCLUDE (" + ", ".join(quote_ident(c) for c in self.include) + ")"
        if self.where:
            sql += f" WHERE {self.where}"
        return sql

    def is_prefix_of(self, other: IndexDef) -> bool:
        if self.table != other.table or self.where != other.where or self.include:
            return False
        n = len(self.keys)
        return n <= len(other.keys) and [k.text for k in self.keys] == [
            k.text for k in other.keys[:n]
        ]


def _existing_keys(ix: ExistingIndex) -> list[str]:
    out = []
    for col in ix.keys:
        text = col.strip()
        if text.startswith('"') and text.endswith('"'):
            text = text[1:-1].replace('""', '"')
        out.append(text.lower() if not text.startswith("(") else text)
    return out


def covered_by_existing(cand: IndexDef, catalog: Catalog) -> ExistingIndex | None:
    """A valid index of the same kind whose leading keys already are ``cand``'s keys."""
    want = [k.text.lower() if not k.is_expr else k.text for k in cand.keys]
    if any(k.opclass for k in cand.keys):
        want = [
            w + " " + k.opclass if k.opclass else w for w, k in zip(want, cand.keys, strict=True)
        ]
    for ix in catalog.indexes_on(cand.table):
        if not ix.valid or ix.method != cand.method or (ix.predicate and not cand.where):
            continue
        if (
            ix.predicate
            and cand.where
            and ix.predicate.replace(" ", "") != cand.where.replace(" ", "")
        ):
            continue
        have = _existing_keys(ix)
        if len(want) <= len(have) and [w.lower() for w in want] == [
            h.lower() for h in have[: len(want)]
        ]:
            if cand.include and not set(cand.include) <= set(ix.columns):
                continue
            return ix
    return None


def _distinct(catalog: Catalog, table: str, key: Key) -> float:
    rel = catalog.relations.get(table)
    st = catalog.stats(table, key.column) if key.column else None
    if st is None or rel is None:
        return 0.0
    return st.distinct(rel.rows)


def _partial_evidence(
    catalog: Catalog, table: str, column: str, value: str, fixed: Sequence[str]
) -> bool:
    """Whether a constant deserves a partial index: ``IS NULL`` is part of the text, the
    workload used the same value in every call, or the column has few distinct values
    and this one is rare. Any other constant is treated as a parameter."""
    if value == "NULL" or value in fixed:
        return True
    st = catalog.stats(table, column)
    rel = catalog.relations.get(table)
    if st is None or rel is None or st.distinct(rel.rows) > FEW_DISTINCT:
        return False
    share = st.frequency(value)
    if share is None:  # not a most common value: what the rest of the rows share
        rest = max(st.distinct(rel.rows) - len(st.most_common_vals), 1.0)
        share = max(1.0 - sum(st.most_common_freqs) - st.null_frac, 0.0) / rest
    return share <= PARTIAL_MAX_SHARE


def _no_redundant_column(keys: list[Key]) -> list[Key]:
    """An expression key makes a plain key on the same column needless: (lower(email))."""
    exprs = {k.column for k in keys if k.is_expr}
    return [k for k in keys if k.is_expr or k.column not in exprs]


def candidates_for(
    access: TableAccess, catalog: Catalog, fixed: Sequence[str] = ()
) -> list[IndexDef]:
    """Btree candidates for one table access: equality columns first (most selective
    first), then a range or sort column; expression, partial and covering variants.
    ``fixed`` are the constants every call of the statement used."""
    rel = catalog.relations.get(access.table)
    partitioned = rel is not None and rel.relkind == "p"
    eq = sorted(access.eq, key=lambda k: -_distinct(catalog, access.table, k))
    out: list[IndexDef] = []

    def add(keys: list[Key], **kw: object) -> None:
        keys = _no_redundant_column(keys)[:MAX_KEYS]
        if keys:
            out.append(IndexDef(access.table, tuple(keys), partitioned=partitioned, **kw))  # type: ignore[arg-type]

    sort = list(access.sort)
    if sort and all(k.desc for k in sort):
        # a btree scans backwards: ORDER BY a DESC, b DESC is served by (a, b)
        sort = [Key(k.text, k.is_expr, False, k.column) for k in sort]
    for n in range(1, min(MAX_KEYS, len(eq)) + 1):
        add(eq[:n])
    for r in access.range[:2]:
        add([*eq[: MAX_KEYS - 1], r])
        if eq:
            add([r])
    if sort:
        add([*eq, *sort] if len(eq) + len(sort) <= MAX_KEYS else [*eq[:1], *sort])
    for j in access.join:
        add([j])
        if eq:
            add([*eq[:1], j])
    if access.group and not eq:
        add(list(access.group))
    for group in access.or_groups:
        for k in group:
            add([k])
    # partial indexes: a constant that selects few rows goes in the WHERE clause
    for column, value, sql in access.constants:
        if not _partial_evidence(catalog, access.table, column, value, fixed):
            continue
        rest = [k for k in eq if k.column != column]
        tail = rest[: MAX_KEYS - 1] + (sort or access.range[:1] or access.join[:1])
        if tail:  # a partial index on the predicate column alone would fit one value only
            add(tail[:MAX_KEYS], where=sql)
    # covering: a few more columns in INCLUDE turn the best scan into an index-only scan
    if out and access.referenced:
        best = max(out, key=lambda c: (c.where is None, len(c.keys)))
        in_keys = {k.column for k in best.keys if not k.is_expr}
        extra = sorted(access.referenced - in_keys)
        if (
            0 < len(extra) <= MAX_INCLUDE
            and best.where is None
            and not any(k.is_expr for k in best.keys)
        ):
            out.append(IndexDef(best.table, best.keys, tuple(extra), partitioned=partitioned))
    for k in access.contains:
        # jsonb @>: GIN with jsonb_path_ops (smaller and faster for containment)
        out.append(
            IndexDef(
                access.table,
                (Key(k.text, k.is_expr, False, k.column, "jsonb_path_ops"),),
                partitioned=partitioned,
                method="gin",
            )
        )
    seen: set[str] = set()
    unique = []
    for c in out:
        if c.signature not in seen:
            seen.add(c.signature)
            unique.append(c)
    return unique


def bundles_for(
    accesses: Sequence[TableAccess], per_access: Sequence[Sequence[IndexDef]], catalog: Catalog
) -> list[tuple[IndexDef, ...]]:
    """Candidates that may only help together: the best candidate of each table of a
    join (one index per side), and one index per disjunct of an OR."""
    out: list[tuple[IndexDef, ...]] = []
    firsts = [m[0] for m in per_access if m]
    if len(firsts) >= 2:
        out.append(tuple(firsts[:MAX_KEYS]))
        joins = []
        for a, mine in zip(accesses, per_access, strict=True):
            j = [c for c in mine if a.join and c.keys[0].text == a.join[0].text]
            joins.append(j[0] if j else (mine[0] if mine else None))
        pair = tuple(c for c in joins if c is not None)
        if len(pair) >= 2 and pair != out[0]:
            out.append(pair[:MAX_KEYS])
    for a, mine in zip(accesses, per_access, strict=True):
        for group in a.or_groups:
            members = []
            for k in group:
                for c in mine:
                    if len(c.keys) == 1 and c.keys[0].text == k.text and not c.where:
                        members.append(c)
                        break
            if len(members) >= 2:
                out.append(tuple(dict.fromkeys(members)))
    return out


def advice_for(access: TableAccess) -> list[tuple[str, str, str]]:
    """(kind, column, statement) for predicates a btree cannot serve (not costed)."""
    out = []
    for kind, column in access.advice:
        table = quote_table(access.table)
        col = quote_ident(column)
        if kind == "trigram":
            out.append(
                (
                    kind,
                    column,
                    f"CREATE INDEX CONCURRENTLY ON {table} USING gin ({col} gin_trgm_ops)",
                )
            )
        elif kind == "gin":
            out.append((kind, column, f"CREATE INDEX CONCURRENTLY ON {table} USING gin ({col})"))
    return out
