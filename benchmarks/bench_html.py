"""HTML report: size and opening time of the analyze page of a day-long, 400-fingerprint
report (the scale of a 1 GB log's fingerprints and timeline), in headless Chromium.

    python benchmarks/bench_html.py [--events 100000] [--repeat 5]

Prints the page size, the Python render time and, per opening, the time from navigation
start until every chart is drawn (performance.now() in the page), then the median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from perfkit.html import render
from perfkit.querylog.aggregate import AnalyzeOptions, analyze_events
from perfkit.querylog.document import to_document
from perfkit.querylog.model import LogEvent
from perfkit.report.render import render_json


def report(n: int) -> dict[str, object]:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    step = 86_400 / n
    events = []
    for i in range(n):
        k = i % 50 if i % 4 else 50 + (i // 4) % 350
        events.append(
            LogEvent(
                ts=t0 + dt.timedelta(seconds=i * step),
                query=f"SELECT c{k} FROM wide_table_{k} WHERE id = {i} AND status = 'x{i % 97}'",
                duration_ms=0.1 + (i * 7919 % 1000) / 10,
                source="bench.log",
                line=i + 1,
            )
        )
    r = analyze_events(events, AnalyzeOptions(slow_ms=90, ttls=(1, 10, 60, 300, 3600)))
    return json.loads(render_json(to_document(r)))  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rep = report(args.events)
    t = time.perf_counter()
    page = render(rep)
    render_s = time.perf_counter() - t
    print(f"fingerprints {rep['summary']['fingerprints']}, statements {args.events:,}")  # type: ignore[index]
    print(f"page {len(page.encode()):,} bytes, rendered in {render_s * 1000:.0f} ms")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        path = Path(tmp) / "analyze.html"
        path.write_text(page)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        times = []
        for _ in range(args.repeat):
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.goto(path.as_uri())
            tab.wait_for_function(
                "window.PK && PK.charts['chart-stacked'] && PK.charts['chart-ttl']"
            )
            t = tab.evaluate("PK.timing")
            times.append(t["drawn"])
            print(f"  script start {t['start']:.0f} ms, charts drawn {t['drawn']:.0f} ms")
            tab.close()
        browser.close()
    print("opened (navigation start -> charts drawn), ms:", ", ".join(f"{x:.0f}" for x in times))
    print(f"median {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
