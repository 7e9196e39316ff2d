"""Verdict on one metric: limits crossed, and for timings a significant difference too.

A timing metric regresses only when its median crosses a limit *and* a one-sided
Mann-Whitney U test (``scipy.stats.mannwhitneyu``, as asv does) says the new samples
are worse than the baseline's at level ``alpha``. The test runs only when a limit is
crossed, so a passing gate never pays for importing scipy; faster timings pass with
their change shown. A limit crossed without significance is ``noisy`` (a pass). The
gate re-measures any crossed timing before its verdict (see :mod:`perfkit.check.gate`).
Deterministic metrics (plan cost, module count) compare exactly unless limits say how
much change is acceptable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from perfkit.check.fmt import fmt_value
from perfkit.check.model import Limits, Metric, MetricResult


def mann_whitney_p(current: Sequence[float], baseline: Sequence[float], worse: str) -> float:
    """One-sided p-value that ``current`` is stochastically greater (``worse="greater"``) or less."""
    from scipy.stats import mannwhitneyu

    if len(set(current) | set(baseline)) == 1:
        return 1.0  # all equal: nothing to test (scipy would still answer, slowly)
    p = float(mannwhitneyu(current, baseline, alternative=worse).pvalue)
    return 1.0 if math.isnan(p) else p


def min_p_value(n: int, m: int) -> float:
    """The smallest one-sided p-value an exact U test can give with n and m samples."""
    return 1.0 / math.comb(n + m, n) if n and m else 1.0


def crossed(value: float, base: float | None, limits: Limits, better: str, unit: str) -> str | None:
    """Which limit ``value`` crosses, as a short phrase ("over +10%"), or None."""
    rel = limits.relative
    if better == "lower":
        if rel is not None and base is not None and value > base * (1 + rel):
            return f"over +{rel * 100:g}%"
        if limits.max is not None and value > limits.max:
            return f"over max {fmt_value(limits.max, unit)}"
    else:
        if rel is not None and base is not None and value < base * (1 - rel):
            return f"under -{rel * 100:g}%"
        if limits.min is not None and value < limits.min:
            return f"under min {fmt_value(limits.min, unit)}"
    return None


def compare_metric(
    check: str,
    current: Metric,
    baseline: Metric | None,
    limits: Limits,
    *,
    alpha: float,
    have_baseline: bool,
) -> MetricResult:
    """The verdict on ``current`` against ``baseline`` (None: no baseline for this metric)."""
    cur = current.value
    base = baseline.value if baseline is not None else None
    unit = current.unit
    result = _passing(check, current, baseline, limits)
    hit = crossed(cur, base, limits, current.better, unit)

    if baseline is None:
        if have_baseline and current.fail_if_new:
            return _with(result, "regression", "new since the baseline")
        if hit:
            return _with(result, "regression", f"{hit}; no baseline")
        return _with(
            result, "new" if have_baseline else "pass", "no baseline" if have_baseline else ""
        )

    assert base is not None
    if current.kind == "deterministic":
        if limits.empty:
            worse = cur > base if current.better == "lower" else cur < base
            if worse:
                return _with(result, "regression", "compared exactly")
            if cur != base:
                return _with(result, "improved", "")
            return result
        if hit:
            return _with(result, "regression", hit)
        if cur != base and (cur < base) == (current.better == "lower"):
            return _with(result, "improved", "")
        return result

    worse_alt = "greater" if current.better == "lower" else "less"
    # The test runs only where it decides something: importing scipy costs more than a
    # quick check, and a median inside its limits passes whatever p says.
    if hit:
        from perfkit.check.stats import iqr_keep

        # runs outside Tukey's fences of their own side (a hog that came and went) are
        # left out of the test
        cur_kept = [current.samples[i] for i in iqr_keep(current.samples)]
        base_kept = [baseline.samples[i] for i in iqr_keep(baseline.samples)]
        dropped = len(current.samples) + len(baseline.samples) - len(cur_kept) - len(base_kept)
        out = f"; {dropped} outlier run(s) left out (IQR)" if dropped else ""
        p = mann_whitney_p(cur_kept, base_kept, worse_alt)
        if p < alpha:
            return _with(result, "regression", f"{hit}; p={p:.3g} < {alpha:g}{out}", p)
        floor = min_p_value(len(cur_kept), len(base_kept))
        why = (
            f"; {len(cur_kept)}+{len(base_kept)} samples cannot reach it: raise runs"
            if floor >= alpha
            else ""
        )
        return _with(
            result, "noisy", f"{hit} but not significant (p={p:.3g} >= {alpha:g}){why}{out}", p
        )
    return result


def _passing(check: str, current: Metric, baseline: Metric | None, limits: Limits) -> MetricResult:
    """The result before any verdict: both sides' samples, status pass."""
    return MetricResult(
        check=check,
        name=current.name,
        unit=current.unit,
        kind=current.kind,
        better=current.better,
        status="pass",
        current=current.samples,
        baseline=baseline.samples if baseline is not None else (),
        limits=limits,
    )


