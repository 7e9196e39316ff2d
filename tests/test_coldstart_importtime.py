"""The -X importtime parser: real captures, 3.14 `cached` lines, round trips, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.coldstart.importtime import (
    ImportNode,
    ImportRecord,
    build_tree,
    format_records,
    parse_lines,
    parse_text,
    tree_records,
)
from perfkit.errors import InputError

CLASSIC = """\
import time: self [us] | cumulative | imported package
import time:       398 |        398 |     xml
import time:       295 |        295 |     xml.dom.domreg
import time:      1099 |       1790 |   xml.dom
import time:       278 |        278 |   xml.dom.minicompat
import time:      1227 |       4406 | xml.dom.minidom
"""

# Python 3.14 `-X importtime=2`: CPython prints the name of a cached import with "%*s",
# right-aligned in a field of 2 * depth characters.
PY314 = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 |     _json
import time: cached    | cached     |   io
import time:       200 |        320 |   json.scanner
import time: cached    | cached     | re
import time:       300 |        620 | json.decoder
import time: cached    | cached     | json.decoder
import time:        50 |         50 | app
"""


def _shape(nodes: list[ImportNode]) -> list[object]:
    return [(n.name, n.self_us, n.cumulative_us, _shape(n.children)) for n in nodes]


def test_classic_capture_builds_the_nested_tree() -> None:
    roots = build_tree(parse_text(CLASSIC))
    assert _shape(roots) == [
        ("xml.dom.minidom", 1227, 4406, [
            ("xml.dom", 1099, 1790, [("xml", 398, 398, []), ("xml.dom.domreg", 295, 295, [])]),
            ("xml.dom.minicompat", 278, 278, []),
        ]),
    ]  # fmt: skip


def test_py314_cached_lines_carry_no_time_and_nest_where_they_belong() -> None:
    records = parse_text(PY314)
    # "  io": right-aligned in 2*2 columns -> depth 2 exactly; "re" fills the 2 columns of
    # depth 1; "json.decoder" is too long to tell and follows a depth-0 line -> depth 0.
    assert [(r.name, r.depth) for r in records if r.cached] == [
        ("io", 2),
        ("re", 1),
        ("json.decoder", 0),
    ]
    roots = build_tree(records)
    assert [(r.name, r.cached) for r in roots] == [
        ("json.decoder", False),
        ("json.decoder", True),
        ("app", False),
    ]
    scanner = roots[0].children[0]
    assert [(c.name, c.cached) for c in roots[0].children] == [
        ("json.scanner", False),
        ("re", True),
    ]
    assert [(c.name, c.cached, c.cumulative_us) for c in scanner.children] == [
        ("_json", False, 120),
        ("io", True, 0),
    ]


def test_a_real_capture_of_this_interpreter_parses() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import json, email.message"],
        capture_output=True,
        text=True,
        check=True,
    )
    roots = build_tree(parse_text(proc.stderr))
    names = {n.name for root in roots for _, n in root.walk()}
    assert {"json", "email.message", "site"} <= names
    for root in roots:
        for _, node in root.walk():
            # CPython truncates to whole microseconds per line
            parts = node.self_us + sum(c.cumulative_us for c in node.children)
            assert abs(node.cumulative_us - parts) <= 1 + len(node.children)


def test_interleaved_program_output_is_skipped() -> None:
    text = "hello from the target\n" + CLASSIC + "WARNING: something\n"
    assert len(parse_text(text)) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no 'import time:' lines found"),
        ("Traceback (most recent call last):\nValueError: x\n", "no 'import time:' lines found"),
        ('{"json": true}\n', "no 'import time:' lines found"),
        ("import time: lots | of | garbage here\n", "x.log:1: not an importtime line"),
        ("import time:   5 |   3 | m\n", "x.log:1: self time larger than cumulative time"),
        ("import time:   5 |   5 |   child\n", "x.log: import tree is incomplete"),
    ],
)
def test_garbage_is_a_clear_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        build_tree(parse_text(text, source="x.log"), source="x.log")
    assert str(info.value).startswith(message) or message in str(info.value)


