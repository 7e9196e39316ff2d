"""What happened between two pg_stat_statements snapshots, per query - and what is missing.

A naive difference of the two views is wrong whenever the view changed under it:

* a reset (``pg_stat_statements_reset()``; ``stats_reset`` on 14+) between the snapshots:
  every counter starts again, so the later snapshot alone is the delta, and only from
  the reset on;
* an entry evicted (``pg_stat_statements.max`` too small: ``dealloc`` grew) and
  re-created: its counters restart (a lower ``calls``, or a newer ``stats_since`` on
  17+), its calls before the eviction are lost; an entry evicted and not re-created is
  gone with everything it did in the interval;
* other users' statements without ``pg_read_all_stats``: no text, no queryid.

Each such case is named in :attr:`StatsDelta.problems`; a delta with any problem is
never presented as complete.

Mean and standard deviation over the interval come from the per-entry moments
pg_stat_statements keeps (mean and population stddev): each snapshot gives the sum of
squared deviations ``M2 = calls * stddev**2``, and the interval's is
``M2_b - M2_a - n_a * n / n_b * (mean - mean_a)**2`` (the parallel-variance identity
solved for the later part; the same as differencing sums of squares, without their
cancellation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from perfkit.livestats.snapshot import COUNTERS, Entry, Settings, Snapshot, privilege_note

#: where a row's figures come from: "delta" (both snapshots), "new" (first seen in the
#: interval), "recreated" (evicted or reset alone, then seen again: its calls before are
#: lost), "since_reset" (the whole view was reset), "maybe_recreated" (evictions happened
#: and the server has no stats_since to tell: a lower bound)
Status = str

#: entries pg_stat_statements drops per eviction round: the least used 5%, at least 10
_DEALLOC_PERCENT = 5
_DEALLOC_MIN = 10


@dataclass(frozen=True)
class Moments:
    """Count, sum, mean and population stddev (ms) of a set of durations."""

    n: int
    total: float
    mean: float | None
    stddev: float | None


@dataclass(frozen=True)
class DeltaRow:
    """One pg_stat_statements entry over the interval (per database, user and nesting)."""

    fingerprint: str  # perfkit's fingerprint of the text: joins with the log path
    queryid: int
    query: str  # pg_stat_statements' normalised text
    dbid: int
    datname: str | None
    userid: int
    rolname: str | None
    toplevel: bool
    status: Status
    calls: int
    exec: Moments
    plan: Moments | None  # None when track_planning is off
    counters: Mapping[str, float | None]  # COUNTERS deltas; None: not tracked

    @property
    def partial(self) -> bool:
        """Calls of this entry before it was re-created in the interval were lost."""
        return self.status in ("recreated", "since_reset", "maybe_recreated")


@dataclass(frozen=True)
class StatsDelta:
    start: float  # epoch seconds of the first snapshot
    end: float
    covered_from: float  # the start, or a reset inside the interval
    server_version_num: int
    settings: Settings
    rows: tuple[DeltaRow, ...]
    problems: tuple[str, ...]  # each reason the figures are not the whole interval
    notes: tuple[str, ...]  # what the figures mean (track = top, I/O timing off)
    reset_at: float | None
    evictions: int | None  # dealloc rounds in the interval (14+)
    entries_gone: int  # entries of the first snapshot missing from the second
    #: transactions in the interval (every database; perfkit's own snapshot reads and,
    #: 14+, the transaction each new session commits at its start taken off). The server counts a session's transactions when it reports its statistics
    #: (at the latest when it ends): :func:`perfkit.livestats.run.around` waits for that
    xacts: int | None
    db_xacts: int | None  # ... in the database the snapshots were read from
    dbid: int
    datname: str

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def seconds(self) -> float:
        return max(self.end - self.covered_from, 0.0)

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.rows)

    @property
    def total_exec_ms(self) -> float:
        return sum(r.exec.total for r in self.rows)


def moments(n: int, total: float, mean: float | None, stddev: float | None) -> Moments:
    return Moments(n, total, mean if n else None, stddev if n else None)


def interval_moments(
    n_a: int, total_a: float, sd_a: float, n_b: int, total_b: float, sd_b: float
) -> Moments:
    """Moments of the calls between two snapshots of one entry (``b`` includes ``a``)."""
    n = n_b - n_a
    total = total_b - total_a
    if n <= 0:
        return Moments(0, max(total, 0.0), None, None)
    mean = total / n
    if n_a == 0:
        return Moments(n, total, mean, sd_b)
    mean_a = total_a / n_a
    m2 = n_b * sd_b * sd_b - n_a * sd_a * sd_a - n_a * n / n_b * (mean - mean_a) ** 2
    return Moments(n, total, mean, math.sqrt(max(m2, 0.0) / n))


def _fmt_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class SnapshotMismatch(ValueError):
    """The two snapshots are not of the same server (or not in order)."""


def compute_delta(a: Snapshot, b: Snapshot) -> StatsDelta:
    """The per-entry delta from snapshot ``a`` to the later snapshot ``b``."""
    from perfkit.querylog.fingerprint import Fingerprinter

    if b.taken_at < a.taken_at:
        a, b = b, a
    if a.server_version_num // 10000 != b.server_version_num // 10000:
        raise SnapshotMismatch(
            f"the snapshots are of different servers (PostgreSQL {a.major} and {b.major})"
        )
    problems: list[str] = []
    notes: list[str] = []
    span = b.taken_at - a.taken_at
    restarted = abs(b.started_at - a.started_at) > 1e-3
    reset_at: float | None = None
    if (
        b.stats_reset is not None
        and a.stats_reset is not None
        and b.stats_reset > a.stats_reset + 1e-6
    ):
        reset_at = b.stats_reset
    base = {e.key: e for e in a.entries}
    common = [e for e in b.entries if e.key in base]
    if reset_at is None and b.stats_reset is None and a.entries and b.entries:
        # PostgreSQL 13 keeps no reset time: every entry seen twice having fewer calls
        # the second time (or none seen twice) is what a reset looks like
        went_down = [e for e in common if e.get("calls") < base[e.key].get("calls")]
        if (common and len(went_down) == len(common)) or (not common and len(a.entries) > 1):
            reset_at = a.taken_at
            problems.append(
                "pg_stat_statements looks reset between the snapshots (every entry started "
                "again; PostgreSQL 13 records no reset time): the figures are what ran "
                "after the reset, which may be only part of the interval"
            )
    elif reset_at is not None:
        into = reset_at - a.taken_at
        problems.append(
            f"pg_stat_statements was reset at {_fmt_time(reset_at)}, {into:.0f} s into the "
            f"{span:.0f} s interval: the figures cover the last {b.taken_at - reset_at:.0f} s "
            "only; what ran before the reset is lost"
        )
    if reset_at is not None:
        base = {}
    if restarted and reset_at is None:
        notes.append(
            f"the server restarted at {_fmt_time(b.started_at)} between the snapshots "
            "(pg_stat_statements kept its entries across a clean shutdown)"
        )
    evictions: int | None = None
    if b.dealloc is not None and a.dealloc is not None:
        evictions = b.dealloc if reset_at is not None else b.dealloc - a.dealloc
        if evictions < 0:  # a reset of the info view alone
            evictions = b.dealloc
    fp = Fingerprinter()
    rows: list[DeltaRow] = []
    recreated = 0
    # evictions before 17 (no stats_since): an entry re-created with more calls than it
    # had is indistinguishable from one that kept running; its figures are a lower bound
    unsure = bool(evictions) and any(e.stats_since is None for e in b.entries)
    for e in b.entries:
        old = base.get(e.key)
        status: Status = "since_reset" if reset_at is not None else "new"
        if old is not None:
            renewed = e.get("calls") < old.get("calls") or e.get("plans") < old.get("plans")
            if e.stats_since is not None and old.stats_since is not None:
                renewed = renewed or abs(e.stats_since - old.stats_since) > 1e-6
            if renewed:
                status = "recreated"
                recreated += 1
                old = None
            else:
                status = "maybe_recreated" if unsure else "delta"
        row = _row(fp, e, old, status, b.settings)
        if row.calls == 0 and (row.plan is None or row.plan.n == 0):
            continue  # not run in the interval
        rows.append(row)
    now = {e.key for e in b.entries}
    gone = sum(1 for k in base if k not in now)
    lost_entries = gone + recreated
    if evictions or lost_entries:
        # more distinct statements than pg_stat_statements.max: the least used were dropped
        mx = b.settings.max
        dropped = ""
        if evictions:
            per = max(_DEALLOC_MIN, (mx or 0) * _DEALLOC_PERCENT // 100)
            dropped = f"{evictions} eviction rounds (each drops the least used ~{per} entries)"
        seen = (
            f"{gone} entries of the first snapshot are gone and {recreated} were re-created"
            if lost_entries
            else "no entry of the first snapshot is missing"
        )
        problems.append(
            "pg_stat_statements.max"
            + (f" = {mx}" if mx is not None else "")
            + " is too small for this workload: "
            + "; ".join(p for p in (dropped, seen) if p)
            + f" ({len(b.entries)} entries now). What evicted statements ran before their "
            "eviction is lost; raise pg_stat_statements.max (needs a restart)"
        )
    elif evictions is None and b.settings.max and len(b.entries) >= 0.95 * b.settings.max:
        problems.append(
            f"the view is full ({len(b.entries)} of pg_stat_statements.max = "
            f"{b.settings.max} entries) and PostgreSQL {b.major} does not count evictions: "
            "statements may have been evicted and their calls lost"
        )
    hidden = privilege_note(b)
    if hidden:
        problems.append(hidden)
    track = b.settings.track
    if track == "none":
        problems.append("pg_stat_statements.track = none: the server records no statement")
    elif track == "top":
        notes.append(
            "pg_stat_statements.track = top: statements run inside functions are not "
            "listed; their time is in the statement that called the function"
        )
    elif track == "all":
        notes.append(
            "pg_stat_statements.track = all: nested statements are rows of their own "
            "(toplevel = false); their time is also in the statement that called them"
        )
    if b.settings.track_planning is False:
        notes.append("pg_stat_statements.track_planning is off: no planning times")
    if not b.settings.track_io_timing:
        notes.append("track_io_timing is off: no block read/write times")
    rows.sort(key=lambda r: (-r.exec.total, -r.calls, r.fingerprint))
    same_db = a.dbid == b.dbid
    return StatsDelta(
        start=a.taken_at,
        end=b.taken_at,
        covered_from=reset_at if reset_at is not None and reset_at > a.taken_at else a.taken_at,
        server_version_num=b.server_version_num,
        settings=b.settings,
        rows=tuple(rows),
        problems=tuple(problems),
        notes=tuple(notes),
        reset_at=reset_at,
        evictions=evictions,
        entries_gone=gone,
        xacts=None if restarted else _xacts(a.xacts, b.xacts, a.sessions, b.sessions, a),
        db_xacts=_xacts(a.db_xacts, b.db_xacts, a.db_sessions, b.db_sessions, a)
        if same_db and not restarted
        else None,
        dbid=b.dbid,
        datname=b.datname,
    )


def _xacts(xa: int, xb: int, sa: int | None, sb: int | None, a: Snapshot) -> int:
    """Transactions between two snapshots, without perfkit's own reads (the statements of
    the first snapshot) and, 14+, without the one each new session commits as it opens."""
    opened = sb - sa if sa is not None and sb is not None else 0
    return max(xb - xa - a.own_xacts - opened, 0)


def _row(
    fp: Callable[[str], Any], e: Entry, old: Entry | None, status: Status, settings: Settings
) -> DeltaRow:
    def d(name: str) -> float | None:
        v = e.values.get(name)
        if v is None:
            return None
        return v - (old.get(name) if old is not None else 0.0)

    counters = {k: d(k) for k in COUNTERS}
    if not settings.track_io_timing:
        for k in ("blk_read_time", "blk_write_time", "temp_blk_read_time", "temp_blk_write_time"):
            counters[k] = None
    n_a = int(old.get("calls")) if old else 0
    ex = interval_moments(
        n_a,
        old.get("total_exec_time") if old else 0.0,
        old.get("stddev_exec_time") if old else 0.0,
        int(e.get("calls")),
        e.get("total_exec_time"),
        e.get("stddev_exec_time"),
    )
    plan: Moments | None = None
    if settings.track_planning is not False:
        plan = interval_moments(
            int(old.get("plans")) if old else 0,
            old.get("total_plan_time") if old else 0.0,
            old.get("stddev_plan_time") if old else 0.0,
            int(e.get("plans")),
            e.get("total_plan_time"),
            e.get("stddev_plan_time"),
        )
    return DeltaRow(
        fingerprint=fp(e.query).id,
        queryid=int(e.queryid or 0),
        query=e.query,
        dbid=e.dbid,
        datname=e.datname,
        userid=e.userid,
        rolname=e.rolname,
        toplevel=e.toplevel,
        status=status,
        calls=ex.n,
        exec=ex,
        plan=plan,
        counters=counters,
    )
