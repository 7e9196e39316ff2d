"""``type = "coldstart"``: import time, module count and named modules' time of a target.

The measurement is :func:`perfkit.coldstart.profile` (fresh processes, ``-X importtime``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfkit.check.counters import COUNTERS, resolve_counter
from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.check.types.base import CheckType, Param, RunEnv

MODULE_PREFIX = "module:"


class ColdstartCheck(CheckType):
    name: ClassVar[str] = "coldstart"
    summary: ClassVar[str] = "cold start of a module or handler (perfkit coldstart)"
    requires: ClassVar[tuple[str, ...]] = ("perfkit.coldstart:profile",)
    params: ClassVar[tuple[Param, ...]] = (
        Param("target", "str", required=True, help="module, file.py, or either with :function"),
        Param("runs", "int", default=10, min=2, help="fresh processes measured"),
        Param("warmup", "bool", default=True, help="one untimed run first (.pyc, disk cache)"),
        Param("modules", "str_list", default=(), help="modules whose own import time to track"),
        Param("python", "str", default=None, help="interpreter (default: the running one)"),
        Param("cwd", "path", default=".", help="project folder (relative to the config)"),
        Param("paths", "str_list", default=(), help="extra sys.path entries"),
        Param("timeout", "duration", default="60s", help="per process"),
        Param("env", "table", default={}, help="extra environment variables"),
        Param("event", "path", default=None, help="event JSON passed to the handler"),
        Param(
            "instructions",
            "str",
            default="off",
            help="count instructions of each cold start: callgrind (one extra run under "
            "valgrind per sample, slow), perf (perf stat, where the machine counts), auto "
            "(perf where it counts), off",
        ),
    )

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        specs = [
            MetricSpec("import_time", "s", "timing", "lower", "total import time of the target"),
            MetricSpec("wall", "s", "timing", "lower", "whole process, interpreter included"),
            # barely moved by other load on a shared runner, unlike import_time and wall
            MetricSpec("cpu", "s", "timing", "lower", "CPU time (user + system) of the process"),
            MetricSpec("modules", "count", "deterministic", "lower", "modules imported"),
        ]
        if ":" in str(params["target"]).rsplit("/", 1)[-1]:
            specs.append(MetricSpec("first_call", "s", "timing", "lower", "first handler call"))
        specs.extend(
            MetricSpec(f"{MODULE_PREFIX}{m}", "s", "timing", "lower", f"cumulative import of {m}")
            for m in params["modules"]
        )
        if params["instructions"] != "off":
            # deterministic under callgrind (within ~0.1%): moved by neither load nor frequency
            specs.append(
                MetricSpec("instructions", "count", "timing", "lower", "instructions of one start")
            )
        return tuple(specs)

    def validate(self, params: Mapping[str, Any], fail: Any) -> None:
        for k, v in params["env"].items():
            if not isinstance(v, str):
                fail("env", f"value of {k} must be a string")
        if params["instructions"] not in COUNTERS:
            fail("instructions", f"must be one of {', '.join(COUNTERS)}")

    def rounds(self, params: Mapping[str, Any]) -> int:
        return int(params["runs"])

    def one_sample(self, params: Mapping[str, Any], first: bool) -> Mapping[str, Any]:
        return {**params, "runs": 1, "warmup": bool(params["warmup"]) and first}

    def rebase(self, params: Mapping[str, Any], move: Callable[[Path], Path]) -> dict[str, Any]:
        out = super().rebase(params, move)
        python = params["python"]
        if python and os.sep in python and not os.path.isabs(python):
            # an interpreter inside this tree (.venv/bin/python) is not in the other one
            here = Path(params["cwd"]) / python
            if here.exists():
                out["python"] = str(here.resolve())
        return out

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        from perfkit.coldstart import profile

        p = check.params
        kwargs: dict[str, Any] = {
            "python": p["python"],
            "cwd": p["cwd"],
            "env": p["env"],
            "paths": p["paths"],
            "timeout": p["timeout"],
            "event": p["event"],
            "analyze": False,
        }
        named: tuple[str, ...] = p["modules"]
        runs: int = p["runs"]
        if named:
            # profile() keeps per-run totals but only medians per module: one process per
            # call gives each named module one sample per run.
            results = [
                profile(p["target"], runs=1, warmup=p["warmup"] and i == 0, **kwargs)
                for i in range(runs)
            ]
            samples = [r.runs[0] for r in results]
        else:
            result = profile(p["target"], runs=runs, warmup=p["warmup"], **kwargs)
            results = [result]
            samples = list(result.runs)
        metrics = [
            Metric("import_time", "s", "timing", tuple(s.import_ms / 1000 for s in samples)),
            Metric("modules", "count", "deterministic", (float(results[0].module_count),)),
        ]
        walls = [s.wall_ms for s in samples]
        if all(w is not None for w in walls):
            metrics.insert(
                1, Metric("wall", "s", "timing", tuple((w or 0.0) / 1000 for w in walls))
            )
        cpus = [s.cpu_ms for s in samples]
        if all(c is not None for c in cpus):
            metrics.insert(2, Metric("cpu", "s", "timing", tuple((c or 0.0) / 1000 for c in cpus)))
        if results[0].function:
            metrics.append(
                Metric(
                    "first_call",
                    "s",
                    "timing",
                    tuple((s.first_call_ms or 0.0) / 1000 for s in samples),
                )
            )
        for name in named:
            values = []
            for r in results:
                stat = next((m for m in r.modules if m.name == name), None)
                # a module not imported in a run costs nothing in that run
                values.append(stat.cumulative_ms.median / 1000 if stat else 0.0)
            metrics.append(Metric(f"{MODULE_PREFIX}{name}", "s", "timing", tuple(values)))
        counter = resolve_counter(p["instructions"])
        if counter is not None:
            from perfkit.coldstart import count_run_instructions, run_spec

            spec = run_spec(
                p["target"], p["python"], Path(p["cwd"]), p["env"], p["paths"], p["timeout"],
                p["event"],
            )  # fmt: skip
            counts = tuple(count_run_instructions(spec, counter) for _ in samples)
            metrics.append(Metric("instructions", "count", "timing", counts))
        return tuple(metrics)
