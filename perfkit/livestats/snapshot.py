"""One snapshot of pg_stat_statements: read from a server, saved to and loaded from JSON.

The view is read with the SQL of the server's version (``pgss_snapshot*.sql``: column
names changed in 15 and 17; PostgreSQL 13 is the oldest with separate exec and plan
times) in a read-only, rolled-back transaction, together with what is needed to judge a
later delta: ``pg_stat_statements_info`` (evictions and the last reset, 14+), the
settings that decide what the view holds, the transactions counted so far and the
server's start time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from perfkit.errors import DatabaseError, InputError

#: ``format`` and ``schema_version`` of a saved snapshot
SNAPSHOT_FORMAT = "perfkit-pgss-snapshot"
SNAPSHOT_VERSION = 1

#: counters of an entry that only grow while the entry lives (summed over calls)
COUNTERS: tuple[str, ...] = (
    "calls",
    "total_exec_time",
    "plans",
    "total_plan_time",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "local_blks_dirtied",
    "local_blks_written",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time",
    "blk_write_time",
    "temp_blk_read_time",
    "temp_blk_write_time",
    "wal_records",
    "wal_fpi",
    "wal_bytes",
)
#: per-entry moments pg_stat_statements keeps (ms): a delta's stddev is rebuilt from them
MOMENTS: tuple[str, ...] = (
    "mean_exec_time",
    "stddev_exec_time",
    "mean_plan_time",
    "stddev_plan_time",
)
#: the query text pg_stat_statements shows for other users' statements without
#: pg_read_all_stats (and then no queryid either)
HIDDEN_TEXT = "<insufficient privilege>"
#: a comment in perfkit's own pgss_*.sql statements (pg_stat_statements keeps comments inside a
#: statement, not before it): their entries are not the workload's
OWN_MARKER = "/* perfkit livestats */"


@dataclass(frozen=True)
class Entry:
    """One row of pg_stat_statements. ``values`` holds :data:`COUNTERS` and
    :data:`MOMENTS`; a value is ``None`` where the server version has no such column."""

    userid: int
    dbid: int
    datname: str | None
    rolname: str | None
    toplevel: bool
    queryid: int | None
    query: str
    stats_since: float | None  # epoch seconds, 17+
    values: Mapping[str, float | None]

    @property
    def key(self) -> tuple[int, int, bool, int | None]:
        """What identifies an entry in the view (one per database, user and nesting)."""
        return (self.userid, self.dbid, self.toplevel, self.queryid)

    def get(self, name: str) -> float:
        v = self.values.get(name)
        return 0.0 if v is None else float(v)


@dataclass(frozen=True)
class Settings:
    """The settings that decide what the view holds (``None``: not readable/not set)."""

    max: int | None
    track: str | None
    track_planning: bool | None
    track_utility: bool | None
    track_io_timing: bool


@dataclass(frozen=True)
class Snapshot:
    taken_at: float  # server clock, epoch seconds
    server_version_num: int
    started_at: float  # pg_postmaster_start_time
    dbid: int  # the database the snapshot was read from
    datname: str
    username: str
    read_all_stats: bool  # the user may read other users' texts
    settings: Settings
    xacts: int  # commits + rollbacks of every database
    db_xacts: int  # ... of the connected database
    sessions: int | None  # sessions opened, every database (14+)
    db_sessions: int | None  # ... of the connected database
    pid: int  # the backend that read it
    #: transactions the snapshot itself committed after reading ``xacts`` (its statements):
    #: a later snapshot counts them, the delta takes them off
    own_xacts: int
    dealloc: int | None  # pg_stat_statements_info (14+)
    stats_reset: float | None  # pg_stat_statements_info (14+)
    entries: tuple[Entry, ...]
    hidden: int  # entries whose text (and queryid) the user may not read
    hidden_calls: int

    @property
    def major(self) -> int:
        return self.server_version_num // 10000


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _on(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).strip().lower() in ("on", "true", "1", "yes")


def take_snapshot(conn: Any) -> Snapshot:
    """Read one snapshot on ``conn`` (a perfkit session). A missing or unreadable view is a
    :class:`DatabaseError` saying what to enable and how (:func:`setup_problem`)."""
    import psycopg
    from psycopg.rows import dict_row

    from perfkit.db.connect import server_version
    from perfkit.db.sql import load_sql

    version = server_version(conn)
    try:
        # three statements on the read-only session, no BEGIN/COMMIT: the view would
        # count those (track_utility) as the workload's; perfkit's own statements carry
        # OWN_MARKER and are left out
        with conn.cursor(row_factory=dict_row) as cur:
            ctx = cur.execute(load_sql("pgss_context", version)).fetchone()
            info = cur.execute(load_sql("pgss_info", version)).fetchone()
            rows = cur.execute(load_sql("pgss_snapshot", version)).fetchall()
    except psycopg.Error as exc:
        from perfkit.db.connect import is_connection_lost, map_error

        if is_connection_lost(exc):
            raise map_error(exc, "pg_stat_statements") from None
        raise setup_problem(conn, exc) from None
    assert ctx is not None
    entries: list[Entry] = []
    hidden = hidden_calls = 0
    for r in rows:
        if OWN_MARKER in (r["query"] or ""):
            continue
        if r["queryid"] is None or r["query"] == HIDDEN_TEXT:
            hidden += 1
            hidden_calls += int(r["calls"] or 0)
            continue
        entries.append(
            Entry(
                userid=int(r["userid"]),
                dbid=int(r["dbid"]),
                datname=r["datname"],
                rolname=r["rolname"],
                toplevel=bool(r["toplevel"]),
                queryid=int(r["queryid"]),
                query=str(r["query"]),
                stats_since=_epoch(r["stats_since"]),
                values={k: None if r[k] is None else float(r[k]) for k in COUNTERS + MOMENTS},
            )
        )
    pgss_max = ctx["pgss_max"]
    return Snapshot(
        taken_at=_epoch(ctx["taken_at"]) or 0.0,
        server_version_num=version,
        started_at=_epoch(ctx["started_at"]) or 0.0,
        dbid=int(ctx["dbid"]),
        datname=str(ctx["datname"]),
        username=str(ctx["username"]),
        read_all_stats=bool(ctx["read_all_stats"]),
        settings=Settings(
            max=int(pgss_max) if pgss_max not in (None, "") else None,
            track=ctx["pgss_track"],
            track_planning=_on(ctx["pgss_track_planning"]),
            track_utility=_on(ctx["pgss_track_utility"]),
            track_io_timing=bool(_on(ctx["track_io_timing"])),
        ),
        xacts=int(ctx["xacts"]),
        db_xacts=int(ctx["db_xacts"]),
        sessions=None if ctx["sessions"] is None else int(ctx["sessions"]),
        db_sessions=None if ctx["db_sessions"] is None else int(ctx["db_sessions"]),
        pid=int(ctx["pid"]),
        own_xacts=3,  # context, info, entries
        dealloc=None if info is None or info["dealloc"] is None else int(info["dealloc"]),
        stats_reset=None if info is None else _epoch(info["stats_reset"]),
        entries=tuple(entries),
        hidden=hidden,
        hidden_calls=hidden_calls,
    )


def setup_problem(conn: Any, exc: BaseException | None = None) -> DatabaseError:
    """Why pg_stat_statements cannot be read on ``conn``, and what to do about it."""
    import psycopg
    from psycopg.rows import dict_row

    from perfkit.db.connect import read_only
    from perfkit.db.sql import load_sql

    where = "pg_stat_statements"
    first = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else ""
    try:
        with read_only(conn), conn.cursor(row_factory=dict_row) as cur:
            st = cur.execute(load_sql("pgss_installed")).fetchone()
    except psycopg.Error:
        return DatabaseError(where, f"cannot be read ({first or 'unknown error'})")
    assert st is not None
    db = conn.info.dbname
    if st["available"] is None and st["installed"] is None:
        return DatabaseError(
            where,
            "this server has no pg_stat_statements extension",
            hint="install the server's contrib package (postgresql-contrib), then add "
            "pg_stat_statements to shared_preload_libraries and restart",
        )
    if not st["loaded"]:
        now = st["preload"] or ""
        new = ",".join(p for p in (now, "pg_stat_statements") if p)
        return DatabaseError(
            where,
            f"not loaded: shared_preload_libraries is {now!r}",
            hint=f"set shared_preload_libraries = '{new}' (postgresql.conf, ALTER SYSTEM, or "
            "the parameter group of a managed service), restart the server, then run "
            f"CREATE EXTENSION pg_stat_statements; in database {db!r}",
        )
    if st["installed"] is None:
        return DatabaseError(
            where,
            f"loaded but not installed in database {db!r}",
            hint=f"run CREATE EXTENSION pg_stat_statements; in database {db!r} "
            "(a user with CREATE on it); the view then covers every database",
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return DatabaseError(
            where,
            f"not readable by this user ({first})",
            hint="GRANT pg_read_all_stats TO the user (it also shows other users' query texts)",
        )
    return DatabaseError(where, f"cannot be read ({first or 'unknown error'})")


def privilege_note(snap: Snapshot) -> str | None:
    """What the user cannot see of other users' statements, or None."""
    if snap.read_all_stats and not snap.hidden:
        return None
    if snap.hidden:
        return (
            f"{snap.hidden} entries of other users are hidden ({snap.hidden_calls} calls; no "
            f"text, no queryid): GRANT pg_read_all_stats TO {snap.username} to see them"
        )
    return None