_names = st.lists(st.text("abcdxyz_", min_size=1, max_size=5), min_size=1, max_size=3).map(".".join)


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> ImportNode:
    name = draw(_names)
    children = (
        draw(st.lists(_trees(depth=depth + 1), max_size=3 if depth < 3 else 0)) if depth < 4 else []
    )
    self_us = draw(st.integers(0, 10**7))
    return ImportNode(
        name, self_us, self_us + sum(c.cumulative_us for c in children), False, children
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(_trees(), min_size=1, max_size=4))
def test_round_trip_of_generated_trees(roots: list[ImportNode]) -> None:
    text = format_records(tree_records(roots))
    assert _shape(build_tree(parse_text(text))) == _shape(roots)


@settings(max_examples=60, deadline=None)
@given(st.lists(_trees(), min_size=1, max_size=3), st.data())
def test_cached_lines_never_break_the_timed_tree(
    roots: list[ImportNode], data: st.DataObject
) -> None:
    records = tree_records(roots)
    # insert `cached` lines (3.14) at random places, at a depth valid at that point
    out: list[ImportRecord] = []
    for rec in records:
        if data.draw(st.booleans()):
            name = data.draw(_names)
            out.append(ImportRecord(name, rec.depth, cached=True))
        out.append(rec)
    parsed = parse_text(format_records(out))
    timed = [r for r in parsed if not r.cached]
    assert [(r.name, r.depth, r.self_us, r.cumulative_us) for r in timed] == [
        (r.name, r.depth, r.self_us, r.cumulative_us) for r in records
    ]
    rebuilt = build_tree(parsed)

    def strip(nodes: list[ImportNode]) -> list[ImportNode]:
        return [
            ImportNode(n.name, n.self_us, n.cumulative_us, False, strip(n.children))
            for n in nodes
            if not n.cached
        ]

    assert _shape(strip(rebuilt)) == _shape(roots)
    assert sorted(n.name for r in rebuilt for _, n in r.walk() if n.cached) == sorted(
        r.name for r in out if r.cached
    )


def test_lines_are_parsed_one_at_a_time() -> None:
    records = parse_lines(iter(CLASSIC.splitlines()))
    assert [r.line for r in records] == [2, 3, 4, 5, 6]


def test_cli_reads_saved_logs_with_prefixes(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = Path("lambda.log")
    # two processes, CloudWatch-style prefixes, one noise line
    runs = [CLASSIC, CLASSIC.replace("1227 |       4406", "1627 |       4806")]
    log.write_text(
        "START RequestId: 1\n"
        + "".join(f"2026-11-25T10:00:00Z {line}\n" for run in runs for line in run.splitlines())
    )
    r = cli("coldstart", "--importtime-log", str(log), "--top", "3")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        f"cold start of {log} (from importtime logs)\n"
        "import: median 4.6 ms (min 4.4, max 4.8) over 2 runs, 5 modules\n"
        "   cum ms  self ms                            module\n"
        "      4.6      1.4  ████████████████████████  xml.dom.minidom\n"
        "      1.8      1.1  █████████                 └─ xml.dom\n"
        "      0.4      0.4  ██                           └─ xml\n"
    )
    r = cli("coldstart", "--importtime-log", str(log), "--format", "csv", "--top", "2")
    assert r.stdout.splitlines() == [
        "module,parent,cumulative_ms,cumulative_min_ms,cumulative_max_ms,self_ms,self_min_ms,"
        "self_max_ms,share_pct",
        "xml.dom.minidom,,4.606,4.406,4.806,1.427,1.227,1.627,100.0",
        "xml.dom,xml.dom.minidom,1.79,1.79,1.79,1.099,1.099,1.099,38.86",
    ]


def test_cli_log_errors_name_the_file_and_line(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text("hello\nimport time: 12 | x | y\n")
    r = cli("coldstart", "--importtime-log", str(bad))
    assert r.exit_code == 2
    assert (
        r.stderr == f"perfkit: error: {bad}:2: not an importtime line: 'import time: 12 | x | y'\n"
    )
    empty = tmp_path / "empty.log"
    empty.write_text("nothing to see\n")
    r = cli("coldstart", "--importtime-log", str(empty))
    assert r.exit_code == 2
    assert r.stderr == (
        f"perfkit: error: {empty}: no 'import time:' lines found: not the stderr of "
        "`python -X importtime`\n"
    )
