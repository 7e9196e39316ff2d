"""Server events besides executed statements (``perfkit analyze --events``).

Temporary files, lock waits and deadlocks, errors and cancellations, checkpoints,
autovacuum/autoanalyze, connections and sessions, and auto_explain plans
(:mod:`perfkit.querylog.plans`). The readers hand every message that is not an
executed statement to an :class:`EventCollector` (through
``readers._common.Context.events``) only when events were asked for: without
``--events`` the readers do exactly the work they did before.

Everything is aggregated as it is read: counts, integer sums (durations in
microseconds or milliseconds as PostgreSQL logs them, sizes in bytes, so that sums do
not depend on the order of additions), the first few examples, and at most
:data:`GROUP_LIMIT` groups per table (further groups are counted as "other"). A
parallel run (``--jobs``) collects each range into its own collector and merges them in
file order with :meth:`EventCollector.merge`, which gives exactly what one pass gives.

Messages are recognised in English only (``lc_messages = 'C'``); a log in another
language gets a note saying that its events were not recognised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from perfkit.querylog.fingerprint import Fingerprinter
from perfkit.querylog.model import LogEvent
from perfkit.querylog.plans import PlanCollector, PlansResult

__all__ = [
    "CATEGORIES",
    "GROUP_LIMIT",
    "SAMPLE_LIMIT",
    "EventCollector",
    "EventsResult",
    "parse_categories",
]

#: Event categories, as ``--events`` names them.
CATEGORIES = ("temp", "locks", "errors", "checkpoints", "autovacuum", "connections", "plans")
#: Groups kept per table (statements, error messages, tables, users...).
GROUP_LIMIT = 1000
#: Examples kept per list (the first ones, in log order).
SAMPLE_LIMIT = 20
_STATEMENT_CHARS = 2000

Meta = tuple[Any, ...]  # (ts, session, pid, user, database, application, client)
TsParser = Callable[[str], "dt.datetime | None"]


def parse_categories(text: str) -> frozenset[str]:
    """``"temp,locks"`` / ``"all"`` / ``"none"`` -> categories; ValueError on a bad name."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names or names == ["none"]:
        return frozenset()
    if "all" in names:
        return frozenset(CATEGORIES)
    bad = [n for n in names if n not in CATEGORIES]
    if bad:
        raise ValueError(
            f"unknown event category {bad[0]!r}; one of {', '.join(CATEGORIES)}, all, none"
        )
    return frozenset(names)


# --- small helpers -----------------------------------------------------------------------
def _us(text: str) -> int:
    """``"100.157"`` (ms) -> 100157 (µs): integer sums are exact in any order."""
    return round(float(text) * 1000)


def _ts_f(t: dt.datetime | None) -> float | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def _clip(text: str | None, n: int = _STATEMENT_CHARS) -> str | None:
    if text is None:
        return None
    return text if len(text) <= n else text[:n] + "..."


K = TypeVar("K")
G = TypeVar("G")


class _Groups(Generic[K, G]):
    """At most ``cap`` groups (the first keys seen, in log order); the rest is counted
    in ``other``. ``cap=None``: unbounded (the collector of one range of a parallel run,
    whose parent applies the cap while merging in order)."""

    __slots__ = ("cap", "items", "other")

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.items: dict[K, G] = {}
        self.other = 0

    def get(self, key: K, make: Callable[[], G]) -> G | None:
        g = self.items.get(key)
        if g is None:
            if self.cap is not None and len(self.items) >= self.cap:
                self.other += 1
                return None
            g = self.items[key] = make()
        return g

    def merge(
        self, other: _Groups[K, G], fold: Callable[[G, G], None], count: Callable[[G], int]
    ) -> None:
        self.other += other.other
        for key, theirs in other.items.items():
            mine = self.items.get(key)
            if mine is None:
                if self.cap is not None and len(self.items) >= self.cap:
                    self.other += count(theirs)
                    continue
                self.items[key] = theirs
            else:
                fold(mine, theirs)


def _extend(mine: list[Any], theirs: list[Any], limit: int = SAMPLE_LIMIT) -> None:
    room = limit - len(mine)
    if room > 0:
        mine.extend(theirs[:room])


class _Peak:
    """The busiest second (most events in one second) of a sequence of event times in
    log order, as runs of equal seconds, mergeable in order: a run cut by a range
    boundary joins up again."""

    __slots__ = ("best", "first", "last", "runs")

    def __init__(self) -> None:
        self.runs = 0
        self.first: list[int] = [0, 0]  # [second, count] of the first run, if runs >= 2
        self.last: list[int] = [0, 0]  # the run still open
        self.best: list[int] = [0, 0]  # the biggest run between first and last

    def _candidate(self, sec: int, n: int) -> None:
        if n > self.best[1]:
            self.best = [sec, n]

    def _close(self) -> None:
        if self.runs == 1:
            self.first = list(self.last)
        else:
            self._candidate(*self.last)

    def add(self, sec: int) -> None:
        if self.runs and sec == self.last[0]:
            self.last[1] += 1
            return
        if self.runs:
            self._close()
        self.runs += 1
        self.last = [sec, 1]

    def merge(self, other: _Peak) -> None:
        if not other.runs:
            return
        if not self.runs:
            self.runs, self.first, self.last, self.best = (
                other.runs,
                list(other.first),
                list(other.last),
                list(other.best),
            )
            return
        o_first = other.first if other.runs >= 2 else other.last
        if o_first[0] == self.last[0]:
            joined = self.last[1] + o_first[1]
            if other.runs == 1:
                self.last[1] = joined
                return
            if self.runs == 1:
                self.first = [o_first[0], joined]
            else:
                self._candidate(o_first[0], joined)
            self._candidate(*other.best)
            self.last = list(other.last)
            self.runs += other.runs - 1
            return
        self._close()
        if other.runs >= 2:
            self._candidate(*o_first)
            self._candidate(*other.best)
        self.last = list(other.last)
        self.runs += other.runs

    def peak(self) -> tuple[int, int]:
        """(second, count) of the busiest second, the earliest on ties; (0, 0) if none."""
        best = [0, 0]
        for run in (self.first, self.best, self.last) if self.runs >= 2 else (self.last,):
            if run[1] > best[1]:
                best = run
        return best[0], best[1]


# --- results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementGroup:
    """Events of one statement fingerprint (``fingerprint`` None: statement not logged)."""

    fingerprint: str | None
    query: str | None
    example: str | None
    count: int
    total: int  # bytes (temporary files) or µs of waiting (locks)
    max: int


@dataclass(frozen=True)
class TempFile:
    ts: dt.datetime | None
    session: str | None
    user: str | None
    database: str | None
    size: int
    statement: str | None
    source: str
    line: int


@dataclass(frozen=True)
class TempFiles:
    count: int
    total_bytes: int
    max_bytes: int
    by_statement: tuple[StatementGroup, ...]  # by total size, descending
    other_statements: int
    largest: tuple[TempFile, ...]  # the largest files, largest first


