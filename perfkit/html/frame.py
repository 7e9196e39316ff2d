"""The page frame every HTML report shares, and its building blocks (pure functions).

A page is a header, summary cards, a navigation bar and sections; tables are real
``<table>`` elements (sortable, searchable by ``assets/perfkit.js``), charts are uPlot
charts drawn from a spec embedded as JSON, each with a text alternative (the numbers are
in a table on the page). Light and dark themes follow the system; the palette is
Okabe-Ito (readable with the common colour-vision deficiencies); print CSS drops the
interactive parts.
"""

from __future__ import annotations

import html as _html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "PALETTE",
    "Chart",
    "Col",
    "Section",
    "cards",
    "chart",
    "esc",
    "fmt",
    "generic",
    "page",
    "table",
]

#: Okabe-Ito colours (blue, orange, bluish green, vermillion, sky blue, reddish purple,
#: yellow, grey)
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#999999")

#: a table gets a search box when it has more rows than this
SEARCH_ROWS = 10

#: rows a generic table shows at most (the page says how many there were)
GENERIC_ROWS = 200


@cache
def asset(name: str) -> str:
    return (resources.files("perfkit.html") / "assets" / name).read_text(encoding="utf-8")


def esc(value: Any) -> str:
    return _html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, spec: str = "") -> str:
    """A value as a table cell's text: numbers with ``spec`` (or a sensible default)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return ""
        if spec:
            return spec.format(value)
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    return str(value)


@dataclass(frozen=True)
class Col:
    """A table column: ``key`` into each row, a header, a number format (``{:,.1f}``)
    and whether the value is a number (right-aligned, sorted numerically)."""

    key: str
    header: str
    spec: str = ""
    numeric: bool = False
    clip: int = 0  # cut long text to this many characters (the full text is the title)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    body: str


@dataclass(frozen=True)
class Chart:
    """A uPlot chart: ``x`` values and named series (``axis`` 1 is the right-hand axis),
    drawn by ``PK.chart`` in assets/perfkit.js."""

    id: str
    title: str
    x: Sequence[Any]
    series: Sequence[Mapping[str, Any]]
    x_label: str = ""
    y_label: str = ""
    y2_label: str = ""
    x_time: bool = False
    x_log: bool = False
    kind: str = "line"  # line | points | bars
    alt: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "x": list(self.x),
            "series": [dict(s) for s in self.series],
            "xLabel": self.x_label,
            "yLabel": self.y_label,
            "y2Label": self.y2_label,
            "xTime": self.x_time,
            "xLog": self.x_log,
            "kind": self.kind,
            **self.extra,
        }


def chart(c: Chart) -> str:
    """The chart's place on the page (drawn from the page's embedded chart specs)."""
    alt = c.alt or f"{c.title}: the numbers are in the table below"
    return (
        f'<figure class="chart"><figcaption>{esc(c.title)}</figcaption>'
        f'<div class="plot" id="{esc(c.id)}" role="img" aria-label="{esc(alt)}"></div>'
        "</figure>"
    )


def cards(items: Iterable[tuple[str, str]]) -> str:
    body = "".join(
        f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="cards">{body}</div>'


def table(
    tid: str,
    columns: Sequence[Col],
    rows: Sequence[Mapping[str, Any]],
    *,
    caption: str = "",
    search: bool | None = None,
    row_attrs: Sequence[str] | None = None,
    total: int | None = None,
) -> str:
    """A sortable (click a header) table, with a search box when ``search`` (by default
    when it has more than :data:`SEARCH_ROWS` rows). ``total``: how many rows there were
    when ``rows`` is a part (the caption says so)."""
    head = "".join(
        f'<th scope="col"{" class=num" if c.numeric else ""} data-col="{i}">{esc(c.header)}</th>'
        for i, c in enumerate(columns)
    )
    body = []
    for n, r in enumerate(rows):
        cells = []
        for c in columns:
            v = r.get(c.key)
            text = fmt(v, c.spec)
            if c.numeric:
                sort = "" if not isinstance(v, (int, float)) or isinstance(v, bool) else repr(v)
                cells.append(f'<td class=num data-v="{esc(sort)}">{esc(text)}</td>')
            elif c.clip and len(text) > c.clip:
                cut = " ".join(text.split())[: c.clip - 1] + "\u2026"
                cells.append(f'<td title="{esc(text)}"><code>{esc(cut)}</code></td>')
            else:
                cells.append(
                    f"<td>{'<code>' if c.clip else ''}{esc(text)}{'</code>' if c.clip else ''}</td>"
                )
        attrs = row_attrs[n] if row_attrs is not None else ""
        body.append(f"<tr{attrs}>{''.join(cells)}</tr>")
    shown = len(rows)
    count = (
        f"{shown:,} rows"
        if total is None or total == shown
        else f"{shown:,} of {total:,} rows shown"
    )
    cap = f"{caption} ({count})" if caption else count
    finder = (
        f'<input type="search" class="find" data-table="{esc(tid)}" '
        f'placeholder="search" aria-label="search {esc(caption or tid)}">'
        if rows and (search or (search is None and len(rows) > SEARCH_ROWS))
        else ""
    )
    empty = "" if rows else '<p class="empty">none</p>'
    return (
        f'<div class="tablebox">{finder}<table class="pk" id="{esc(tid)}">'
        f"<caption>{esc(cap)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{empty}</div>"
    )


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> list[Col]:
    keys: dict[str, bool] = {}
    for r in rows[:50]:
        for k, v in r.items():
            numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
            keys[k] = keys.get(k, True) and (numeric or v is None)
    return [Col(k, k.replace("_", " "), numeric=num, clip=120) for k, num in keys.items()]


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (json.dumps(v, ensure_ascii=False) if isinstance(v, Mapping) else v)
        for k, v in row.items()
    }


def generic(obj: Any, tid: str, depth: int = 0) -> str:
    """Any JSON value as HTML: scalars of an object as a definition list, lists of
    objects as tables (at most :data:`GENERIC_ROWS` rows, the caption says of how many),
    nested objects as sub-headings."""
    if isinstance(obj, Mapping):
        scalars = [(k, v) for k, v in obj.items() if not isinstance(v, (Mapping, list))]
        nested = [(k, v) for k, v in obj.items() if isinstance(v, (Mapping, list))]
        out = []
        if scalars:
            items = "".join(
                f"<dt>{esc(k.replace('_', ' '))}</dt><dd>{esc(fmt(v))}</dd>" for k, v in scalars
            )
            out.append(f'<dl class="kv">{items}</dl>')
        level = min(depth + 3, 6)
        for k, v in nested:
            if isinstance(v, list) and not v:
                continue
            out.append(f"<h{level}>{esc(k.replace('_', ' '))}</h{level}>")
            out.append(generic(v, f"{tid}-{k}", depth + 1))
        return "".join(out)
    if isinstance(obj, list):
        if obj and all(isinstance(r, Mapping) for r in obj):
            rows = [_flat(r) for r in obj[:GENERIC_ROWS]]
            return table(tid, _columns_of(rows), rows, total=len(obj))
        if obj and all(isinstance(r, list) for r in obj):
            # (name, count) pairs, as the events' by-reason lists are
            names = ("name", "count") if all(len(r) == 2 for r in obj) else ()
            rows = [
                {names[i] if names else str(i): v for i, v in enumerate(r)}
                for r in obj[:GENERIC_ROWS]
            ]
            return table(tid, _columns_of(rows), rows, total=len(obj))
        return f"<p>{esc(fmt(obj))}</p>"
    return f"<p>{esc(fmt(obj))}</p>"


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")  # no "</script>" or "<!--" inside the element


def page(
    *,
    kind: str,
    title: str,
    subtitle: str = "",
    summary: str = "",
    sections: Sequence[Section] = (),
    charts: Sequence[Chart] = (),
    data: Mapping[str, Any] | None = None,
    script: str = "",
    warnings: Sequence[str] = (),
) -> str:
    """The whole page: one file, every asset inlined."""
    # sections are "sec-<id>": their ids never clash with the tables' and charts' ids
    nav = "".join(f'<a href="#sec-{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="sec-{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections
    )
    warn = "".join(f'<p class="warn" role="note">warning: {esc(w)}</p>' for w in warnings)
    specs = _script_json([c.spec() for c in charts])
    payload = _script_json(dict(data or {}))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="perfkit">
<title>{esc(title)}</title>
<!-- Charts: uPlot {UPLOT_VERSION} (https://github.com/leeoniya/uPlot), MIT licence, inlined
below; its licence text: perfkit/html/assets/uPlot-LICENSE.txt -->
<style>{asset("uPlot.min.css")}</style>
<style>{asset("perfkit.css")}</style>
</head><body data-kind="{esc(kind)}">
<header><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p></header>
<nav aria-label="sections">{nav}</nav>
<main>{warn}{summary}{body}</main>
<footer>perfkit {esc(kind)} report. Charts drawn with uPlot (MIT licence). Every figure
comes from the JSON report.</footer>
<script type="application/json" id="pk-charts">{specs}</script>
<script type="application/json" id="pk-data">{payload}</script>
<script>{asset("uPlot.iife.min.js")}</script>
<script>{asset("perfkit.js")}</script>
<script>{script}</script>
</body></html>
"""


UPLOT_VERSION = "1.6.32"
