"""Gate results as a :class:`Document` (table/json/csv/markdown) and as JUnit XML. Pure."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import asdict
from typing import Any

from perfkit.check.fmt import fmt_change, fmt_limits, fmt_value
from perfkit.check.model import GateResult, Limits, MetricResult
from perfkit.report.model import Column, Document, Style, Table

CHECK_SCHEMA = 1

_STYLE: dict[str, Style] = {
    "regression": "bad",
    "error": "bad",
    "noisy": "warn",
    "new": "warn",
    "gone": "warn",
    "improved": "good",
    "pass": "",
}


def metric_line(m: MetricResult) -> str:
    """One line that says everything about a metric's verdict (used in JUnit and summaries)."""
    parts = [f"{m.id}: {m.status}"]
    if m.baseline and m.current:
        change = _change_text(m)
        parts.append(
            f"{fmt_value(m.baseline_value, m.unit)} -> {fmt_value(m.current_value, m.unit)}"
            + (f" ({change})" if change else "")
        )
    elif m.current:
        parts.append(fmt_value(m.current_value, m.unit))
    elif m.baseline:
        parts.append(f"baseline {fmt_value(m.baseline_value, m.unit)}")
    if m.note:
        parts.append(m.note)
    return ", ".join(parts)


def _change_text(m: MetricResult) -> str:
    """The change; under --against with the interval of the paired ratio."""
    pc = m.paired
    if pc is None:
        return fmt_change(m.change)
    high = f"{(pc.high - 1) * 100:+.1f}" if pc.high != float("inf") else "inf"
    return f"{(pc.ratio - 1) * 100:+.1f}% [{(pc.low - 1) * 100:+.1f}, {high}]"


def _paired_json(m: MetricResult) -> dict[str, Any] | None:
    pc = m.paired
    if pc is None:
        return None
    return {
        "pairs": pc.pairs,
        "outliers": pc.outliers,
        "ratio": pc.ratio,
        "ci": [pc.low, pc.high if pc.high != float("inf") else None],
        "confidence": pc.confidence,
        "test": pc.test,
        "p_value": pc.p_value,
    }


def verdict_text(r: GateResult) -> str:
    n_metrics = len(r.metrics)
    n_checks = len(r.outcomes)
    if r.errors:
        names = ", ".join(o.name for o in r.errors)
        regress = f"; {len(r.regressions)} regression(s)" if r.regressions else ""
        return f"{len(r.errors)} of {n_checks} check(s) could not run ({names}){regress}"
    if r.regressions:
        return f"{len(r.regressions)} regression(s) in {n_metrics} metric(s): " + ", ".join(
            m.id for m in r.regressions
        )
    if r.against is not None:
        return (
            f"no regression against {r.against.label}: {n_metrics} metric(s) in {n_checks} check(s)"
        )
    if r.baseline is None:
        return f"pass: {n_metrics} metric(s) in {n_checks} check(s) within absolute limits"
    return f"no regression: {n_metrics} metric(s) in {n_checks} check(s)"


def _limits_json(limits: Limits) -> dict[str, float]:
    return {k: v for k, v in asdict(limits).items() if v is not None}


def _metric_json(m: MetricResult) -> dict[str, Any]:
    return {
        "id": m.id,
        "check": m.check,
        "name": m.name,
        "unit": m.unit,
        "kind": m.kind,
        "better": m.better,
        "status": m.status,
        "current": {"median": m.current_value, "n": len(m.current), "samples": list(m.current)}
        if m.current
        else None,
        "baseline": {"median": m.baseline_value, "n": len(m.baseline), "samples": list(m.baseline)}
        if m.baseline
        else None,
        "change": m.change,
        "p_value": m.p_value,
        "paired": _paired_json(m),
        "limits": _limits_json(m.limits),
        "note": m.note,
    }


def to_data(r: GateResult) -> dict[str, Any]:
    return {
        "verdict": r.verdict,
        "message": verdict_text(r),
        "config": str(r.config_path),
        "alpha": r.alpha,
        "retries": r.retries,
        "seconds": r.seconds,
        "measured_seconds": sum(o.measured_seconds for o in r.outcomes),
        "baseline": None
        if r.baseline is None
        else {
            "path": str(r.baseline.path),
            "schema_version": r.baseline.schema_version,
            "created": r.baseline.created,
            "machine": asdict(r.baseline.machine) if r.baseline.machine else None,
        },
        "against": None
        if r.against is None
        else {
            "ref": r.against.ref,
            "commit": r.against.commit,
            "directory": str(r.against.directory),
            "temporary": r.against.temporary,
        },
        "machine": asdict(r.machine),
        "checks": [
            {
                "name": o.name,
                "type": o.type,
                "status": o.status,
                "error": o.error,
                "attempts": o.attempts,
                "seconds": o.seconds,
                "measured_seconds": o.measured_seconds,
                "load": o.load,
                "metrics": [_metric_json(m) for m in o.metrics],
            }
            for o in r.outcomes
        ],
        "gone": [_metric_json(m) for m in r.gone],
        "warnings": list(r.warnings),
    }


