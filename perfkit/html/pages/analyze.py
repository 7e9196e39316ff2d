"""The analyze page: cards, a stacked per-minute timeline with a time brush that
re-slices the tables, the fingerprints table with a drill-down per fingerprint, the
cache TTL sweep, slow queries and the server events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfkit.html.data import epoch, rebucket_timeline
from perfkit.html.frame import (
    Chart,
    Col,
    Section,
    cards,
    chart,
    esc,
    fmt,
    generic,
    page,
    table,
)

__all__ = ["STACKED", "TABLE_ROWS", "events_by_fingerprint", "page_data", "render"]

#: fingerprints stacked in the timeline (the rest is one "other" layer)
STACKED = 7
#: rows of the fingerprints table (the page says how many there were)
TABLE_ROWS = 200
#: fingerprints with a drill-down section
DETAILS = 50


def _ms(v: Any) -> str:
    return "" if v is None else f"{v:,.1f} ms"


def _cache_list(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cache = report.get("cache")
    if cache is None:
        return []
    return list(cache) if isinstance(cache, list) else [cache]


def page_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's script works on: the timeline (dense, <= 1,500 buckets) and the
    per-fingerprint series of the fingerprints the table shows (for the time brush)."""
    tl = report.get("timeline") or {}
    main = rebucket_timeline(tl.get("points") or [], float(tl.get("bucket_s") or 60.0))
    grid = tl.get("fingerprints")
    window: dict[str, Any] | None = None
    if grid:
        start = epoch(grid["start"])
        window = {
            "start": start,
            "bucket_s": grid["bucket_s"],
            "all": {"calls": grid["all"]["calls"], "total_ms": grid["all"]["total_ms"]},
            "series": {
                s["id"]: {"calls": s["calls"], "total_ms": s["total_ms"]} for s in grid["series"]
            },
            "hist": None,
        }
        hist = grid.get("histograms")
        if hist:
            window["hist"] = {
                "start": epoch(hist["start"]),
                "bucket_s": hist["bucket_s"],
                "gamma": hist["gamma"],
                "relative_error": hist["relative_error"],
                "zero": hist["zero_bucket"],
                "series": {s["id"]: s["cells"] for s in hist["series"]},
            }
    return {"timeline": main, "window": window}


def _timeline_charts(data: Mapping[str, Any], fps: Sequence[Mapping[str, Any]]) -> list[Chart]:
    out: list[Chart] = []
    w = data["window"]
    if w is not None and w["all"]["calls"]:
        n = len(w["all"]["calls"])
        xs = [w["start"] + i * w["bucket_s"] for i in range(n)]
        names = {f["id"]: f["query"] for f in fps}
        top = [fid for fid in w["series"]][:STACKED]
        layers = []
        rest = list(w["all"]["total_ms"])
        for fid in top:
            vals = w["series"][fid]["total_ms"]
            rest = [r - v for r, v in zip(rest, vals, strict=True)]
            q = " ".join(str(names.get(fid, "")).split())
            layers.append({"label": f"{fid[:8]} {q[:40]}", "values": vals, "id": fid})
        layers.append(
            {
                "label": "other fingerprints",
                "values": [round(max(r, 0.0), 3) for r in rest],
                "color": "#999999",
            }
        )
        out.append(
            Chart(
                id="chart-stacked",
                title=f"Total time per {fmt_bucket(w['bucket_s'])}, top {len(top)} fingerprints "
                "stacked (drag to choose a time window)",
                x=xs,
                series=layers,
                x_time=True,
                x_label="time (UTC)",
                y_label="ms",
                alt="total time per bucket by fingerprint; the numbers are in the fingerprints table",
                extra={"stacked": True, "brush": True, "height": 300},
            )
        )
    tl = data["timeline"]
    if tl["t"]:
        p95_label = "p95 ms" + (" (highest of the merged buckets)" if tl["p95_merged"] else "")
        out.append(
            Chart(
                id="chart-calls",
                title=f"Calls and p95 per {fmt_bucket(tl['bucket_s'])}",
                x=tl["t"],
                series=[
                    {"label": "calls", "values": tl["calls"], "color": "#0072B2"},
                    {"label": p95_label, "values": tl["p95_ms"], "axis": 1, "color": "#D55E00"},
                ],
                x_time=True,
                x_label="time (UTC)",
                y_label="calls",
                y2_label="p95 ms",
                alt="calls and p95 latency per bucket",
                extra={"brush": True, "height": 220},
            )
        )
    return out


