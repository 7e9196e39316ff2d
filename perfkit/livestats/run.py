"""Entry points: one snapshot, the delta over a waited interval, between saved snapshots,
or around a workload that runs in between (the check type)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.errors import InputError, PerfkitError, UsageError
from perfkit.livestats.delta import SnapshotMismatch, StatsDelta, compute_delta
from perfkit.livestats.snapshot import Snapshot, load_snapshot, take_snapshot
from perfkit.report.progress import NullProgress, ProgressSink


@dataclass(frozen=True)
class Session:
    """How to reach the server (perfkit's read-only session settings)."""

    dsn: str | None = None
    config: Any = None
    statement_timeout: str = "30s"
    connect_timeout: float = 5.0


def snapshot_now(session: Session) -> Snapshot:
    """One snapshot of the target, on a read-only session opened for it."""
    from perfkit.db.connect import connect
    from perfkit.db.target import resolve_target

    target = resolve_target(session.dsn, session.config)
    conn = connect(
        target,
        statement_timeout=session.statement_timeout,
        connect_timeout=session.connect_timeout,
        application_name="perfkit stats",
    )
    try:
        return take_snapshot(conn)
    finally:
        conn.close()


def _wait(seconds: float, progress: ProgressSink, sleep: Callable[[float], None]) -> None:
    progress.start(f"pg_stat_statements: waiting {seconds:g} s for the second snapshot", seconds)
    end = time.monotonic() + seconds
    try:
        while (left := end - time.monotonic()) > 0:
            sleep(min(left, 1.0))
            progress.update(completed=min(seconds, seconds - max(end - time.monotonic(), 0)))
    finally:
        progress.finish()


def _delta(a: Snapshot, b: Snapshot, where: str) -> StatsDelta:
    try:
        return compute_delta(a, b)
    except SnapshotMismatch as exc:
        raise InputError(where, str(exc)) from None


def stats_delta(
    session: Session,
    *,
    interval: float | None = None,
    snapshots: Sequence[Path] = (),
    progress: ProgressSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StatsDelta:
    """The delta of pg_stat_statements: between two saved snapshots; from one saved
    snapshot to now; or over ``interval`` seconds from now (snapshot, wait, snapshot)."""
    progress = progress or NullProgress()
    if len(snapshots) > 2:
        raise UsageError("SNAPSHOT", f"give at most two snapshot files, not {len(snapshots)}")
    if snapshots and interval is not None:
        raise UsageError("--interval", "takes no snapshot files (it takes both snapshots)")
    if len(snapshots) == 2:
        a, b = (load_snapshot(p) for p in snapshots)
        return _delta(a, b, f"{snapshots[0]}, {snapshots[1]}")
    if len(snapshots) == 1:
        a = load_snapshot(snapshots[0])
        return _delta(a, snapshot_now(session), str(snapshots[0]))
    if interval is None:
        raise UsageError(
            "--from-stats",
            "needs --interval DURATION (snapshot, wait, snapshot), --snapshot FILE (save one), "
            "or saved snapshot files",
        )
    if interval <= 0:
        raise UsageError("--interval", "must be more than 0")
    first = snapshot_now(session)
    _wait(interval, progress, sleep)
    return compute_delta(first, snapshot_now(session))


def delta_on(
    conn: Any,
    interval: float,
    *,
    progress: ProgressSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StatsDelta:
    """Snapshot, wait ``interval`` seconds, snapshot, on an open perfkit session."""
    first = take_snapshot(conn)
    _wait(interval, progress or NullProgress(), sleep)
    return compute_delta(first, take_snapshot(conn))


#: how long :func:`settle` waits for the workload's sessions to end
SETTLE_SECONDS = 30.0


def settle(session: Session, first: Snapshot, *, timeout: float = SETTLE_SECONDS) -> str | None:
    """Wait until the sessions that started after ``first`` (a workload that has
    finished) and the one that read it have ended: a session's transactions are counted
    by the server when it reports its statistics, at the latest as it exits. The wait
    runs on a session to ``template1`` so that its own transactions are not counted in
    the workload's database. Returns a note when the count may still be incomplete."""
    import psycopg

    from perfkit.db.connect import connect
    from perfkit.db.sql import load_sql
    from perfkit.db.target import resolve_target

    target = resolve_target(session.dsn, session.config)
    try:
        conn = connect(
            target,
            dbname="template1",
            statement_timeout=session.statement_timeout,
            connect_timeout=session.connect_timeout,
            application_name="perfkit stats",
        )
    except PerfkitError:
        return "could not wait for the workload's sessions to end (no access to template1): "
    args = {"dbid": first.dbid, "pid": first.pid, "since": first.taken_at}
    deadline = time.monotonic() + timeout
    try:
        while True:
            row = conn.execute(load_sql("pgss_settle"), args).fetchone()
            if row is None or not row[0]:
                return None
            if time.monotonic() > deadline:
                return f"{row[0]} sessions of the workload were still open after {timeout:g} s: "
            time.sleep(0.05)
    except psycopg.Error as exc:
        return f"could not wait for the workload's sessions to end ({exc}): "
    finally:
        conn.close()


def around(session: Session, work: Callable[[], Any]) -> tuple[StatsDelta, Any]:
    """The delta over ``work()`` (a test workload run between two snapshots); its
    transaction count waits for the workload's sessions to end (:func:`settle`)."""
    import dataclasses

    first = snapshot_now(session)
    result = work()
    why = settle(session, first)
    delta = compute_delta(first, snapshot_now(session))
    if why:
        delta = dataclasses.replace(
            delta, notes=(*delta.notes, why + "transactions may be missing from the count")
        )
    return delta, result


__all__ = ["Session", "around", "delta_on", "snapshot_now", "stats_delta"]