def _with(result: MetricResult, status: str, note: str, p: float | None = None) -> MetricResult:
    return replace(
        result,
        status=status,  # type: ignore[arg-type]
        note=note,
        p_value=p if p is not None else result.p_value,
    )


def gone_metric(check: str, metric: Metric) -> MetricResult:
    """A baseline metric that no check produces any more: shown, never dropped."""
    return MetricResult(
        check=check,
        name=metric.name,
        unit=metric.unit,
        kind=metric.kind,
        better=metric.better,
        status="gone",
        baseline=metric.samples,
        note="in the baseline, not produced by any check now",
    )


def compare_paired(
    check: str, current: Metric, base: Metric, limits: Limits, *, alpha: float
) -> MetricResult:
    """The verdict on paired timings (``--against``: sample ``i`` of both sides ran back to back).

    A relative limit regresses only when the whole interval of the ratio current/base
    lies past it *and* the one-sided Wilcoxon signed-rank test is significant at
    ``alpha``; an absolute limit when the current median crosses it and the test is
    significant. A limit crossed by the estimate alone is ``noisy`` (the gate re-measures).
    """
    from perfkit.check.stats import min_pairs, paired_compare

    result = _passing(check, current, base, limits)
    lower_better = current.better == "lower"
    pc = paired_compare(
        current.samples, base.samples, worse="greater" if lower_better else "less", alpha=alpha
    )
    if pc is None:
        return _with(result, "pass", "no pair of positive samples to compare")
    result = replace(result, paired=pc, p_value=pc.p_value)
    stats = (
        f"ratio {pc.ratio:.3f} [{pc.low:.3f}, {pc.high:.3f}] ({pc.confidence:.0%} interval), "
        f"Wilcoxon signed-rank p={pc.p_value:.3g}, {pc.pairs} pairs"
        + (f", {pc.outliers} outlier pair(s) dropped (IQR)" if pc.outliers else "")
    )
    significant = pc.p_value < alpha
    rel = limits.relative
    if rel is not None:
        bound = 1 + rel if lower_better else 1 - rel
        phrase = f"+{rel * 100:g}%" if lower_better else f"-{rel * 100:g}%"
        past_point = pc.ratio > bound if lower_better else pc.ratio < bound
        past_interval = pc.low > bound if lower_better else pc.high < bound
        if past_interval and significant:
            return _with(result, "regression", f"{stats}: wholly past {phrase}", pc.p_value)
        if past_point:
            few = (
                f"; {pc.pairs} pairs cannot be significant at {alpha:g}: raise runs"
                if pc.pairs < min_pairs(alpha)
                else ""
            )
            return _with(
                result, "noisy", f"{stats}: past {phrase}, but not the interval{few}", pc.p_value
            )
    hit = crossed(result.current_value or 0.0, None, replace(limits, max_increase=None,
                  max_decrease=None), current.better, current.unit)  # fmt: skip
    if hit:
        if significant:
            return _with(result, "regression", f"{hit}; {stats}", pc.p_value)
        return _with(result, "noisy", f"{hit} but not significant; {stats}", pc.p_value)
    return _with(result, "pass", stats, pc.p_value)


def unsettled(result: MetricResult) -> bool:
    """Whether more pairs could change a paired timing's verdict: ``noisy``, or a pass
    whose interval of the ratio still holds its relative limit (the estimate inside it,
    the interval not; the stricter settling interval, see
    :data:`perfkit.check.stats.SETTLE_FACTOR`). A regression is settled; so is an
    interval wholly inside."""
    if result.status == "noisy":
        return True
    pc = result.paired
    rel = result.limits.relative
    if pc is None or rel is None or result.status != "pass":
        return False
    low = pc.low if math.isnan(pc.settle_low) else pc.settle_low
    high = pc.high if math.isnan(pc.settle_high) else pc.settle_high
    if result.better == "lower":
        return high >= 1 + rel
    return low <= 1 - rel
