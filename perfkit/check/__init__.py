"""`perfkit check`: a CI regression gate over everything perfkit measures.

Library use::

    from perfkit.check import GateOptions, load_baseline, parse_gate_config, run_gate
    from perfkit.config import load_config

    gate = parse_gate_config(load_config("perfkit.toml"))
    result = run_gate(gate, load_baseline(Path("baseline.json")), GateOptions(retries=3))
    print(result.verdict, [m.id for m in result.regressions])
"""

from perfkit.check.baseline import Baseline, load_baseline, save_baseline, this_machine
from perfkit.check.config import parse_gate_config
from perfkit.check.gate import GateOptions, run_gate
from perfkit.check.model import (
    CheckOutcome,
    CheckSpec,
    GateConfig,
    GateResult,
    Limits,
    Metric,
    MetricResult,
    MetricSpec,
)
from perfkit.check.report import to_document, to_junit

__all__ = [
    "Baseline",
    "CheckOutcome",
    "CheckSpec",
    "GateConfig",
    "GateOptions",
    "GateResult",
    "Limits",
    "Metric",
    "MetricResult",
    "MetricSpec",
    "load_baseline",
    "parse_gate_config",
    "run_gate",
    "save_baseline",
    "this_machine",
    "to_document",
    "to_junit",
]
