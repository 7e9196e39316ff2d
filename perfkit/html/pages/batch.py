"""The batch page: a sweep as heatmaps of throughput, p95 and DLQ counts over batch
size x concurrency (the best setting marked); one run as cards and tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perfkit.html.frame import Chart, Col, Section, cards, chart, esc, fmt, generic, page, table
from perfkit.html.parts import rest_section

__all__ = ["grid", "render"]

#: heat colours: Okabe-Ito blue (more is better) and vermillion (more is worse)
_GOOD = (0, 114, 178)
_BAD = (213, 94, 0)


def grid(
    runs: Sequence[Mapping[str, Any]], value: Callable[[Mapping[str, Any]], Any]
) -> tuple[list[int], list[int], dict[tuple[int, int], Any]]:
    """``(batch sizes, concurrencies, {(batch size, concurrency): value})``."""
    cells: dict[tuple[int, int], Any] = {}
    for r in runs:
        s = r.get("settings") or {}
        cells[(int(s["batch_size"]), int(s["concurrency"]))] = value(r)
    sizes = sorted({k[0] for k in cells})
    concs = sorted({k[1] for k in cells})
    return sizes, concs, cells


def _heat(
    tid: str,
    title: str,
    runs: Sequence[Mapping[str, Any]],
    value: Callable[[Mapping[str, Any]], Any],
    spec: str,
    colour: tuple[int, int, int],
    best: tuple[int, int] | None,
) -> str:
    sizes, concs, cells = grid(runs, value)
    nums = [v for v in cells.values() if isinstance(v, (int, float))]
    lo, hi = (min(nums), max(nums)) if nums else (0.0, 0.0)
    head = "".join(f'<th scope="col" class=num>{c}</th>' for c in concs)
    body = []
    for b in sizes:
        tds = []
        for c in concs:
            v = cells.get((b, c))
            if isinstance(v, (int, float)):
                a = 0.08 + 0.72 * ((v - lo) / (hi - lo) if hi > lo else 0.5)
                style = f' style="background:rgba({colour[0]},{colour[1]},{colour[2]},{a:.2f})"'
            else:
                style = ""
            mark = " \u2605" if best == (b, c) else ""
            tds.append(
                f'<td class=num data-v="{esc(repr(v) if v is not None else "")}"{style}>'
                f"{esc(fmt(v, spec))}{mark}</td>"
            )
        body.append(f'<tr><th scope="row">{b}</th>{"".join(tds)}</tr>')
    return (
        f'<div class="tablebox"><table class="pk heat" id="{esc(tid)}">'
        f"<caption>{esc(title)}: rows batch size, columns concurrency"
        f"{'; the best setting is starred' if best else ''}</caption>"
        f'<thead><tr><th scope="col">batch size \\ concurrency</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


_RUN_COLS = (
    Col("batch_size", "batch size", "{:,}", True),
    Col("concurrency", "concurrency", "{:,}", True),
    Col("messages_in", "messages", "{:,}", True),
    Col("succeeded", "succeeded", "{:,}", True),
    Col("dlq", "DLQ", "{:,}", True),
    Col("throughput_per_s", "msg/s", "{:,.2f}", True),
    Col("p50", "p50 ms", "{:,.1f}", True),
    Col("p95", "p95 ms", "{:,.1f}", True),
    Col("p99", "p99 ms", "{:,.1f}", True),
    Col("retried", "retried", "{:,}", True),
    Col("timeouts", "timeouts", "{:,}", True),
    Col("stopped", "stopped"),
    Col("conservation", "conservation"),
)


def _run_row(r: Mapping[str, Any]) -> dict[str, Any]:
    s = r.get("settings") or {}
    lat = r.get("latency_ms") or {}
    return {
        **r,
        "batch_size": s.get("batch_size"),
        "concurrency": s.get("concurrency"),
        "p50": lat.get("p50"),
        "p95": lat.get("p95"),
        "p99": lat.get("p99"),
    }


def _p95(r: Mapping[str, Any]) -> Any:
    return (r.get("latency_ms") or {}).get("p95")


def render(report: Mapping[str, Any]) -> str:
    sections: list[Section] = []
    charts: list[Chart] = []
    warnings = list(report.get("warnings") or [])
    if report.get("sweep"):
        runs = list(report.get("runs") or [])
        b = report.get("best")
        best = (int(b["batch_size"]), int(b["concurrency"])) if b else None
        heat = "".join(
            (
                _heat(
                    "heat-throughput",
                    "Throughput (messages/s)",
                    runs,
                    lambda r: r.get("throughput_per_s"),
                    "{:,.2f}",
                    _GOOD,
                    best,
                ),
                _heat("heat-p95", "p95 latency (ms)", runs, _p95, "{:,.1f}", _BAD, best),
                _heat(
                    "heat-dlq",
                    "Messages sent to the DLQ",
                    runs,
                    lambda r: r.get("dlq"),
                    "{:,}",
                    _BAD,
                    best,
                ),
            )
        )
        sections.append(Section("heatmap", "Sweep: batch size x concurrency", heat))
        sizes, concs, thr = grid(runs, lambda r: r.get("throughput_per_s"))
        if len(concs) > 1:
            c = Chart(
                "chart-sweep",
                "Throughput (messages/s) against concurrency, one line per batch size",
                x=list(range(len(concs))),
                series=[
                    {
                        "label": f"batch {s}",
                        "values": [thr.get((s, k)) for k in concs],
                        "points": True,
                    }
                    for s in sizes
                ],
                x_label="concurrency",
                y_label="msg/s",
                alt="throughput per setting; the numbers are in the heatmap tables",
                extra={"xCategories": [str(k) for k in concs]},
            )
            charts.append(c)
            sections.append(Section("lines", "Throughput by concurrency", chart(c)))
        sections.append(
            Section("runs", "Runs", table("runs", _RUN_COLS, [_run_row(r) for r in runs]))
        )
        partial = [r for r in runs if not r.get("complete", True)]
        if partial:
            warnings.append(f"PARTIAL sweep: {len(partial)} run(s) stopped before the end")
        items = [
            ("settings", fmt(len(runs))),
            ("best", f"batch {best[0]} x concurrency {best[1]}" if best else "none"),
            ("target p95", fmt(report.get("target_p95_ms"), "{:g} ms") or "none"),
        ]
        if best:
            br = next(
                r
                for r in runs
                if (r["settings"]["batch_size"], r["settings"]["concurrency"]) == best
            )
            items.append(("best throughput", fmt(br.get("throughput_per_s"), "{:,.2f} msg/s")))
            items.append(("best p95", fmt(_p95(br), "{:,.1f} ms")))
        rest = rest_section(report, ("runs", "best", "target_p95_ms", "sweep"))
    else:
        run = report.get("run") or {}
        items = [
            ("messages", fmt(run.get("messages_in"))),
            ("succeeded", fmt(run.get("succeeded"))),
            ("DLQ", fmt(run.get("dlq"))),
            ("msg/s", fmt(run.get("throughput_per_s"), "{:,.2f}")),
            ("p95", fmt(_p95(run), "{:,.1f} ms")),
            ("stopped", fmt(run.get("stopped"))),
        ]
        if not run.get("complete", True):
            warnings.append(f"PARTIAL RESULT: the run stopped early ({run.get('stopped')})")
        sections.append(
            Section("run", "Run", table("runs", _RUN_COLS, [_run_row(run)], search=False))
        )
        sections.append(Section("details", "Details", generic(run, "run")))
        rest = rest_section(report, ("run", "sweep"))
    if rest:
        sections.append(rest)
    return page(
        kind="batch",
        title="perfkit batch",
        subtitle="SQS batch sweep" if report.get("sweep") else "SQS batch run",
        summary=cards(items),
        sections=sections,
        charts=charts,
        warnings=warnings,
    )
