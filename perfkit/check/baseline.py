"""Baseline files: every metric with all its samples, where they were measured, and a schema version."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from perfkit import __version__
from perfkit.check.model import BaselineInfo, GateConfig, GateResult, Machine, Metric
from perfkit.errors import InputError
from perfkit.report.output import write_atomic

BASELINE_KIND = "perfkit-check-baseline"
# 1: first version. Bump when the layout changes; older files are still read (with a warning).
BASELINE_SCHEMA = 1


@dataclass(frozen=True)
class Baseline:
    info: BaselineInfo
    # check name -> {"type": ..., "fingerprint": ...}
    checks: Mapping[str, Mapping[str, str]]
    # check name -> metric name -> metric
    metrics: Mapping[str, Mapping[str, Metric]]
    warnings: tuple[str, ...] = ()

    def metric(self, check: str, name: str) -> Metric | None:
        return self.metrics.get(check, {}).get(name)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> tuple[float, ...]:
    """The 1, 5 and 15-minute load averages, () where the OS has none."""
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except (AttributeError, OSError):
        return ()


# A machine is busy when its 1-minute load exceeds this share of its cores.
BUSY_LOAD_PER_CORE = 0.75


def busy(load: tuple[float, ...], cores: int) -> bool:
    return bool(load) and load[0] > BUSY_LOAD_PER_CORE * max(cores, 1)


def this_machine() -> Machine:
    return Machine(
        system=platform.system(),
        release=platform.release(),
        arch=platform.machine(),
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        hostname=socket.gethostname(),
        perfkit=__version__,
        load=load_average(),
    )


def machine_differences(old: Machine | None, new: Machine) -> list[str]:
    """Human-readable differences that can move timings (hostname is not one)."""
    if old is None:
        return ["the baseline does not say which machine it was measured on"]
    out = []
    for name in Machine.COMPARED:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            out.append(f"{name.replace('_', ' ')} {a} -> {b}")
    if old.perfkit and old.perfkit != new.perfkit:
        out.append(f"perfkit {old.perfkit} -> {new.perfkit}")
    if busy(old.load, old.cpu_count or new.cpu_count) != busy(new.load, new.cpu_count):
        out.append(
            f"load {old.load[0] if old.load else '?'} -> {new.load[0] if new.load else '?'} "
            f"on {new.cpu_count} cores (one side measured on a busy machine)"
        )
    return out


def baseline_payload(result: GateResult, gate: GateConfig) -> dict[str, Any]:
    """The JSON object of a baseline file, from a gate run."""
    metrics = []
    for o in result.outcomes:
        for m in o.metrics:
            if m.current:
                metrics.append(
                    {
                        "check": m.check,
                        "name": m.name,
                        "unit": m.unit,
                        "kind": m.kind,
                        "better": m.better,
                        "samples": list(m.current),
                    }
                )
    return {
        "schema_version": BASELINE_SCHEMA,
        "kind": BASELINE_KIND,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": asdict(result.machine),
        "config": str(gate.path),
        "checks": {c.name: {"type": c.type, "fingerprint": c.fingerprint} for c in gate.checks},
        "metrics": metrics,
    }


def save_baseline(path: Path, result: GateResult, gate: GateConfig) -> None:
    text = json.dumps(baseline_payload(result, gate), indent=1) + "\n"
    write_atomic(path, text)


def load_baseline(path: Path) -> Baseline:
    """Read a baseline; an older schema or missing machine info is read with a warning."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            path, "baseline file not found (create one with --save-baseline)"
        ) from None
    except OSError as exc:
        raise InputError(path, f"cannot read baseline: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(path, "baseline is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"baseline is not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("kind") != BASELINE_KIND:
        raise InputError(path, "not a perfkit check baseline (written by --save-baseline)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(path, "baseline has no schema_version")
    if version > BASELINE_SCHEMA:
        raise InputError(
            path,
            f"baseline schema version {version} is newer than this perfkit reads "
            f"({BASELINE_SCHEMA}); upgrade perfkit",
        )
    warnings: list[str] = []
    if version < BASELINE_SCHEMA:
        warnings.append(
            f"baseline {path.name} has schema version {version} (current {BASELINE_SCHEMA}); "
            "compared anyway"
        )
    machine = machine_from_json(data.get("machine"))
    checks_raw = data.get("checks")
    checks: dict[str, dict[str, str]] = {}
    if isinstance(checks_raw, Mapping):
        for name, value in checks_raw.items():
            if isinstance(value, Mapping):
                checks[str(name)] = {str(k): str(v) for k, v in value.items()}
    metrics: dict[str, dict[str, Metric]] = {}
    raw_metrics = data.get("metrics")
    if not isinstance(raw_metrics, list):
        raise InputError(path, "baseline has no metrics list")
    for i, entry in enumerate(raw_metrics):
        try:
            check = str(entry["check"])
            samples = tuple(float(s) for s in entry["samples"])
            kind = entry.get("kind", "timing")
            better = entry.get("better", "lower")
            if kind not in ("timing", "deterministic") or better not in ("lower", "higher"):
                raise ValueError
            if not samples:
                raise ValueError
            metric = Metric(str(entry["name"]), str(entry.get("unit", "")), kind, samples, better)
        except (KeyError, TypeError, ValueError):
            raise InputError(path, f"metric #{i + 1} of the baseline is malformed") from None
        metrics.setdefault(check, {})[metric.name] = metric
    info = BaselineInfo(
        path=path,
        schema_version=version,
        created=str(data.get("created", "")),
        machine=machine,
    )
    return Baseline(info=info, checks=checks, metrics=metrics, warnings=tuple(warnings))


def machine_from_json(raw: Any) -> Machine | None:
    """A :class:`Machine` from its JSON form (None when absent or not an object)."""
    if not isinstance(raw, Mapping):
        return None
    names = {f.name for f in fields(Machine)}
    values: dict[str, Any] = {}
    for name in names:
        v = raw.get(name)
        if name == "cpu_count":
            values[name] = int(v) if isinstance(v, int) else 0
        elif name == "load":
            if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v):
                values[name] = tuple(float(x) for x in v)
            else:
                values[name] = ()
        else:
            values[name] = "" if v is None else str(v)
    return Machine(**values)
