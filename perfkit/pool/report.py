"""Turn a :class:`PoolBenchResult` into a report Document, and draw the plot."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfkit.errors import UsageError
from perfkit.pool.model import PointResult, PoolBenchResult
from perfkit.pool.timing import Summary
from perfkit.report.model import Column, Document, Style, Table

SCHEMA_VERSION = 1
_LITTLE_TOLERANCE = 0.2  # in-flight requests more than 20% below the client count
_CPU_BOUND_PCT = 85.0


def _ms(s: Summary | None, attr: str) -> float | None:
    return None if s is None else float(getattr(s, attr))


def _summary_json(s: Summary | None) -> dict[str, Any] | None:
    return None if s is None else dict(s.to_json())


def _point_json(p: PointResult) -> dict[str, Any]:
    conc = p.concurrency
    return {
        "endpoint": p.endpoint,
        "mode": p.mode,
        "clients": p.clients,
        "pool_size": p.pool_size,
        "workers": p.workers,
        "status": p.status,
        "error": p.error,
        "requests": p.requests,
        "errors": p.errors,
        "error_messages": list(p.error_messages),
        "elapsed_s": p.elapsed_s,
        "throughput": p.throughput,
        "latency": _summary_json(p.latency),
        "connect": _summary_json(p.connect),
        "connect_socket": _summary_json(p.connect_socket),
        "connect_startup": _summary_json(p.connect_startup),
        "pool_wait": _summary_json(p.pool_wait),
        "peak_backends": p.peak_backends,
        "peak_active": p.peak_active,
        "pool_stats": dict(p.pool_stats),
        "client_cpu_pct": p.client_cpu_pct,
        "machine_cpu_pct": p.machine_cpu_pct,
        "ssl": p.ssl,
        "littles_law": {
            "in_flight": conc,
            "ratio_to_clients": (conc / p.clients) if conc is not None else None,
        },
    }


def _label(p: PointResult, multi: bool) -> str:
    return f"{p.endpoint} {p.mode}" if multi else p.mode


def _warnings(result: PoolBenchResult) -> list[str]:
    out: list[str] = []
    for p in result.points:
        if p.status != "ok":
            continue
        conc = p.concurrency
        if conc is not None and conc < p.clients * (1 - _LITTLE_TOLERANCE):
            out.append(
                f"{p.key}: Little's law: {conc:.1f} requests in flight for {p.clients} clients - "
                "clients spend time outside requests (load generator CPU, GIL)"
            )
        if p.errors:
            out.append(f"{p.key}: {p.errors} request(s) failed: {'; '.join(p.error_messages[:2])}")
    busy = [p for p in result.points if (p.client_cpu_pct or 0) >= _CPU_BOUND_PCT]
    if busy:
        out.append(
            f"the load generator used >= {_CPU_BOUND_PCT:.0f}% of the machine's CPU at "
            f"{len(busy)} point(s): those figures measure the client as much as the server"
        )
    return out


def to_document(result: PoolBenchResult) -> Document:
    multi = len(result.endpoints) > 1
    opts = result.options
    summary: list[str] = []
    for e in result.endpoints:
        how = (
            "Unix socket (socket phase ~0: the split is startup only)"
            if e.transport == "unix"
            else f"TCP {e.host}:{e.port}"
        )
        extra = "" if e.startup_options else "; settings SET after connect (pooler)"
        summary.append(f"{e.label}: {e.target} - PostgreSQL {e.server_version}, {how}{extra}")
    per_point = (
        f"{opts.requests} requests" if opts.requests is not None else f"{opts.duration_s:g}s"
    )
    warm = (
        f"{opts.warmup_requests} requests/client" if opts.warmup_requests else f"{opts.warmup_s:g}s"
    )
    summary.append(
        f"workload: {result.workload}; {per_point} per point, warm-up {warm} excluded; "
        f"up to {result.workers} worker process(es) on {result.cores} core(s)"
    )
    if result.status != "complete":
        summary.append(
            f"run {result.status}: {len(result.points)} of {result.points_planned} points run; "
            f"last error: {result.error}"
        )

    rows: list[list[Any]] = []
    styles: list[Style] = []
    for p in result.points:
        rows.append(
            [
                _label(p, multi),
                p.clients,
                p.pool_size,
                p.status,
                p.throughput if p.requests else None,
                _ms(p.latency, "p50_ms"),
                _ms(p.latency, "p95_ms"),
                _ms(p.latency, "p99_ms"),
                _ms(p.latency, "max_ms"),
                p.errors,
                p.peak_backends,
            ]
        )
        styles.append("bad" if p.status != "ok" else ("warn" if p.errors else ""))
    points_table = Table(
        "points",
        "Throughput and latency (ms) per point",
        (
            Column("mode", "Mode"),
            Column("clients", "Clients", "right"),
            Column("pool_size", "Pool", "right"),
            Column("status", "Status"),
            Column("throughput", "Req/s", "right", "{:,.0f}"),
            Column("p50_ms", "p50", "right", "{:.2f}"),
            Column("p95_ms", "p95", "right", "{:.2f}"),
            Column("p99_ms", "p99", "right", "{:.2f}"),
            Column("max_ms", "max", "right", "{:.1f}"),
            Column("errors", "Errors", "right"),
            Column("peak_backends", "Backends", "right"),
        ),
        rows,
        styles,
    )

    crow: list[list[Any]] = []
    for p in result.points:
        crow.append(
            [
                _label(p, multi),
                p.clients,
                p.pool_size,
                _ms(p.connect, "mean_ms"),
                _ms(p.connect, "p50_ms"),
                _ms(p.connect, "p95_ms"),
                _ms(p.connect, "p99_ms"),
                _ms(p.connect_socket, "mean_ms"),
                _ms(p.connect_startup, "mean_ms"),
                _ms(p.pool_wait, "mean_ms"),
                _ms(p.pool_wait, "p95_ms"),
            ]
        )
    connect_table = Table(
        "connections",
        "Connect time (fresh: socket + auth/startup) and pool wait, ms",
        (
            Column("mode", "Mode"),
            Column("clients", "Clients", "right"),
            Column("pool_size", "Pool", "right"),
            Column("connect_mean_ms", "Connect", "right", "{:.2f}"),
            Column("connect_p50_ms", "p50", "right", "{:.2f}"),
            Column("connect_p95_ms", "p95", "right", "{:.2f}"),
            Column("connect_p99_ms", "p99", "right", "{:.2f}"),
            Column("socket_mean_ms", "Socket", "right", "{:.2f}"),
            Column("startup_mean_ms", "Startup", "right", "{:.2f}"),
            Column("wait_mean_ms", "Wait", "right", "{:.2f}"),
            Column("wait_p95_ms", "Wait p95", "right", "{:.2f}"),
        ),
        crow,
    )
    cpu_rows = [
        [
            _label(p, multi),
            p.clients,
            p.pool_size,
            p.client_cpu_pct,
            None
            if p.machine_cpu_pct is None or p.client_cpu_pct is None
            else max(0.0, p.machine_cpu_pct - p.client_cpu_pct),
            p.concurrency,
            (p.concurrency / p.clients * 100) if p.concurrency is not None else None,
        ]
        for p in result.points
    ]
    cpu_table = Table(
        "time",
        "Where the time goes: load generator vs the rest of the machine (server), Little's law",
        (
            Column("mode", "Mode"),
            Column("clients", "Clients", "right"),
            Column("pool_size", "Pool", "right"),
            Column("client_cpu_pct", "Client CPU %", "right", "{:.0f}"),
            Column("other_cpu_pct", "Server+other CPU %", "right", "{:.0f}"),
            Column("in_flight", "In flight (λW)", "right", "{:.2f}"),
            Column("busy_pct", "Clients busy %", "right", "{:.0f}"),
        ),
        cpu_rows,
    )

    rrows: list[list[Any]] = []
    for r in result.recommendations:
        for c in r.by_clients:
            rrows.append(
                [
                    f"{r.endpoint} {r.mode}" if multi else r.mode,
                    c.clients,
                    c.recommended_pool_size,
                    c.recommended_throughput,
                    c.best_pool_size,
                    c.best_throughput,
                    c.fresh_throughput,
                    c.speedup,
                ]
            )
    rec_table = Table(
        "recommendation",
        "Smallest pool within 5% of the best throughput",
        (
            Column("mode", "Mode"),
            Column("clients", "Clients", "right"),
            Column("recommended_pool_size", "Pool", "right"),
            Column("recommended_throughput", "Req/s", "right", "{:,.0f}"),
            Column("best_pool_size", "Best pool", "right"),
            Column("best_throughput", "Best req/s", "right", "{:,.0f}"),
            Column("fresh_throughput", "Fresh req/s", "right", "{:,.0f}"),
            Column("speedup", "Speedup", "right", "{:.1f}x"),
        ),
        rrows,
    )
    tables = [points_table, connect_table, cpu_table, rec_table]

    lam = result.lambda_check
    if lam is not None:
        tables.append(
            Table(
                "lambda",
                "Lambda heuristic (1 connection per 128 MB, at most 10) vs measured",
                (
                    Column("memory_mb", "Memory MB", "right"),
                    Column("heuristic", "Heuristic", "right"),
                    Column("measured", "Measured", "right"),
                    Column("pct", "Heuristic % of best", "right", "{:.0f}%"),
                    Column("verdict", "Verdict"),
                ),
                [
                    [
                        lam.memory_mb,
                        lam.heuristic_pool_size,
                        lam.measured_pool_size,
                        lam.heuristic_throughput_pct,
                        lam.verdict,
                    ]
                ],
            )
        )

    verdict = ""
    main = next(
        (r for r in result.recommendations if r.endpoint == "primary" and r.mode == "pool"), None
    )
    if main is not None:
        verdict = (
            f"recommended pool size: {main.pool_size} "
            f"(smallest within 5% of the best at {main.clients} clients)"
        )
        if main.speedup is not None:
            verdict += f"; pooling is {main.speedup:.1f}x a fresh connection per request"
    elif result.status != "complete":
        verdict = f"no recommendation: run {result.status} ({result.error})"

    data: dict[str, Any] = {
        "status": result.status,
        "error": result.error,
        "endpoints": [
            {
                "label": e.label,
                "target": e.target,
                "transport": e.transport,
                "host": e.host,
                "port": e.port,
                "server_version": e.server_version,
                "server_version_num": e.server_version_num,
                "startup_options": e.startup_options,
                "max_connections": e.max_connections,
            }
            for e in result.endpoints
        ],
        "options": {
            "clients": list(opts.clients),
            "pool_sizes": list(opts.pool_sizes),
            "duration_s": opts.duration_s if opts.requests is None else None,
            "requests": opts.requests,
            "warmup_s": opts.warmup_s,
            "warmup_requests": opts.warmup_requests,
            "async": opts.async_mode,
            "read_only": opts.read_only,
            "statement_timeout": opts.statement_timeout,
            "lock_timeout": opts.lock_timeout,
            "connect_timeout": opts.connect_timeout,
            "workers": result.workers,
            "cores": result.cores,
        },
        "workload": result.workload,
        "points_planned": result.points_planned,
        "points": [_point_json(p) for p in result.points],
        "recommendations": [
            {
                "endpoint": r.endpoint,
                "mode": r.mode,
                "pool_size": r.pool_size,
                "clients": r.clients,
                "speedup": r.speedup,
                "by_clients": [
                    {
                        "clients": c.clients,
                        "recommended_pool_size": c.recommended_pool_size,
                        "recommended_throughput": c.recommended_throughput,
                        "best_pool_size": c.best_pool_size,
                        "best_throughput": c.best_throughput,
                        "fresh_throughput": c.fresh_throughput,
                        "speedup": c.speedup,
                    }
                    for c in r.by_clients
                ],
            }
            for r in result.recommendations
        ],
        "lambda": None
        if lam is None
        else {
            "memory_mb": lam.memory_mb,
            "heuristic_pool_size": lam.heuristic_pool_size,
            "measured_pool_size": lam.measured_pool_size,
            "heuristic_throughput_pct": lam.heuristic_throughput_pct,
            "agrees": lam.agrees,
            "verdict": lam.verdict,
        },
    }
    return Document(
        kind="pool",
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=tuple(tables),
        title="perfkit pool: a fresh connection per request vs a pool",
        summary=tuple(summary),
        verdict=verdict,
        warnings=tuple(_warnings(result)),
    )


# --- plot ------------------------------------------------------------------------

PLOT_SUFFIXES = (".png", ".svg", ".html")


def check_plot_path(path: Path) -> None:
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError("--plot", f"{path.name}: use a .png, .svg or .html file name")


def render_plot(result: PoolBenchResult, fmt: str) -> bytes:
    """Throughput and p95 latency against clients, one line per mode (and pool size)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_t, ax_l = fig.subplots(1, 2)
    series: dict[str, list[PointResult]] = {}
    multi = len(result.endpoints) > 1
    for p in result.points:
        if p.status != "ok" or not p.requests:
            continue
        name = _label(p, multi) + (f" size {p.pool_size}" if p.pool_size is not None else "")
        series.setdefault(name, []).append(p)
    styles = {"fresh": "-", "pool": "-", "async": "--"}
    for name, pts in series.items():
        pts.sort(key=lambda p: p.clients)
        xs = [p.clients for p in pts]
        ls = styles.get(pts[0].mode, "-")
        marker = "s" if pts[0].mode == "fresh" else "o"
        ax_t.plot(xs, [p.throughput for p in pts], ls, marker=marker, label=name)
        ax_l.plot(xs, [_ms(p.latency, "p95_ms") or 0.0 for p in pts], ls, marker=marker, label=name)
    for ax, title, ylabel in (
        (ax_t, "Throughput", "requests/s"),
        (ax_l, "p95 latency", "ms"),
    ):
        ax.set_title(title)
        ax.set_xlabel("clients")
        ax.set_ylabel(ylabel)
        ax.set_xscale("log", base=2)
        ticks = sorted({p.clients for pts in series.values() for p in pts})
        if ticks:
            ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.grid(True, alpha=0.3)
    ax_l.set_yscale("log")
    if series:
        ax_t.legend(fontsize="small")
    fig.suptitle(f"perfkit pool - {result.workload}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png" if fmt == "png" else "svg", dpi=110)
    return buf.getvalue()


def write_plot(result: PoolBenchResult, path: str | Path) -> None:
    """Write the plot as PNG, SVG, or a self-contained HTML page (SVG inline, no CDN)."""
    write_figure(path, lambda fmt: render_plot(result, fmt), to_document(result))


def write_figure(path: str | Path, render: Callable[[str], bytes], doc: Document) -> None:
    """Write ``render("png"|"svg")`` to ``path`` by its suffix; ``.html`` is a page with
    ``doc``'s title, summary and verdict above the inline SVG."""
    from perfkit.report.output import write_atomic

    target = Path(path)
    check_plot_path(target)
    suffix = target.suffix.lower()
    if suffix == ".html":
        svg = render("svg").decode("utf-8")
        svg = svg[svg.find("<svg") :]
        verdict = f"<p><strong>{_esc(doc.verdict)}</strong></p>" if doc.verdict else ""
        lines = "".join(f"<li>{_esc(s)}</li>" for s in doc.summary)
        html = (
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{_esc(doc.title)}</title></head><body>"
            f"<h1>{_esc(doc.title)}</h1><ul>{lines}</ul>{verdict}{svg}</body></html>\n"
        )
        write_atomic(target, html)
    else:
        write_atomic(target, render(suffix[1:]))


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