@dataclass(frozen=True)
class LockWait:
    ts: dt.datetime | None
    session: str | None
    pid: int | None
    kind: str  # "waiting", "acquired", "deadlock"
    lock: str  # "ShareLock on transaction 729"
    wait_ms: float
    waited_for: tuple[int, ...]  # the pids holding the lock
    statement: str | None
    source: str
    line: int
    # per waited-for pid: the next statement that session logged after this message
    # (the one it was running, or the next of its transaction); None: not logged
    blocker_statements: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class LockKind:
    lock: str  # "ShareLock on transaction"
    waits: int
    acquired: int
    acquired_wait_ms: float


@dataclass(frozen=True)
class Deadlock:
    ts: dt.datetime | None
    session: str | None
    pid: int | None
    processes: tuple[tuple[int, str | None], ...]  # (pid, statement) from the DETAIL
    statement: str | None
    source: str
    line: int


@dataclass(frozen=True)
class Locks:
    waits: int  # "still waiting" messages (log_lock_waits, after deadlock_timeout)
    acquired: int
    acquired_wait_ms: float
    max_wait_ms: float
    deadlocks: int
    by_lock: tuple[LockKind, ...]  # most waits first
    by_statement: tuple[StatementGroup, ...]  # total/max: µs waited until acquired
    other_statements: int
    samples: tuple[LockWait, ...]
    deadlock_samples: tuple[Deadlock, ...]


@dataclass(frozen=True)
class ErrorGroup:
    severity: str
    sqlstate: str | None
    message: str  # with numbers replaced by N
    count: int
    example: str
    statement: str | None
    fingerprint: str | None
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None


@dataclass(frozen=True)
class Errors:
    total: int
    by_severity: tuple[tuple[str, int], ...]
    groups: tuple[ErrorGroup, ...]  # most frequent first
    other_groups: int
    cancellations: tuple[tuple[str, int], ...]  # ("statement timeout", 3)
    statement_timeouts: int
    statement_timeout_statements: tuple[StatementGroup, ...]


@dataclass(frozen=True)
class Checkpoints:
    started: int
    completed: int
    restartpoints: int
    by_reason: tuple[tuple[str, int], ...]  # ("time", 10), ("wal", 2)
    buffers_written: int
    max_buffers: int
    total_s: float
    max_s: float
    slowest_ts: dt.datetime | None
    write_s: float
    sync_s: float
    distance_kb: int
    max_distance_kb: int
    wal_added: int
    wal_removed: int
    wal_recycled: int
    too_frequent: int  # "checkpoints are occurring too frequently"


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    vacuums: int
    analyzes: int
    wraparound: int
    total_s: float
    max_s: float
    tuples_removed: int
    pages_removed: int


@dataclass(frozen=True)
class Autovacuum:
    vacuums: int
    analyzes: int
    total_s: float
    tables: tuple[TableMaintenance, ...]  # by time spent, descending
    other_tables: int


@dataclass(frozen=True)
class SessionGroup:
    user: str | None
    database: str | None
    connections: int  # authorized
    sessions: int  # ended (disconnection)
    total_session_s: float
    max_session_s: float
    auth_failures: int
    rate_per_s: float | None  # connections per second over the span of the log's connections


@dataclass(frozen=True)
class ApplicationGroup:
    application: str | None
    connections: int
    sessions: int
    total_session_s: float
    max_session_s: float
    auth_failures: int
    rate_per_s: float | None


@dataclass(frozen=True)
class AuthFailure:
    ts: dt.datetime | None
    user: str | None
    database: str | None
    client: str | None
    message: str
    source: str
    line: int


@dataclass(frozen=True)
class Connections:
    received: int
    authorized: int
    disconnections: int
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    rate_per_s: float | None  # connections received per second over the span
    peak_per_s: int
    peak_ts: dt.datetime | None
    total_session_s: float
    mean_session_s: float | None
    max_session_s: float
    short_sessions: int  # sessions under one second
    auth_failures: int
    auth_failure_reasons: tuple[tuple[str, int], ...]
    refused: int  # too many clients / reserved slots
    groups: tuple[SessionGroup, ...]  # per user and database, by connections, descending
    other_groups: int
    # per application_name (sessions: where the disconnection line names the application,
    # as csvlog and jsonlog do and stderr with %a in log_line_prefix)
    applications: tuple[ApplicationGroup, ...]
    other_applications: int
    auth_failure_samples: tuple[AuthFailure, ...]


@dataclass(frozen=True)
class EventsResult:
    categories: tuple[str, ...]
    temp_files: TempFiles | None
    locks: Locks | None
    errors: Errors | None
    checkpoints: Checkpoints | None
    autovacuum: Autovacuum | None
    connections: Connections | None
    plans: PlansResult | None
    notes: tuple[str, ...]


# --- per-category accumulators ------------------------------------------------------------
class _Stmt:
    __slots__ = ("count", "example", "fid", "max", "query", "total")

    def __init__(self, fid: str | None, query: str | None, example: str | None) -> None:
        self.fid = fid
        self.query = query
        self.example = example
        self.count = 0
        self.total = 0
        self.max = 0

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value

    def fold(self, other: _Stmt) -> None:
        self.count += other.count
        self.total += other.total
        if other.max > self.max:
            self.max = other.max

    def result(self) -> StatementGroup:
        return StatementGroup(self.fid, self.query, self.example, self.count, self.total, self.max)


def _stmt_fold(a: _Stmt, b: _Stmt) -> None:
    a.fold(b)


def _stmt_count(a: _Stmt) -> int:
    return a.count


def _stmt_results(groups: _Groups[str | None, _Stmt]) -> tuple[StatementGroup, ...]:
    out = [g.result() for g in groups.items.values()]
    out.sort(key=lambda g: (-g.total, -g.count, g.fingerprint or ""))
    return tuple(out)


_TEMP = re.compile(r'temporary file: path "(?P<path>[^"]*)", size (?P<size>\d+)')
_LOCK = re.compile(
    r"process (?P<pid>\d+) (?P<what>still waiting for|acquired|detected deadlock while waiting"
    r" for|avoided deadlock for) (?P<mode>\S+) on (?P<obj>.+?)"
    r"(?: by rearranging queue order)? after (?P<ms>\d+(?:\.\d+)?) ms"
)
_HOLDERS = re.compile(r"Process(?:es)? holding the lock: (?P<pids>[\d, ]+)\.")
_DEADLOCK_PROC = re.compile(r"^Process (\d+): (.*)$", re.M)
_CHECKPOINT_DONE = re.compile(
    r"(?P<kind>checkpoint|restartpoint) complete: wrote (?P<buf>\d+) buffers"
    r"(?:.*?(?P<added>\d+) (?:WAL|transaction log) file\(s\) added, (?P<removed>\d+) removed,"
    r" (?P<recycled>\d+) recycled)?"
    r".*?write=(?P<write>[\d.]+) s, sync=(?P<sync>[\d.]+) s, total=(?P<total>[\d.]+) s"
    r"(?:.*?distance=(?P<dist>\d+) kB)?"
)
_VACUUM = re.compile(
    r"automatic (?P<aggr>aggressive )?(?P<op>vacuum|analyze)(?P<wrap> to prevent wraparound)?"
    r' of table "(?P<table>[^"]+)"'
)
_ELAPSED = re.compile(r"elapsed(?::)? (\d+(?:\.\d+)?) s")
_TUPLES = re.compile(r"tuples: (\d+) removed")
_PAGES = re.compile(r"pages: (\d+) removed")
_KV = re.compile(r"(\w+)=(\S*)")
_SESSION_TIME = re.compile(r"session time: (\d+):(\d\d):(\d\d)\.(\d{3})")
_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?(?![\w])")
_AT_CHAR = re.compile(r" at character \d+$")
_QUOTED_VALUE = re.compile(r': "(?:[^"]|"")*"')
_QUOTED_USER = re.compile(r'user "([^"]*)"')

