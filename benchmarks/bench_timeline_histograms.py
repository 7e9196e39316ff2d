"""Cost of the time brush's duration histograms (issue 18) in analyze's hot loop:
1,000,000 ``Timeline.add`` calls over 40 fingerprints, with and without the histogram
grid, alternated; CPU time per statement.

python benchmarks/bench_timeline_histograms.py --repeat 7
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from perfkit.querylog.stats import Timeline, bucket_index


def run(events: list[tuple[float, float, int, str]], histograms: bool) -> float:
    tl = Timeline(histograms=histograms)
    add = tl.add
    t = time.process_time()
    for ts, d, bi, f in events:
        add(ts, d, bi, f)
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--statements", type=int, default=1_000_000)
    args = ap.parse_args()
    rng = random.Random(1)
    events = []
    for i in range(args.statements):
        d = rng.random() * 10
        events.append((1e9 + i * 0.01, d, bucket_index(d), f"fp{i % 40}"))
    without, with_ = [], []
    per = 1e9 / args.statements
    for _ in range(args.repeat):
        a, b = run(events, False), run(events, True)
        without.append(a)
        with_.append(b)
        print(f"without {a * per:.0f} ns, with {b * per:.0f} ns: +{(b - a) * per:.0f} ns")
    paired = statistics.median(b - a for a, b in zip(without, with_, strict=True))
    print(
        f"median without {statistics.median(without) * per:.0f} ns, with "
        f"{statistics.median(with_) * per:.0f} ns, median paired +{paired * per:.0f} ns "
        "per statement"
    )


if __name__ == "__main__":
    main()
