"""Compare a cold-start result with an earlier one (``--baseline PREVIOUS.json``).

The verdict uses the Mann-Whitney U test (scipy) over the per-run import
totals of both results: a change is a regression or an improvement only when
the test says the two samples differ (p < 0.05, two-sided) *and* the median moved
by more than ``max(1 ms, 2 %)``; otherwise it is within run-to-run noise. With
too few runs for the test to ever reach p < 0.05 (e.g. 3 against 3), the verdict is
"inconclusive".
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfkit.coldstart.model import (
    KIND,
    SCHEMA_VERSION,
    BaselineComparison,
    ColdstartResult,
    ModuleDiff,
)
from perfkit.errors import InputError

ALPHA = 0.05
MIN_DELTA_MS = 1.0
MIN_DELTA_FRACTION = 0.02
MODULE_DIFF_MIN_MS = 0.5


@dataclass(frozen=True)
class Baseline:
    path: str
    totals_ms: tuple[float, ...]
    modules_ms: Mapping[str, float]  # median cumulative per module
    python_version: str | None

    @classmethod
    def from_result(cls, result: ColdstartResult, label: str = "<result>") -> Baseline:
        """A baseline from an in-memory result (library callers, e.g. `perfkit check`)."""
        modules = {m.name: m.cumulative_ms.median for m in result.modules}
        return cls(label, result.totals_ms, modules, result.python_version or None)


def load_baseline(path: str | Path) -> Baseline:
    """Read a ``perfkit coldstart --format json`` result."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read baseline: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(path, f"baseline is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise InputError(path, "not a `perfkit coldstart --format json` result")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            path,
            f"baseline has schema_version {data.get('schema_version')!r}; "
            f"this perfkit reads {SCHEMA_VERSION}",
        )
    try:
        totals = tuple(float(r["import_ms"]) for r in data["runs"])
        modules = {str(m["name"]): float(m["cumulative_ms"]["median"]) for m in data["modules"]}
    except (KeyError, TypeError, ValueError):
        raise InputError(path, "baseline is missing runs[].import_ms or modules[]") from None
    if not totals:
        raise InputError(path, "baseline has no runs")
    version = data.get("python_version")
    return Baseline(str(path), totals, modules, str(version) if version else None)


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value the U test can give for these sample sizes."""
    return 2.0 / math.comb(n1 + n2, n1)


def compare(
    baseline: Baseline, current_totals: Sequence[float], current_modules: Mapping[str, float]
) -> BaselineComparison:
    from scipy.stats import mannwhitneyu

    base_med = float(statistics.median(baseline.totals_ms))
    cur_med = float(statistics.median(current_totals))
    delta = cur_med - base_med
    pct = delta / base_med * 100.0 if base_med > 0 else 0.0
    threshold = max(MIN_DELTA_MS, MIN_DELTA_FRACTION * base_med)
    n1, n2 = len(current_totals), len(baseline.totals_ms)
    p: float | None = None
    if min_p_value(n1, n2) >= ALPHA:
        verdict = "inconclusive"
        reason = (
            f"{n2} baseline and {n1} current runs are too few for a significance test "
            "(use at least 4 runs on each side)"
        )
    else:
        p = float(mannwhitneyu(current_totals, baseline.totals_ms, alternative="two-sided").pvalue)
        if p < ALPHA and abs(delta) >= threshold:
            verdict = "regression" if delta > 0 else "improvement"
            reason = f"Mann-Whitney U p={p:.3g} < {ALPHA}, change {delta:+.1f} ms ({pct:+.1f}%)"
        elif p < ALPHA:
            verdict = "no significant change"
            reason = f"statistically different (p={p:.3g}) but {delta:+.1f} ms is below {threshold:.1f} ms"
        else:
            verdict = "no significant change"
            reason = f"within run-to-run noise (Mann-Whitney U p={p:.3g})"
    diffs: list[ModuleDiff] = []
    for name in set(baseline.modules_ms) | set(current_modules):
        before = baseline.modules_ms.get(name)
        after = current_modules.get(name)
        d = (after or 0.0) - (before or 0.0)
        if abs(d) >= MODULE_DIFF_MIN_MS:
            diffs.append(ModuleDiff(name, before, after, d))
    diffs.sort(key=lambda m: (-abs(m.delta_ms), m.name))
    return BaselineComparison(
        baseline_file=baseline.path,
        baseline_median_ms=base_med,
        current_median_ms=cur_med,
        delta_ms=delta,
        delta_pct=pct,
        p_value=p,
        test="mann-whitney-u",
        verdict=verdict,
        reason=reason,
        modules=tuple(diffs),
    )
