"""``log_line_prefix`` -> one compiled regex, and inference of the prefix from a log.

:func:`compile_prefix` turns the ``%`` escapes of PostgreSQL's ``log_line_prefix``
(including padding such as ``%-10u`` and ``%q``, "stop here for non-session
processes") into a single regex that also captures the severity and the message, so
a log line costs one ``match`` call.

:func:`infer_prefix` reads the prefix from the lines themselves: it finds where each
line's severity starts (``LOG:  ``, ``FEHLER:  ``...), cuts what precedes it into
tokens (timestamps, numbers, names, session ids, addresses, literal separators and
labels such as ``app=``), maps the fields of the most common layout to escapes by
their shapes and their behaviour across lines (a pid is constant within a session,
``%l`` counts up within one, ``%x`` is mostly 0, ``%c`` is hex.hex), places ``%q``
where the lines of background processes stop, and compiles the result with
:func:`compile_prefix` -- the same matcher an explicit ``--prefix`` gets. A field it
cannot identify is skipped by an escape that captures nothing and reported, never
glued onto a neighbour. :data:`CANDIDATES` (prefixes seen in the wild) and
:func:`generic_prefix` are kept for callers; inference no longer uses them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
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
# log_error_verbosity = verbose puts the SQLSTATE first: "LOG:  00000: duration: ..."
# (only in the regexes of logs that have it: it costs every line a few percent)
_SQLSTATE = "(?:[0-9A-Z]{5}: )?(?P<msg>"
_HAS_SQLSTATE = re.compile(r"[0-9A-Z]{5}: ")

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
# a literal after a name that "[unknown]" contains
_UNKNOWN_CHARS = frozenset("[]unkow")
_BACKENDS = (
    r"(?:client|standalone)\ backend|autovacuum\ (?:launcher|worker)|background\ (?:worker|writer)"
    r"|logical\ replication\ (?:launcher|worker|apply\ worker|parallel\ worker|tablesync\ worker)"
    r"|parallel\ worker|not\ initialized|slotsync\ worker|io\ worker|checkpointer|postmaster"
    r"|walreceiver|walsender|walwriter|walsummarizer|archiver|logger|startup"
)
_SPACED = {"b": _BACKENDS, "i": r"idle\ in\ transaction(?:\ \(aborted\))?"}


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


def compile_prefix(prefix: str, *, syslog: bool = False, sqlstate: bool = False) -> CompiledPrefix:
    """``sqlstate``: messages may start with their SQLSTATE (``log_error_verbosity =
    verbose``), which is then not part of ``msg``."""
    fast, groups = _compile(prefix, syslog, fast=True)
    slow, _ = _compile(prefix, syslog, fast=False)
    if sqlstate:
        fast, slow = (rx.replace("(?P<msg>", _SQLSTATE, 1) for rx in (fast, slow))
    return CompiledPrefix(prefix, re.compile(fast), groups, re.compile(slow))


def fit_to_lines(cp: CompiledPrefix, lines: Sequence[str]) -> CompiledPrefix:
    """``cp``, or the same prefix reading SQLSTATEs first in messages when ``lines``
    (the first lines of a log) have them: ``LOG:  00000: duration: ...``."""
    fast, slow = cp.regex.match, (cp.slow or cp.regex).match
    for line in lines:
        m = fast(line) or slow(line)
        if m is not None and _HAS_SQLSTATE.match(m.group("msg")):
            return compile_prefix(cp.prefix, syslog="spid" in cp.groups, sqlstate=True)
    return cp


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
        j = i + 1
        if j < len(tokens) and tokens[j] == ("esc", "q"):
            j += 1  # "%u%q@%d": the '@' still ends the user name
        nxt = tokens[j][1][0] if j < len(tokens) and tokens[j][0] == "lit" else None
        if nxt is not None and not nxt.isspace():
            rx = f"[^{re.escape(nxt)}\\n]*"
            if nxt in _UNKNOWN_CHARS:
                # PostgreSQL writes "[unknown]" for a name it does not know yet
                rx = f"(?:{rx}|\\[unknown\\])"
        elif fast:
            rx = r"[^ \n]*"
        else:
            rx = r".*?"
        if value == "r":
            rx = r"(?:\[local\]|[^\s(]*\(\d+\)|[^\s(]*?)" if nxt is None or nxt.isspace() else rx
        elif value in _SPACED:
            # backend types and activities contain spaces ("client backend")
            rx = f"(?:{_SPACED[value]}|{rx})"
        name = _TEXT.get(value)
        if name and name not in groups:
            groups.add(name)
            parts.append(f"(?P<{name}>{rx})")
        elif value in _TEXT or value in _OTHER_TEXT:
            parts.append(f"(?:{rx})")
        else:
            raise ValueError(f"unknown log_line_prefix escape %{value}")
    last = tokens[-1] if tokens else ("lit", "")
    before = [t for t in tokens[:-1] if t != ("esc", "q")][-1:]
    guarded = bool(before) and before[0][0] == "lit" and not before[0][1][-1].isspace()
    if (
        len(body) < len(prefix)
        and last[0] == "esc"
        and (last[1] in _TEXT or last[1] in _OTHER_TEXT)
        and not guarded
    ):
        # the prefix's trailing space ends the last name: "... postgres LOG:  ", and
        # "LOG:" itself is no user name where %q left the name out (a name after "@"
        # or "db=" cannot reach the severity without that literal: no need)
        parts.append("(?= )")
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
    """An inferred prefix: ``matched`` of the ``considered`` message lines match it;
    ``unknown`` describes the fields that could not be identified (skipped, empty)."""

    prefix: CompiledPrefix
    matched: int
    considered: int
    unknown: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Enough lines match for the prefix to be trusted."""
        return self.matched >= MIN_SHARE * self.considered