def raw_table(r: GateResult) -> Table:
    """Every metric with plain numbers in its base unit (seconds, counts): the CSV output."""
    columns = (
        Column("check", "check"),
        Column("metric", "metric"),
        Column("unit", "unit"),
        Column("kind", "kind"),
        Column("status", "status"),
        Column("baseline", "baseline", "right"),
        Column("current", "current", "right"),
        Column("change", "change", "right"),
        Column("p_value", "p_value", "right"),
        Column("baseline_n", "baseline_n", "right"),
        Column("current_n", "current_n", "right"),
        Column("max_increase", "max_increase", "right"),
        Column("max_decrease", "max_decrease", "right"),
        Column("max", "max", "right"),
        Column("min", "min", "right"),
        Column("ratio", "ratio", "right"),
        Column("ci_low", "ci_low", "right"),
        Column("ci_high", "ci_high", "right"),
        Column("pairs", "pairs", "right"),
        Column("test", "test"),
        Column("note", "note"),
    )
    rows: list[tuple[Any, ...]] = []
    for o in r.outcomes:
        if o.error is not None:
            rows.append((o.name, "", "", "", "error", *([None] * 15), o.error))
    for m in (*r.metrics, *r.gone):
        lim = m.limits
        pc = m.paired
        rows.append(
            (
                m.check,
                m.name,
                m.unit,
                m.kind,
                m.status,
                m.baseline_value,
                m.current_value,
                m.change,
                m.p_value,
                len(m.baseline),
                len(m.current),
                lim.max_increase,
                lim.max_decrease,
                lim.max,
                lim.min,
                pc.ratio if pc else None,
                pc.low if pc else None,
                pc.high if pc and pc.high != float("inf") else None,
                pc.pairs if pc else None,
                (pc.test if pc else "mann-whitney-u")
                if m.kind == "timing" and m.p_value is not None
                else "",
                m.note,
            )
        )
    return Table(name="raw", title="", columns=columns, rows=rows)


def to_document(r: GateResult, *, raw: bool = False) -> Document:
    """The report; ``raw`` swaps the display table for :func:`raw_table` (CSV)."""
    rows: list[tuple[Any, ...]] = []
    styles: list[Style] = []
    for o in r.outcomes:
        if o.error is not None:
            rows.append((o.name, "", "", "", "", "error"))
            styles.append("bad")
        for m in o.metrics:
            rows.append(_row(m))
            styles.append(_STYLE[m.status])
    for m in r.gone:
        rows.append(_row(m))
        styles.append(_STYLE[m.status])
    # One id column (check.metric) keeps the table inside 100 columns; JSON has both parts.
    table = Table(
        name="metrics",
        title="",
        columns=(
            Column("metric", "Metric"),
            Column("baseline", "Baseline", "right"),
            Column("current", "Current", "right"),
            Column("change", "Change", "right"),
            Column("limit", "Limit"),
            Column("status", "Status"),
        ),
        rows=rows,
        row_styles=styles,
    )
    summary: list[str] = []
    if r.against is not None:
        summary.append(f"against {r.against.label}: both trees measured in this run, interleaved")
        summary.append(
            f"a timing fails when the whole {1 - 2 * r.alpha:.0%} interval of its paired ratio "
            f"is past its limit and p < {r.alpha:g} (one-sided Wilcoxon signed-rank); "
            f"{r.retries} retries"
        )
        if r.baseline is not None:
            summary.append(f"checks without timings: baseline {r.baseline.path}")
    elif r.baseline is not None:
        summary.append(f"baseline {r.baseline.path}, taken {r.baseline.created or '(undated)'}")
        summary.append(
            f"a timing fails when over its limit and slower with p < {r.alpha:g} "
            f"(one-sided Mann-Whitney U); {r.retries} retries"
        )
    else:
        summary.append("no baseline: absolute limits only")
    for o in r.outcomes:
        if o.error is not None:
            summary.append(f"{o.name}: could not run: {o.error}")
        summary.extend(
            metric_line(m)
            for m in o.metrics
            if m.status in ("regression", "noisy", "new", "improved") or m.note
        )
    summary.extend(metric_line(m) for m in r.gone)
    return Document(
        kind="check",
        schema_version=CHECK_SCHEMA,
        data=to_data(r),
        tables=(raw_table(r),) if raw else (table,),
        title="perfkit check",
        summary=tuple(summary),
        verdict=verdict_text(r),
        warnings=r.warnings,
    )


def _row(m: MetricResult) -> tuple[Any, ...]:
    return (
        m.id,
        fmt_value(m.baseline_value, m.unit),
        fmt_value(m.current_value, m.unit),
        _change_text(m),
        fmt_limits(m.limits, m.unit) or ("exact" if m.kind == "deterministic" else ""),
        m.status,
    )


def to_junit(r: GateResult) -> str:
    """JUnit XML: one testcase per check; regressions are failures, checks that could not run errors."""
    failures = sum(1 for o in r.outcomes if o.error is None and o.status == "regression")
    errors = len(r.errors)
    attrs = {
        "name": "perfkit check",
        "tests": str(len(r.outcomes)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": "0",
        "time": f"{r.seconds:.3f}",
    }
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            **attrs,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hostname": r.machine.hostname,
        },
    )
    for o in r.outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"perfkit.check.{o.type}", "name": o.name, "time": f"{o.seconds:.3f}"},
        )
        if o.error is not None:
            err = ET.SubElement(case, "error", {"message": o.error, "type": "CheckError"})
            err.text = o.error
        else:
            bad = [m for m in o.metrics if m.status == "regression"]
            if bad:
                fail = ET.SubElement(
                    case,
                    "failure",
                    {"message": "; ".join(metric_line(m) for m in bad), "type": "regression"},
                )
                fail.text = "\n".join(metric_line(m) for m in bad)
        if o.metrics:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(metric_line(m) for m in o.metrics)
    extra = list(r.warnings) + [metric_line(m) for m in r.gone]
    if extra:
        out = ET.SubElement(suite, "system-out")
        out.text = "\n".join(extra)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
