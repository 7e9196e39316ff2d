"""The aggregated series a page embeds, computed from the JSON report (pure, bounded)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_POINTS", "epoch", "rebucket_timeline", "round_ms"]

#: points a time series on a page has at most (longer ones are merged)
MAX_POINTS = 1_500


def epoch(text: str | None) -> float | None:
    """ISO time (as the JSON reports write it) as epoch seconds; zone-less times are UTC."""
    if not text:
        return None
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


def round_ms(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(float(v), digits)


def rebucket_timeline(
    points: Sequence[Mapping[str, Any]], bucket_s: float, max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """analyze's timeline as dense series (a bucket without statements is 0 calls, no
    p95) of at most ``max_points`` buckets. Merging ``k`` buckets sums calls and total
    time exactly; a p95 cannot be merged, so merged buckets carry the highest p95 of the
    buckets they hold (``p95_merged`` says so)."""
    stamped: list[tuple[float, Mapping[str, Any]]] = []
    for p in points:
        t = epoch(p["start"])
        if t is not None:
            stamped.append((t, p))
    if not stamped or bucket_s <= 0:
        return {
            "t": [],
            "calls": [],
            "total_ms": [],
            "p95_ms": [],
            "bucket_s": bucket_s,
            "p95_merged": False,
        }
    t0 = stamped[0][0]
    span = round((stamped[-1][0] - t0) / bucket_s) + 1
    k = max(1, math.ceil(span / max_points))
    width = bucket_s * k
    n = math.ceil(span / k)
    calls = [0] * n
    total = [0.0] * n
    p95: list[float | None] = [None] * n
    for t, p in stamped:
        i = min(n - 1, round((t - t0) / bucket_s) // k)
        calls[i] += int(p.get("calls") or 0)
        total[i] += float(p.get("total_ms") or 0.0)
        v = p.get("p95_ms")
        if v is not None:
            cur = p95[i]
            p95[i] = v if cur is None else max(cur, v)
    return {
        "t": [t0 + i * width for i in range(n)],
        "calls": calls,
        "total_ms": [round(v, 3) for v in total],
        "p95_ms": [round_ms(v) for v in p95],
        "bucket_s": width,
        "p95_merged": k > 1,
    }