# --- saved snapshots -----------------------------------------------------------------


def to_json(snap: Snapshot) -> str:
    """The snapshot as versioned JSON (what ``--snapshot FILE`` writes)."""
    doc = {
        "format": SNAPSHOT_FORMAT,
        "schema_version": SNAPSHOT_VERSION,
        "taken_at": snap.taken_at,
        "taken_at_iso": datetime.fromtimestamp(snap.taken_at).astimezone().isoformat(),
        "server_version_num": snap.server_version_num,
        "started_at": snap.started_at,
        "dbid": snap.dbid,
        "datname": snap.datname,
        "username": snap.username,
        "read_all_stats": snap.read_all_stats,
        "settings": {
            "max": snap.settings.max,
            "track": snap.settings.track,
            "track_planning": snap.settings.track_planning,
            "track_utility": snap.settings.track_utility,
            "track_io_timing": snap.settings.track_io_timing,
        },
        "xacts": snap.xacts,
        "db_xacts": snap.db_xacts,
        "sessions": snap.sessions,
        "db_sessions": snap.db_sessions,
        "pid": snap.pid,
        "own_xacts": snap.own_xacts,
        "dealloc": snap.dealloc,
        "stats_reset": snap.stats_reset,
        "hidden": snap.hidden,
        "hidden_calls": snap.hidden_calls,
        "entries": [
            {
                "userid": e.userid,
                "dbid": e.dbid,
                "datname": e.datname,
                "rolname": e.rolname,
                "toplevel": e.toplevel,
                "queryid": e.queryid,
                "query": e.query,
                "stats_since": e.stats_since,
                **{k: e.values.get(k) for k in COUNTERS + MOMENTS},
            }
            for e in snap.entries
        ],
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


class _Bad(Exception):
    pass


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], null: bool) -> Any:
    if key not in obj:
        raise _Bad(f"missing {key!r}")
    v = obj[key]
    if v is None and null:
        return None
    if isinstance(v, bool) and kind in (int, float, (int, float)):
        raise _Bad(f"{key!r} must be a number, not {v!r}")
    if not isinstance(v, kind):
        raise _Bad(f"{key!r} has the wrong type ({type(v).__name__})")
    if isinstance(v, float) and not math.isfinite(v):
        raise _Bad(f"{key!r} is not a finite number")
    return v


