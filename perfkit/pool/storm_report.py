"""Turn a :class:`StormResult` into a report Document, and draw the storm's plot."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from perfkit.pool.storm import StormLevel, StormResult
from perfkit.pool.timing import Summary
from perfkit.report.model import Column, Document, Style, Table

SCHEMA_VERSION = 1


def _summary(s: Summary | None) -> dict[str, Any] | None:
    return None if s is None else dict(s.to_json())


def _level_json(lv: StormLevel) -> dict[str, Any]:
    pred = lv.predicted
    return {
        "endpoint": lv.endpoint,
        "instances": lv.instances,
        "wanted": lv.wanted,
        "accepted": lv.accepted,
        "refused": lv.refused,
        "refused_too_many_clients": lv.refused_too_many,
        "refused_reserved_slots": lv.refused_reserved,
        "refused_by_pooler": lv.refused_pooler,
        "errors": lv.errors,
        "error_messages": list(lv.error_messages),
        "instances_failed": lv.instances_failed,
        "connect": _summary(lv.connect),
        "refusal": _summary(lv.refusal),
        "peak_backends": lv.peak_backends,
        "peak_storm_backends": lv.peak_ours,
        "elapsed_s": lv.elapsed_s,
        "predicted": None
        if pred is None
        else {"accepted_at_most": pred.accepted, "refused_at_least": pred.refused},
        "backends_over_time": [
            {"t_s": s.t_s, "backends": s.backends, "storm_backends": s.ours} for s in lv.samples
        ],
    }


def _verdict_lines(result: StormResult) -> tuple[str, list[str]]:
    slots, pool = result.slots, result.pool
    verdict = (
        f"safe Lambda reserved concurrency: {result.safe_concurrency} "
        f"({slots.usable} usable connection slots / pool max {pool.max_size} per instance)"
    )
    notes: list[str] = []
    prim = result.verdict("primary")
    if prim is not None:
        cold = pool.min_size
        measured = (
            f"measured with {cold} connection(s) per cold start: "
            + (
                f"no refusal up to {prim.max_clean}"
                if prim.max_clean
                else "refusals from the start"
            )
            + (
                f", refusals at {prim.saturated_at} (model: from {result.saturation_predicted})"
                if prim.saturated_at is not None
                else f", saturation not reached (model: from {result.saturation_predicted})"
            )
        )
        notes.append(measured)
    comp = result.verdict("compare")
    if comp is not None:
        clean = f"no refusal up to {comp.max_clean} instances" if comp.max_clean else "refusals"
        refused = f", refusals at {comp.saturated_at}" if comp.saturated_at is not None else ""
        peak = max(
            (lv.peak_ours or 0 for lv in result.results if lv.endpoint == "compare"), default=0
        )
        notes.append(
            f"through the pooler (compare): {clean}{refused}; at most {peak} server "
            "connection(s) of the pooler carried the storm, whatever the concurrency"
        )
    return verdict, notes


def _warnings(result: StormResult) -> list[str]:
    out: list[str] = []
    prim = result.verdict("primary")
    first = prim.saturated_at if prim is not None else None
    if first is not None and first < result.saturation_predicted:
        out.append(
            f"the server refused connections at {first} instances, below the "
            f"model's {result.saturation_predicted}: other sessions took slots during the storm"
        )
    if prim is not None and prim.saturated_at is None and result.status == "complete":
        out.append(
            "the storm stayed below the server's usable slots, so saturation is predicted, "
            "not measured (pass --allow-exhaust to measure it on this server)"
        )
    for e in result.endpoints:
        if e.leftover and not e.pooler:
            out.append(f"{e.label}: {e.leftover} backend(s) of the storm were still on the server")
    for lv in result.results:
        if lv.errors:
            out.append(
                f"{lv.endpoint} x{lv.instances}: {lv.errors} attempt(s) failed for another "
                f"reason: {'; '.join(lv.error_messages[:2])}"
            )
    if result.slots.superuser:
        out.append(
            "connected as a superuser: the reserved slots do not hold it back; an application "
            "role would be refused "
            f"{result.slots.superuser_reserved + result.slots.reserved} connection(s) earlier"
        )
    return out


def to_document(result: StormResult) -> Document:
    slots, pool, opts = result.slots, result.pool, result.options
    multi = len(result.endpoints) > 1
    summary: list[str] = []
    for e in result.endpoints:
        how = " (pooler: settings SET LOCAL in each check transaction)" if e.pooler else ""
        left = (
            ""
            if e.leftover is None
            else (
                f"; {e.leftover} server connection(s) kept by the pooler afterwards"
                if e.pooler
                else f"; storm backends left afterwards: {e.leftover}"
            )
        )
        summary.append(f"{e.label}: {e.target} - PostgreSQL {e.server_version}{how}{left}")
    summary.append(
        f"each instance: a pool of max {pool.max_size} ({pool.reason}), {pool.min_size} "
        f"opened at the cold start; at most {opts.max_clients} connections at once; held "
        f"{opts.hold_s:g}s per level"
    )
    summary.append(
        f"slots: max_connections {slots.max_connections} - {slots.held_back} reserved for "
        f"others - {slots.in_use} in use at the start (perfkit's monitor included: it uses "
        f"{result.monitor_slots}) = {slots.usable} usable"
    )
    if result.status != "complete":
        summary.append(
            f"run {result.status}: {len(result.results)} of "
            f"{len(result.levels) * len(result.endpoints)} levels run; {result.error}"
        )

    rows: list[list[Any]] = []
    styles: list[Style] = []
    for lv in result.results:
        pred = lv.predicted
        rows.append(
            [
                lv.endpoint,
                lv.instances,
                lv.wanted,
                lv.accepted,
                pred.accepted if pred else None,
                lv.refused_too_many,
                lv.refused_reserved,
                lv.refused_pooler,
                lv.errors,
                lv.instances_failed,
                lv.connect.p50_ms if lv.connect else None,
                lv.connect.p95_ms if lv.connect else None,
                lv.connect.p99_ms if lv.connect else None,
                lv.peak_backends,
            ]
        )
        styles.append("bad" if lv.refused or lv.errors else "")
    columns = [
        Column("endpoint", "Endpoint"),
        Column("instances", "Inst.", "right"),
        Column("wanted", "Want", "right"),
        Column("accepted", "Got", "right"),
        Column("model_accepted", "Model", "right"),
        Column("refused_too_many_clients", "Full", "right"),
        Column("refused_reserved_slots", "Rsrv", "right"),
        Column("refused_by_pooler", "Pool", "right"),
        Column("errors", "Err", "right"),
        Column("instances_failed", "Hit", "right"),
        Column("connect_p50_ms", "p50", "right", "{:.1f}"),
        Column("connect_p95_ms", "p95", "right", "{:.1f}"),
        Column("connect_p99_ms", "p99", "right", "{:.1f}"),
        Column("peak_backends", "Backends", "right"),
    ]
    if not multi:
        columns = columns[1:]
        rows = [r[1:] for r in rows]
    levels_table = Table(
        "levels",
        "Concurrent cold starts (instances x pool): connections got (model: at most), refused "
        "(Full: too many clients, Rsrv: reserved slots, Pool: by the pooler), other errors, "
        "instances hit, connect ms to the first SELECT 1, peak server backends",
        tuple(columns),
        rows,
        styles,
    )
    slots_table = Table(
        "slots",
        "Connection slots and the Lambda reserved concurrency they allow (Safe: pools at "
        "their max; Safe cold: at the connections opened)",
        (
            Column("max_connections", "max_conn", "right"),
            Column("superuser_reserved", "SU res.", "right"),
            Column("reserved", "Reserved", "right"),
            Column("in_use", "In use", "right"),
            Column("usable", "Usable", "right"),
            Column("pool_max", "Pool max", "right"),
            Column("pool_min", "Opened", "right"),
            Column("safe", "Safe", "right"),
            Column("safe_cold", "Safe cold", "right"),
            Column("saturation", "Refusals from", "right"),
        ),
        [
            [
                slots.max_connections,
                slots.superuser_reserved,
                slots.reserved,
                slots.in_use,
                slots.usable,
                pool.max_size,
                pool.min_size,
                result.safe_concurrency,
                result.safe_concurrency_cold,
                result.saturation_predicted,
            ]
        ],
    )
    measured_table = Table(
        "measured",
        "Measured per endpoint",
        (
            Column("endpoint", "Endpoint"),
            Column("max_clean", "Clean up to", "right"),
            Column("saturated_at", "First refused at", "right"),
            Column("peak_backends", "Peak backends", "right"),
            Column("leftover", "Left after", "right"),
        ),
        [
            [
                v.endpoint,
                v.max_clean,
                v.saturated_at,
                v.peak_backends,
                next((e.leftover for e in result.endpoints if e.label == v.endpoint), None),
            ]
            for v in result.verdicts
        ],
    )
    verdict, notes = _verdict_lines(result)
    summary.extend(notes)
    data: dict[str, Any] = {
        "status": result.status,
        "error": result.error,
        "endpoints": [
            {
                "label": e.label,
                "target": e.target,
                "server_version": e.server_version,
                "server_version_num": e.server_version_num,
                "pooler": e.pooler,
                "leftover_backends": e.leftover,
            }
            for e in result.endpoints
        ],
        "slots": {
            "max_connections": slots.max_connections,
            "superuser_reserved_connections": slots.superuser_reserved,
            "reserved_connections": slots.reserved,
            "in_use_at_start": slots.in_use,
            "superuser": slots.superuser,
            "pg_use_reserved_connections": slots.reserved_role,
            "held_back": slots.held_back,
            "usable": slots.usable,
            "monitor_connections": result.monitor_slots,
        },
        "pool": {"max_size": pool.max_size, "opened": pool.min_size, "reason": pool.reason},
        "model": {
            "safe_concurrency": result.safe_concurrency,
            "safe_concurrency_cold_start": result.safe_concurrency_cold,
            "refusals_from": result.saturation_predicted,
            "refusal": slots.refusal,
        },
        "options": {
            "levels": list(result.levels),
            "max_clients": opts.max_clients,
            "hold_s": opts.hold_s,
            "allow_exhaust": opts.allow_exhaust,
            "statement_timeout": opts.statement_timeout,
            "lock_timeout": opts.lock_timeout,
            "connect_timeout": opts.connect_timeout,
        },
        "measured": [
            {
                "endpoint": v.endpoint,
                "max_clean": v.max_clean,
                "saturated_at": v.saturated_at,
                "peak_backends": v.peak_backends,
            }
            for v in result.verdicts
        ],
        "levels": [_level_json(lv) for lv in result.results],
    }
    return Document(
        kind="pool-storm",
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=(levels_table, slots_table, measured_table),
        title="perfkit pool --storm: concurrent cold starts against max_connections",
        summary=tuple(summary),
        verdict=verdict,
        warnings=tuple(_warnings(result)),
    )


# --- plot ------------------------------------------------------------------------


def render_plot(result: StormResult, fmt: str) -> bytes:
    """Left: accepted, refused and peak server backends against concurrency (the model's
    usable slots and saturation point as lines). Right: server backends over time."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_c, ax_t = fig.subplots(1, 2)
    for label, dash in (("primary", "-"), ("compare", "--")):
        mine = sorted(
            (lv for lv in result.results if lv.endpoint == label), key=lambda lv: lv.instances
        )
        if not mine:
            continue
        xs = [lv.instances for lv in mine]
        tag = "" if len(result.endpoints) == 1 else f" ({label})"
        ax_c.plot(xs, [lv.accepted for lv in mine], dash, marker="o", label=f"accepted{tag}")
        ax_c.plot(xs, [lv.refused for lv in mine], dash, marker="x", label=f"refused{tag}")
        ax_c.plot(
            xs, [lv.peak_backends or 0 for lv in mine], dash, marker=".", label=f"backends{tag}"
        )
        for lv in mine:
            if lv.samples and label == "primary":
                ax_t.plot(
                    [s.t_s for s in lv.samples],
                    [s.backends for s in lv.samples],
                    label=f"{lv.instances} instances",
                )
    ax_c.axhline(result.slots.usable, color="grey", linestyle=":", label="usable slots")
    ax_c.axvline(
        result.saturation_predicted, color="red", linestyle=":", label="model: refusals from"
    )
    ax_c.set_title("Connections against concurrent cold starts")
    ax_c.set_xlabel("concurrent cold starts (instances)")
    ax_c.set_ylabel("connections")
    ax_c.grid(True, alpha=0.3)
    ax_c.legend(fontsize="small")
    ax_t.axhline(result.slots.max_connections, color="grey", linestyle=":", label="max_connections")
    ax_t.set_title("Server client backends over time (primary)")
    ax_t.set_xlabel("seconds from the level's start")
    ax_t.set_ylabel("backends")
    ax_t.grid(True, alpha=0.3)
    ax_t.legend(fontsize="x-small")
    fig.suptitle(
        f"perfkit pool --storm - pool of {result.pool.min_size} per instance, "
        f"max_connections {result.slots.max_connections}"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png" if fmt == "png" else "svg", dpi=110)
    return buf.getvalue()


def write_plot(result: StormResult, path: str | Path) -> None:
    """Write the plot as PNG, SVG, or a self-contained HTML page (SVG inline, no CDN)."""
    from perfkit.pool.report import write_figure

    write_figure(path, lambda fmt: render_plot(result, fmt), to_document(result))
