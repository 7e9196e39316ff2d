"""The pg_stat_statements interval page (``perfkit analyze --from-stats``): the interval
and whether the delta is complete (a PARTIAL delta says why, at the top), the statements
as a sortable, searchable table and the top ones by total execution time as bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfkit.html.frame import PALETTE, Chart, Col, Section, cards, chart, esc, fmt, page, table
from perfkit.html.parts import rest_section

__all__ = ["TOP_BARS", "render", "rows_of", "top_by_time"]

#: statements the bar chart shows (the table has every one)
TOP_BARS = 15

_USED = (
    "source",
    "complete",
    "problems",
    "notes",
    "start",
    "end",
    "covered_from",
    "seconds",
    "reset_at",
    "evictions",
    "entries_gone",
    "server_version_num",
    "settings",
    "database",
    "transactions",
    "database_transactions",
    "calls",
    "total_exec_ms",
    "statements",
)


def _m(row: Mapping[str, Any], part: str, key: str) -> Any:
    m = row.get(part)
    return m.get(key) if isinstance(m, Mapping) else None


def _sum(row: Mapping[str, Any], *keys: str) -> float | None:
    known = [row[k] for k in keys if isinstance(row.get(k), (int, float))]
    return sum(known) if known else None


def rows_of(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements as table rows (the JSON's figures, flattened)."""
    out = []
    for s in report.get("statements") or []:
        out.append(
            {
                **s,
                "where": f"{s.get('database') or s.get('dbid')}/{s.get('user') or s.get('userid')}",
                "exec_total": _m(s, "exec", "total_ms"),
                "exec_mean": _m(s, "exec", "mean_ms"),
                "exec_stddev": _m(s, "exec", "stddev_ms"),
                "plan_total": _m(s, "plan", "total_ms"),
                "plan_mean": _m(s, "plan", "mean_ms"),
                "local": _sum(s, "local_blks_read", "local_blks_written"),
                "temp": _sum(s, "temp_blks_read", "temp_blks_written"),
                "read_ms": _sum(s, "blk_read_time", "temp_blk_read_time"),
                "write_ms": _sum(s, "blk_write_time", "temp_blk_write_time"),
                "state": s.get("status")
                if s.get("toplevel", True)
                else f"{s.get('status')}, nested",
            }
        )
    return out


def top_by_time(rows: Sequence[Mapping[str, Any]], n: int = TOP_BARS) -> list[Mapping[str, Any]]:
    """The ``n`` statements with the most execution time over the interval."""
    timed = [r for r in rows if isinstance(r.get("exec_total"), (int, float))]
    return sorted(timed, key=lambda r: -float(r["exec_total"]))[:n]


_COLS = (
    Col("fingerprint", "id"),
    Col("where", "db/user"),
    Col("calls", "calls", "{:,}", True),
    Col("calls_per_s", "calls/s", "{:,.2f}", True),
    Col("exec_total", "total exec ms", "{:,.2f}", True),
    Col("exec_mean", "mean ms", "{:,.3f}", True),
    Col("exec_stddev", "stddev ms", "{:,.3f}", True),
    Col("plan_total", "plan ms", "{:,.2f}", True),
    Col("plan_mean", "plan mean ms", "{:,.3f}", True),
    Col("rows", "rows", "{:,.0f}", True),
    Col("state", "status"),
    Col("query", "query", clip=90),
)
_IO_COLS = (
    Col("fingerprint", "id"),
    Col("shared_blks_hit", "blocks hit", "{:,.0f}", True),
    Col("shared_blks_read", "blocks read", "{:,.0f}", True),
    Col("shared_blks_dirtied", "dirtied", "{:,.0f}", True),
    Col("shared_blks_written", "written", "{:,.0f}", True),
    Col("local", "local r/w", "{:,.0f}", True),
    Col("temp", "temp r/w", "{:,.0f}", True),
    Col("wal_bytes", "WAL bytes", "{:,.0f}", True),
    Col("read_ms", "I/O read ms", "{:,.2f}", True),
    Col("write_ms", "I/O write ms", "{:,.2f}", True),
    Col("query", "query", clip=60),
)
#: columns left out when no statement has a figure in them (not tracked on this server)
_OPTIONAL = {"plan_total", "plan_mean", "local", "temp", "wal_bytes", "read_ms", "write_ms"}


