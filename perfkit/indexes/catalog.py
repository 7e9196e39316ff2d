"""What the server knows about the tables a workload touches (one round of catalog reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfkit.db.sql import load_sql


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    relkind: str  # r table, p partitioned, v view, m matview, f foreign
    is_partition: bool
    parent: str | None
    reltuples: float
    relpages: int
    analyzed: bool
    n_tup_ins: int
    n_tup_upd: int
    n_tup_del: int
    seq_scan: int
    n_live_tup: int
    viewdef: str | None
    n_tup_hot_upd: int = 0

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def rows(self) -> float:
        return max(self.reltuples, float(self.n_live_tup))

    @property
    def writes(self) -> int:
        return self.n_tup_ins + self.n_tup_upd + self.n_tup_del


@dataclass(frozen=True)
class ExistingIndex:
    schema: str
    table: str
    name: str
    method: str
    valid: bool
    is_unique: bool
    is_primary: bool
    columns: tuple[str, ...]  # key columns then INCLUDE columns, as pg_get_indexdef shows
    nkeys: int
    descending: tuple[bool, ...]
    predicate: str | None
    size_bytes: int
    idx_scan: int
    constraint_backed: bool
    definition: str

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.columns[: self.nkeys]


@dataclass(frozen=True)
class ColumnStats:
    null_frac: float
    n_distinct: float
    most_common_vals: tuple[str, ...]
    most_common_freqs: tuple[float, ...]
    histogram_bounds: tuple[str, ...]

    def distinct(self, rows: float) -> float:
        """Estimated number of distinct values (pg_stats stores negatives as fractions)."""
        if self.n_distinct < 0:
            return -self.n_distinct * max(rows, 1.0)
        return self.n_distinct

    def frequency(self, value: str) -> float | None:
        """Share of rows equal to ``value`` when it is a most common value."""
        for v, f in zip(self.most_common_vals, self.most_common_freqs, strict=False):
            if v == value:
                return f
        return None

    def other_values(self) -> list[str]:
        """Values to try a plan with besides the example: the most common values, then
        histogram bounds from the middle outwards."""
        out = list(self.most_common_vals)
        h = list(self.histogram_bounds)
        mid = len(h) // 2
        order = sorted(range(len(h)), key=lambda i: abs(i - mid))
        out.extend(h[i] for i in order)
        return out

    def sample_value(self) -> str | None:
        if self.most_common_vals:
            return self.most_common_vals[0]
        if self.histogram_bounds:
            return self.histogram_bounds[len(self.histogram_bounds) // 2]
        return None


@dataclass
class Catalog:
    """Relations, columns and indexes of the connected database, keyed ``schema.name``."""

    relations: dict[str, Relation]
    columns: dict[str, dict[str, str]]
    indexes: list[ExistingIndex]
    search_path: tuple[str, ...]
    server_version: int
    stats_window_s: float | None = None
    collations: dict[tuple[str, str], str] = field(default_factory=dict)
    _stats: dict[tuple[str, str], ColumnStats | None] = field(default_factory=dict)
    _conn: Any = None

    def resolve(self, name: str, schema: str | None = None) -> Relation | None:
        """The relation an unqualified or qualified name refers to (search_path order)."""
        if schema:
            return self.relations.get(f"{schema}.{name}")
        for s in self.search_path:
            rel = self.relations.get(f"{s}.{name}")
            if rel is not None:
                return rel
        return None

    def indexes_on(self, qualified: str) -> list[ExistingIndex]:
        return [i for i in self.indexes if i.qualified_table == qualified]

    def root(self, rel: Relation) -> Relation:
        """The top partitioned parent of a partition (indexes are suggested there)."""
        seen = 0
        while rel.is_partition and rel.parent and seen < 16:
            parent = self.relations.get(rel.parent)
            if parent is None:
                break
            rel = parent
            seen += 1
        return rel

    def stats(self, qualified: str, column: str) -> ColumnStats | None:
        key = (qualified, column)
        if key not in self._stats:
            self._stats[key] = _load_stats(self._conn, qualified, column, self.server_version)
        return self._stats[key]


def _pg_array(text: str | None) -> tuple[str, ...]:
    """Parse a PostgreSQL array literal's text form (``{a,"b c",NULL}``)."""
    if not text or len(text) < 2:
        return ()
    body = text[1:-1]
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    was_quoted = False
    while i < len(body):
        ch = body[i]
        if quoted:
            if ch == "\\" and i + 1 < len(body):
                cur.append(body[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = True
            was_quoted = True
        elif ch == ",":
            out.append("".join(cur) if was_quoted or "".join(cur) != "NULL" else "\x00")
            cur, was_quoted = [], False
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur) if was_quoted or "".join(cur) != "NULL" else "\x00")
    return tuple(v for v in out if v != "\x00")


