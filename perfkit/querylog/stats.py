"""Streaming statistics for query durations: percentiles in bounded memory.

:class:`DurationDigest` keeps the exact values of the first :data:`EXACT_LIMIT`
observations (percentiles are exact below that), then switches to a log-bucketed
histogram (the DDSketch construction) whose quantiles have a relative error of at most
:data:`RELATIVE_ERROR` (1%): every reported value ``v`` satisfies
``|v - true| <= 0.01 * true`` for the rank's true value. Memory is bounded by the
number of buckets spanned by the data (about 230 per factor of 10 of range, i.e. at
most ~2,800 for durations from 1 µs to 1 h), never by the number of observations.

Percentiles use the nearest-rank definition: the ``q`` quantile of ``n`` values is the
``ceil(q * n)``-th smallest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "EXACT_LIMIT",
    "HISTOGRAM_EDGES_MS",
    "RELATIVE_ERROR",
    "WINDOW_GAMMA",
    "WINDOW_MERGE",
    "WINDOW_RELATIVE_ERROR",
    "WINDOW_ZERO",
    "DurationDigest",
    "FingerprintHistograms",
    "FingerprintSeries",
    "Timeline",
    "TimelinePoint",
    "decode_cell",
    "window_quantiles",
]

RELATIVE_ERROR = 0.01
EXACT_LIMIT = 512

_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_INV_LOG_GAMMA = 1 / math.log(_GAMMA)
_ceil = math.ceil
_log = math.log
# Durations at or below this (ms) share one bucket, reported as 0 (below log precision).
_MIN_MS = 1e-6


#: Bin edges (ms) of :meth:`DurationDigest.histogram`: 0, then 1-2-5 steps from 1 µs to 1 h.
HISTOGRAM_EDGES_MS: tuple[float, ...] = (
    0.0,
    *(m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5) if m * 10.0**e <= 3_600_000),
)

#: Bucket of durations too small to bucket logarithmically (reported as 0).
ZERO_INDEX = -(2**31)


def bucket_index(ms: float) -> int:
    """The histogram bucket of ``ms``: bucket ``i`` holds (gamma^(i-1), gamma^i]."""
    return _ceil(_log(ms) * _INV_LOG_GAMMA) if ms > _MIN_MS else ZERO_INDEX


#: The time brush's histograms merge this many consecutive :class:`DurationDigest`
#: buckets: window bucket ``j`` holds buckets ``WINDOW_MERGE * (j - 1) + 1 ..
#: WINDOW_MERGE * j``, i.e. durations in (G^(j-1), G^j] with G = :data:`WINDOW_GAMMA`.
WINDOW_MERGE = 5
WINDOW_GAMMA = _GAMMA**WINDOW_MERGE
#: Relative error of a quantile read from those histograms (the representative value
#: ``2 G^j / (G + 1)`` is within this of every value in its bucket): about 5%.
WINDOW_RELATIVE_ERROR = (WINDOW_GAMMA - 1) / (WINDOW_GAMMA + 1)
#: Window bucket of durations too small to bucket logarithmically (reported as 0).
WINDOW_ZERO = -(-ZERO_INDEX // WINDOW_MERGE)


def window_value(j: int) -> float:
    """The representative duration (ms) of window histogram bucket ``j``."""
    return 0.0 if j == WINDOW_ZERO else 2 * WINDOW_GAMMA**j / (WINDOW_GAMMA + 1)


def decode_cell(cell: Sequence[int]) -> tuple[int, dict[int, int]]:
    """``(bucket offset, {window bucket: count})`` of one cell as the JSON encodes it:
    ``[offset, first bucket, count, bucket delta, count, ...]`` (buckets ascending)."""
    counts: dict[int, int] = {}
    j = 0
    for k in range(1, len(cell), 2):
        j = cell[k] if k == 1 else j + cell[k]
        counts[j] = cell[k + 1]
    return cell[0], counts


def window_quantiles(
    histograms: Iterable[Mapping[int, int]], qs: tuple[float, ...]
) -> tuple[float | None, ...]:
    """Nearest-rank quantiles of the merged (summed) window histograms, each within
    :data:`WINDOW_RELATIVE_ERROR` of the true value: what the analyze page computes for
    a time window (the same arithmetic as its script)."""
    merged: dict[int, int] = {}
    for h in histograms:
        for j, c in h.items():
            merged[j] = merged.get(j, 0) + c
    n = sum(merged.values())
    if n == 0:
        return tuple(None for _ in qs)
    order = sorted(merged)
    out: list[float | None] = []
    for q in qs:
        k, seen = _rank(q, n), 0
        for j in order:
            seen += merged[j]
            if seen > k:
                out.append(window_value(j))
                break
    return tuple(out)


def _rank(q: float, n: int) -> int:
    """0-based nearest rank of quantile ``q`` among ``n`` values."""
    return max(0, min(n - 1, math.ceil(q * n) - 1))


class DurationDigest:
    """Count, sum, min, max and quantiles of a stream of non-negative durations (ms)."""

    __slots__ = ("_buckets", "_exact", "count", "max", "min", "total")

    def __init__(self, exact_limit: int = EXACT_LIMIT) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._exact: list[float] | None = [] if exact_limit > 0 else None
        self._buckets: dict[int, int] = {}

    def add(self, ms: float, index: int | None = None) -> None:
        """Add one duration; ``index`` is :func:`bucket_index` (``ms``) if already known."""
        self.count += 1
        self.total += ms
        if ms < self.min:
            self.min = ms
        if ms > self.max:
            self.max = ms
        exact = self._exact
        if exact is not None:
            exact.append(ms)
            if len(exact) > EXACT_LIMIT:
                self._exact = None
                for v in exact:
                    self._bucket(bucket_index(v))
            return
        if index is None:
            index = bucket_index(ms)
        b = self._buckets
        b[index] = b.get(index, 0) + 1

    def add_many(self, values: Sequence[float]) -> None:
        """Add many values at once; the same result as ``add`` for each, vectorised with
        numpy once the digest holds buckets (simulators add millions of latencies)."""
        n = len(values)
        if n == 0:
            return
        exact = self._exact
        if exact is not None:
            if len(exact) + n <= EXACT_LIMIT:
                for v in values:
                    self.add(v)
                return
            self._exact = None
            for v in exact:
                self._bucket(bucket_index(v))
        import numpy as np

        a = np.asarray(values, dtype=float)
        idx = np.where(
            a > _MIN_MS, np.ceil(np.log(np.maximum(a, _MIN_MS)) * _INV_LOG_GAMMA), ZERO_INDEX
        ).astype(np.int64)
        keys, counts = np.unique(idx, return_counts=True)
        b = self._buckets
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            b[k] = b.get(k, 0) + c
        self.count += n
        self.total += float(a.sum())
        self.min = min(self.min, float(a.min()))
        self.max = max(self.max, float(a.max()))

    def _bucket(self, i: int) -> None:
        b = self._buckets
        b[i] = b.get(i, 0) + 1

    @property
    def exact(self) -> bool:
        return self._exact is not None

    def quantile(self, q: float) -> float | None:
        if self.count == 0:
            return None
        k = _rank(q, self.count)
        if self._exact is not None:
            return sorted(self._exact)[k]
        seen = 0
        for i in sorted(self._buckets):
            seen += self._buckets[i]
            if seen > k:
                value = 0.0 if i == ZERO_INDEX else 2 * _GAMMA**i / (_GAMMA + 1)
                # The extremes are known exactly; never report outside them.
                return min(max(value, self.min), self.max)
        return self.max

    def histogram(self) -> tuple[tuple[float, float | None, int], ...]:
        """``(low, high, count)`` per bin of :data:`HISTOGRAM_EDGES_MS` (``high`` None:
        unbounded), from the first to the last bin with a value. Exact below
        :data:`EXACT_LIMIT` values; beyond that each sketch bucket counts at its
        representative value (within :data:`RELATIVE_ERROR` of every value it holds)."""
        if self.count == 0:
            return ()
        from bisect import bisect_right

        edges = HISTOGRAM_EDGES_MS
        counts = [0] * len(edges)
        if self._exact is not None:
            for v in self._exact:
                counts[bisect_right(edges, v) - 1] += 1
        else:
            for i, n in self._buckets.items():
                v = 0.0 if i == ZERO_INDEX else 2 * _GAMMA**i / (_GAMMA + 1)
                v = min(max(v, self.min), self.max)
                counts[bisect_right(edges, v) - 1] += n
        used = [k for k, n in enumerate(counts) if n]
        lo, hi = used[0], used[-1]
        return tuple(
            (edges[k], edges[k + 1] if k + 1 < len(edges) else None, counts[k])
            for k in range(lo, hi + 1)
        )

    def quantiles(self, qs: tuple[float, ...]) -> tuple[float | None, ...]:
        if self._exact is not None and self.count:
            values = sorted(self._exact)
            return tuple(values[_rank(q, self.count)] for q in qs)
        return tuple(self.quantile(q) for q in qs)

    def merge(self, other: DurationDigest) -> None:
        """Add what ``other`` counted (exactly while ``self`` stays under its exact limit)."""
        if other._exact is not None:
            for v in other._exact:
                self.add(v)
            return
        if self._exact is not None:
            exact, self._exact = self._exact, None
            for v in exact:
                self._bucket(bucket_index(v))
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        for i, n in other._buckets.items():
            self._buckets[i] = self._buckets.get(i, 0) + n


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    start: float  # epoch seconds of the bucket start
    calls: int
    timed_calls: int
    total_ms: float
    p95_ms: float | None


# a bucket's histogram row before it is linked (never written: its generation is -1)
_NO_ROW: dict[str, dict[int, int]] = {}


class _Bucket:
    __slots__ = ("calls", "digest", "fps", "gen", "hgen", "hrow")

    def __init__(self) -> None:
        self.calls = 0
        self.digest = DurationDigest(exact_limit=0)
        # the fingerprint grid's row of the same time span, while both grids are equal
        # (valid while ``gen`` is the timeline's generation): one dict lookup per statement
        self.fps: dict[str, list[float]] | None = None
        self.gen = -1
        # the histogram grid's row holding this bucket (valid while ``hgen`` is the
        # timeline's histogram generation)
        self.hrow: dict[str, dict[int, int]] = _NO_ROW
        self.hgen = -1


@dataclass(frozen=True, slots=True)
class FingerprintSeries:
    """One fingerprint's calls and total time per bucket of a :class:`Timeline`'s
    fingerprint grid (``bucket_s`` wide, bucket ``i`` starting at ``start + i * bucket_s``)."""

    fingerprint: str
    calls: tuple[int, ...]
    total_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FingerprintHistograms:
    """One fingerprint's durations per bucket of a :class:`Timeline`'s histogram grid:
    ``cells`` holds ``(bucket offset, ((window bucket, count), ...))`` for the buckets with
    a timed statement, window buckets ascending (see :data:`WINDOW_MERGE`)."""

    fingerprint: str
    cells: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]


class Timeline:
    """Calls and p95 per time bucket (60 s; doubled while there are more than
    ``max_buckets`` buckets, so a log spanning months stays bounded).

    Beside it, calls and total time per fingerprint per bucket of a second grid (60 s,
    doubled while there are more than ``max_fp_cells`` (bucket, fingerprint) cells), so
    a report can show which fingerprints make up a minute and re-slice by time; its
    memory is bounded by ``max_fp_cells``, never by the number of statements.

    With ``histograms``, a third grid (60 s, doubled while it spans more than
    ``max_hist_buckets`` buckets or holds more than ``max_hist_entries`` histogram
    entries while it has more than one bucket) counts each fingerprint's timed
    statements per window bucket (:data:`WINDOW_MERGE` digest buckets merged), so a report
    can give a time window's percentiles within :data:`WINDOW_RELATIVE_ERROR`.
    """

    __slots__ = (
        "_buckets",
        "_fp",
        "_fp_cells",
        "_gen",
        "_hgen",
        "_hist",
        "_hist_entries",
        "_hist_hi",
        "_hist_lo",
        "bucket_s",
        "fp_bucket_s",
        "hist_bucket_s",
        "histograms",
        "max_buckets",
        "max_fp_cells",
        "max_hist_buckets",
        "max_hist_entries",
    )

    def __init__(
        self,
        bucket_s: float = 60.0,
        max_buckets: int = 10_080,
        max_fp_cells: int = 300_000,
        histograms: bool = True,
        max_hist_buckets: int = 300,
        max_hist_entries: int = 1_000_000,
    ) -> None:
        self.bucket_s = bucket_s
        self.max_buckets = max_buckets
        self._buckets: dict[int, _Bucket] = {}
        self.fp_bucket_s = bucket_s
        self.max_fp_cells = max_fp_cells
        # fingerprint grid: bucket index -> fingerprint -> [calls, total ms]
        self._fp: dict[int, dict[str, list[float]]] = {}
        self._fp_cells = 0
        self._gen = 0  # bumped whenever either grid coarsens (links to rows go stale)
        # histogram grid: bucket index -> fingerprint -> window bucket -> timed calls
        self.histograms = histograms
        self.hist_bucket_s = bucket_s
        self.max_hist_buckets = max_hist_buckets
        self.max_hist_entries = max_hist_entries
        self._hist: dict[int, dict[str, dict[int, int]]] = {}
        self._hist_entries = 0
        self._hist_lo = self._hist_hi = 0
        self._hgen = 0  # bumped whenever the histogram grid or the timeline coarsens

    def add(
        self, ts: float, ms: float | None, index: int | None = None, fingerprint: str | None = None
    ) -> None:
        idx = int(ts // self.bucket_s)
        b = self._buckets.get(idx)
        if b is None:
            if len(self._buckets) >= self.max_buckets:
                self._coarsen()
                idx = int(ts // self.bucket_s)
                b = self._buckets.get(idx)
            if b is None:
                b = self._buckets[idx] = _Bucket()
        b.calls += 1
        if ms is not None:
            # DurationDigest.add for a bucket-only digest, inlined: once per statement
            d = b.digest
            d.count += 1
            d.total += ms
            if ms < d.min:
                d.min = ms
            if ms > d.max:
                d.max = ms
            if index is None:
                index = bucket_index(ms)
            counts = d._buckets
            counts[index] = counts.get(index, 0) + 1
        if fingerprint is not None:
            if ms is not None and self.histograms:
                hrow = b.hrow if b.hgen == self._hgen else self._hist_row(ts, b)
                h = hrow.get(fingerprint)
                if h is None:
                    h = hrow[fingerprint] = {}
                k = -(-index // WINDOW_MERGE)  # type: ignore[operator]
                n = h.get(k)
                if n is None:
                    h[k] = 1
                    self._hist_entries += 1
                    if self._hist_entries > self.max_hist_entries:
                        self._coarsen_hist()
                else:
                    h[k] = n + 1
            # the same grid as the timeline's until the cell bound coarsens it
            row = b.fps if b.gen == self._gen else None
            cell = row.get(fingerprint) if row is not None else None
            if cell is None:
                self._add_fingerprint(b, ts, ms, fingerprint)
                return
            cell[0] += 1
            if ms is not None:
                cell[1] += ms

    def _add_fingerprint(self, b: _Bucket, ts: float, ms: float | None, fingerprint: str) -> None:
        """Count one statement in the fingerprint grid (a new cell, or a bucket not linked
        to its row yet)."""
        while True:
            fidx = int(ts // self.fp_bucket_s)
            row = self._fp.setdefault(fidx, {})
            cell = row.get(fingerprint)
            if cell is None:
                if self._fp_cells >= self.max_fp_cells and len(self._fp) > 1:
                    self._coarsen_fp()
                    continue
                cell = row[fingerprint] = [0, 0.0]
                self._fp_cells += 1
            cell[0] += 1
            if ms is not None:
                cell[1] += ms
            if self.fp_bucket_s == self.bucket_s:
                b.fps, b.gen = row, self._gen
            return

    def _hist_row(self, ts: float, b: _Bucket) -> dict[str, dict[int, int]]:
        """The histogram grid's row of time ``ts`` (made, coarsening the grid while it
        would span more than ``max_hist_buckets``), linked to the timeline's bucket ``b``
        when that lies inside it (one attribute lookup for its next statements)."""
        while True:
            hidx = int(ts // self.hist_bucket_s)
            row = self._hist.get(hidx)
            if row is not None:
                break
            if not self._hist:
                self._hist_lo = self._hist_hi = hidx
            lo, hi = min(self._hist_lo, hidx), max(self._hist_hi, hidx)
            if hi - lo + 1 > self.max_hist_buckets:
                self._halve_hist()
                continue
            self._hist_lo, self._hist_hi = lo, hi
            row = self._hist[hidx] = {}
            break
        if self.hist_bucket_s >= self.bucket_s:  # both 60 s doubled: b lies inside the row
            b.hrow, b.hgen = row, self._hgen
        return row

    def _halve_hist(self) -> None:
        self._hist, self._hist_entries = _halve_histograms(self._hist)
        self.hist_bucket_s *= 2
        self._hist_lo //= 2
        self._hist_hi //= 2
        self._hgen += 1

    def _coarsen_hist(self) -> None:
        if len(self._hist) > 1:
            self._halve_hist()
        else:  # one bucket: as many entries as the fingerprints' own digests hold
            self.max_hist_entries *= 2

    def _coarsen(self) -> None:
        merged: dict[int, _Bucket] = {}
        for idx, b in sorted(self._buckets.items()):
            m = merged.get(idx // 2)
            if m is None:
                merged[idx // 2] = b
            else:
                m.calls += b.calls
                m.digest.merge(b.digest)
        self._buckets = merged
        self.bucket_s *= 2
        self._gen += 1
        self._hgen += 1

    def _coarsen_fp(self) -> None:
        self._fp, self._fp_cells = _halve(self._fp)
        self.fp_bucket_s *= 2
        self._gen += 1

    def points(self) -> list[TimelinePoint]:
        return [
            TimelinePoint(
                start=idx * self.bucket_s,
                calls=b.calls,
                timed_calls=b.digest.count,
                total_ms=b.digest.total,
                p95_ms=b.digest.quantile(0.95),
            )
            for idx, b in sorted(self._buckets.items())
        ]

    def fingerprint_series(
        self, fingerprints: Sequence[str], max_points: int = 1_500
    ) -> tuple[float, float, FingerprintSeries, tuple[FingerprintSeries, ...]]:
        """``(start, bucket_s, all, series)``: the fingerprint grid as dense series from
        the first to the last bucket with a statement, buckets merged (exactly: sums)
        until there are at most ``max_points``; ``all`` sums every fingerprint, ``series``
        holds ``fingerprints`` in that order."""
        grid, bucket_s = self._fp, self.fp_bucket_s
        if not grid:
            return 0.0, bucket_s, FingerprintSeries("", (), ()), ()
        while max(grid) - min(grid) + 1 > max_points:
            grid, _ = _halve(grid)
            bucket_s *= 2
        first = min(grid)
        n = max(grid) - first + 1
        wanted = {fid: i for i, fid in enumerate(fingerprints)}
        calls = [[0] * n for _ in range(len(wanted) + 1)]
        total = [[0.0] * n for _ in range(len(wanted) + 1)]
        everything = len(wanted)
        for idx, row in grid.items():
            j = idx - first
            for fid, (c, t) in row.items():
                calls[everything][j] += int(c)
                total[everything][j] += t
                k = wanted.get(fid)
                if k is not None:
                    calls[k][j] = int(c)
                    total[k][j] = t
        series = tuple(
            FingerprintSeries(fid, tuple(calls[k]), tuple(total[k])) for fid, k in wanted.items()
        )
        every = FingerprintSeries("", tuple(calls[everything]), tuple(total[everything]))
        return first * bucket_s, bucket_s, every, series

    def fingerprint_histograms(
        self, fingerprints: Sequence[str], max_points: int = 300, max_entries: int = 100_000
    ) -> tuple[float, float, tuple[FingerprintHistograms, ...]]:
        """``(start, bucket_s, histograms)`` of ``fingerprints`` (in that order) on the
        histogram grid, buckets merged (exactly: counts summed) until the grid spans at
        most ``max_points`` buckets and ``fingerprints`` hold at most ``max_entries``
        histogram entries (a bounded report)."""
        wanted = set(fingerprints)
        grid = {
            idx: {fid: h for fid, h in row.items() if fid in wanted}
            for idx, row in self._hist.items()
        }
        grid = {idx: row for idx, row in grid.items() if row}
        bucket_s = self.hist_bucket_s
        if not grid:
            return 0.0, bucket_s, ()
        entries = sum(len(h) for row in grid.values() for h in row.values())
        while len(grid) > 1 and (max(grid) - min(grid) + 1 > max_points or entries > max_entries):
            grid, entries = _halve_histograms(grid)
            bucket_s *= 2
        first = min(grid)
        cells: dict[str, list[tuple[int, tuple[tuple[int, int], ...]]]] = {
            fid: [] for fid in fingerprints
        }
        for idx in sorted(grid):
            for fid, h in grid[idx].items():
                cells[fid].append((idx - first, tuple(sorted(h.items()))))
        return (
            first * bucket_s,
            bucket_s,
            tuple(FingerprintHistograms(fid, tuple(c)) for fid, c in cells.items()),
        )


def _halve_histograms(
    grid: dict[int, dict[str, dict[int, int]]],
) -> tuple[dict[int, dict[str, dict[int, int]]], int]:
    """Merge each pair of adjacent buckets of a histogram grid (exactly: counts summed);
    the new number of entries."""
    merged: dict[int, dict[str, dict[int, int]]] = {}
    entries = 0
    for idx in sorted(grid):
        row = merged.setdefault(idx // 2, {})
        for fid, h in grid[idx].items():
            into = row.get(fid)
            if into is None:
                row[fid] = dict(h)
            else:
                for k, n in h.items():
                    into[k] = into.get(k, 0) + n
    for row in merged.values():
        for h in row.values():
            entries += len(h)
    return merged, entries


def _halve(
    grid: dict[int, dict[str, list[float]]],
) -> tuple[dict[int, dict[str, list[float]]], int]:
    """Merge each pair of adjacent buckets of a fingerprint grid; the new cell count."""
    merged: dict[int, dict[str, list[float]]] = {}
    cells = 0
    for idx in sorted(grid):
        row = merged.setdefault(idx // 2, {})
        for fid, (calls, total) in grid[idx].items():
            cell = row.get(fid)
            if cell is None:
                row[fid] = [calls, total]
                cells += 1
            else:
                cell[0] += calls
                cell[1] += total
    return merged, cells


def _merge(into: DurationDigest, other: DurationDigest) -> None:
    if other._exact is not None:
        for v in other._exact:
            into.add(v)
        return
    if into._exact is not None:
        exact, into._exact = into._exact, None
        for v in exact:
            into._bucket(bucket_index(v))
    into.count += other.count
    into.total += other.total
    into.min = min(into.min, other.min)
    into.max = max(into.max, other.max)
    for i, n in other._buckets.items():
        into._buckets[i] = into._buckets.get(i, 0) + n
