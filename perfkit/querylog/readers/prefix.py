"""``log_line_prefix`` -> one compiled regex, and inference of the prefix from a log.

:func:`compile_prefix` turns the ``%`` escapes of PostgreSQL's ``log_line_prefix``
(including padding such as ``%-10u`` and ``%q``, "stop here for non-session
processes") into a single regex that also captures the severity and the message, so
a log line costs one ``match`` call. :func:`infer_prefix` tries the prefixes people
actually use (:data:`CANDIDATES`) plus a generic fallback on the first lines of a log
and keeps the one that matches most of them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from perfkit.querylog.readers._time import MILLISECONDS, UTC, TimestampParser, parse_iso

# prefixes seen in the wild, most specific first (ties go to the earlier one)
CANDIDATES: tuple[str, ...] = (
    "%m [%p] %q%u@%d ",  # Debian/Ubuntu default
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",  # pgBadger's recommendation
    "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%m [%p] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d ",
    "%m [%p] user=%u,db=%d ",
    "%t [%p] user=%u,db=%d ",
    "%t:%r:%u@%d:[%p]:",  # AWS RDS / Aurora
    "%m:%r:%u@%d:[%p]:",
    "%t [%p-%l] %q%u@%d ",
    "%m [%p-%l] %q%u@%d ",
    "%m [%p]: [%l-1] db=%d,user=%u ",  # Google Cloud SQL
    "%t-%c-",  # Azure Database for PostgreSQL
    "%m %u %d [%p] ",
    "%m [%p] %q[user=%u,db=%d,app=%a] ",
    "%m [%p] %q%u@%d/%a ",
    "%t [%p]: [%l-1] ",
    "%m [%p]: [%l-1] ",
    "%m [%p] ",  # PostgreSQL's own default
    "%t [%p] ",
    "%m ",
    "%t ",
    # syslog: the time and pid are in the syslog header
    "user=%u,db=%d,app=%a,client=%h ",
    "user=%u,db=%d ",
    "%q%u@%d ",
    "[%l-1] user=%u,db=%d,app=%a,client=%h ",
    "",
)

GENERIC = "(generic: timestamp ... [pid] ... SEVERITY)"

_TS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_ZONE = r"(?: (?:[A-Za-z]{1,6}|[+-]\d\d(?::?\d\d)?))?"
_SEV = r"(?P<sev>[^\W\d_]+[0-9]?):  ?(?P<msg>.*)"
_SEV_FAST = r"(?P<sev>[A-Z]+[0-9]?):  ?(?P<msg>.*)"

_SYSLOG_HEAD = r"(?P<spid>\d+) (?P<sts>[^\x1f]*)\x1f"

_ESCAPE = re.compile(r"%(-?\d*)([a-zA-Z%])")

# escape -> (group name or None, regex); None value = free text handled specially
_FIXED: dict[str, tuple[str | None, str]] = {
    "t": ("ts", _TS + _ZONE),
    "m": ("ts", _TS + r"\.\d{3}" + _ZONE),
    "s": (None, _TS + _ZONE),
    "n": ("epoch", r"\d+\.\d{3}"),
    "p": ("pid", r"\d+"),
    "P": (None, r"\d*"),
    "l": ("lnum", r"\d+"),
    "c": ("session", r"[0-9a-f]+\.[0-9a-f]+"),
    "v": (None, r"(?:-?\d+/-?\d+)?"),
    "x": (None, r"\d*"),
    "e": (None, r"[0-9A-Z]{5}"),
    "Q": (None, r"-?\d*"),
    "%": (None, "%"),
}
# free-text escapes: how far they reach depends on what follows them
_TEXT: dict[str, str] = {"u": "user", "d": "db", "a": "app", "h": "host", "r": "rhost"}
_OTHER_TEXT = {"b", "i", "L"}  # backend type, command tag, local address


@dataclass(frozen=True)
class CompiledPrefix:
    """``regex`` is the fast one (ASCII severity, names without spaces); ``slow`` is
    tried on lines it misses (translated severities, names with spaces)."""

    prefix: str
    regex: re.Pattern[str]
    groups: frozenset[str]
    slow: re.Pattern[str] | None = None

    def meta_getter(
        self, ts_parser: TimestampParser
    ) -> Callable[[re.Match[str]], tuple[object, ...]]:
        """A function match -> (ts, session, pid, user, database, application, client)."""
        return _meta_getter(self.groups, ts_parser)


def compile_prefix(prefix: str, *, syslog: bool = False) -> CompiledPrefix:
    fast, groups = _compile(prefix, syslog, fast=True)
    slow, _ = _compile(prefix, syslog, fast=False)
    return CompiledPrefix(prefix, re.compile(fast), groups, re.compile(slow))


def _compile(prefix: str, syslog: bool, *, fast: bool) -> tuple[str, frozenset[str]]:
    """Compile a ``log_line_prefix`` (as in postgresql.conf) to a line regex.

    With ``syslog`` the line is expected to start with ``<pid> <time>\x1f`` (the
    syslog reader puts the pid and time of the syslog header there).
    """
    parts: list[str] = []
    groups: set[str] = set()
    optional_from: int | None = None
    body = prefix.rstrip(" ")
    pos = 0
    tokens: list[tuple[str, str]] = []  # (kind, value): ('lit', text) | ('esc', letter)
    for m in _ESCAPE.finditer(body):
        if m.start() > pos:
            tokens.append(("lit", body[pos : m.start()]))
        tokens.append(("esc", m.group(2)))
        pos = m.end()
    if pos < len(body):
        tokens.append(("lit", body[pos:]))

    for i, (kind, value) in enumerate(tokens):
        if kind == "lit":
            parts.append(re.escape(value))
            continue
        if value == "q":
            optional_from = len(parts)
            continue
        fixed = _FIXED.get(value)
        if fixed is not None:
            name, rx = fixed
            if name and name not in groups:
                groups.add(name)
                parts.append(f"(?P<{name}>{rx})")
            else:
                parts.append(f"(?:{rx})")
            continue
        nxt = tokens[i + 1][1][0] if i + 1 < len(tokens) and tokens[i + 1][0] == "lit" else None
        if nxt is not None and not nxt.isspace():
            rx = f"[^{re.escape(nxt)}\\n]*"
        elif fast:
            rx = r"[^ \n]*"
        else:
            rx = r".*?"
        if value == "r":
            rx = r"(?:\[local\]|[^\s(]*\(\d+\)|[^\s(]*?)" if nxt is None or nxt.isspace() else rx
        name = _TEXT.get(value)
        if name and name not in groups:
            groups.add(name)
            parts.append(f"(?P<{name}>{rx})")
        elif value in _TEXT or value in _OTHER_TEXT:
            parts.append(f"(?:{rx})")
        else:
            raise ValueError(f"unknown log_line_prefix escape %{value}")
    if optional_from is not None:
        parts[optional_from:] = ["(?:" + "".join(parts[optional_from:]) + ")?"]
    head = _SYSLOG_HEAD if syslog else ""
    if syslog:
        groups |= {"spid", "sts"}
    regex = "^" + head + "".join(parts) + " *" + (_SEV_FAST if fast else _SEV)
    return regex, frozenset(groups)


def _generic(syslog: bool) -> CompiledPrefix:
    head = _SYSLOG_HEAD if syslog else ""
    regex = (
        "^" + head + r"(?P<ts>" + _TS + r"(?:\.\d{3})?" + _ZONE + r")"
        r"(?P<mid>[^\n]*?)" + r"(?<![^\s:\]])" + _SEV
    )
    groups = {"ts", "mid"} | ({"spid", "sts"} if syslog else set())
    rx = re.compile(regex)
    return CompiledPrefix(GENERIC, rx, frozenset(groups), rx)


_MID_PID = re.compile(r"\[(\d+)(?:-\d+)?\]")
_MID_KV = re.compile(r"\b(user|usr|db|database|app|application|client|host)=([^,\s\]})>]*)")
_MID_AT = re.compile(r"(?:^|\s)([\w.\-$]+)@([\w.\-$]+)(?=[\s:\]]|$)")


def _parse_mid(mid: str) -> tuple[int | None, str | None, str | None, str | None, str | None]:
    pid = user = db = app = client = None
    m = _MID_PID.search(mid)
    if m:
        pid = int(m.group(1))
    for k, v in _MID_KV.findall(mid):
        v = v or None
        if k in ("user", "usr"):
            user = v
        elif k in ("db", "database"):
            db = v
        elif k in ("app", "application"):
            app = v
        else:
            client = v
    if user is None and db is None:
        a = _MID_AT.search(mid)
        if a:
            user, db = a.group(1), a.group(2)
    return pid, user, db, app, client


def _meta_getter(
    groups: frozenset[str], ts_parser: TimestampParser
) -> Callable[[re.Match[str]], tuple[object, ...]]:
    has = groups.__contains__
    if has("mid"):
        cache: dict[str, tuple[int | None, str | None, str | None, str | None, str | None]] = {}

        def generic(m: re.Match[str]) -> tuple[object, ...]:
            mid = m.group("mid")
            parsed = cache.get(mid)
            if parsed is None:
                if len(cache) > 50_000:
                    cache.clear()
                parsed = cache[mid] = _parse_mid(mid)
            pid, user, db, app, client = parsed
            if pid is None and has("spid"):
                pid = int(m.group("spid"))
            return (
                ts_parser(m.group("ts")),
                None if pid is None else str(pid),
                pid,
                user,
                db,
                app,
                client,
            )

        return generic

    ts_name = "ts" if has("ts") else "epoch" if has("epoch") else "sts" if has("sts") else None
    names = [
        "pid" if has("pid") else "spid" if has("spid") else None,
        "session" if has("session") else None,
        "user" if has("user") else None,
        "db" if has("db") else None,
        "app" if has("app") else None,
        "host" if has("host") else "rhost" if has("rhost") else None,
    ]
    # the identity groups, fetched with the timestamp in one call, then looked up in a
    # cache: a session repeats the same pid/user/database on every line
    ident_names = [n for n in names if n]
    present = ([ts_name] if ts_name else []) + ident_names
    slot = {n: i for i, n in enumerate(ident_names)}
    i_pid, i_sess, i_user, i_db, i_app, i_client = (slot[n] if n else None for n in names)
    epoch = ts_name == "epoch"
    syslog_time = ts_name == "sts"
    rhost = names[5] == "rhost"
    unknown = ("", "[unknown]", None)
    ident_cache: dict[tuple[Any, ...], tuple[object, ...]] = {}

    def ident_of(g: tuple[Any, ...]) -> tuple[object, ...]:
        pid_text = g[i_pid] if i_pid is not None else None
        client = g[i_client] if i_client is not None else None
        if client in unknown:
            client = None
        elif rhost:
            client = client.split("(", 1)[0] or None
        user = g[i_user] if i_user is not None else None
        db = g[i_db] if i_db is not None else None
        app = g[i_app] if i_app is not None else None
        if len(ident_cache) > 100_000:
            ident_cache.clear()
        return (
            g[i_sess] if i_sess is not None else pid_text,
            int(pid_text) if pid_text else None,
            None if user in unknown else user,
            None if db in unknown else db,
            None if app in unknown else app,
            client,
        )

    no_ident: tuple[object, ...] = (None, None, None, None, None, None)
    group_all = len(present) > 1

    # the common case (%m, whole lines of a stderr log) without any function call
    plain_ts = ts_name == "ts" and group_all
    ts_cache_get = ts_parser.base_cache().get
    ms = MILLISECONDS

    last_t = ""
    last_ts: dt.datetime | None = None

    def meta(m: re.Match[str]) -> tuple[object, ...]:
        nonlocal last_t, last_ts
        if plain_ts:
            g = m.group(*present)
            t = g[0]
            if t == last_t:  # busy servers log many lines per millisecond
                ts = last_ts
            else:
                if len(t) > 23 and t[19] == "." and t[23] == " ":
                    base = ts_cache_get(t[:19] + t[23:])
                    ts = base + ms[t[20:23]] if base is not None else ts_parser(t)
                else:
                    ts = ts_parser(t) if t else None
                last_t, last_ts = t, ts
            key = g[1:]
        else:
            if group_all:
                g = m.group(*present)
            elif present:
                g = (m.group(present[0]),)
            else:
                g = ()
            if ts_name:
                t = g[0]
                ts = None
                if t:
                    if epoch:
                        ts = dt.datetime.fromtimestamp(float(t), tz=UTC)
                    elif syslog_time:
                        ts = syslog_ts(t)
                    else:
                        ts = ts_parser(t)
                key = g[1:]
            else:
                ts = None
                key = g
            if not key:
                return (ts, *no_ident)
        ident = ident_cache.get(key)
        if ident is None:
            ident = ident_cache[key] = ident_of(key)
        return (ts, *ident)

    return meta


_SYSLOG_YEAR = dt.datetime.now(UTC).year


def syslog_ts(text: str) -> dt.datetime | None:
    """``2024-03-03T10:00:00.123+01:00`` or ``Mar  3 10:00:00`` (no year: this year, UTC)."""
    if text[:1].isdigit():
        return parse_iso(text)
    try:
        naive = dt.datetime.strptime(f"{_SYSLOG_YEAR} {text}", "%Y %b %d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Inference:
    prefix: CompiledPrefix
    matched: int
    considered: int


def infer_prefix(lines: Sequence[str], *, syslog: bool = False) -> Inference | None:
    """The candidate matching most of ``lines`` (continuation lines excluded)."""
    sample = [ln for ln in lines if ln and not ln.startswith("\t")]
    if not sample:
        return None
    best: Inference | None = None
    compiled = [compile_prefix(c, syslog=syslog) for c in CANDIDATES]
    compiled.append(_generic(syslog))
    for cp in compiled:
        match = (cp.slow or cp.regex).match
        n = sum(1 for ln in sample if match(ln))
        # the generic one must do strictly better than every real prefix
        if n and (best is None or n > best.matched):
            best = Inference(cp, n, len(sample))
    return best


def generic_prefix(*, syslog: bool = False) -> CompiledPrefix:
    return _generic(syslog)