def render(report: Mapping[str, Any]) -> str:
    rows = rows_of(report)
    complete = report.get("complete") is True
    problems = [str(p) for p in report.get("problems") or []]
    settings = report.get("settings") or {}

    def tracked(cols: Sequence[Col]) -> tuple[Col, ...]:
        return tuple(
            c for c in cols if c.key not in _OPTIONAL or any(r.get(c.key) is not None for r in rows)
        )

    top = top_by_time(rows)
    charts: list[Chart] = []
    if top:
        charts.append(
            Chart(
                "chart-top",
                f"Top {len(top)} statements by total execution time (ms) over the interval",
                x=list(range(len(top))),
                series=[
                    {
                        "label": "total exec ms",
                        "values": [r["exec_total"] for r in top],
                        "color": PALETTE[0],
                    }
                ],
                kind="bars",
                x_label="statement (id)",
                y_label="ms",
                alt="execution time per statement; the numbers are in the statements table",
                extra={"xCategories": [str(r.get("fingerprint"))[:8] for r in top]},
            )
        )
    sections: list[Section] = []
    if not complete:
        reasons = "".join(f"<li>{esc(p)}</li>" for p in problems) or "<li>not given</li>"
        sections.append(
            Section(
                "partial",
                "PARTIAL delta: the figures are lower than what ran",
                f'<div class="warn" role="alert"><ul>{reasons}</ul></div>',
            )
        )
    sections.append(
        Section(
            "top",
            "Top statements by total time",
            "".join(chart(c) for c in charts) or "<p class=note>no statement ran</p>",
        )
    )
    sections.append(
        Section(
            "statements",
            "Statements over the interval",
            table(
                "statements",
                tracked(_COLS),
                rows,
                caption="per query, database and user; click a header to sort",
                search=True,
            ),
        )
    )
    sections.append(
        Section(
            "io",
            "Blocks (8 kB), WAL and I/O time",
            table(
                "io",
                tracked(_IO_COLS),
                rows,
                caption="the same statements"
                + ("" if settings.get("track_io_timing") else "; track_io_timing is off"),
                search=True,
            ),
        )
    )
    notes = [str(n) for n in report.get("notes") or []]
    if notes:
        sections.append(
            Section(
                "notes", "Notes", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
            )
        )
    sections.append(
        Section(
            "settings",
            "Server settings",
            table(
                "settings",
                (Col("k", "setting"), Col("v", "value")),
                [{"k": k, "v": v} for k, v in settings.items()]
                + [{"k": "server_version_num", "v": report.get("server_version_num")}],
                search=False,
            ),
        )
    )
    rest = rest_section(report, _USED)
    if rest:
        sections.append(rest)

    xacts = report.get("transactions")
    calls = report.get("calls")
    per = (
        (f"{calls / xacts:,.2f}" if xacts else "no transaction")
        if isinstance(calls, int) and isinstance(xacts, int)
        else ""
    )
    items = [
        ("delta", "complete" if complete else f"PARTIAL ({len(problems)} reasons)"),
        ("interval", fmt(report.get("seconds"), "{:,.1f} s")),
        ("snapshots", f"{fmt(report.get('start'))} to {fmt(report.get('end'))}"),
        ("statements", fmt(len(rows))),
        ("calls", fmt(calls)),
        ("executing", fmt(report.get("total_exec_ms"), "{:,.1f} ms")),
        ("transactions", fmt(xacts) or "unknown"),
        ("calls per transaction", per or "unknown"),
        ("evictions", fmt(report.get("evictions")) or "unknown"),
        ("pg_stat_statements.track", fmt(settings.get("pg_stat_statements.track"))),
    ]
    if report.get("reset_at"):
        items.append(("reset at", fmt(report.get("reset_at"))))
    warnings = [w for w in report.get("warnings") or [] if w not in problems]
    if not complete:
        warnings.insert(
            0,
            f"PARTIAL delta ({len(problems)} "
            + ("reason" if len(problems) == 1 else "reasons")
            + "): "
            + "; ".join(problems),
        )
    return page(
        kind="stats-delta",
        title="perfkit analyze --from-stats: pg_stat_statements over an interval",
        subtitle=f"{fmt(report.get('start'))} to {fmt(report.get('end'))}",
        summary=cards(items),
        sections=sections,
        charts=charts,
        warnings=warnings,
    )