def fmt_bucket(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h" if seconds != 3600 else "hour"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min" if seconds != 60 else "minute"
    return f"{seconds:g} s"


_FP_COLS = (
    Col("id8", "id"),
    Col("calls", "calls", "{:,}", True),
    Col("total_ms", "total ms", "{:,.1f}", True),
    Col("mean_ms", "mean ms", "{:,.2f}", True),
    Col("p50_ms", "p50 ms", "{:,.2f}", True),
    Col("p95_ms", "p95 ms", "{:,.2f}", True),
    Col("p99_ms", "p99 ms", "{:,.2f}", True),
    Col("share", "share", "{:.1%}", True),
    Col("cacheable", "cacheable"),
    Col("query", "query", clip=110),
)


def _fp_table(fps: Sequence[Mapping[str, Any]], has_window: set[str]) -> str:
    rows = [{**f, "id8": f["id"][:8]} for f in fps[:TABLE_ROWS]]
    attrs = [
        f' class="pick" data-fid="{esc(f["id"])}"'
        + (' data-window="1"' if f["id"] in has_window else "")
        for f in rows
    ]
    return table(
        "fingerprints",
        _FP_COLS,
        rows,
        caption="by total time; click a row for its details",
        search=True,
        row_attrs=attrs,
        total=len(fps),
    )


def _histogram_chart(f: Mapping[str, Any]) -> Chart | None:
    bins = f.get("histogram") or []
    if not bins:
        return None

    def label(lo: float, hi: float | None) -> str:
        return f">= {lo:g} ms" if hi is None else f"{lo:g}-{hi:g}"

    return Chart(
        id=f"hist-{f['id']}",
        title="Latency histogram (timed calls per duration bin, ms)",
        x=list(range(len(bins))),
        series=[{"label": "calls", "values": [b[2] for b in bins], "color": "#0072B2"}],
        kind="bars",
        x_label="ms",
        y_label="calls",
        alt="latency histogram: " + "; ".join(f"{label(b[0], b[1])}: {b[2]}" for b in bins if b[2]),
        extra={"xCategories": [label(b[0], b[1]) for b in bins], "height": 200},
    )


def events_by_fingerprint(events: Any) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """Every entry of the events sections that names a fingerprint (temp files, lock
    waits, errors, timeouts, plans and plan changes), as ``(section, entry)`` per id."""
    out: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{path} {k}".strip())
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping) and isinstance(item.get("fingerprint"), str):
                    out.setdefault(item["fingerprint"], []).append((path, item))

    walk(events, "")
    return out