def infer_prefix(lines: Sequence[str], *, syslog: bool = False) -> Inference | None:
    """The ``log_line_prefix`` that wrote ``lines``, read from the lines themselves.

    The text before each line's severity is cut into tokens (timestamps, numbers,
    names, session ids, addresses, literal separators and labels such as ``db=``);
    the most common layout with the most fields is mapped to escapes by the values'
    shapes and their behaviour across lines (a pid is constant within a session, ``%l``
    rises within one, ``%x`` is mostly 0), and shorter layouts that stop early place
    ``%q``. The result compiles with :func:`compile_prefix` like an explicit prefix.
    None when no line has a severity.
    """
    sample: list[str] = []
    sevs: list[int] = []  # where each sample line's severity starts (-1: none)
    texts: list[str] = []
    for ln in lines:
        if not ln or ln[0] == "\t":
            continue
        at = _sev_start(ln, syslog)
        if at < 0 and ln[0] == " ":
            continue  # a continuation line whose tab became spaces
        sample.append(ln)
        sevs.append(at)
        if at >= 0:
            texts.append(ln[ln.find("\x1f") + 1 if syslog else 0 : at])
    if not texts:
        return None
    # the first lines are usually enough; all of them when those leave lines unmatched
    # (a log that starts with many lines of background processes). Application names
    # with spaces ("app=PostgreSQL JDBC Driver") are tried as one field when the fields
    # as cut do not fit every line.
    best: tuple[tuple[int, int, int], Inference] | None = None
    for limit in (_INFER_LINES, len(texts)):
        for merge in (False, True):
            cp, matched, quick, unknown = _infer(texts[:limit], sample, sevs, syslog, merge)
            score = (matched, quick, -len(unknown))
            if best is None or score > best[0]:
                best = (score, Inference(cp, matched, len(sample), tuple(unknown)))
            if quick == len(texts) and not unknown:
                return best[1]
        assert best is not None
        if best[1].matched >= 0.95 * len(texts) or limit >= len(texts):
            break
    assert best is not None
    return best[1]


