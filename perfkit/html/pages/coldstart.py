"""The coldstart page: the import tree as an icicle (click a bar to zoom in, the top
bar to zoom out), the runs, the lazy-load candidates and the baseline comparison."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.html.frame import Chart, Col, Section, cards, chart, fmt, page, table
from perfkit.html.parts import rest_section

__all__ = ["icicle", "render"]


def _node(n: Mapping[str, Any], project: set[str]) -> dict[str, Any]:
    return {
        "n": n["name"],
        "s": n.get("self_ms") or 0.0,
        "c": n.get("cumulative_ms") or 0.0,
        "p": n["name"] in project,
        "k": [_node(c, project) for c in n.get("children") or []],
    }


def icicle(report: Mapping[str, Any]) -> dict[str, Any]:
    """The import tree the icicle draws (median times, as in the JSON's ``tree``)."""
    project = {m["name"] for m in report.get("modules") or [] if m.get("project")}
    tree = list(report.get("tree") or [])
    lazy = sorted(
        {c["module"] for c in report.get("candidates") or [] if (c.get("saving_ms") or 0) > 0}
    )
    if len(tree) == 1:
        root = _node(tree[0], project)
    else:  # several top-level imports (a package, then its module): a synthetic root
        root = {
            "n": report.get("module") or report.get("target"),
            "s": 0.0,
            "c": round(sum(n.get("cumulative_ms") or 0.0 for n in tree), 3),
            "p": True,
            "k": [_node(n, project) for n in tree],
        }
    return {"root": root, "lazy": lazy}


def render(report: Mapping[str, Any]) -> str:
    imp = report.get("import_ms") or {}
    runs = list(report.get("runs") or [])
    sections: list[Section] = []
    legend = (
        '<p class="legend"><span class="sw" style="background:#E69F00"></span>third-party / '
        'stdlib <span class="sw" style="background:#0072B2"></span>project module '
        '<span class="sw" style="background:#D55E00"></span>lazy-load candidate</p>'
    )
    has_tree = bool(report.get("tree"))
    if has_tree:
        sections.append(
            Section(
                "icicle",
                "Import tree (median ms; click a bar to zoom in, the top bar to zoom out)",
                legend + '<svg id="icicle" width="100%" role="img" aria-label="import tree; '
                'the numbers are in the modules table"></svg><div id="tip"></div>',
            )
        )
    charts = []
    if runs:
        c = Chart(
            "chart-runs",
            "Import time per run (ms)",
            x=list(range(1, len(runs) + 1)),
            series=[
                {"label": "import ms", "values": [r.get("import_ms") for r in runs]},
                {
                    "label": "process wall ms",
                    "values": [r.get("wall_ms") for r in runs],
                    "color": "#999999",
                },
            ],
            kind="points",
            x_label="run",
            y_label="ms",
            alt="import and wall time per run; the numbers are in the runs table",
            extra={"height": 200},
        )
        charts.append(c)
        sections.append(
            Section(
                "runs",
                "Runs",
                chart(c)
                + table(
                    "runs",
                    (
                        Col("n", "run", "{:d}", True),
                        Col("import_ms", "import ms", "{:,.1f}", True),
                        Col("wall_ms", "wall ms", "{:,.1f}", True),
                        Col("cpu_ms", "cpu ms", "{:,.1f}", True),
                        Col("modules", "modules", "{:,}", True),
                        Col("first_call_ms", "first call ms", "{:,.1f}", True),
                        Col("second_call_ms", "warm call ms", "{:,.1f}", True),
                    ),
                    [{"n": i + 1, **r} for i, r in enumerate(runs)],
                    search=False,
                ),
            )
        )
    mods = [
        {
            **m,
            "self": (m.get("self_ms") or {}).get("median"),
            "cumulative": (m.get("cumulative_ms") or {}).get("median"),
        }
        for m in report.get("modules") or []
    ]
    sections.append(
        Section(
            "modules",
            "Modules",
            table(
                "modules",
                (
                    Col("name", "module"),
                    Col("parent", "imported by"),
                    Col("depth", "depth", "{:d}", True),
                    Col("self", "self ms", "{:,.2f}", True),
                    Col("cumulative", "cumulative ms", "{:,.2f}", True),
                    Col("project", "project"),
                ),
                mods,
            ),
        )
    )
    cands = list(report.get("candidates") or [])
    if report.get("analyzed") or cands:
        sections.append(
            Section(
                "candidates",
                "Lazy-load candidates",
                table(
                    "candidates",
                    (
                        Col("module", "module"),
                        Col("saving_ms", "saves ms", "{:,.1f}", True),
                        Col("file", "file"),
                        Col("line", "line", "{:d}", True),
                        Col("statement", "import", clip=100),
                        Col("fix", "fix", clip=120),
                    ),
                    [{**c, "fix": (c.get("fix") or {}).get("text")} for c in cands],
                ),
            )
        )
    rest = rest_section(report, ("runs", "modules", "candidates", "tree", "kept"))
    if rest:
        sections.append(rest)
    items = [
        ("median import", fmt(imp.get("median"), "{:,.1f} ms")),
        ("min / max", f"{fmt(imp.get('min'), '{:,.1f}')} / {fmt(imp.get('max'), '{:,.1f}')} ms"),
        ("modules", fmt(report.get("module_count"))),
        ("runs", fmt(len(runs))),
    ]
    if report.get("total_saving_ms") is not None and cands:
        items.append(
            ("deferring all candidates saves", fmt(report["total_saving_ms"], "{:,.1f} ms"))
        )
    base = report.get("baseline")
    if isinstance(base, Mapping) and base.get("verdict"):
        items.append(("against the baseline", str(base["verdict"])))
    return page(
        kind="coldstart",
        title=f"cold start of {report.get('target')}",
        subtitle=f"Python {report.get('python_version') or '?'}, {len(runs)} runs, median times",
        summary=cards(items),
        sections=sections,
        charts=charts,
        data={"icicle": icicle(report)} if has_tree else {},
        script=_ICICLE if has_tree else "",
        warnings=list(report.get("warnings") or []),
    )


_ICICLE = r"""
(function () {
  "use strict";
  var DATA = PK.data.icicle, lazy = new Set(DATA.lazy);
  var ROW = 18, svg = document.getElementById("icicle"), tip = document.getElementById("tip");
  var NS = "http://www.w3.org/2000/svg", stack = [DATA.root];
  function depth(n) { var d = 0; n.k.forEach(function (k) { d = Math.max(d, depth(k)); }); return d + 1; }
  function color(n) { return lazy.has(n.n) ? "#D55E00" : n.p ? "#0072B2" : "#E69F00"; }
  function draw() {
    var top = stack[stack.length - 1], W = svg.clientWidth || 1000;
    svg.innerHTML = ""; svg.setAttribute("height", depth(top) * ROW + 4);
    var scale = W / Math.max(top.c, 1e-9);
    function place(n, x, y) {
      var w = n.c * scale; if (w < 0.5) return;
      var g = document.createElementNS(NS, "g"), r = document.createElementNS(NS, "rect");
      r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", Math.max(w - 1, 0.5));
      r.setAttribute("height", ROW - 2); r.setAttribute("fill", color(n)); r.setAttribute("rx", 2);
      r.setAttribute("fill-opacity", n.p || lazy.has(n.n) ? 0.9 : 0.75);
      var title = document.createElementNS(NS, "title");
      title.textContent = n.n + ": cumulative " + n.c.toFixed(2) + " ms, self " + n.s.toFixed(2) + " ms";
      g.appendChild(title); g.appendChild(r);
      if (w > 40) {
        var t = document.createElementNS(NS, "text");
        t.setAttribute("x", x + 3); t.setAttribute("y", y + 12);
        t.setAttribute("style", "font:11px monospace;pointer-events:none;fill:#000");
        t.textContent = (n.n + " " + n.c.toFixed(1) + "ms").slice(0, Math.floor(w / 7));
        g.appendChild(t);
      }
      g.addEventListener("click", function () {
        if (n === top && stack.length > 1) stack.pop(); else if (n !== top) stack.push(n);
        draw();
      });
      svg.appendChild(g);
      var cx = x;
      n.k.forEach(function (k) { place(k, cx, y + ROW); cx += k.c * scale; });
    }
    place(top, 0, 0);
    svg.setAttribute("data-drawn", "1");
  }
  window.addEventListener("resize", draw); draw();
})();
"""