def _load_stats(conn: Any, qualified: str, column: str, version: int) -> ColumnStats | None:
    if conn is None:
        return None
    schema, _, table = qualified.partition(".")
    row = conn.execute(
        load_sql("idx_column_stats", version), {"schema": schema, "table": table, "column": column}
    ).fetchone()
    if row is None:
        return None
    return ColumnStats(
        null_frac=float(row[0] or 0.0),
        n_distinct=float(row[1] or 0.0),
        most_common_vals=_pg_array(row[2]),
        most_common_freqs=tuple(float(f) for f in (row[3] or ())),
        histogram_bounds=_pg_array(row[4]),
    )


_CATALOG = ("idx_relations", "idx_columns", "idx_indexes", "idx_search_path", "idx_stats_window")


def _fetch_all(conn: Any, names: tuple[str, ...], version: int) -> list[list[Any]]:
    """The rows of each query ``names``, sent as one simple-protocol query string (no
    parameters), read with ``nextset()``."""
    text = "\n;\n".join(load_sql(n, version).strip().rstrip(";") for n in names)
    cur = conn.execute(text.encode())
    out: list[list[Any]] = []
    for i in range(len(names)):
        if i and not cur.nextset():
            raise RuntimeError(f"no result for catalog query {names[i]}")
        out.append(list(cur.fetchall()))
    return out


def load_catalog(conn: Any) -> Catalog:
    """Read relations, columns, indexes and the search path of ``conn``'s database (one
    round trip: the catalog queries are sent together and read result by result)."""
    version = int(conn.info.server_version)
    rel_rows, col_rows, idx_rows, path_rows, window_rows = _fetch_all(conn, _CATALOG, version)
    rels: dict[str, Relation] = {}
    for r in rel_rows:
        rel = Relation(
            schema=r[0],
            name=r[1],
            relkind=r[2],
            is_partition=bool(r[3]),
            parent=r[4],
            reltuples=float(r[5]),
            relpages=int(r[6]),
            analyzed=bool(r[7]),
            n_tup_ins=int(r[8]),
            n_tup_upd=int(r[9]),
            n_tup_del=int(r[10]),
            seq_scan=int(r[11]),
            n_live_tup=int(r[12]),
            viewdef=r[13],
            n_tup_hot_upd=int(r[14]),
        )
        rels[rel.qualified] = rel
    cols: dict[str, dict[str, str]] = {}
    collations: dict[tuple[str, str], str] = {}
    for schema, name, column, typ, coll in col_rows:
        cols.setdefault(f"{schema}.{name}", {})[column] = typ
        if coll:
            collations[(f"{schema}.{name}", column)] = coll
    idx = [
        ExistingIndex(
            schema=r[0],
            table=r[1],
            name=r[2],
            method=r[3],
            valid=bool(r[4]),
            is_unique=bool(r[5]),
            is_primary=bool(r[6]),
            nkeys=int(r[7]),
            columns=tuple(r[8]),
            descending=tuple(bool(d) for d in r[9]),
            predicate=r[10],
            size_bytes=int(r[11]),
            idx_scan=int(r[12]),
            constraint_backed=bool(r[13]),
            definition=r[14],
        )
        for r in idx_rows
    ]
    search_path = tuple(path_rows[0][0]) if path_rows else ("public",)
    wrow = window_rows[0] if window_rows else None
    window = float(wrow[0]) if wrow and wrow[0] is not None else None
    return Catalog(rels, cols, idx, search_path, version, window, collations, _conn=conn)