def _infer(
    texts: list[str], sample: list[str], sevs: list[int], syslog: bool, merge: bool
) -> tuple[CompiledPrefix, int, int, list[str]]:
    """The best prefix for the layouts of ``texts`` (the prefixes of the first message
    lines) and how many of ``sample`` it matches."""
    can_match = sum(1 for at in sevs if at >= 0)  # lines with a severity
    memo: dict[str, list[Token]] = {}
    groups: dict[tuple[str, ...], list[list[Token]]] = {}
    for t in texts:
        toks = memo.get(t)
        if toks is None:
            toks = memo[t] = _tokens(t, merge)
        groups.setdefault(_layout(toks), []).append(toks)
    floor = max(2, len(texts) // 20) if len(texts) >= 2 else 1
    common = [lay for lay, rows in groups.items() if len(rows) >= floor] or list(groups)
    # the layout with most fields is usually the session lines' (others lack %q's part);
    # one odd value ("pgAdmin 4 - DB:shop") can add fields, so a few are tried and the
    # one whose prefix matches most lines wins
    ranked = sorted(
        common,
        key=lambda lay: (sum(1 for k in lay if k in _FIELD_CLASSES), len(groups[lay])),
        reverse=True,
    )
    tries = ranked[:3]
    most = max(common, key=lambda lay: len(groups[lay]))
    if most not in tries:
        tries.append(most)
    best: tuple[tuple[int, int, int], CompiledPrefix, list[str]] | None = None
    for main in tries:
        pieces, unknown = _assign(main, groups[main])
        cp, matched, quick = _with_q(pieces, sample, sevs, syslog)
        score = (matched, quick, -len(unknown))
        if best is None or score > best[0]:
            best = (score, cp, unknown)
        if quick == can_match and not unknown:
            break
    assert best is not None
    return fit_to_lines(best[1], sample), best[0][0], best[0][1], best[2]


def _prefix_of(pieces: list[tuple[str, str]]) -> str:
    return "".join(
        v.replace("%", "%%") if k == "lit" else "%q" if k == "q" else "%" + v for k, v in pieces
    )


def _cuts(pieces: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """``pieces`` with ``%q`` before one piece, or inside a literal before a label or
    after a space (``": %quser=%u"``, ``"] %q[user=%u"``)."""
    for k, (kind, value) in enumerate(pieces):
        yield [*pieces[:k], ("q", ""), *pieces[k:]]
        if kind == "lit":
            for j in range(1, len(value)):
                label = value[j].isalpha() and not value[j - 1].isalnum()
                if label or (value[j - 1].isspace() and not value[j].isspace()):
                    parts = [("lit", value[:j]), ("q", ""), ("lit", value[j:])]
                    yield [*pieces[:k], *parts, *pieces[k + 1 :]]


def _with_q(
    pieces: list[tuple[str, str]], sample: list[str], sevs: list[int], syslog: bool
) -> tuple[CompiledPrefix, int, int]:
    """The prefix, with ``%q`` before the field where the lines that miss it stop
    (background processes write no session fields), how many lines it matches, and
    how many of those its fast regex matches."""

    def exact(cp: CompiledPrefix, lines: list[int]) -> tuple[list[int], int]:
        """The lines (indexes) ``cp`` matches with the severity where it is (never a
        line without one), and how many of them its fast regex matches (the slow one
        stretches names)."""
        fast, slow = cp.regex.match, (cp.slow or cp.regex).match
        out = []
        quick = 0
        for i in lines:
            line = sample[i]
            m = fast(line)
            if m is not None and m.start("sev") == sevs[i]:
                quick += 1
            else:
                m = slow(line)
            if m is not None and m.start("sev") == sevs[i]:
                out.append(i)
        return out, quick

    cp = compile_prefix(_prefix_of(pieces), syslog=syslog)
    everything = list(range(len(sample)))
    hit, quick = exact(cp, everything)
    if len(hit) == len(sample):
        return cp, len(hit), quick
    missed = sorted(set(everything) - set(hit))
    best, best_cp = (0, 0), cp
    for cut in _cuts(pieces):
        q = compile_prefix(_prefix_of(cut), syslog=syslog)
        got, quick = exact(q, missed)
        if (len(got), quick) > best:
            best, best_cp = (len(got), quick), q
    if best_cp is cp:
        return cp, len(hit), quick
    hit, quick = exact(best_cp, everything)
    return best_cp, len(hit), quick


def generic_prefix(*, syslog: bool = False) -> CompiledPrefix:
    return _generic(syslog)


# -- inference from the lines themselves ------------------------------------------------
# A message line is "<prefix><SEVERITY>:  <message>": the severity is an upper-case word
# (translated ones too: FEHLER, ОШИБКА) followed by a colon and two spaces.
_AFTER_TIME = re.compile(r"\d\d:\d\d(?:\.\d+)? $")  # "10:00:00 UTC:  " is a time zone
_INFER_LINES = 120  # lines tokenised first (the compiled prefix is checked on all)
MIN_SHARE = 0.5  # below this share of exact matches inference refuses
_ZONE_TOK = r"(?:\ (?:[A-Z]{1,6}|[+-]\d\d(?::?\d\d)?)(?![\w]))?"
_TOKEN = re.compile(
    rf"""
     (?P<m>\d{{4}}-\d\d-\d\d\ \d\d:\d\d:\d\d\.\d{{3}}{_ZONE_TOK})
    |(?P<t>\d{{4}}-\d\d-\d\d\ \d\d:\d\d:\d\d{_ZONE_TOK})
    |(?P<n>\d{{9,11}}\.\d{{3}}(?![\w.]))
    |(?P<c>[0-9a-f]{{6,8}}\.[0-9a-f]{{1,8}}(?![\w.]))
    |(?P<r>(?:\[local\]|(?:[0-9a-fA-F]{{0,4}}:){{2,7}}[0-9a-fA-F.]+|[\w.-]+)\(\d+\))
    |(?P<unk>\[unknown\])
    |(?P<local>\[local\])
    |(?P<v>-?\d+/-?\d+(?![\w/]))
    |(?P<ip>\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?![\w.])
        |(?=[0-9a-fA-F:]*[0-9a-fA-F])(?:[0-9a-fA-F]{{1,4}})?(?::[0-9a-fA-F]{{0,4}}){{2,7}}(?![\w:]))
    |(?P<e>0[0-9A-Z]{{4}}(?!\w)|(?=[0-9]*[A-Z])[0-9A-Z]{{5}}(?!\w))
    |(?P<b>(?:{_BACKENDS})(?![\w]))
    |(?P<lab>[A-Za-z_]+=)
    |(?P<num>-?(?!\d{{4}}-\d\d-\d\d\ )\d+(?![\w.]))
    |(?P<w>[^\s\[\](){{}}<>@,;|:="'/-](?:[^\s\[\](){{}}<>@,;|:="'/-]|-(?!\d{{4}}-\d\d-\d\d\ ))*)
    |(?P<sep>.)
    """,
    re.X | re.S,
)
# token kind -> the class that must agree between lines of one layout
_CLASS = {"unk": "name", "local": "name", "ip": "name", "w": "name", "r": "name"}
# labels people write before a field ("user=%u") -> the escape they announce
_LABEL_WORDS = {
    "u": "user usr u username role login uname",
    "d": "db database dbname d datname",
    "a": "app appli application application_name appname a",
    "h": "client host remote h ip clientaddr client_addr remote_host rhost",
    "p": "pid p process",
    "l": "line l lnum linenum",
    "c": "session sess sid c session_id",
    "x": "xid tx txid x",
    "v": "vxid v",
    "Q": "queryid query_id qid q",
    "e": "sqlstate state e err errcode",
    "b": "backend btype b type backend_type",
    "i": "tag cmd command i ps",
}
_LABELS: dict[str, str] = {
    word: esc for esc, words in _LABEL_WORDS.items() for word in words.split()
}
_APP_LABEL = re.compile(
    "(?:^|[^A-Za-z_])(?:"
    + "|".join(n for n, e in _LABELS.items() if e == "a" and len(n) > 1)
    + ")=$",
    re.I,
)
_TAGS = re.compile(
    r"^(?:[A-Z]+(?: [A-Z]+)*|idle(?: in transaction(?: \(aborted\))?)?|authentication|startup)$"
)


def _no_lower(word: str) -> bool:
    """An upper-case word, or one of a script without case (日志, 错误)."""
    return word.isupper() or not any(ch.islower() or ch.isupper() for ch in word)


def _sev_start(line: str, syslog: bool) -> int:
    """Where the severity of a message line starts (after the syslog header), or -1:
    the first upper-case (or caseless) word followed by a colon and two spaces, not a time
    zone (str.find, then a look back: a regex scan of every line costs more)."""
    start = 0
    if syslog:
        start = line.find("\x1f") + 1
        if not start:
            return -1
    end = start + 400
    i = line.find(":  ", start, end)
    while i >= 0:
        k = i - 1 if i > start and line[i - 1] in "12345" else i  # DEBUG1..DEBUG5
        j = k
        while j > start and line[j - 1].isalpha():
            j -= 1
        if j < k and _no_lower(line[j:k]) and not _AFTER_TIME.search(line[max(start, j - 13) : j]):
            return j
        i = line.find(":  ", i + 1, end)
    return -1


Token = tuple[str, str]  # (kind, text); kind "lit" for literal text


def _tokens(text: str, merge: bool = False) -> list[Token]:
    """``text`` cut into literal and field tokens; ``merge``: words after an application
    label, separated by single spaces, are one field."""
    out: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "sep"
        value = m.group()
        if kind in ("sep", "lab"):
            if out and out[-1][0] == "lit":
                out[-1] = ("lit", out[-1][1] + value)
            else:
                out.append(("lit", value))
            continue
        if kind == "num" and value[0] == "-" and out and out[-1][0] != "lit":
            # "[%p-%l]": the '-' is a separator, not a sign
            out.append(("lit", "-"))
            value = value[1:]
        elif (
            merge
            and kind in ("w", "num")
            and len(out) >= 3
            and out[-1] == ("lit", " ")
            and out[-2][0] == "w"
            and out[-3][0] == "lit"
            and _APP_LABEL.search(out[-3][1])
        ):
            # "app=PostgreSQL JDBC Driver": application names have spaces
            out[-2:] = [("w", f"{out[-2][1]} {value}")]
            continue
        out.append((kind, value))
    return out


def _layout(tokens: list[Token]) -> tuple[str, ...]:
    """Literal texts, and ``\0<class>`` for fields."""
    return tuple(v if k == "lit" else "\0" + _CLASS.get(k, k) for k, v in tokens)


_FIELD_CLASSES = frozenset("\0" + c for c in ("m", "t", "n", "c", "v", "e", "b", "num", "name"))


def _increasing(values: list[int], keys: list[object]) -> tuple[int, int, int]:
    """(rising, rising by exactly 1, pairs) over consecutive values of the same key."""
    last: dict[object, int] = {}
    rising = steps = pairs = 0
    for k, v in zip(keys, values, strict=True):
        prev = last.get(k)
        if prev is not None:
            pairs += 1
            rising += v > prev
            steps += v == prev + 1
        last[k] = v
    return rising, steps, pairs


def _assign(
    lay: tuple[str, ...], rows: list[list[Token]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The fields of one layout -> pieces of a log_line_prefix (("lit", text) or
    ("esc", letter)) and descriptions of the fields left unidentified (skipped by an
    escape that captures nothing)."""
    n = len(lay)
    is_lit = [not x.startswith("\0") for x in lay]
    layout = [x if lit else x[1:] for x, lit in zip(lay, is_lit, strict=True)]
    column = [[r[i] for r in rows] for i in range(n)]
    esc: dict[int, str] = {}
    literal: set[int] = set()
    unknown: dict[int, str] = {}

    def label(i: int) -> str | None:
        if i == 0 or not is_lit[i - 1]:
            return None
        m = re.search(r"([A-Za-z_]+)=$", layout[i - 1])
        return _LABELS.get(m.group(1).lower()) if m else None

    # timestamps: the line's own (%m, else the %t that changes most); a second %t-shaped
    # one is the session start (%s)
    stamps = [i for i in range(n) if layout[i] in ("m", "t")]
    if stamps:
        with_ms = [i for i in stamps if layout[i] == "m"]
        line_ts = (with_ms or sorted(stamps, key=lambda i: -len({v for _, v in column[i]})))[0]
        for i in stamps:
            esc[i] = layout[i] if i == line_ts or layout[i] == "m" else "s"
    # fixed shapes
    for i in range(n):
        if is_lit[i] or i in esc:
            continue
        kinds = {k for k, _ in column[i]}
        first = layout[i]
        if first in ("n", "c", "v", "b", "e"):
            esc[i] = first
        elif first == "name":
            hint = label(i)
            values = [v for k, v in column[i] if k != "unk"]
            if "r" in kinds or (hint == "h" and any("(" in v for v in values)):
                esc[i] = "r"
            elif hint is not None:
                esc[i] = hint
            elif values and kinds <= {"ip", "local", "unk"}:
                esc[i] = "h"
            elif values and all(_TAGS.match(v) for v in values):
                esc[i] = "i"
    # numbers: labels, query ids, then pid / line number / xid from their behaviour
    nums = [i for i in range(n) if layout[i] == "num"]
    ints = {i: [int(v) for _, v in column[i]] for i in nums}
    free: list[int] = []
    for i in nums:
        hint = label(i)
        if hint is not None:
            esc[i] = hint
        elif any(v < 0 or v > 2**31 for v in ints[i]):
            esc[i] = "Q"
        else:
            free.append(i)
    varying = [i for i in free if len(set(ints[i])) > 1]
    constant = [i for i in free if i not in varying]
    taken = set(esc.values())
    session = next((i for i, e in esc.items() if e == "c"), None)
    if session is not None:
        keys: list[object] = [v for _, v in column[session]]
        for i in varying:
            rising, steps, pairs = _increasing(ints[i], keys)
            if "l" not in taken and pairs and rising >= 0.9 * pairs and steps >= 0.5 * pairs:
                esc[i] = "l"
                taken.add("l")
        for i in varying:
            if i not in esc and "p" not in taken:
                per: dict[object, set[int]] = {}
                for k, v in zip(keys, ints[i], strict=True):
                    per.setdefault(k, set()).add(v)
                if all(len(s) == 1 for s in per.values()):
                    esc[i] = "p"
                    taken.add("p")
    if "p" not in taken and "l" not in taken:
        # %l counts 1, 2, 3 within each pid; a pid is constant for a session
        best: tuple[float, float, int] | None = None
        pair = (0, 0)
        # (pids and line numbers are never 0: a column with zeros is %x)
        candidates = [i for i in varying if 0 not in ints[i]]
        for a in candidates:
            for b in candidates:
                if a == b:
                    continue
                rising, steps, pairs = _increasing(ints[b], list(ints[a]))
                if pairs and rising >= 0.9 * pairs and steps >= 0.5 * pairs:
                    score = (steps / pairs, rising / pairs, -len(set(ints[a])))
                    if best is None or score > best:
                        best, pair = score, (a, b)
        if best is not None:
            esc[pair[0]] = "p"
            esc[pair[1]] = "l"
            taken |= {"p", "l"}
    for i in varying:
        if i in esc:
            continue
        vals = ints[i]
        zeros = sum(1 for v in vals if v == 0)
        if "x" not in taken and zeros:
            esc[i] = "x"
        elif "p" not in taken:
            rising, _, pairs = _increasing(vals, [None] * len(vals))
            # one session's line numbers (1, 2, 3, ...), not the pids of many sessions
            if (
                "l" not in taken
                and pairs >= 4
                and rising == pairs
                and vals[-1] - vals[0] == pairs
                and min(vals) <= 3
            ):
                esc[i] = "l"
            else:
                esc[i] = "p"
        elif "l" not in taken:
            esc[i] = "l"
        else:
            unknown[i] = "x"
        taken.add(esc.get(i, ""))
    for i in constant:
        after_number = i >= 2 and layout[i - 1].endswith("-") and layout[i - 2] == "num"
        if after_number:
            literal.add(i)
        elif "p" not in taken and ints[i][0] > 0:
            esc[i] = "p"
            taken.add("p")
        elif ints[i][0] == 0 and "x" not in taken:
            esc[i] = "x"
            taken.add("x")
        else:
            literal.add(i)
    # names without a label, in the order people write them: user, database, application
    order = [e for e in ("u", "d", "a", "h") if e not in set(esc.values())]
    for i in range(n):
        if layout[i] == "name" and i not in esc:
            if order:
                esc[i] = order.pop(0)
            else:
                unknown[i] = "i"
    for i in range(n):
        if not is_lit[i] and i not in esc and i not in literal and i not in unknown:
            unknown[i] = "i" if layout[i] == "name" else "x"
    pieces: list[tuple[str, str]] = []
    notes: list[str] = []
    for i in range(n):
        if is_lit[i]:
            pieces.append(("lit", layout[i]))
        elif i in literal:
            pieces.append(("lit", column[i][0][1]))
        elif i in unknown:
            pieces.append(("esc", unknown[i]))
            notes.append(f"field {len(pieces)} (e.g. {column[i][0][1]!r})")
        else:
            pieces.append(("esc", esc[i]))
    return pieces, notes
