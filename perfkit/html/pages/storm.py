"""The connection-storm page (``perfkit pool --storm``): connections got, refused and the
peak server backends against concurrent cold starts (the modelled safe concurrency
marked), the server's backends over the storm's run, the levels table and, when a pooler
was compared, what it changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfkit.html.frame import (
    PALETTE,
    Chart,
    Col,
    Section,
    cards,
    chart,
    fmt,
    generic,
    page,
    table,
)
from perfkit.html.parts import rest_section

__all__ = ["by_endpoint", "render", "timeline"]

_USED = ("endpoints", "slots", "pool", "model", "measured", "levels", "status", "error")


def by_endpoint(report: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """The levels run, per endpoint (in the report's endpoint order), by instances."""
    out: dict[str, list[Mapping[str, Any]]] = {
        str(e["label"]): [] for e in report.get("endpoints") or []
    }
    for lv in report.get("levels") or []:
        out.setdefault(str(lv["endpoint"]), []).append(lv)
    for levels in out.values():
        levels.sort(key=lambda lv: int(lv["instances"]))
    return {k: v for k, v in out.items() if v}


def timeline(levels: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """One endpoint's backend samples with its levels laid end to end (in the order they
    ran): ``t`` seconds into the storm, ``backends``, ``storm_backends``, ``level``."""
    out: dict[str, list[Any]] = {"t": [], "backends": [], "storm_backends": [], "level": []}
    offset = 0.0
    for lv in levels:
        samples = list(lv.get("backends_over_time") or [])
        last = 0.0
        for s in samples:
            t = float(s["t_s"])
            last = max(last, t)
            out["t"].append(round(offset + t, 4))
            out["backends"].append(s.get("backends"))
            out["storm_backends"].append(s.get("storm_backends"))
            out["level"].append(int(lv["instances"]))
        offset += max(float(lv.get("elapsed_s") or 0.0), last)
    return out


def _summary(s: Any, key: str) -> Any:
    return s.get(key) if isinstance(s, Mapping) else None


def _row(lv: Mapping[str, Any]) -> dict[str, Any]:
    con = lv.get("connect")
    pred = lv.get("predicted")
    return {
        **lv,
        "model_accepted": _summary(pred, "accepted_at_most"),
        "connect_p50": _summary(con, "p50_ms"),
        "connect_p95": _summary(con, "p95_ms"),
        "connect_p99": _summary(con, "p99_ms"),
        "refusal_p50": _summary(lv.get("refusal"), "p50_ms"),
    }


_LEVEL_COLS = (
    Col("endpoint", "endpoint"),
    Col("instances", "instances", "{:,}", True),
    Col("wanted", "wanted", "{:,}", True),
    Col("accepted", "got", "{:,}", True),
    Col("model_accepted", "model: at most", "{:,}", True),
    Col("refused", "refused", "{:,}", True),
    Col("refused_too_many_clients", "too many clients", "{:,}", True),
    Col("refused_reserved_slots", "reserved slots", "{:,}", True),
    Col("refused_by_pooler", "by the pooler", "{:,}", True),
    Col("errors", "other errors", "{:,}", True),
    Col("instances_failed", "instances hit", "{:,}", True),
    Col("connect_p50", "connect p50 ms", "{:,.2f}", True),
    Col("connect_p95", "connect p95 ms", "{:,.2f}", True),
    Col("connect_p99", "connect p99 ms", "{:,.2f}", True),
    Col("refusal_p50", "refusal p50 ms", "{:,.2f}", True),
    Col("peak_backends", "peak backends", "{:,}", True),
    Col("peak_storm_backends", "peak storm backends", "{:,}", True),
)


def render(report: Mapping[str, Any]) -> str:
    slots = report.get("slots") or {}
    model = report.get("model") or {}
    pool = report.get("pool") or {}
    levels = by_endpoint(report)
    multi = len(levels) > 1
    safe = model.get("safe_concurrency")
    measured = {str(m["endpoint"]): m for m in report.get("measured") or []}
    endpoints = {str(e["label"]): e for e in report.get("endpoints") or []}
    prim = measured.get("primary") or {}

    instances = sorted({int(lv["instances"]) for ls in levels.values() for lv in ls})
    cats = [f"{n} (safe)" if n == safe else str(n) for n in instances]
    series: list[dict[str, Any]] = []
    for k, (label, mine) in enumerate(levels.items()):
        at = {int(lv["instances"]): lv for lv in mine}
        tag = f" ({label})" if multi else ""
        for i, (key, name) in enumerate(
            (("accepted", "got"), ("refused", "refused"), ("peak_backends", "peak backends"))
        ):
            series.append(
                {
                    "label": f"{name}{tag}",
                    "values": [at[n].get(key) if n in at else None for n in instances],
                    "color": PALETTE[(i * 2 + k) % len(PALETTE)] if multi else PALETTE[i],
                    "dash": k > 0,
                    "points": True,
                }
            )
    usable = slots.get("usable")
    if isinstance(usable, int) and instances:
        series.append(
            {"label": "usable slots", "values": [usable] * len(instances), "color": PALETTE[7]}
        )
    charts: list[Chart] = []
    sections: list[Section] = []
    if instances:
        charts.append(
            Chart(
                "chart-storm",
                "Connections got, refused and peak server backends against concurrent cold starts",
                x=list(range(len(instances))),
                series=series,
                x_label="concurrent cold starts (instances)",
                y_label="connections",
                alt=(
                    f"connections per level; the modelled safe concurrency ({fmt(safe)}) is "
                    "marked on the axis; the numbers are in the levels table"
                ),
                extra={"xCategories": cats},
            )
        )
    for label, mine in levels.items():
        tl = timeline(mine)
        if not tl["t"]:
            continue
        tseries: list[dict[str, Any]] = [
            {"label": "server backends", "values": tl["backends"], "color": PALETTE[0]},
            {"label": "the storm's backends", "values": tl["storm_backends"], "color": PALETTE[1]},
        ]
        if isinstance(slots.get("max_connections"), int):
            tseries.append(
                {
                    "label": "max_connections",
                    "values": [slots["max_connections"]] * len(tl["t"]),
                    "color": PALETTE[7],
                    "dash": True,
                }
            )
        charts.append(
            Chart(
                f"chart-backends-{label}",
                f"Server backends over the storm ({label}: levels "
                f"{', '.join(str(lv['instances']) for lv in mine)} one after the other)",
                x=tl["t"],
                series=tseries,
                x_label="seconds into the storm (levels end to end)",
                y_label="backends",
                alt="backends sampled from pg_stat_activity; peaks are in the levels table",
                extra={"height": 220},
            )
        )
    sections.append(
        Section(
            "charts",
            "Backends and refusals against concurrency",
            "".join(chart(c) for c in charts) or "<p class=note>no level was run</p>",
        )
    )
    sections.append(
        Section(
            "slots",
            "Connection slots and the model",
            generic({"slots": slots, "pool": pool, "model": model}, "slots"),
        )
    )
    rows = [_row(lv) for mine in levels.values() for lv in mine]
    cols = _LEVEL_COLS if multi else _LEVEL_COLS[1:]
    planned = len((report.get("options") or {}).get("levels") or []) * max(len(endpoints), 1)
    sections.append(Section("levels", "Levels", table("levels", cols, rows, total=planned or None)))
    m_rows = [
        {
            **m,
            **{
                k: endpoints.get(str(m["endpoint"]), {}).get(k)
                for k in ("target", "pooler", "server_version", "leftover_backends")
            },
        }
        for m in report.get("measured") or []
    ]
    sections.append(
        Section(
            "pooler",
            "Direct against through the pooler" if multi else "Measured",
            table(
                "measured",
                (
                    Col("endpoint", "endpoint"),
                    Col("target", "target"),
                    Col("pooler", "pooler"),
                    Col("max_clean", "no refusal up to", "{:,}", True),
                    Col("saturated_at", "first refused at", "{:,}", True),
                    Col("peak_backends", "peak backends", "{:,}", True),
                    Col("leftover_backends", "left behind", "{:,}", True),
                ),
                m_rows,
                search=False,
            ),
        )
    )
    rest = rest_section(report, _USED)
    if rest:
        sections.append(rest)

    first = prim.get("saturated_at")
    top = max(instances) if instances else None
    left = (endpoints.get("primary") or {}).get("leftover_backends")
    items = [
        ("status", fmt(report.get("status"))),
        ("max_connections", fmt(slots.get("max_connections"))),
        ("usable slots", fmt(usable)),
        ("pool per instance", f"max {fmt(pool.get('max_size'))}, {fmt(pool.get('opened'))} opened"),
        ("safe reserved concurrency (model)", fmt(safe)),
        ("measured: no refusal up to", fmt(prim.get("max_clean")) or "not measured"),
        ("model: refusals from", fmt(model.get("refusals_from"))),
        (
            "first refused level",
            fmt(first)
            if first is not None
            else (f"none up to {fmt(top)}" if top is not None else "no level run"),
        ),
        ("left behind", fmt(left) if left is not None else "unknown"),
    ]
    comp = measured.get("compare")
    if comp is not None:
        items.append(
            (
                "through the pooler",
                f"refused at {fmt(comp['saturated_at'])}"
                if comp.get("saturated_at") is not None
                else f"no refusal up to {fmt(comp.get('max_clean'))}",
            )
        )
    warnings = list(report.get("warnings") or [])
    if report.get("status") not in (None, "complete"):
        warnings.insert(
            0,
            f"PARTIAL storm ({report.get('status')}): {len(rows)} of {planned} levels run "
            f"({report.get('error')})",
        )
    return page(
        kind="pool-storm",
        title="perfkit pool --storm: concurrent cold starts against max_connections",
        subtitle=", ".join(f"{e.get('label')}: {e.get('target')}" for e in endpoints.values()),
        summary=cards(items),
        sections=sections,
        charts=charts,
        warnings=warnings,
    )