_NUM = (int, float)


def load_snapshot(path: Path) -> Snapshot:
    """A snapshot saved by :func:`to_json`; anything else is an :class:`InputError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "snapshot file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the snapshot ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not JSON ({exc.msg})", line=exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
        raise InputError(
            path, "not a pg_stat_statements snapshot (save one with --from-stats --snapshot)"
        )
    if doc.get("schema_version") != SNAPSHOT_VERSION:
        raise InputError(
            path,
            f"snapshot schema_version {doc.get('schema_version')!r} is not supported "
            f"(this perfkit reads {SNAPSHOT_VERSION})",
        )
    where = ""
    try:
        st = _field(doc, "settings", dict, False)
        entries = []
        for n, e in enumerate(_field(doc, "entries", list, False)):
            where = f"entries[{n}]: "
            if not isinstance(e, dict):
                raise _Bad("is not an object")
            entries.append(
                Entry(
                    userid=_field(e, "userid", int, False),
                    dbid=_field(e, "dbid", int, False),
                    datname=_field(e, "datname", str, True),
                    rolname=_field(e, "rolname", str, True),
                    toplevel=_field(e, "toplevel", bool, False),
                    queryid=_field(e, "queryid", int, False),
                    query=_field(e, "query", str, False),
                    stats_since=_field(e, "stats_since", _NUM, True),
                    values={k: _field(e, k, _NUM, True) for k in COUNTERS + MOMENTS},
                )
            )
        where = ""
        return Snapshot(
            taken_at=float(_field(doc, "taken_at", _NUM, False)),
            server_version_num=_field(doc, "server_version_num", int, False),
            started_at=float(_field(doc, "started_at", _NUM, False)),
            dbid=_field(doc, "dbid", int, False),
            datname=_field(doc, "datname", str, False),
            username=_field(doc, "username", str, False),
            read_all_stats=_field(doc, "read_all_stats", bool, False),
            settings=Settings(
                max=_field(st, "max", int, True),
                track=_field(st, "track", str, True),
                track_planning=_field(st, "track_planning", bool, True),
                track_utility=_field(st, "track_utility", bool, True),
                track_io_timing=_field(st, "track_io_timing", bool, False),
            ),
            xacts=_field(doc, "xacts", int, False),
            db_xacts=_field(doc, "db_xacts", int, False),
            sessions=_field(doc, "sessions", int, True),
            db_sessions=_field(doc, "db_sessions", int, True),
            pid=_field(doc, "pid", int, False),
            own_xacts=_field(doc, "own_xacts", int, False),
            dealloc=_field(doc, "dealloc", int, True),
            stats_reset=_field(doc, "stats_reset", _NUM, True),
            entries=tuple(entries),
            hidden=_field(doc, "hidden", int, False),
            hidden_calls=_field(doc, "hidden_calls", int, False),
        )
    except _Bad as exc:
        raise InputError(path, f"bad snapshot: {where}{exc}") from None
