"""Frozen results of ``perfkit coldstart``. Times are milliseconds."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfkit.coldstart.deferrable import Fix

SCHEMA_VERSION = 1
KIND = "coldstart"
# AWS Lambda on-demand price per GB-second, x86 (us-east-1, first tier). arm64: 0.0000133334.
DEFAULT_PRICE_PER_GB_S = 0.0000166667
# Lambda gives a function one full vCPU at 1,769 MB; below that, CPU share scales with memory.
FULL_VCPU_MB = 1769


@dataclass(frozen=True)
class Stat:
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        med = float(statistics.median(values))
        return cls(round(med, 3), round(float(min(values)), 3), round(float(max(values)), 3))


@dataclass(frozen=True)
class RunSample:
    """One measured process."""

    import_ms: float  # the target's import (sum of top-level cumulative times)
    wall_ms: float | None  # the whole process, interpreter startup included (None: from a log)
    modules: int
    first_call_ms: float | None = None
    second_call_ms: float | None = None
    first_call_imports_ms: float | None = None  # imports that happened during the first call
    cpu_ms: float | None = None  # user + system CPU of the process (None: from a log)


@dataclass(frozen=True)
class ModuleStat:
    name: str
    parent: str | None
    depth: int
    self_ms: Stat
    cumulative_ms: Stat
    runs: int  # runs in which the module was imported by the target
    project: bool  # one of the project's own modules
    # cumulative ms in every run, in run order (0 in a run that did not import it)
    cumulative_samples_ms: tuple[float, ...] = ()


@dataclass(frozen=True)
class TreeNode:
    """The import tree (structure of the first run, median times of all runs)."""

    name: str
    self_ms: float
    cumulative_ms: float
    children: tuple[TreeNode, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A top-level import that could be deferred, and what deferring it would save."""

    module: str
    importer: str
    file: str
    line: int
    statement: str
    names: tuple[str, ...]
    used_in: tuple[str, ...]
    saving_ms: float | None  # None: the saving could not be verified
    fix: Fix


@dataclass(frozen=True)
class KeptImport:
    """A costly top-level import that must stay eager, and why."""

    module: str
    importer: str
    file: str
    line: int
    statement: str
    reason: str
    cumulative_ms: float


@dataclass(frozen=True)
class HandlerTiming:
    function: str
    first_call_ms: Stat
    second_call_ms: Stat
    first_call_imports_ms: Stat


@dataclass(frozen=True)
class LambdaEstimate:
    memory_mb: int
    price_per_gb_s: float
    cpu_factor: float  # how much slower a CPU-bound import runs at this memory size
    measured_init_ms: float
    estimated_init_ms: float
    init_share: float | None  # init / (init + first call), when the handler was timed
    gb_seconds_per_cold_start: float
    cost_per_million_cold_starts: float
    saving_per_million_cold_starts: float | None


@dataclass(frozen=True)
class ModuleDiff:
    name: str
    baseline_ms: float | None
    current_ms: float | None
    delta_ms: float


@dataclass(frozen=True)
class ModuleVerdict:
    """One module's own verdict (cumulative import time), multiple-comparison corrected."""

    name: str
    baseline_ms: float
    current_ms: float
    delta_ms: float
    p_value: float  # the test's raw p-value
    adjusted_p: float  # Holm-adjusted over the family tested (total included)
    verdict: str  # regression | improvement | no significant change


@dataclass(frozen=True)
class BaselineComparison:
    baseline_file: str
    baseline_median_ms: float
    current_median_ms: float
    delta_ms: float
    delta_pct: float
    p_value: float | None
    test: str
    verdict: str  # regression | improvement | no significant change | inconclusive
    reason: str
    modules: tuple[ModuleDiff, ...]
    # the verdict on the import total alone (``verdict`` also counts the modules')
    total_verdict: str = ""
    module_verdicts: tuple[ModuleVerdict, ...] = ()  # the family tested, worst first
    paired: bool = False  # runs of both versions interleaved (--against)
    alpha: float = 0.05
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColdstartResult:
    target: str
    module: str
    function: str | None
    cwd: str  # the directory the target ran in; file paths are shown relative to it
    python: str
    python_version: str
    runs: tuple[RunSample, ...]
    import_ms: Stat
    wall_ms: Stat | None
    module_count: int
    modules: tuple[ModuleStat, ...]  # by median cumulative time, descending
    tree: tuple[TreeNode, ...]
    candidates: tuple[Candidate, ...]  # by saving, descending
    kept: tuple[KeptImport, ...]
    total_saving_ms: float | None
    handler: HandlerTiming | None = None
    lambda_estimate: LambdaEstimate | None = None
    baseline: BaselineComparison | None = None
    warnings: tuple[str, ...] = ()
    analyzed: bool = True  # False: no lazy-load analysis ran (--no-candidates, logs)
    # where it was measured: CPU model, cores, load, Python, perfkit (perfkit.check.Machine)
    machine: Mapping[str, Any] = field(default_factory=dict)

    @property
    def totals_ms(self) -> tuple[float, ...]:
        """Per-run import totals: the sample a statistical comparison needs."""
        return tuple(r.import_ms for r in self.runs)
