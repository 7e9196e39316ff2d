"""Data model of the regression gate: metrics, limits, checks and verdicts (all frozen)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from perfkit.check.stats import PairedComparison

Kind = Literal["timing", "deterministic"]
Better = Literal["lower", "higher"]
# Units a metric can have; they decide how limits are parsed and values shown.
Unit = Literal["s", "count", "cost", "rows", "ratio", "per_s"]
Status = Literal["pass", "regression", "improved", "noisy", "new", "gone", "error"]

UNITS: tuple[str, ...] = ("s", "count", "cost", "rows", "ratio", "per_s")


@dataclass(frozen=True)
class Metric:
    """One measured quantity. Timing metrics carry every sample; deterministic ones one value."""

    name: str
    unit: str
    kind: Kind
    samples: tuple[float, ...]
    better: Better = "lower"
    # A finding rather than a measure (a suggested index): new since the baseline = worse.
    fail_if_new: bool = False

    @property
    def value(self) -> float:
        """The median: robust to the odd slow run, and the only value of a deterministic metric."""
        return float(statistics.median(self.samples))


@dataclass(frozen=True)
class MetricSpec:
    """What a check type will produce, known from the config before anything runs."""

    name: str
    unit: str
    kind: Kind
    better: Better = "lower"
    description: str = ""


@dataclass(frozen=True)
class Limits:
    """Limits of one metric. Relative ones are fractions; absolute ones are in the metric's unit.

    ``max_increase``/``max`` apply to lower-is-better metrics, ``max_decrease``/``min``
    to higher-is-better ones (throughput, cache hit rate).
    """

    max_increase: float | None = None
    max_decrease: float | None = None
    max: float | None = None
    min: float | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.max_increase, self.max_decrease, self.max, self.min))

    @property
    def relative(self) -> float | None:
        return self.max_increase if self.max_increase is not None else self.max_decrease

    @property
    def absolute(self) -> float | None:
        return self.max if self.max is not None else self.min


@dataclass(frozen=True)
class CheckSpec:
    """One ``[check.<name>]`` table after validation."""

    name: str
    type: str
    params: Mapping[str, Any]
    limits: Mapping[str, Limits]
    metrics: tuple[MetricSpec, ...]
    base_dir: Path
    source: Path = Path("perfkit.toml")  # the config file, for errors found at run time
    # Hash of the check's definition (type and parameters, not limits): a baseline taken
    # with another definition measured something else.
    fingerprint: str = ""


@dataclass(frozen=True)
class GateConfig:
    """The whole ``[check]`` section."""

    path: Path
    checks: tuple[CheckSpec, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def check(self, name: str) -> CheckSpec:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class MetricResult:
    """The verdict on one metric."""

    check: str
    name: str
    unit: str
    kind: Kind
    better: Better
    status: Status
    current: tuple[float, ...] = ()
    baseline: tuple[float, ...] = ()
    limits: Limits = Limits()
    p_value: float | None = None
    note: str = ""
    # --against: the paired comparison (ratio current/base, its interval, the test)
    paired: PairedComparison | None = None

    @property
    def id(self) -> str:
        return f"{self.check}.{self.name}"

    @property
    def current_value(self) -> float | None:
        return float(statistics.median(self.current)) if self.current else None

    @property
    def baseline_value(self) -> float | None:
        return float(statistics.median(self.baseline)) if self.baseline else None

    @property
    def change(self) -> float | None:
        """Relative change, +0.10 meaning 10% more: of the paired ratio under --against,
        of the medians otherwise."""
        if self.paired is not None:
            return self.paired.change
        cur, base = self.current_value, self.baseline_value
        if cur is None or base is None:
            return None
        if base == 0:
            return 0.0 if cur == 0 else None
        return (cur - base) / abs(base)


@dataclass(frozen=True)
class CheckOutcome:
    """Everything about one check: its metrics' verdicts, or why it could not run."""

    name: str
    type: str
    metrics: tuple[MetricResult, ...]
    seconds: float
    attempts: int = 1
    error: str | None = None
    # Time spent inside the check's own measurement (the rest is the gate's overhead).
    measured_seconds: float = 0.0
    detail: str = ""
    # 1-minute load average when the check started (None: not known on this system)
    load: float | None = None

    @property
    def status(self) -> Status:
        if self.error is not None:
            return "error"
        statuses = {m.status for m in self.metrics}
        if "regression" in statuses:
            return "regression"
        return "pass"


@dataclass(frozen=True)
class Machine:
    """Where a baseline was measured; differences are reported, not fatal."""

    system: str
    release: str
    arch: str
    python: str
    implementation: str
    cpu_model: str
    cpu_count: int
    hostname: str
    perfkit: str
    # load average (1, 5, 15 minutes) when the gate started; () where the OS has none
    load: tuple[float, ...] = ()

    # hostname is recorded but not compared: CI runners get a new one every run.
    COMPARED = ("system", "arch", "python", "implementation", "cpu_model", "cpu_count")


@dataclass(frozen=True)
class BaselineInfo:
    path: Path
    schema_version: int
    created: str
    machine: Machine | None


@dataclass(frozen=True)
class AgainstInfo:
    """The other side of a ``--against`` run: what was measured, in which folder."""

    ref: str  # as given (a branch, tag, commit), or the folder of --against-dir
    commit: str  # resolved commit ("" for a folder that is not a git checkout)
    directory: Path
    temporary: bool  # a worktree perfkit made (and removed)

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.commit[:10]})" if self.commit else self.ref


@dataclass(frozen=True)
class GateResult:
    """The result of one ``perfkit check`` run."""

    config_path: Path
    outcomes: tuple[CheckOutcome, ...]
    gone: tuple[MetricResult, ...]
    alpha: float
    retries: int
    baseline: BaselineInfo | None
    machine: Machine
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    against: AgainstInfo | None = None

    @property
    def regressions(self) -> tuple[MetricResult, ...]:
        return tuple(m for o in self.outcomes for m in o.metrics if m.status == "regression")

    @property
    def errors(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if o.error is not None)

    @property
    def verdict(self) -> Literal["pass", "regression", "error"]:
        if self.errors:
            return "error"
        return "regression" if self.regressions else "pass"

    @property
    def metrics(self) -> tuple[MetricResult, ...]:
        return tuple(m for o in self.outcomes for m in o.metrics)