# stderr logs without %e in log_line_prefix: the SQLSTATE of well-known messages
_KNOWN_STATES = (
    ("canceling statement due to statement timeout", "57014"),
    ("canceling statement due to user request", "57014"),
    ("canceling statement due to lock timeout", "55P03"),
    ("canceling statement due to conflict with recovery", "40001"),
    ("canceling autovacuum task", "57014"),
    ("deadlock detected", "40P01"),
    ("could not serialize access", "40001"),
    ("duplicate key value violates unique constraint", "23505"),
    ("password authentication failed", "28P01"),
    ("no pg_hba.conf entry", "28000"),
    ("pg_hba.conf rejects connection", "28000"),
    ("syntax error at or near", "42601"),
    ("division by zero", "22012"),
    ("terminating connection due to idle-in-transaction timeout", "25P03"),
    ("terminating connection due to idle-session timeout", "57P05"),
    ("terminating connection due to administrator command", "57P01"),
    ("sorry, too many clients already", "53300"),
    ("remaining connection slots are reserved", "53300"),
    ("current transaction is aborted", "25P02"),
)
_CANCELLATIONS = (
    ("canceling statement due to statement timeout", "statement timeout"),
    ("canceling statement due to lock timeout", "lock timeout"),
    ("canceling statement due to user request", "user request"),
    ("canceling statement due to conflict with recovery", "conflict with recovery"),
    ("canceling autovacuum task", "autovacuum task"),
    ("terminating connection due to idle-in-transaction timeout", "idle-in-transaction timeout"),
    ("terminating connection due to idle-session timeout", "idle-session timeout"),
    ("terminating connection due to administrator command", "administrator command"),
)
_AUTH_FAILURES = (
    ("password authentication failed", "password"),
    ("authentication failed for user", "authentication method"),
    ("no pg_hba.conf entry", "no pg_hba.conf entry"),
    ("pg_hba.conf rejects connection", "rejected by pg_hba.conf"),
)
_REFUSED = ("sorry, too many clients already", "remaining connection slots are reserved")


_VERBOSE_STATE = re.compile(r"[0-9A-Z]{5}: ")
_ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC", "WARNING"})
# the LOG messages each category reads
_LOG_STARTS = {
    "temp": ("temporary file: ",),
    "locks": ("process ",),
    "checkpoints": (
        "checkpoint starting: ",
        "checkpoint complete: ",
        "checkpoints are occurring too frequently",
        "restartpoint starting: ",
        "restartpoint complete: ",
    ),
    "autovacuum": ("automatic ",),
    "connections": (
        "connection received: ",
        "connection authorized: ",
        "replication connection authorized: ",
        "disconnection: ",
    ),
    "plans": ("duration: ",),
}


def _sqlstate_of(msg: str) -> str | None:
    for start, state in _KNOWN_STATES:
        if msg.startswith(start):
            return state
    if msg.endswith(" does not exist") or " does not exist at character " in msg:
        if msg.startswith("relation "):
            return "42P01"
        if msg.startswith("column "):
            return "42703"
        if msg.startswith("database "):
            return "3D000"
        if msg.startswith("role "):
            return "28000"
    return None


def normalize_message(msg: str) -> str:
    """An error message as a group key: numbers become N, a quoted value after a colon
    (``invalid input syntax for type integer: "abc"``) becomes "...", the position goes;
    quoted names (``relation "orders" does not exist``) stay."""
    first = msg.split("\n", 1)[0]
    return _NUMBER.sub("N", _QUOTED_VALUE.sub(': "..."', _AT_CHAR.sub("", first)))


class _Err:
    __slots__ = ("count", "example", "fid", "first", "last", "statement")

    def __init__(self, example: str, statement: str | None, fid: str | None) -> None:
        self.count = 0
        self.example = example
        self.statement = statement
        self.fid = fid
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None

    def fold(self, other: _Err) -> None:
        self.count += other.count
        if self.first is None:
            self.first = other.first
        if other.last is not None:
            self.last = other.last


class _Table:
    __slots__ = ("analyzes", "max_ms", "pages", "total_ms", "tuples", "vacuums", "wrap")

    def __init__(self) -> None:
        self.vacuums = self.analyzes = self.wrap = 0
        self.total_ms = self.max_ms = self.tuples = self.pages = 0

    def fold(self, o: _Table) -> None:
        self.vacuums += o.vacuums
        self.analyzes += o.analyzes
        self.wrap += o.wrap
        self.total_ms += o.total_ms
        self.max_ms = max(self.max_ms, o.max_ms)
        self.tuples += o.tuples
        self.pages += o.pages


class _Sess:
    __slots__ = ("auth", "conns", "max_ms", "sessions", "total_ms")

    def __init__(self) -> None:
        self.conns = self.sessions = self.total_ms = self.max_ms = self.auth = 0

    def fold(self, o: _Sess) -> None:
        self.conns += o.conns
        self.sessions += o.sessions
        self.total_ms += o.total_ms
        self.max_ms = max(self.max_ms, o.max_ms)
        self.auth += o.auth


def _count_dict_merge(mine: dict[str, int], theirs: dict[str, int]) -> None:
    for k, v in theirs.items():
        mine[k] = mine.get(k, 0) + v


