"""``--apply``: create the chosen indexes, concurrently, only when the user asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfkit.db.ident import quote_ident
from perfkit.db.sql import load_sql
from perfkit.indexes.model import Applied, Suggestion


def _shape(statement: str) -> str:
    """An index definition without its name and default method, for comparison."""
    _, _, rest = statement.partition(" ON ")
    rest = rest.replace(" USING btree ", " ")
    # PostgreSQL prints lower(email) where perfkit writes ((LOWER(email)))
    return " ".join(rest.lower().replace("(", " ").replace(")", " ").split())


def apply_suggestions(
    conn: Any, suggestions: Sequence[Suggestion], *, lock_timeout_ms: int = 5000
) -> list[Applied]:
    """Create each suggestion on ``conn`` (a writable autocommit session), skipping
    indexes that appeared meanwhile; a failed concurrent build's INVALID leftover is
    dropped so a rerun starts clean."""
    import psycopg

    from perfkit.indexes.catalog import load_catalog

    version = int(conn.info.server_version)
    existing = {_shape(ix.definition): ix.name for ix in load_catalog(conn).indexes if ix.valid}
    out: list[Applied] = []
    conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
    for s in suggestions:
        schema = s.table.partition(".")[0]
        args = {"schema": schema, "name": s.name}
        row = conn.execute(load_sql("idx_index_exists", version), args).fetchone()
        if row and row[0]:
            out.append(Applied(s.name, s.statement, "exists", "an index of this name exists"))
            continue
        same = existing.get(_shape(s.statement))
        if same is not None:
            out.append(Applied(s.name, s.statement, "exists", f"{same} has the same definition"))
            continue
        try:
            conn.execute(s.statement.encode())
            out.append(Applied(s.name, s.statement, "created"))
        except psycopg.Error as exc:
            msg = str(exc).strip().splitlines()[0]
            valid = conn.execute(load_sql("idx_index_valid", version), args).fetchone()
            if valid is not None and not valid[0]:
                qualified = f"{quote_ident(schema)}.{quote_ident(s.name)}"
                try:
                    conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}".encode())
                except psycopg.Error:
                    msg += f"; the INVALID index {qualified} is left behind: drop it"
            out.append(Applied(s.name, s.statement, "failed", msg))
    return out
