"""Parse ``python -X importtime`` output into an import tree, and write it back.

The interpreter prints one line per module *after* the module finished loading
(post-order), with the nesting depth encoded as indentation::

    import time: self [us] | cumulative | imported package
    import time:       398 |        398 |     xml
    import time:      1099 |       1790 |   xml.dom
    import time:      1227 |       4406 | xml.dom.minidom

Python 3.14's ``-X importtime=2`` adds ``cached`` lines for imports of modules
that were already loaded. CPython prints those with ``%*s`` (the name
right-aligned in a field of ``2 * depth``), so their depth is only exact when
the name is shorter than that field; otherwise the deepest depth consistent
with the lines that follow is used. Cached lines carry no time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from perfkit.errors import InputError

HEADER = "import time: self [us] | cumulative | imported package"
_PREFIX = "import time:"
_TIMED = re.compile(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\| (\s*)(\S+)\s*$")
_CACHED = re.compile(r"import time:\s*cached\s*\|\s*cached\s*\| (\s*)(\S+)\s*$")
_HEADER = re.compile(r"import time:\s*self \[us\]\s*\|")


@dataclass(frozen=True)
class ImportRecord:
    """One ``import time:`` line. Times are microseconds; cached lines have none."""

    name: str
    depth: int
    self_us: int = 0
    cumulative_us: int = 0
    cached: bool = False
    line: int = 0


@dataclass
class ImportNode:
    """A module in the import tree; children in the order they were imported."""

    name: str
    self_us: int
    cumulative_us: int
    cached: bool = False
    children: list[ImportNode] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, ImportNode]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def parse_lines(
    lines: Iterable[str], *, source: str = "<importtime>", first_line: int = 1
) -> list[ImportRecord]:
    """Parse the ``import time:`` lines of a stream; other lines are skipped.

    A target's own stderr output is interleaved with importtime lines, so lines
    without the ``import time:`` marker are ignored. A line *with* the marker
    that does not parse is an :class:`InputError` naming the line.
    """
    raw: list[_Raw] = []
    for number, text in enumerate(lines, start=first_line):
        pos = text.find(_PREFIX)
        if pos < 0:
            continue
        body = text[pos:].rstrip("\r\n")
        if _HEADER.match(body):
            continue
        m = _TIMED.match(body)
        if m:
            raw.append(
                _Raw(len(m.group(3)), m.group(4), int(m.group(1)), int(m.group(2)), False, number)
            )
            continue
        m = _CACHED.match(body)
        if m:
            raw.append(_Raw(len(m.group(1)), m.group(2), 0, 0, True, number))
            continue
        raise InputError(source, f"not an importtime line: {body[:80]!r}", line=number)
    records: list[ImportRecord] = []
    for i, r in enumerate(raw):
        if r.cached:
            depth = _cached_depth(r.indent, r.name, raw[:i], raw[i + 1 :])
        else:
            depth = r.indent // 2
            if r.self_us > r.cumulative_us:
                raise InputError(source, "self time larger than cumulative time", line=r.line)
        records.append(ImportRecord(r.name, depth, r.self_us, r.cumulative_us, r.cached, r.line))
    return records


class _Raw(NamedTuple):
    indent: int
    name: str
    self_us: int
    cumulative_us: int
    cached: bool
    line: int


def _cached_depth(indent: int, name: str, before: Sequence[_Raw], after: Sequence[_Raw]) -> int:
    """Depth of a ``cached`` line (see the module docstring).

    A cached line printed at depth k sits between the last finished module (depth
    <= k: anything deeper would still be loading) and its parent (the first later
    line at depth k-1, with nothing shallower than k in between). Among the depths
    that satisfy both, and the field-width bound of the name, the shallowest wins.
    """
    prev = next((r.indent // 2 for r in reversed(before) if not r.cached), 0)
    feasible = {0}
    lowest: int | None = None
    for rec in after:
        if rec.cached:
            continue
        d = rec.indent // 2
        if lowest is None or d < lowest:
            lowest = d
            feasible.add(d + 1)
        if lowest == 0:
            break
    exact = (indent + len(name)) // 2 if indent > 0 else None
    if exact is not None and exact in feasible and exact >= prev:
        return exact
    bound = exact if exact is not None else len(name) // 2
    fits = sorted(k for k in feasible if prev <= k <= bound)
    if fits:
        return fits[0]
    return max(k for k in feasible if k <= max(bound, 0)) if bound >= 0 else 0


def parse_text(text: str, *, source: str = "<importtime>") -> list[ImportRecord]:
    """Parse a whole importtime capture; it must contain at least one import line."""
    records = parse_lines(text.splitlines(), source=source)
    if not any(not r.cached for r in records):
        raise InputError(
            source,
            "no 'import time:' lines found: not the stderr of `python -X importtime`",
        )
    return records


def parse_runs(text: str, *, source: str = "<importtime>") -> list[list[ImportRecord]]:
    """Split a log holding several processes' output (a header line starts each) into runs.

    Lines may carry prefixes (CloudWatch timestamps, request ids): only the part from
    ``import time:`` on is read. Runs without timed lines are dropped.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.search(line)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    runs: list[list[ImportRecord]] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        records = parse_lines(lines[start:end], source=source, first_line=start + 1)
        if any(not r.cached for r in records):
            runs.append(records)
    if not runs:
        raise InputError(
            source,
            "no 'import time:' lines found: not the stderr of `python -X importtime`",
        )
    return runs


def build_tree(
    records: Sequence[ImportRecord], *, source: str = "<importtime>"
) -> list[ImportNode]:
    """Turn post-order records into root nodes (the top-level imports, in order)."""
    pending: dict[int, list[ImportNode]] = {}
    for rec in records:
        node = ImportNode(rec.name, rec.self_us, rec.cumulative_us, rec.cached)
        if not rec.cached:
            node.children = pending.pop(rec.depth + 1, [])
            deeper = [d for d in pending if d > rec.depth + 1]
            if deeper:
                raise InputError(
                    source,
                    f"import tree is inconsistent at {rec.name!r} (depth jumps)",
                    line=rec.line,
                )
        pending.setdefault(rec.depth, []).append(node)
    roots = pending.pop(0, [])
    if pending:
        # Lines of modules whose parent never finished: the process died mid-import.
        depth = min(pending)
        raise InputError(
            source,
            f"import tree is incomplete: {pending[depth][0].name!r} at depth {depth} has no parent "
            "line (the process stopped during an import, or the capture is truncated)",
        )
    return roots


def format_records(records: Iterable[ImportRecord], *, header: bool = True) -> str:
    """Write records the way CPython does (used for round-trip tests and fixtures)."""
    out = [HEADER] if header else []
    for r in records:
        if r.cached:
            out.append(f"import time: cached    | cached     | {r.name:>{r.depth * 2}}")
        else:
            out.append(
                f"import time: {r.self_us:9d} | {r.cumulative_us:10d} | {'  ' * r.depth}{r.name}"
            )
    return "\n".join(out) + "\n"


def tree_records(roots: Sequence[ImportNode]) -> list[ImportRecord]:
    """Post-order records of a tree (the inverse of :func:`build_tree`)."""
    out: list[ImportRecord] = []

    def visit(node: ImportNode, depth: int) -> None:
        for child in node.children:
            visit(child, depth + 1)
        out.append(ImportRecord(node.name, depth, node.self_us, node.cumulative_us, node.cached))

    for root in roots:
        visit(root, 0)
    return out