# --- the collector ------------------------------------------------------------------------
class EventCollector:
    """Aggregates the non-statement messages of one or more logs (see module docstring).

    ``categories``: which of :data:`CATEGORIES` to collect. ``fingerprinter``: the one
    of the statements, so that events are attributed to the same fingerprint ids.
    ``cap``: groups kept per table (``None``: unbounded, for one range of a parallel
    run that the parent merges in order).
    """

    def __init__(
        self,
        categories: Iterable[str],
        fingerprinter: Fingerprinter,
        cap: int | None = GROUP_LIMIT,
    ) -> None:
        cats = frozenset(categories)
        self.categories = cats
        self.fpr = fingerprinter
        self.foreign = False
        self.want_temp = "temp" in cats
        self.want_locks = "locks" in cats
        self.want_errors = "errors" in cats
        self.want_checkpoints = "checkpoints" in cats
        self.want_vacuum = "autovacuum" in cats
        self.want_conns = "connections" in cats
        starts: list[str] = []
        for cat, prefixes in _LOG_STARTS.items():
            if cat in cats:
                starts.extend(prefixes)
        self._log_starts = tuple(starts)
        self._errors_too = bool(cats & {"errors", "locks", "connections"})
        self.plans: PlanCollector | None = (
            PlanCollector(fingerprinter, cap) if "plans" in cats else None
        )
        # temporary files
        self.temp_count = self.temp_bytes = self.temp_max = 0
        self.temp_stmts: _Groups[str | None, _Stmt] = _Groups(cap)
        self.temp_largest: list[tuple[int, int, TempFile]] = []  # (size, -seq, file)
        self.seq = 0  # messages seen, for ties among the largest
        # locks
        self.lock_waits = self.lock_acquired = self.lock_wait_us = self.lock_max_us = 0
        self.lock_kinds: dict[str, list[int]] = {}  # [waits, acquired, µs waited]
        self.lock_stmts: _Groups[str | None, _Stmt] = _Groups(cap)
        self.lock_samples: list[LockWait] = []
        self.lock_blockers: list[list[str | None]] = []  # per sample, per waited-for pid
        # waited-for pid -> (sample, holder position) still looking for its statement
        self.lock_pending: dict[int, list[tuple[int, int]]] = {}
        # one range of a parallel run: the first statement of each pid in the range, for
        # the waits of earlier ranges that the parent still resolves
        self.first_statements: dict[int, str] | None = {} if cap is None else None
        self.deadlocks = 0
        self.deadlock_samples: list[Deadlock] = []
        # errors
        self.err_total = 0
        self.err_sev: dict[str, int] = {}
        self.err_groups: _Groups[tuple[str, str | None, str], _Err] = _Groups(cap)
        self.cancel: dict[str, int] = {}
        self.timeout_stmts: _Groups[str | None, _Stmt] = _Groups(cap)
        # checkpoints
        self.cp_started = self.cp_done = self.cp_restart = self.cp_buf = self.cp_buf_max = 0
        self.cp_total_ms = self.cp_max_ms = self.cp_write_ms = self.cp_sync_ms = 0
        self.cp_dist = self.cp_dist_max = self.cp_added = self.cp_removed = self.cp_recycled = 0
        self.cp_slowest_ts: dt.datetime | None = None
        self.cp_reasons: dict[str, int] = {}
        self.cp_frequent = 0
        # autovacuum
        self.av_vacuums = self.av_analyzes = self.av_ms = 0
        self.av_tables: _Groups[str, _Table] = _Groups(cap)
        # connections
        self.c_received = self.c_authorized = self.c_disc = 0
        self.c_total_ms = self.c_max_ms = self.c_short = 0
        self.c_auth = self.c_refused = 0
        self.c_reasons: dict[str, int] = {}
        self.c_groups: _Groups[tuple[str | None, str | None], _Sess] = _Groups(cap)
        self.c_apps: _Groups[str | None, _Sess] = _Groups(cap)
        self.c_peak = _Peak()
        self.c_first: tuple[float, dt.datetime] | None = None
        self.c_last: tuple[float, dt.datetime] | None = None
        self.c_auth_samples: list[AuthFailure] = []

    def __getstate__(self) -> dict[str, Any]:
        # a range's collector goes back to the parent without its fingerprinter
        state = dict(self.__dict__)
        state.pop("fpr", None)
        return state

    # -- input -----------------------------------------------------------------------------
    def wants(self, sev: str, msg: str) -> bool:
        """Whether a message may matter to the categories asked for (a cheap test that
        spares the readers building the session fields of the others)."""
        if msg[5:7] == ": " and _VERBOSE_STATE.match(msg):
            msg = msg[7:]
        if sev == "LOG":
            return msg.startswith(self._log_starts)
        if self._errors_too and sev in _ERROR_SEVERITIES:
            return True
        # auto_explain.log_level other than LOG (info, notice, debug...)
        return self.plans is not None and msg.startswith("duration: ")

    def message(
        self,
        sev: str,
        msg: str,
        meta: Meta,
        source: str,
        line: int,
        *,
        detail: str | None = None,
        statement: str | None = None,
        sqlstate: str | None = None,
    ) -> None:
        """One server message that is not an executed statement (with its DETAIL and
        STATEMENT when the log has them)."""
        if msg[5:7] == ": " and _VERBOSE_STATE.match(msg):
            # log_error_verbosity = verbose: "42P01: relation ..."
            sqlstate = sqlstate or msg[:5]
            msg = msg[7:]
        self.seq += 1
        if sev == "LOG":
            c = msg[:1]
            if c == "d":
                if msg.startswith("duration: "):
                    if self.plans is not None:
                        self.plans.message(msg, meta, source, line)
                elif msg.startswith("disconnection: ") and self.want_conns:
                    self._disconnection(msg, meta)
            elif c == "t":
                if self.want_temp and msg.startswith("temporary file: "):
                    self._temp(msg, meta, statement, source, line)
            elif c == "p":
                if self.want_locks and msg.startswith("process "):
                    self._lock(msg, meta, detail, statement, source, line)
            elif c == "c":
                if msg.startswith("connection "):
                    if self.want_conns:
                        self._connection(msg, meta)
                elif msg.startswith("checkpoint") and self.want_checkpoints:
                    self._checkpoint(msg, meta)
            elif c == "r":
                if msg.startswith("restartpoint "):
                    if self.want_checkpoints:
                        self._checkpoint(msg, meta)
                elif msg.startswith("replication connection ") and self.want_conns:
                    self._connection(msg[12:], meta)
            elif c == "a" and self.want_vacuum and msg.startswith("automatic "):
                self._vacuum(msg)
            return
        if self.plans is not None and msg.startswith("duration: "):
            self.plans.message(msg, meta, source, line)  # auto_explain.log_level != log
        elif sev in _ERROR_SEVERITIES:
            self._error(sev, msg, meta, detail, statement, sqlstate, source, line)

    def stderr_buffer(self, source: str) -> StderrBuffer:
        return StderrBuffer(self, source)

    def csv_record(self, r: list[str], line: int, parse_ts: TsParser, source: str) -> None:
        """One csvlog record (23+ fields), any severity."""
        sev = r[11]
        msg = r[13]
        if _is_statement(sev, msg) or not self.wants(sev, msg):
            return
        pid = r[3]
        meta = (
            parse_ts(r[0]) if r[0] else None,
            r[5] or pid or None,
            int(pid) if pid.isdigit() else None,
            r[1] or None,
            r[2] or None,
            r[22] or None,
            _host(r[4]),
        )
        self.message(
            sev,
            msg,
            meta,
            source,
            line,
            detail=r[14] or None,
            statement=r[19] or None,
            sqlstate=r[12] or None,
        )

    def json_record(
        self, rec: dict[str, Any], line: int, parse_ts: TsParser, source: str, *, envelope: bool
    ) -> None:
        """One jsonlog record (``envelope``: a CloudNativePG ``record``), any severity."""
        k = _CNPG if envelope else _JSONLOG
        sev = rec.get(k[0])
        msg = rec.get(k[1])
        if not isinstance(sev, str) or not isinstance(msg, str):
            return
        if _is_statement(sev, msg) or not self.wants(sev, msg):
            return
        ts_text = rec.get(k[2])
        pid = rec.get(k[3])
        try:
            pid_int = int(pid) if pid is not None else None
        except (TypeError, ValueError):
            pid_int = None
        host = rec.get(k[8])
        meta = (
            parse_ts(ts_text) if isinstance(ts_text, str) else None,
            rec.get(k[4]) or (str(pid) if pid is not None else None),
            pid_int,
            rec.get(k[5]) or None,
            rec.get(k[6]) or None,
            rec.get(k[7]) or None,
            _host(host) if envelope and isinstance(host, str) else host or None,
        )
        detail = rec.get(k[9])
        statement = rec.get(k[10])
        state = rec.get(k[11])
        self.message(
            sev,
            msg,
            meta,
            source,
            line,
            detail=detail if isinstance(detail, str) else None,
            statement=statement if isinstance(statement, str) else None,
            sqlstate=state if isinstance(state, str) else None,
        )

    # -- categories ----------------------------------------------------------------------
    def _fid(self, statement: str | None) -> tuple[str | None, str | None]:
        if statement is None or not statement.strip():
            return None, None
        fp = self.fpr(statement)
        return fp.id, fp.query

    def _stmt_group(
        self, groups: _Groups[str | None, _Stmt], statement: str | None
    ) -> _Stmt | None:
        fid, query = self._fid(statement)
        return groups.get(fid, lambda: _Stmt(fid, _clip(query), _clip(statement)))

    def _temp(self, msg: str, meta: Meta, statement: str | None, source: str, line: int) -> None:
        m = _TEMP.match(msg)
        if m is None:
            return
        size = int(m["size"])
        self.temp_count += 1
        self.temp_bytes += size
        if size > self.temp_max:
            self.temp_max = size
        g = self._stmt_group(self.temp_stmts, statement)
        if g is not None:
            g.add(size)
        heap = self.temp_largest
        item = (
            size,
            -self.seq,
            TempFile(
                meta[0], _session(meta), meta[3], meta[4], size, _clip(statement), source, line
            ),
        )
        _keep_largest(heap, item)

    def _lock(
        self,
        msg: str,
        meta: Meta,
        detail: str | None,
        statement: str | None,
        source: str,
        line: int,
    ) -> None:
        m = _LOCK.match(msg)
        if m is None:
            return
        what = m["what"]
        us = _us(m["ms"])
        obj = m["obj"]
        lock_kind = f"{m['mode']} on {_object_kind(obj)}"
        counts = self.lock_kinds.get(lock_kind)
        if counts is None:
            counts = self.lock_kinds[lock_kind] = [0, 0, 0]
        if what == "still waiting for":
            kind = "waiting"
            self.lock_waits += 1
            counts[0] += 1
        elif what == "acquired":
            kind = "acquired"
            counts[1] += 1
            counts[2] += us
            self.lock_acquired += 1
            self.lock_wait_us += us
            if us > self.lock_max_us:
                self.lock_max_us = us
            g = self._stmt_group(self.lock_stmts, statement)
            if g is not None:
                g.add(us)
        else:
            kind = "deadlock" if what.startswith("detected") else "avoided deadlock"
        if len(self.lock_samples) < SAMPLE_LIMIT:
            holders: tuple[int, ...] = ()
            if detail:
                h = _HOLDERS.search(detail)
                if h is not None:
                    holders = tuple(int(p) for p in re.findall(r"\d+", h["pids"]))
            for k, pid in enumerate(holders):
                self.lock_pending.setdefault(pid, []).append((len(self.lock_samples), k))
            self.lock_blockers.append([None] * len(holders))
            self.lock_samples.append(
                LockWait(
                    meta[0],
                    _session(meta),
                    int(m["pid"]),
                    kind,
                    f"{m['mode']} on {obj}",
                    us / 1000,
                    holders,
                    _clip(statement),
                    source,
                    line,
                )
            )

    def watch(self, events: Iterable[LogEvent]) -> Iterator[LogEvent]:
        """``events`` unchanged, noting the statements that lock waits need (the next
        statement of each waited-for session). Used only when locks are asked for."""
        pending = self.lock_pending
        first = self.first_statements
        for ev in events:
            pid = ev.pid
            if pid is not None:
                if pending and pid in pending:
                    self._resolve(pid, ev.query)
                if first is not None and pid not in first:
                    first[pid] = ev.query
            yield ev

    def _resolve(self, pid: int, query: str) -> None:
        for i, k in self.lock_pending.pop(pid):
            self.lock_blockers[i][k] = _clip(query)

    def _error(
        self,
        sev: str,
        msg: str,
        meta: Meta,
        detail: str | None,
        statement: str | None,
        sqlstate: str | None,
        source: str,
        line: int,
    ) -> None:
        state = sqlstate if sqlstate and sqlstate != "00000" else _sqlstate_of(msg)
        if self.want_errors:
            self.err_total += 1
            self.err_sev[sev] = self.err_sev.get(sev, 0) + 1
            key = (sev, state, normalize_message(msg))
            g = self.err_groups.get(
                key, lambda: _Err(_clip(msg, 500) or "", _clip(statement), self._fid(statement)[0])
            )
            if g is not None:
                g.count += 1
                if g.first is None:
                    g.first = meta[0]
                if meta[0] is not None:
                    g.last = meta[0]
            for start, reason in _CANCELLATIONS:
                if msg.startswith(start):
                    self.cancel[reason] = self.cancel.get(reason, 0) + 1
                    if reason == "statement timeout":
                        t = self._stmt_group(self.timeout_stmts, statement)
                        if t is not None:
                            t.add(0)
                    break
        if self.want_locks and msg == "deadlock detected":
            self.deadlocks += 1
            if len(self.deadlock_samples) < SAMPLE_LIMIT:
                procs = []
                seen: dict[int, str | None] = {}
                if detail:
                    for pid, text in _DEADLOCK_PROC.findall(detail):
                        seen[int(pid)] = _clip(text)
                    for pid_s in re.findall(r"^Process (\d+) waits for", detail, re.M):
                        seen.setdefault(int(pid_s), None)
                procs = sorted(seen.items())
                self.deadlock_samples.append(
                    Deadlock(
                        meta[0],
                        _session(meta),
                        meta[2],
                        tuple(procs),
                        _clip(statement),
                        source,
                        line,
                    )
                )
        if self.want_conns and sev == "FATAL":
            for start, reason in _AUTH_FAILURES:
                if start in msg:
                    self._auth_failure(reason, msg, meta, source, line)
                    break
            else:
                if msg.startswith(_REFUSED):
                    self.c_refused += 1

    def _checkpoint(self, msg: str, meta: Meta) -> None:
        if msg.startswith("checkpoint starting: ") or msg.startswith("restartpoint starting: "):
            self.cp_started += 1
            reason = msg.split(": ", 1)[1].strip() or "unknown"
            self.cp_reasons[reason] = self.cp_reasons.get(reason, 0) + 1
            return
        if msg.startswith("checkpoints are occurring too frequently"):
            self.cp_frequent += 1
            return
        m = _CHECKPOINT_DONE.match(msg)
        if m is None:
            return
        if m["kind"] == "restartpoint":
            self.cp_restart += 1
        else:
            self.cp_done += 1
        buf = int(m["buf"])
        self.cp_buf += buf
        self.cp_buf_max = max(self.cp_buf_max, buf)
        total = _us(m["total"])  # seconds -> ms
        self.cp_total_ms += total
        if total > self.cp_max_ms:
            self.cp_max_ms = total
            self.cp_slowest_ts = meta[0]
        self.cp_write_ms += _us(m["write"])
        self.cp_sync_ms += _us(m["sync"])
        if m["added"] is not None:
            self.cp_added += int(m["added"])
            self.cp_removed += int(m["removed"])
            self.cp_recycled += int(m["recycled"])
        if m["dist"] is not None:
            d = int(m["dist"])
            self.cp_dist += d
            self.cp_dist_max = max(self.cp_dist_max, d)

    def _vacuum(self, msg: str) -> None:
        m = _VACUUM.match(msg)
        if m is None:
            return
        g = self.av_tables.get(m["table"], _Table)
        e = _ELAPSED.search(msg)
        ms = _us(e[1]) if e is not None else 0
        if m["op"] == "vacuum":
            self.av_vacuums += 1
        else:
            self.av_analyzes += 1
        self.av_ms += ms
        if g is None:
            return
        if m["op"] == "vacuum":
            g.vacuums += 1
            if m["wrap"]:
                g.wrap += 1
            t = _TUPLES.search(msg)
            if t is not None:
                g.tuples += int(t[1])
            p = _PAGES.search(msg)
            if p is not None:
                g.pages += int(p[1])
        else:
            g.analyzes += 1
        g.total_ms += ms
        g.max_ms = max(g.max_ms, ms)

    def _conn_time(self, meta: Meta) -> None:
        t = meta[0]
        tf = _ts_f(t)
        if tf is None:
            return
        if self.c_first is None or tf < self.c_first[0]:
            self.c_first = (tf, t)
        if self.c_last is None or tf > self.c_last[0]:
            self.c_last = (tf, t)

    def _connection(self, msg: str, meta: Meta) -> None:
        if msg.startswith("connection received: "):
            self.c_received += 1
            tf = _ts_f(meta[0])
            if tf is not None:
                self.c_peak.add(int(tf // 1))
            self._conn_time(meta)
        elif msg.startswith("connection authorized: "):
            self.c_authorized += 1
            kv = dict(_KV.findall(msg))
            i = msg.find(" application_name=")
            if i >= 0:  # the name may hold spaces; SSL/GSS details may follow it
                app_name = msg[i + 18 :]
                for cut in (" SSL enabled", " GSS ", " identity="):
                    j = app_name.find(cut)
                    if j >= 0:
                        app_name = app_name[:j]
                kv["application_name"] = app_name
            g = self.c_groups.get((kv.get("user") or meta[3], kv.get("database") or meta[4]), _Sess)
            if g is not None:
                g.conns += 1
            app = self.c_apps.get(kv.get("application_name") or meta[5], _Sess)
            if app is not None:
                app.conns += 1

    def _disconnection(self, msg: str, meta: Meta) -> None:
        m = _SESSION_TIME.search(msg)
        if m is None:
            return
        h, mi, s, ms = (int(x) for x in m.groups())
        length = ((h * 60 + mi) * 60 + s) * 1000 + ms
        self.c_disc += 1
        self.c_total_ms += length
        self.c_max_ms = max(self.c_max_ms, length)
        if length < 1000:
            self.c_short += 1
        kv = dict(_KV.findall(msg[m.end() :]))
        g = self.c_groups.get((kv.get("user") or meta[3], kv.get("database") or meta[4]), _Sess)
        if g is not None:
            g.sessions += 1
            g.total_ms += length
            g.max_ms = max(g.max_ms, length)
        if meta[5] is not None:
            app = self.c_apps.get(meta[5], _Sess)
            if app is not None:
                app.sessions += 1
                app.total_ms += length
                app.max_ms = max(app.max_ms, length)
        self._conn_time(meta)

    def _auth_failure(self, reason: str, msg: str, meta: Meta, source: str, line: int) -> None:
        self.c_auth += 1
        self.c_reasons[reason] = self.c_reasons.get(reason, 0) + 1
        u = _QUOTED_USER.search(msg)
        user = u[1] if u is not None else meta[3]
        g = self.c_groups.get((user, meta[4]), _Sess)
        if g is not None:
            g.auth += 1
        if meta[5] is not None:
            app = self.c_apps.get(meta[5], _Sess)
            if app is not None:
                app.auth += 1
        if len(self.c_auth_samples) < SAMPLE_LIMIT:
            self.c_auth_samples.append(
                AuthFailure(meta[0], user, meta[4], meta[6], _clip(msg, 500) or "", source, line)
            )

    # -- merging ------------------------------------------------------------------------
    def merge(self, other: EventCollector) -> None:
        """Add ``other``, the events of the input that follows this one's (in log order)."""
        self.foreign = self.foreign or other.foreign
        base = self.seq
        self.seq += other.seq
        # temporary files
        self.temp_count += other.temp_count
        self.temp_bytes += other.temp_bytes
        self.temp_max = max(self.temp_max, other.temp_max)
        self.temp_stmts.merge(other.temp_stmts, _stmt_fold, _stmt_count)
        for size, neg, f in other.temp_largest:
            _keep_largest(self.temp_largest, (size, neg - base, f))
        # locks
        self.lock_waits += other.lock_waits
        self.lock_acquired += other.lock_acquired
        self.lock_wait_us += other.lock_wait_us
        self.lock_max_us = max(self.lock_max_us, other.lock_max_us)
        for name, theirs in other.lock_kinds.items():
            mine = self.lock_kinds.setdefault(name, [0, 0, 0])
            for i in range(3):
                mine[i] += theirs[i]
        self.lock_stmts.merge(other.lock_stmts, _stmt_fold, _stmt_count)
        if self.lock_pending and other.first_statements:
            for pid in [p for p in self.lock_pending if p in other.first_statements]:
                self._resolve(pid, other.first_statements[pid])
        if self.first_statements is not None and other.first_statements:
            for pid, q in other.first_statements.items():
                self.first_statements.setdefault(pid, q)
        at = len(self.lock_samples)
        room = SAMPLE_LIMIT - at
        if room > 0:
            self.lock_samples.extend(other.lock_samples[:room])
            self.lock_blockers.extend(list(b) for b in other.lock_blockers[:room])
            for pid, where in other.lock_pending.items():
                for i, k in where:
                    if i < room:
                        self.lock_pending.setdefault(pid, []).append((at + i, k))
        self.deadlocks += other.deadlocks
        _extend(self.deadlock_samples, other.deadlock_samples)
        # errors
        self.err_total += other.err_total
        _count_dict_merge(self.err_sev, other.err_sev)
        self.err_groups.merge(other.err_groups, _Err.fold, lambda g: g.count)
        _count_dict_merge(self.cancel, other.cancel)
        self.timeout_stmts.merge(other.timeout_stmts, _stmt_fold, _stmt_count)
        # checkpoints
        self.cp_started += other.cp_started
        self.cp_done += other.cp_done
        self.cp_restart += other.cp_restart
        self.cp_buf += other.cp_buf
        self.cp_buf_max = max(self.cp_buf_max, other.cp_buf_max)
        self.cp_total_ms += other.cp_total_ms
        if other.cp_max_ms > self.cp_max_ms:
            self.cp_max_ms, self.cp_slowest_ts = other.cp_max_ms, other.cp_slowest_ts
        self.cp_write_ms += other.cp_write_ms
        self.cp_sync_ms += other.cp_sync_ms
        self.cp_dist += other.cp_dist
        self.cp_dist_max = max(self.cp_dist_max, other.cp_dist_max)
        self.cp_added += other.cp_added
        self.cp_removed += other.cp_removed
        self.cp_recycled += other.cp_recycled
        _count_dict_merge(self.cp_reasons, other.cp_reasons)
        self.cp_frequent += other.cp_frequent
        # autovacuum
        self.av_vacuums += other.av_vacuums
        self.av_analyzes += other.av_analyzes
        self.av_ms += other.av_ms
        self.av_tables.merge(other.av_tables, _Table.fold, lambda g: g.vacuums + g.analyzes)
        # connections
        self.c_received += other.c_received
        self.c_authorized += other.c_authorized
        self.c_disc += other.c_disc
        self.c_total_ms += other.c_total_ms
        self.c_max_ms = max(self.c_max_ms, other.c_max_ms)
        self.c_short += other.c_short
        self.c_auth += other.c_auth
        self.c_refused += other.c_refused
        _count_dict_merge(self.c_reasons, other.c_reasons)
        self.c_groups.merge(other.c_groups, _Sess.fold, lambda g: g.conns + g.sessions + g.auth)
        self.c_apps.merge(other.c_apps, _Sess.fold, lambda g: g.conns + g.sessions + g.auth)
        self.c_peak.merge(other.c_peak)
        if other.c_first is not None and (
            self.c_first is None or other.c_first[0] < self.c_first[0]
        ):
            self.c_first = other.c_first
        if other.c_last is not None and (self.c_last is None or other.c_last[0] > self.c_last[0]):
            self.c_last = other.c_last
        _extend(self.c_auth_samples, other.c_auth_samples)
        # plans
        if self.plans is not None and other.plans is not None:
            self.plans.merge(other.plans)

    # -- result -------------------------------------------------------------------------
    def result(self) -> EventsResult:
        cats = self.categories
        notes: list[str] = []
        if self.foreign:
            notes.append(
                "the log has non-English server messages: events (temporary files, locks, "
                "errors, checkpoints, autovacuum, connections, plans) in translated messages "
                "are not recognised; set lc_messages = 'C' on the server"
            )
        return EventsResult(
            categories=tuple(c for c in CATEGORIES if c in cats),
            temp_files=self._temp_result() if self.want_temp else None,
            locks=self._locks_result() if self.want_locks else None,
            errors=self._errors_result() if self.want_errors else None,
            checkpoints=self._cp_result() if self.want_checkpoints else None,
            autovacuum=self._av_result() if self.want_vacuum else None,
            connections=self._conn_result() if self.want_conns else None,
            plans=self.plans.result() if self.plans is not None else None,
            notes=tuple(notes),
        )

    def _temp_result(self) -> TempFiles:
        largest = sorted(self.temp_largest, key=lambda x: (-x[0], -x[1]))
        return TempFiles(
            count=self.temp_count,
            total_bytes=self.temp_bytes,
            max_bytes=self.temp_max,
            by_statement=_stmt_results(self.temp_stmts),
            other_statements=self.temp_stmts.other,
            largest=tuple(f for _s, _n, f in largest),
        )

    def _locks_result(self) -> Locks:
        stmts = [g.result() for g in self.lock_stmts.items.values()]
        stmts = [
            StatementGroup(g.fingerprint, g.query, g.example, g.count, g.total, g.max)
            for g in stmts
        ]
        stmts.sort(key=lambda g: (-g.total, -g.count, g.fingerprint or ""))
        return Locks(
            waits=self.lock_waits,
            acquired=self.lock_acquired,
            acquired_wait_ms=self.lock_wait_us / 1000,
            max_wait_ms=self.lock_max_us / 1000,
            deadlocks=self.deadlocks,
            by_lock=tuple(
                sorted(
                    (LockKind(k, n[0], n[1], n[2] / 1000) for k, n in self.lock_kinds.items()),
                    key=lambda g: (-g.waits, -g.acquired, g.lock),
                )
            ),
            by_statement=tuple(stmts),
            other_statements=self.lock_stmts.other,
            samples=tuple(
                dataclasses.replace(w, blocker_statements=tuple(b))
                for w, b in zip(self.lock_samples, self.lock_blockers, strict=True)
            ),
            deadlock_samples=tuple(self.deadlock_samples),
        )

    def _errors_result(self) -> Errors:
        groups = [
            ErrorGroup(sev, state, message, g.count, g.example, g.statement, g.fid, g.first, g.last)
            for (sev, state, message), g in self.err_groups.items.items()
        ]
        groups.sort(key=lambda g: (-g.count, g.severity, g.message))
        return Errors(
            total=self.err_total,
            by_severity=tuple(sorted(self.err_sev.items(), key=lambda kv: (-kv[1], kv[0]))),
            groups=tuple(groups),
            other_groups=self.err_groups.other,
            cancellations=tuple(sorted(self.cancel.items(), key=lambda kv: (-kv[1], kv[0]))),
            statement_timeouts=self.cancel.get("statement timeout", 0),
            statement_timeout_statements=tuple(
                sorted(
                    (g.result() for g in self.timeout_stmts.items.values()),
                    key=lambda g: (-g.count, g.fingerprint or ""),
                )
            ),
        )

    def _cp_result(self) -> Checkpoints:
        return Checkpoints(
            started=self.cp_started,
            completed=self.cp_done,
            restartpoints=self.cp_restart,
            by_reason=tuple(sorted(self.cp_reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            buffers_written=self.cp_buf,
            max_buffers=self.cp_buf_max,
            total_s=self.cp_total_ms / 1000,
            max_s=self.cp_max_ms / 1000,
            slowest_ts=self.cp_slowest_ts,
            write_s=self.cp_write_ms / 1000,
            sync_s=self.cp_sync_ms / 1000,
            distance_kb=self.cp_dist,
            max_distance_kb=self.cp_dist_max,
            wal_added=self.cp_added,
            wal_removed=self.cp_removed,
            wal_recycled=self.cp_recycled,
            too_frequent=self.cp_frequent,
        )

    def _av_result(self) -> Autovacuum:
        tables = [
            TableMaintenance(
                name,
                g.vacuums,
                g.analyzes,
                g.wrap,
                g.total_ms / 1000,
                g.max_ms / 1000,
                g.tuples,
                g.pages,
            )
            for name, g in self.av_tables.items.items()
        ]
        tables.sort(key=lambda t: (-t.total_s, -(t.vacuums + t.analyzes), t.table))
        return Autovacuum(
            vacuums=self.av_vacuums,
            analyzes=self.av_analyzes,
            total_s=self.av_ms / 1000,
            tables=tuple(tables),
            other_tables=self.av_tables.other,
        )

    def _conn_result(self) -> Connections:
        first = self.c_first[1] if self.c_first is not None else None
        last = self.c_last[1] if self.c_last is not None else None
        rate = None
        if self.c_first is not None and self.c_last is not None:
            span = self.c_last[0] - self.c_first[0]
            if span > 0:
                rate = self.c_received / span
        sec, peak = self.c_peak.peak()
        span_s = None
        if self.c_first is not None and self.c_last is not None:
            span_s = self.c_last[0] - self.c_first[0] or None
        groups = [
            SessionGroup(
                u,
                d,
                g.conns,
                g.sessions,
                g.total_ms / 1000,
                g.max_ms / 1000,
                g.auth,
                g.conns / span_s if span_s else None,
            )
            for (u, d), g in self.c_groups.items.items()
        ]
        groups.sort(
            key=lambda g: (
                -g.connections,
                -g.sessions,
                -g.auth_failures,
                str(g.user),
                str(g.database),
            )
        )
        return Connections(
            received=self.c_received,
            authorized=self.c_authorized,
            disconnections=self.c_disc,
            first_ts=first,
            last_ts=last,
            rate_per_s=rate,
            peak_per_s=peak,
            peak_ts=dt.datetime.fromtimestamp(sec, tz=dt.timezone.utc) if peak else None,
            total_session_s=self.c_total_ms / 1000,
            mean_session_s=self.c_total_ms / 1000 / self.c_disc if self.c_disc else None,
            max_session_s=self.c_max_ms / 1000,
            short_sessions=self.c_short,
            auth_failures=self.c_auth,
            auth_failure_reasons=tuple(
                sorted(self.c_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
            refused=self.c_refused,
            groups=tuple(groups),
            other_groups=self.c_groups.other,
            applications=tuple(
                sorted(
                    (
                        ApplicationGroup(
                            a,
                            g.conns,
                            g.sessions,
                            g.total_ms / 1000,
                            g.max_ms / 1000,
                            g.auth,
                            g.conns / span_s if span_s else None,
                        )
                        for a, g in self.c_apps.items.items()
                    ),
                    key=lambda g: (-g.connections, -g.sessions, str(g.application)),
                )
            ),
            other_applications=self.c_apps.other,
            auth_failure_samples=tuple(self.c_auth_samples),
        )


def _is_statement(sev: str, msg: str) -> bool:
    """An executed statement's message (the readers count it; a plan is not one)."""
    return (
        sev == "LOG"
        and msg.startswith(("statement: ", "execute ", "duration: "))
        and not (msg.startswith("duration: ") and "  plan:" in msg[:40])
    )


def _keep_largest(heap: list[tuple[int, int, TempFile]], item: tuple[int, int, TempFile]) -> None:
    import heapq

    if len(heap) < SAMPLE_LIMIT:
        heapq.heappush(heap, item)
    elif item[:2] > heap[0][:2]:
        heapq.heapreplace(heap, item)


def _object_kind(obj: str) -> str:
    """``transaction 729`` -> ``transaction``; ``tuple (0,1) of relation 16384 of database
    5`` -> ``tuple``; ``advisory lock [5,1,2,1]`` -> ``advisory lock``."""
    words = []
    for w in obj.split(" "):
        if not w or w[0] in "([" or any(ch.isdigit() for ch in w):
            break
        words.append(w)
    return " ".join(words) or obj


def _session(meta: Meta) -> str | None:
    if meta[1] is not None:
        return str(meta[1])
    return str(meta[2]) if meta[2] is not None else None


def _host(conn: str | None) -> str | None:
    """``10.0.0.1:5432`` / ``[local]`` -> host."""
    if not conn:
        return None
    if conn.startswith("[") or ":" not in conn:
        return conn
    host, _, port = conn.rpartition(":")
    return host if port.isdigit() else conn


# severity, message, timestamp, pid, session, user, database, application, host, detail,
# statement, sqlstate
_JSONLOG = (
    "error_severity",
    "message",
    "timestamp",
    "pid",
    "session_id",
    "user",
    "dbname",
    "application_name",
    "remote_host",
    "detail",
    "statement",
    "state_code",
)
_CNPG = (
    "error_severity",
    "message",
    "log_time",
    "process_id",
    "session_id",
    "user_name",
    "database_name",
    "application_name",
    "connection_from",
    "detail",
    "query",
    "sql_state_code",
)


class StderrBuffer:
    """The stderr reader's open non-statement message: its first line, continuation
    lines and attached lines (DETAIL, STATEMENT...) until the next message starts."""

    __slots__ = ("attached", "collector", "line", "match", "msg", "open", "parts", "sev", "source")

    def __init__(self, collector: EventCollector, source: str) -> None:
        self.collector = collector
        self.source = source
        self.open = False
        self.match: Any = None
        self.sev = ""
        self.msg = ""
        self.line = 0
        self.parts: list[str] = []
        self.attached: list[tuple[str, list[str]]] = []

    def start(self, match: Any, sev: str, msg: str, line: int) -> list[str]:
        """A new message; returns the list its continuation lines go to."""
        self.open = True
        self.match = match
        self.sev = sev
        self.msg = msg.rstrip("\r")
        self.line = line
        self.parts = []
        self.attached = []
        return self.parts

    def attach(self, sev: str, msg: str) -> list[str]:
        """An attached line (DETAIL, STATEMENT...) of the open message."""
        lines = [msg.rstrip("\r")]
        self.attached.append((sev, lines))
        return lines

    def flush(self, meta_of: Callable[[Any], Meta]) -> None:
        """The open message is complete: hand it to the collector."""
        self.open = False
        if not self.collector.wants(self.sev, self.msg):
            self.match = None
            return
        msg = "\n".join([self.msg, *self.parts]) if self.parts else self.msg
        detail = statement = None
        for sev, lines in self.attached:
            if sev == "DETAIL" and detail is None:
                detail = "\n".join(lines)
            elif sev == "STATEMENT" and statement is None:
                statement = "\n".join(lines)
        self.collector.message(
            self.sev,
            msg,
            meta_of(self.match),
            self.source,
            self.line,
            detail=detail,
            statement=statement,
        )
        self.match = None
