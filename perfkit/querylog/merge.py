"""``perfkit merge``: the report of one ``analyze`` run from saved partials
(:mod:`perfkit.querylog.partial`)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

from perfkit.errors import InputError
from perfkit.querylog.accumulator import RangeTotals, RunAccumulator
from perfkit.querylog.aggregate import AnalyzeOptions, AnalyzeResult, FileSummary, build_result
from perfkit.querylog.partial import PartialInput, partial_files, read_partial
from perfkit.querylog.readers import SAMPLE_LIMIT

__all__ = ["merge_partials"]


def _in_window(t: RangeTotals, since: float | None, until: float | None) -> bool | None:
    """True: inside the window; False: outside; None: it straddles an edge."""
    if t.first_f == math.inf:  # no timestamps
        return since is None and until is None
    lo, hi = t.first_f, t.last_f
    if (since is not None and hi < since) or (until is not None and lo >= until):
        return False
    if (since is not None and lo < since) or (until is not None and hi >= until):
        return None
    return True


def merge_partials(
    paths: Sequence[Path],
    *,
    options: AnalyzeOptions | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    server: str | None = None,
) -> AnalyzeResult:
    """The report of one ``analyze`` run over the inputs the partials were read from.

    Partials are taken in time order (their first statement; ties by file name). With
    ``since``/``until``, partials wholly inside the window are taken, those outside are
    left out, and one that straddles an edge is taken whole with a warning: a window is
    as fine as the partials (keep one per hour to report any hour). ``options`` gives the
    cache replay's settings (TTLs, entries); the slow-statement threshold and limit are
    the partials' own (they kept no statement below theirs).
    """
    from dataclasses import replace

    loaded = []
    for p in partial_files(paths):
        src, totals = read_partial(p)
        if server is None or src.server == server:
            loaded.append((_order(src), str(p), src, totals))
    if not loaded:
        where = f" of server {server!r}" if server is not None else ""
        raise InputError(", ".join(map(str, paths)), f"no partials{where} to merge")
    servers = sorted({src.server for _, _, src, _ in loaded})
    if len(servers) > 1:
        raise InputError(
            ", ".join(map(str, paths)),
            f"partials of {len(servers)} servers ({', '.join(servers)}): the cache replay "
            "is per server; merge one at a time with --server NAME",
        )
    kept = {(src.slow_ms, src.slow_limit) for _, _, src, _ in loaded}
    if len(kept) > 1:
        raise InputError(
            ", ".join(map(str, paths)),
            "partials written with different --slow-ms/--slow-limit cannot be merged",
        )
    slow_ms, slow_limit = kept.pop()
    opts = replace(
        options or AnalyzeOptions(), slow_ms=slow_ms, slow_limit=slow_limit, events=frozenset()
    )
    lo = None if since is None else since.timestamp()
    hi = None if until is None else until.timestamp()
    notes: list[str] = []
    chosen = []
    for item in sorted(loaded, key=lambda x: (x[0], x[1])):
        inside = _in_window(item[3], lo, hi)
        if inside is False:
            continue
        if inside is None:
            notes.append(
                f"{item[1]}: spans an edge of the window; taken whole "
                f"({_iso(item[3].first)} to {_iso(item[3].last)})"
            )
        chosen.append(item)
    if not chosen:
        raise InputError(", ".join(map(str, paths)), "no partial falls in the window")
    acc = RunAccumulator(opts, has_timeline=all(s.has_timeline for _, _, s, _ in chosen))
    files: list[FileSummary] = []
    samples: list[tuple[str, int, str]] = []
    skipped = 0
    # as one run tells them: every input's opening notes, then what reading them told
    warnings = [w for _, _, src, _ in chosen for w in src.plan_warnings]
    for _, _, src, totals in chosen:
        acc.merge(totals)
        if src.range == 0:
            files.append(
                FileSummary(src.path, src.format, src.prefix, src.prefix_inferred, src.compression)
            )
        warnings.extend(src.warnings)
        samples.extend(src.skipped_samples)
        skipped += src.skipped_lines
    return build_result(
        acc,
        skipped_lines=skipped,
        files=tuple(files),
        warnings=tuple(warnings + notes),
        skipped_samples=tuple(samples[:SAMPLE_LIMIT]),
        has_timeline=acc.has_timeline,
        truncated=any(s.truncated for _, _, s, _ in chosen),
    )


def _iso(t: dt.datetime | None) -> str:
    return "no times" if t is None else t.isoformat()


def _order(src: PartialInput) -> tuple[float, str, int, int]:
    """Inputs by their first statement's time (then as their run read them), the ranges
    of an input in file order."""
    return (math.inf if src.order is None else src.order, src.run, src.index, src.range)