def _details(
    f: Mapping[str, Any],
    slow: Sequence[Mapping[str, Any]],
    events: Sequence[tuple[str, Mapping[str, Any]]],
) -> tuple[str, Chart | None]:
    facts = [
        ("calls", fmt(f.get("calls"))),
        ("timed calls", fmt(f.get("timed_calls"))),
        ("total", _ms(f.get("total_ms"))),
        ("share of all time", fmt(f.get("share"), "{:.2%}")),
        ("mean", _ms(f.get("mean_ms"))),
        (
            "min / p50 / p95 / p99 / max (ms)",
            " / ".join(
                fmt(f.get(k), "{:,.2f}") for k in ("min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
            ),
        ),
        ("percentiles", "exact" if f.get("percentiles_exact") else "sketch (within 1%)"),
        ("first / last", f"{f.get('first_ts') or ''} .. {f.get('last_ts') or ''}"),
        ("kind", fmt(f.get("kind"))),
        ("tables read", fmt(f.get("tables_read"))),
        ("tables written", fmt(f.get("tables_written"))),
        ("cacheable", "yes" if f.get("cacheable") else f"no ({f.get('uncacheable_reason')})"),
        ("databases", fmt(f.get("databases"))),
        ("users", fmt(f.get("users"))),
        ("applications", fmt(f.get("applications"))),
        ("normalizer", fmt(f.get("normalizer"))),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    params = f.get("example_params")
    example = f'<pre class="sql">{esc(f.get("example"))}</pre>' + (
        f"<p class=note>parameters: {esc(', '.join(repr(p) for p in params))}</p>" if params else ""
    )
    hist = _histogram_chart(f)
    parts = [
        f'<dl class="kv">{dl}</dl>',
        "<h4>Normalised query</h4>",
        f'<pre class="sql">{esc(f.get("query"))}</pre>',
        "<h4>Example</h4>",
        example,
    ]
    if hist is not None:
        parts.append(chart(hist))
    cache = f.get("cache") or []
    if cache:
        parts.append("<h4>Cache replay</h4>")
        parts.append(
            table(
                f"cache-{f['id']}",
                (
                    Col("ttl_s", "ttl s", "{:g}", True),
                    Col("lookups", "lookups", "{:,}", True),
                    Col("hits", "hits", "{:,}", True),
                    Col("hit_rate", "hit rate", "{:.1%}", True),
                    Col("saved_ms", "saved ms", "{:,.1f}", True),
                ),
                cache,
                search=False,
            )
        )
    summary = f.get("plans")
    if summary:
        parts.append("<h4>Plans (auto_explain)</h4>")
        parts.append(generic(summary, f"plans-{f['id']}"))
    by_section: dict[str, list[Mapping[str, Any]]] = {}
    for section, entry in events:
        by_section.setdefault(section, []).append(
            {k: v for k, v in entry.items() if k not in ("fingerprint", "query")}
        )
    for n, (section, entries) in enumerate(by_section.items()):
        parts.append(f"<h4>Its events: {esc(section.replace('_', ' '))}</h4>")
        parts.append(generic(entries, f"ev-{f['id']}-{n}"))
    mine = [q for q in slow if q.get("fingerprint") == f["id"]]
    if mine:
        parts.append("<h4>Its slow statements</h4>")
        parts.append(_slow_table(mine, f"slow-{f['id']}"))
    body = "".join(parts)
    head = (
        f"<summary><code>{esc(f['id'][:8])}</code> {esc(_ms(f.get('total_ms')))} in "
        f"{esc(fmt(f.get('calls')))} calls: <code>{esc(' '.join(str(f.get('query')).split())[:120])}"
        "</code></summary>"
    )
    return (
        f'<details class="fp" id="fp-{esc(f["id"])}">{head}{body}</details>',
        hist,
    )


_SLOW_COLS = (
    Col("ts", "time"),
    Col("duration_ms", "ms", "{:,.1f}", True),
    Col("fp8", "fingerprint"),
    Col("database", "database"),
    Col("user", "user"),
    Col("session", "session"),
    Col("statement", "statement", clip=160),
)


def _slow_table(slow: Sequence[Mapping[str, Any]], tid: str, total: int | None = None) -> str:
    rows = []
    for q in slow:
        params = q.get("params")
        tail = f"  -- params: {', '.join(repr(p) for p in params)}" if params else ""
        rows.append(
            {**q, "fp8": str(q.get("fingerprint") or "")[:8], "statement": f"{q['query']}{tail}"}
        )
    attrs = [f' data-ts="{epoch(q.get("ts"))}"' if q.get("ts") else "" for q in slow]
    return table(tid, _SLOW_COLS, rows, row_attrs=attrs, total=total)


def _cache_section(report: Mapping[str, Any]) -> tuple[str, list[Chart]]:
    caches = _cache_list(report)
    note = report.get("cache_note")
    if not caches:
        return f"<p class=note>{esc(note or 'no cache replay')}</p>", []
    cols = (
        Col("ttl_s", "ttl s", "{:g}", True),
        Col("hit_rate", "hit rate", "{:.1%}", True),
        Col("hits", "hits", "{:,}", True),
        Col("misses", "misses", "{:,}", True),
        Col("saved_ms", "saved ms", "{:,.1f}", True),
        Col("saved_share", "saved share", "{:.1%}", True),
        Col("invalidations", "invalidations", "{:,}", True),
        Col("evictions", "evictions", "{:,}", True),
    )
    c = Chart(
        id="chart-ttl",
        title="Cache TTL sweep: hit rate and time saved against TTL",
        x=[x["ttl_s"] for x in caches],
        series=[
            {
                "label": "hit rate %",
                "values": [round(100 * x["hit_rate"], 3) for x in caches],
                "color": "#0072B2",
                "points": True,
            },
            {
                "label": "saved ms",
                "values": [round(x["saved_ms"], 3) for x in caches],
                "axis": 1,
                "color": "#E69F00",
                "points": True,
            },
        ],
        x_label="TTL s",
        y_label="hit rate %",
        y2_label="saved ms",
        x_log=len(caches) > 2 and caches[-1]["ttl_s"] / max(caches[0]["ttl_s"], 1e-9) > 20,
        kind="points" if len(caches) == 1 else "line",
        alt="hit rate and saved time per TTL; the numbers are in the table below",
    )
    body = chart(c) + table("cache", cols, caches, search=False)
    if note:
        body += f"<p class=note>{esc(note)}</p>"
    return body, [c]


def _summary_cards(report: Mapping[str, Any]) -> str:
    s = report.get("summary") or {}
    items = [
        ("statements", fmt(s.get("queries"))),
        ("fingerprints", fmt(s.get("fingerprints"))),
        ("total time", _ms(s.get("total_ms"))),
        (f"slow (>= {fmt(s.get('slow_ms'), '{:g}')} ms)", fmt(s.get("slow_queries"))),
        ("without duration", fmt(s.get("untimed_queries"))),
        ("skipped lines", fmt(s.get("skipped_lines"))),
    ]
    if s.get("first_ts") and s.get("last_ts"):
        items.append(("first", str(s["first_ts"])[:19].replace("T", " ")))
        items.append(("last", str(s["last_ts"])[:19].replace("T", " ")))
    caches = _cache_list(report)
    if caches:
        best = max(caches, key=lambda c: (c["saved_ms"], -c["ttl_s"]))
        items.append((f"cache hit rate (ttl {best['ttl_s']:g}s)", f"{best['hit_rate']:.1%}"))
        items.append(("cache would save", _ms(best["saved_ms"])))
    return cards(items)


_EVENT_TITLES = {
    "temp_files": "Temporary files",
    "locks": "Locks",
    "errors": "Errors",
    "checkpoints": "Checkpoints",
    "autovacuum": "Vacuum and analyze",
    "connections": "Sessions",
    "sessions": "Sessions",
    "plans": "Plans (auto_explain)",
    "categories": "Event categories read",
    "notes": "Notes on the events",
}


def render(report: Mapping[str, Any]) -> str:
    s = report.get("summary") or {}
    fps: list[Mapping[str, Any]] = list(report.get("fingerprints") or [])
    slow: list[Mapping[str, Any]] = list(report.get("slow") or [])
    data = page_data(report)
    window = data["window"]
    has_window = set(window["series"]) if window else set()
    charts = _timeline_charts(data, fps)
    sections: list[Section] = []
    if charts:
        toolbar = (
            '<div class="toolbar"><span id="window-status" role="status">whole log</span>'
            '<button type="button" id="window-reset">show the whole log</button></div>'
        )
        sections.append(
            Section("timeline", "Timeline", toolbar + "".join(chart(c) for c in charts))
        )
    else:
        sections.append(
            Section("timeline", "Timeline", "<p class=note>the input has no timeline</p>")
        )
    hist = window["hist"] if window else None
    pct = (
        "p50/p95/p99 too, from per-fingerprint duration histograms per "
        f"{fmt_bucket(hist['bucket_s'])} (approx. ±{hist['relative_error']:.1%}, marked ≈; "
        "the window is widened to those buckets); the whole log's percentiles are exact "
        "(or within 1% beyond 512 timed calls)"
        if hist
        else "percentiles stay those of the whole log"
    )
    note = (
        "<p class=note>A time window re-slices calls, total, mean and share (and hides "
        f"fingerprints without calls in it) for the {len(has_window)} fingerprints with the "
        f"most total time; {esc(pct)}.</p>"
    )
    sections.append(Section("fingerprints", "Fingerprints", note + _fp_table(fps, has_window)))
    events = report.get("events") or {}
    mine = events_by_fingerprint(events)
    details = []
    for f in fps[:DETAILS]:
        html, hist = _details(f, slow, mine.get(f["id"], ()))
        details.append(html)
        if hist is not None:
            charts.append(hist)
    if details:
        more = (
            f"<p class=note>the {len(details)} fingerprints with the most total time of "
            f"{len(fps):,}</p>"
        )
        sections.append(Section("details", "Fingerprint details", more + "".join(details)))
    cache_body, cache_charts = _cache_section(report)
    charts.extend(cache_charts)
    sections.append(Section("cache", "Cache replay", cache_body))
    slow_total = s.get("slow_queries")
    sections.append(
        Section(
            "slow",
            f"Slow queries (>= {fmt(s.get('slow_ms'), '{:g}')} ms)",
            _slow_table(slow, "slow", total=slow_total if slow_total else None),
        )
    )
    if isinstance(events, Mapping):
        for key, value in events.items():
            key = str(key)
            if value is None:
                continue
            sections.append(
                Section(f"events-{key}", _EVENT_TITLES.get(key) or key, generic(value, f"ev-{key}"))
            )
    about = {
        "files": report.get("files") or [],
        "percentiles": report.get("percentiles") or {},
        "truncated": bool(s.get("truncated")),
    }
    sections.append(Section("about", "About this report", generic(about, "about")))
    span = ""
    if s.get("first_ts"):
        span = f", {str(s['first_ts'])[:19]} .. {str(s.get('last_ts'))[:19]}"
    files = ", ".join(str(f.get("path")) for f in (report.get("files") or [])[:3])
    warnings = list(report.get("warnings") or [])
    if s.get("truncated"):
        warnings.append("the input was truncated: the results cover only what could be read")
    return page(
        kind="analyze",
        title="perfkit analyze",
        subtitle=f"{files}{span}",
        summary=_summary_cards(report),
        sections=sections,
        charts=charts,
        data=data,
        script=_SCRIPT,
        warnings=warnings,
    )


_SCRIPT = r"""
(function () {
  "use strict";
  var W = PK.data.window, table = document.getElementById("fingerprints");
  var status = document.getElementById("window-status");
  var slow = document.getElementById("slow");
  if (table) {
    table.addEventListener("click", function (e) {
      var tr = e.target.closest("tr[data-fid]");
      if (!tr) return;
      var d = document.getElementById("fp-" + tr.getAttribute("data-fid"));
      if (d) { d.open = true; d.scrollIntoView({ block: "start" }); PK.draw(); }
    });
  }
  var COLS = { calls: 1, total: 2, mean: 3, p50: 4, p95: 5, p99: 6, share: 7 };
  var H = W && W.hist;
  /* nearest-rank quantiles of a window's merged duration histograms (the same
     arithmetic as perfkit.querylog.stats.window_quantiles) */
  function windowQuantiles(cells, h0, h1, qs) {
    var merged = {}, n = 0;
    (cells || []).forEach(function (cell) {
      if (cell[0] < h0 || cell[0] > h1) return;
      var j = 0;
      for (var k = 1; k < cell.length; k += 2) {
        j = k === 1 ? cell[k] : j + cell[k];
        merged[j] = (merged[j] || 0) + cell[k + 1];
        n += cell[k + 1];
      }
    });
    if (!n) return qs.map(function () { return null; });
    var order = Object.keys(merged).map(Number).sort(function (a, b) { return a - b; });
    return qs.map(function (q) {
      var rank = Math.max(0, Math.min(n - 1, Math.ceil(q * n) - 1)), seen = 0;
      for (var i = 0; i < order.length; i++) {
        seen += merged[order[i]];
        if (seen > rank) return order[i] === H.zero ? 0 : 2 * Math.pow(H.gamma, order[i]) / (H.gamma + 1);
      }
      return null;
    });
  }
  PK.windowQuantiles = windowQuantiles;
  function setCell(td, v, text) {
    if (!td.hasAttribute("data-orig")) {
      td.setAttribute("data-orig", td.textContent);
      td.setAttribute("data-orig-v", td.getAttribute("data-v"));
    }
    td.setAttribute("data-v", v === null ? "" : String(v));
    td.textContent = text;
  }
  function restore(td) {
    if (!td.hasAttribute("data-orig")) return;
    td.textContent = td.getAttribute("data-orig");
    td.setAttribute("data-v", td.getAttribute("data-orig-v"));
  }
  function sum(a, i0, i1) { var s = 0; for (var i = i0; i <= i1; i++) s += a[i]; return s; }
  function when(t) { return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " "); }
  PK.window = null;
  PK.percentileWindow = null;
  var pctErr = H ? (100 * H.relative_error).toFixed(1) + "%" : "";
  PK.onBrush = function (a, b) {
    if (!W || !table) return;
    var n = W.all.calls.length;
    var i0 = Math.max(0, Math.floor((a - W.start) / W.bucket_s));
    var i1 = Math.min(n - 1, Math.floor((b - W.start) / W.bucket_s));
    if (i1 < i0) return;
    var t0 = W.start + i0 * W.bucket_s, t1 = W.start + (i1 + 1) * W.bucket_s;
    var allCalls = sum(W.all.calls, i0, i1), allMs = sum(W.all.total_ms, i0, i1);
    var topCalls = 0, shown = 0, h0 = 0, h1 = -1;
    if (H) {
      h0 = Math.floor((t0 - H.start) / H.bucket_s);
      h1 = Math.ceil((t1 - H.start) / H.bucket_s) - 1;
    }
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      var s = W.series[tr.getAttribute("data-fid")];
      if (!s) { tr.classList.add("outside"); return; }
      var c = sum(s.calls, i0, i1), ms = sum(s.total_ms, i0, i1);
      topCalls += c;
      tr.classList.toggle("outside", c === 0);
      if (c) shown++;
      setCell(tr.cells[COLS.calls], c, c.toLocaleString("en-US"));
      setCell(tr.cells[COLS.total], ms, ms.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
      setCell(tr.cells[COLS.mean], c ? ms / c : null, c ? (ms / c).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : "");
      setCell(tr.cells[COLS.share], allMs ? ms / allMs : 0, (allMs ? 100 * ms / allMs : 0).toFixed(1) + "%");
      if (H) {
        var qv = windowQuantiles(H.series[tr.getAttribute("data-fid")], h0, h1, [0.5, 0.95, 0.99]);
        ["p50", "p95", "p99"].forEach(function (name, k) {
          var td = tr.cells[COLS[name]];
          setCell(td, qv[k], qv[k] === null ? "" : "\u2248" + qv[k].toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
          td.title = qv[k] === null ? "no timed call in the window" : "approx. \u00b1" + pctErr + " (duration histogram of the window)";
        });
      }
    });
    PK.resort(table);
    if (slow) Array.prototype.forEach.call(slow.tBodies[0].rows, function (tr) {
      var t = parseFloat(tr.getAttribute("data-ts"));
      tr.classList.toggle("outside", !(t >= t0 && t < t1));
    });
    PK.window = [t0, t1];
    PK.percentileWindow = H ? [H.start + h0 * H.bucket_s, H.start + (h1 + 1) * H.bucket_s] : null;
    status.textContent = "window " + when(t0) + " .. " + when(t1) + " UTC: " +
      allCalls.toLocaleString("en-US") + " statements, " +
      allMs.toLocaleString("en-US", { maximumFractionDigits: 1 }) + " ms; " + shown +
      " fingerprints shown; other fingerprints: " + (allCalls - topCalls).toLocaleString("en-US") + " statements" +
      (H ? "; p50/p95/p99 approx. \u00b1" + pctErr + " over " + when(PK.percentileWindow[0]) + " .. " + when(PK.percentileWindow[1]) + " UTC" :
        "; percentiles of the whole log");
  };
  var reset = document.getElementById("window-reset");
  if (reset) reset.addEventListener("click", function () {
    if (!table) return;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      tr.classList.remove("outside");
      Array.prototype.forEach.call(tr.cells, restore);
      [COLS.p50, COLS.p95, COLS.p99].forEach(function (c) { if (tr.cells[c]) tr.cells[c].removeAttribute("title"); });
    });
    if (slow) Array.prototype.forEach.call(slow.tBodies[0].rows, function (tr) { tr.classList.remove("outside"); });
    PK.resort(table);
    Object.keys(PK.charts).forEach(function (id) { PK.charts[id].setSelect({ left: 0, width: 0, top: 0, height: 0 }, false); });
    PK.window = null;
    PK.percentileWindow = null;
    status.textContent = "whole log";
  });
})();
"""
