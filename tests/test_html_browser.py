"""HTML reports in a real browser (headless Chromium through Playwright): no console
error, no network request, every chart drawn with its series, sorting, search and the
time brush change the tables. Screenshots go to PERFKIT_SCREENSHOTS (a directory) when
set: the README's picture, docs/images/analyze-report.png, is this test's analyze-report.png."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from html_workload import write_log

from perfkit.html import render
from perfkit.querylog.aggregate import AnalyzeOptions, analyze
from perfkit.querylog.document import to_document
from perfkit.querylog.stats import decode_cell, window_quantiles
from perfkit.report.render import render_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        sync_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"
    ),
]

DATA = Path(__file__).parent / "data" / "html"
SAMPLES = ("pool", "batch", "check", "coldstart", "explain", "replay", "suggest")
WIDTH = 1280


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Opened:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []


def open_page(
    browser: Browser, path: Path, *, dark: bool = False, reuse: Opened | None = None
) -> Opened:
    if reuse is not None:  # one tab for many pages: a new tab costs seconds on a busy machine
        reuse.errors.clear()
        reuse.requests.clear()
        reuse.page.goto(path.as_uri())
        reuse.page.wait_for_function("window.PK !== undefined")
        return reuse
    page = browser.new_page(
        viewport={"width": WIDTH, "height": 900}, color_scheme="dark" if dark else "light"
    )
    o = Opened(page)
    page.on("console", lambda m: o.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: o.errors.append(str(e)))

    def route(r: Any) -> None:
        if not r.request.url.startswith("file://"):
            o.requests.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_function("window.PK !== undefined")
    return o


def shot(page: Page, name: str, tmp: Path, *, full: bool = True) -> Path:
    target = tmp / f"{name}.png"
    page.screenshot(path=str(target), full_page=full)
    out = os.environ.get("PERFKIT_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, Path(out) / target.name)
    assert target.stat().st_size > 10_000
    return target


DRAWN = """() => Object.keys(PK.charts).map(id => {
  const u = PK.charts[id], c = u.ctx.canvas, d = u.ctx.getImageData(0, 0, c.width, c.height).data;
  let ink = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
  return {id, series: u.series.length - 1, ink, spec: +document.getElementById(id).dataset.series};
})"""


def check_charts(o: Opened, want: list[str] | None = None) -> dict[str, Any]:
    charts = {c["id"]: c for c in o.page.evaluate(DRAWN)}
    specs = {s["id"]: len(s["series"]) for s in o.page.evaluate("PK.specs")}
    for cid, c in charts.items():
        assert c["series"] == specs[cid] == c["spec"], cid
        assert c["ink"] > 500, f"{cid} drew nothing"
    if want is not None:
        assert set(want) <= set(charts), (want, list(charts))
    return charts


@pytest.fixture(scope="module")
def analyze_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("browser")
    write_log(tmp / "two-hours.log")
    here = os.getcwd()
    os.chdir(tmp)  # the page names the log as given: "two-hours.log" (the README's picture)
    try:
        r = analyze(
            ["two-hours.log"],
            AnalyzeOptions(ttls=(1.0, 10.0, 60.0, 300.0)),
            prefix="%m [%p] %u@%d ",
            jobs=1,
        )
    finally:
        os.chdir(here)
    report = json.loads(render_json(to_document(r)))
    path = tmp / "analyze.html"
    path.write_text(render(report))
    return path, report


def rows(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        page.evaluate("""() => Array.from(document.querySelectorAll('#fingerprints tbody tr'))
      .filter(tr => getComputedStyle(tr).display !== 'none')
      .map(tr => ({fid: tr.dataset.fid, calls: +tr.cells[1].dataset.v,
                   total: +tr.cells[2].dataset.v, text: tr.textContent}))""")
    )
    return found


def pcts(page: Page) -> dict[str, tuple[float, float, float, str]]:
    """p50/p95/p99 (data-v) and the p95 text of the visible fingerprint rows."""
    found = page.evaluate("""() => Array.from(document.querySelectorAll('#fingerprints tbody tr'))
      .filter(tr => getComputedStyle(tr).display !== 'none')
      .map(tr => [tr.dataset.fid, +tr.cells[4].dataset.v, +tr.cells[5].dataset.v,
                  +tr.cells[6].dataset.v, tr.cells[5].textContent])""")
    return {f[0]: (f[1], f[2], f[3], f[4]) for f in found}


def test_analyze_page(
    browser: Browser, analyze_page: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, report = analyze_page
    o = open_page(browser, path)
    page = o.page
    charts = check_charts(o, ["chart-stacked", "chart-calls", "chart-ttl"])
    assert charts["chart-stacked"]["series"] == 8 and charts["chart-calls"]["series"] == 2
    shot(page, "analyze-report", tmp_path, full=False)

    # the table starts in total-time order; sorting by calls reorders it
    before = rows(page)
    assert [r["fid"] for r in before] == [f["id"] for f in report["fingerprints"]]
    page.click("#fingerprints th:nth-child(2)")
    by_calls = rows(page)
    assert [r["calls"] for r in by_calls] == sorted((r["calls"] for r in before), reverse=True)
    assert [r["fid"] for r in by_calls] != [r["fid"] for r in before]
    page.click("#fingerprints th:nth-child(2)")  # again: ascending
    assert [r["calls"] for r in rows(page)] == sorted(r["calls"] for r in before)

    # search
    page.fill('input.find[data-table="fingerprints"]', "accounts")
    found = rows(page)
    assert found and all("accounts" in r["text"] for r in found) and len(found) < len(before)
    page.fill('input.find[data-table="fingerprints"]', "")

    # the brush: drag across the stacked chart's plot; the table holds the window's figures
    page.locator("#chart-stacked").scroll_into_view_if_needed()
    over = page.locator("#chart-stacked .u-over").bounding_box()
    assert over is not None
    y = over["y"] + over["height"] / 2
    page.mouse.move(over["x"] + over["width"] * 0.30, y)
    page.mouse.down()
    page.mouse.move(over["x"] + over["width"] * 0.40, y, steps=8)
    page.mouse.up()
    t0, t1 = page.evaluate("PK.window")
    status = page.inner_text("#window-status")
    assert status.startswith("window 2026-01-05 09:"), status
    grid = report["timeline"]["fingerprints"]
    start = page.evaluate("PK.data.window.start")
    i0, i1 = round((t0 - start) / grid["bucket_s"]), round((t1 - start) / grid["bucket_s"])
    assert 0 < i0 < i1 < len(grid["all"]["calls"])
    want = {s["id"]: sum(s["calls"][i0:i1]) for s in grid["series"]}
    windowed = rows(page)
    assert windowed and {r["fid"]: r["calls"] for r in windowed} == {
        k: v for k, v in want.items() if v
    }
    assert sum(r["calls"] for r in windowed) < sum(r["calls"] for r in before)
    # the window's p50/p95/p99: from the merged histograms of the (widened) window,
    # the arithmetic of stats.window_quantiles, marked approximate
    hist = grid["histograms"]
    p0, p1 = page.evaluate("PK.percentileWindow")
    assert p0 <= t0 < t1 <= p1 and "p50/p95/p99 approx. ±5.0% over" in status
    hstart = page.evaluate("PK.data.window.hist.start")
    h0 = round((p0 - hstart) / hist["bucket_s"])
    h1 = round((p1 - hstart) / hist["bucket_s"]) - 1
    cells = {s["id"]: [decode_cell(c) for c in s["cells"]] for s in hist["series"]}
    shown = pcts(page)
    assert shown
    for fid, (p50, p95, p99, text) in shown.items():
        want_q = window_quantiles(
            (h for off, h in cells[fid] if h0 <= off <= h1), (0.5, 0.95, 0.99)
        )
        assert (p50, p95, p99) == pytest.approx(want_q, rel=1e-12), fid
        assert text.startswith("≈")
    whole = {f["id"]: f["p95_ms"] for f in report["fingerprints"]}
    assert any(p95 != pytest.approx(whole[fid], rel=1e-9) for fid, (_, p95, _, _) in shown.items())
    shot(page, "analyze-window", tmp_path, full=False)
    page.click("#window-reset")
    assert rows(page) == sorted(before, key=lambda r: r["calls"])  # sorted as it was
    assert page.inner_text("#window-status") == "whole log"
    assert all(not t.startswith("≈") for *_, t in pcts(page).values())

    # drill-down: a row opens its details and draws its latency histogram
    fid = report["fingerprints"][0]["id"]
    page.click(f'#fingerprints tr[data-fid="{fid}"] td:nth-child(3)')
    assert page.evaluate(f"document.getElementById('fp-{fid}').open")
    check_charts(o, [f"hist-{fid}"])
    assert o.errors == [] and o.requests == []

    # dark theme and print
    dark = open_page(browser, path, dark=True)
    bg = dark.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(21, 22, 26)"
    check_charts(dark)
    shot(dark.page, "analyze-dark", tmp_path, full=False)
    dark.page.emulate_media(media="print")
    assert dark.page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    assert dark.errors == []
    page.close()
    dark.page.close()


@pytest.fixture(scope="module")
def tab(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opened]:
    blank = tmp_path_factory.mktemp("tab") / "blank.html"
    blank.write_text(render({"kind": "demo", "schema_version": 1}))
    o = open_page(browser, blank)
    yield o
    o.page.close()


@pytest.mark.parametrize("name", SAMPLES)
def test_report_pages(browser: Browser, tab: Opened, name: str, tmp_path: Path) -> None:
    report = json.loads((DATA / f"{name}.json").read_text())
    path = tmp_path / f"{name}.html"
    path.write_text(render(report))
    o = open_page(browser, path, reuse=tab)
    expected = {
        "pool": ["chart-throughput", "chart-p50_ms", "chart-p95_ms", "chart-p99_ms"],
        "batch": ["chart-sweep"],
        "check": [f"strip-{i}" for i in range(4)],
        "coldstart": ["chart-runs"],
        "explain": [],
        "replay": ["chart-hits", "chart-saved", "chart-p95"],
        "suggest": ["verify-0", "verify-1"],
    }[name]
    charts = check_charts(o, expected)
    assert len(charts) == len(o.page.evaluate("PK.specs"))
    if name == "coldstart":
        bars = o.page.evaluate("document.querySelectorAll('#icicle rect').length")
        assert bars == len(report["modules"])  # every module is wide enough to draw here
    if name in ("explain",):
        assert o.page.locator(".node.hot").count() >= 1
    # every table sorts: the first numeric column of the first table, descending
    table = o.page.locator("table.pk").first
    if table.locator("th.num").count() and name != "batch":
        table.locator("th.num").first.click()
        assert table.get_attribute("data-sort-dir") == "-1"
    shot(o.page, name, tmp_path, full=False)
    assert o.errors == [] and o.requests == []


def _numbers(o: Opened, tid: str, col: int) -> list[float]:
    found: list[float] = o.page.evaluate(
        f"""() => Array.from(document.querySelectorAll('#{tid} tbody tr'))
          .map(tr => +tr.cells[{col}].dataset.v)"""
    )
    return found


@pytest.mark.parametrize(
    ("name", "want", "table", "col"),
    [
        # storm: 3 series per endpoint (got, refused, peak backends) + the usable slots;
        # backends over time: server, the storm's, max_connections
        (
            "storm",
            {"chart-storm": 7, "chart-backends-primary": 3, "chart-backends-compare": 3},
            "levels",
            5,
        ),
        ("stats", {"chart-top": 1}, "statements", 2),  # calls (the rows are in time order)
    ],
)
def test_live_report_pages(
    browser: Browser,
    tab: Opened,
    tmp_path: Path,
    name: str,
    want: dict[str, int],
    table: str,
    col: int,
) -> None:
    report = json.loads((DATA / f"{name}.json").read_text())
    path = tmp_path / f"{name}.html"
    path.write_text(render(report))
    o = open_page(browser, path, reuse=tab)
    charts = check_charts(o, list(want))
    assert {cid: c["series"] for cid, c in charts.items()} == want
    # a click on a numeric header sorts the table by it, descending, then ascending
    before = _numbers(o, table, col)
    o.page.click(f"#{table} th:nth-child({col + 1})")
    assert _numbers(o, table, col) == sorted(before, reverse=True) != before
    o.page.click(f"#{table} th:nth-child({col + 1})")
    assert _numbers(o, table, col) == sorted(before)
    shot(o.page, name, tmp_path)
    assert o.errors == [] and o.requests == []
