"""Property test of prefix inference: a random ``log_line_prefix`` built from the escapes
and separators -> the lines a server would write with it (several sessions, background
processes, connection lines with [unknown] names) -> the inferred prefix gives every line
the same fields as the real one."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.querylog.readers import compile_prefix
from perfkit.querylog.readers._time import TimestampParser
from perfkit.querylog.readers.prefix import infer_prefix

# escape -> labels people put before it ("" = none)
LABELS = {
    "u": ["", "user=", "usr=", "u="],
    "d": ["", "db=", "database="],
    "a": ["", "app=", "appli=", "application="],
    "h": ["", "client=", "host="],
    "r": ["", "client=", "remote="],
    "p": ["", "pid="],
    "l": ["", "line="],
    "c": ["", "session="],
    "x": ["", "xid=", "tx="],
    "Q": ["", "queryid="],
    "v": [""],
    "e": [""],
    "b": [""],
    "m": [""],
    "t": [""],
    "n": [""],
}
SEPARATORS = [" ", ": ", "] ", " [", "|", ",", " - ", " <", "> "]
USERS = ["postgres", "alice", "app_user"]
DBS = ["acc_bench", "shop", "crm_db"]
APPS = ["pgbench", "psql", "web-api"]


@st.composite
def prefixes(draw: st.DrawFn) -> str:
    time = draw(st.sampled_from(["m", "t", "n", None]))
    ids = draw(st.lists(st.sampled_from("plcxQveb"), unique=True, max_size=4))
    if "p" not in ids and "c" not in ids:
        ids.append("p")
    names = draw(st.lists(st.sampled_from("udahr"), unique=True, max_size=4))
    if "h" in names and "r" in names:
        names.remove("r")
    labels = {e: draw(st.sampled_from(LABELS[e])) for e in [*ids, *names]}
    # a lone unlabelled name could be a user or a database: unlabelled names are the
    # first of user, database, application (as in "%u@%d", "%u %d %a")
    for i, e in enumerate("uda"):
        if (
            e in labels
            and not labels[e]
            and not all(p in labels and not labels[p] for p in "uda"[:i])
        ):
            labels[e] = LABELS[e][1]
    # unlabelled user, database, application: in the order people write them
    fields = draw(st.permutations(ids + names))
    plain = iter(sorted((e for e in fields if e in "uda" and not labels[e]), key="uda".index))
    fields = [next(plain) if e in "uda" and not labels[e] else e for e in fields]
    if time:
        fields.insert(0, time)
        labels[time] = ""
    q_at = draw(st.integers(1, len(fields))) if draw(st.booleans()) else None
    out = ""
    for i, e in enumerate(fields):
        if i == q_at:
            out += "%q"
        out += labels[e] + "%" + e
        sep = draw(st.sampled_from(SEPARATORS))
        if sep.startswith(" [") and i + 1 == len(fields):
            sep = " "
        out += sep
    return out


def render(prefix: str, values: dict[str, str], session: bool) -> str:
    out = []
    i = 0
    while i < len(prefix):
        ch = prefix[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        esc = prefix[i + 1]
        i += 2
        if esc == "q":
            if not session:
                break
            continue
        out.append(values.get(esc, "") if session or esc in "mtnplcxQeb" else "")
    return "".join(out)


def lines_for(prefix: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    xid = 700
    clock = 1_714_557_600.0
    for s in range(rng.randint(2, 4)):
        pid = rng.randint(1000, 4_000_000)
        start = f"{rng.randint(0x60000000, 0x6FFFFFFF):x}.{pid:x}"
        user, db, app = rng.choice(USERS), rng.choice(DBS), rng.choice(APPS)
        host = f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        for n in range(1, rng.randint(3, 7)):
            clock += rng.random()
            sec = int(clock)
            stamp = f"2024-05-01 10:{(sec // 60) % 60:02d}:{sec % 60:02d}"
            writes = rng.random() < 0.4
            if writes:
                xid += rng.randint(1, 5)
            connecting = n == 1
            values = {
                "m": f"{stamp}.{int(clock * 1000) % 1000:03d} UTC",
                "t": f"{stamp} UTC",
                "n": f"{clock:.3f}",
                "p": str(pid),
                "l": str(n),
                "c": start,
                "x": str(xid if writes else 0),
                "Q": str(rng.choice([0, rng.randint(-(2**63), 2**63 - 1)])),
                "v": f"{s + 3}/{n}",
                "e": "00000",
                "b": "client backend",
                "u": "[unknown]" if connecting else user,
                "d": "[unknown]" if connecting else db,
                "a": "[unknown]" if connecting else app,
                "h": host,
                "r": f"{host}({rng.randint(30000, 60000)})",
            }
            msg = (
                "connection received: host=x port=1"
                if connecting
                else f"duration: 0.{n}00 ms  statement: SELECT {n}"
            )
            lines.append(render(prefix, values, True) + "LOG:  " + msg)
        # a background process between the sessions
        clock += 0.5
        sec = int(clock)
        stamp = f"2024-05-01 10:{(sec // 60) % 60:02d}:{sec % 60:02d}"
        bg = {
            "m": f"{stamp}.500 UTC",
            "t": f"{stamp} UTC",
            "n": f"{clock:.3f}",
            "p": "4242",
            "l": str(s + 1),
            "c": "65a1b2c3.1092",
            "x": "0",
            "Q": "0",
            "e": "00000",
            "b": "checkpointer",
        }
        lines.append(render(prefix, bg, False) + "LOG:  checkpoint starting: time")
    return lines


def check(prefix: str, seed: int) -> None:
    lines = lines_for(prefix, seed)
    inf = infer_prefix(lines)
    assert inf is not None, (prefix, lines[:3])
    real = compile_prefix(prefix)
    got = inf.prefix
    real_meta = real.meta_getter(TimestampParser(lambda _m: None))
    got_meta = got.meta_getter(TimestampParser(lambda _m: None))
    for line in lines:
        a = real.regex.match(line) or (real.slow and real.slow.match(line))
        b = got.regex.match(line) or (got.slow and got.slow.match(line))
        assert a and b, (prefix, got.prefix, line)
        assert real_meta(a) == got_meta(b), (prefix, got.prefix, line)
        assert b.group("msg") == a.group("msg")
    assert inf.matched == inf.considered == len(lines)


# derandomized: inference is a heuristic, and a CI run must not depend on the examples it
# happens to draw (the same test passed 300 examples under each of 20 seeds)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(prefixes(), st.integers(0, 2**32))
def test_inferred_prefix_yields_the_same_fields(prefix: str, seed: int) -> None:
    check(prefix, seed)


# prefixes users reported to pgBadger, pganalyze and cloud providers
REAL_WORLD = [
    "%m [%p] %q%u@%d ",  # Debian/Ubuntu
    "%t [%p-%l] %q%u@%d ",  # older Debian
    "%t [%p]: [%l-1] ",  # pgBadger's minimal
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",  # pgBadger's recommendation
    "%m [%p] usr=%u,db=%d,app=%a ",
    "%m [%p]: [%l-1] db=%d,user=%u ",  # Google Cloud SQL
    "%t:%r:%u@%d:[%p]:",  # Amazon RDS
    "%t-%c-",  # Azure
    "%m [%p][%b][%v][%x] %q[user=%u,db=%d,app=%a] ",  # pganalyze
    "[%t] [%p] [%h] ",
    "< %m > ",
    "user=%u,db=%d,time=%t ",
    "%m [%p] %q%u@%d app=%a ",  # issue 14
    "%m [%p] [queryid=%Q] %q%u@%d ",
    "%t [%p]: [%l-1] [%x] usr=%u,db=%d,appli=%a ",
    "%m|%u|%d|%c|",
    "%m %l app=%a %p ",  # found by the property test: a pid after an application
    "%m [%p] app=%a %u ",
]


@pytest.mark.parametrize("prefix", REAL_WORLD)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_real_world_prefixes(prefix: str, seed: int) -> None:
    check(prefix, seed)
