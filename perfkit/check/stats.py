"""Noise-aware statistics of paired timings (pure functions, no scipy needed).

Paired samples come from runs of two versions interleaved A B A B: pair ``i`` is one
run of each, taken seconds apart, so whatever the machine does to both (a CPU hog, a
frequency change, a noisy neighbour) cancels in their ratio. The verdict works on the
log-ratios ``d_i = ln(current_i / base_i)``:

* an **outlier rule** drops pairs outside Tukey's fences (``Q1 - 1.5 IQR``,
  ``Q3 + 1.5 IQR``): a hog that started between the two runs of one pair;
* the **Wilcoxon signed-rank test** (one- or two-sided), exact for up to
  :data:`EXACT_MAX` pairs (ties and zeros included, by the exact permutation
  distribution of their ranks), normal approximation above;
* the **Hodges-Lehmann estimate** of the ratio (the median of the Walsh averages) with
  its distribution-free confidence interval, the interval the signed-rank test inverts.

A minimum sample size is enforced by :func:`min_signed_rank_p`: with n pairs the test
can never give a p-value below ``2**-n`` (one-sided), so fewer than
``ceil(log2(1/alpha))`` pairs can never be significant.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Alternative = Literal["greater", "less", "two-sided"]

# Up to this many non-zero pairs the signed-rank distribution is computed exactly.
EXACT_MAX = 60
IQR_FENCE = 1.5
# The smallest number of pairs an outlier rule is applied to (fewer: quartiles mean little).
MIN_FOR_OUTLIERS = 8
# Sequential pairs stop at a pass only when the interval at level alpha / SETTLE_FACTOR
# lies inside the limit: a real change past the limit stops there less than 1% of the
# time instead of 5% (the regression side keeps alpha: it never stops early wrongly
# for an unchanged timing, whose ratio is far from the limit).
SETTLE_FACTOR = 5


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """First and third quartile (linear interpolation, as numpy's default)."""
    xs = sorted(values)
    if not xs:
        raise ValueError("no values")

    def q(p: float) -> float:
        pos = (len(xs) - 1) * p
        lo = math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return q(0.25), q(0.75)


def iqr_keep(values: Sequence[float], fence: float = IQR_FENCE) -> list[int]:
    """Indices of the values inside Tukey's fences; all of them below :data:`MIN_FOR_OUTLIERS`."""
    if len(values) < MIN_FOR_OUTLIERS:
        return list(range(len(values)))
    q1, q3 = quartiles(values)
    spread = q3 - q1
    lo, hi = q1 - fence * spread, q3 + fence * spread
    return [i for i, v in enumerate(values) if lo <= v <= hi]


def log_ratios(current: Sequence[float], base: Sequence[float]) -> list[float]:
    """``ln(current_i / base_i)`` of each pair; a pair with a value <= 0 is skipped."""
    return [math.log(c / b) for c, b in zip(current, base, strict=False) if c > 0 and b > 0]


def _signed_rank_counts(weights: Sequence[int]) -> list[int]:
    """Number of sign assignments giving each sum of positive weights (exact null law)."""
    counts = [1] + [0] * sum(weights)
    top = 0
    for w in weights:
        top += w
        for s in range(top, w - 1, -1):
            counts[s] += counts[s - w]
    return counts


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mean
        i = j + 1
    return ranks


def signed_rank_p(d: Sequence[float], alternative: Alternative = "greater") -> float:
    """p-value of the Wilcoxon signed-rank test that the ``d`` are centred on 0.

    ``greater``: the alternative is that they are centred above 0. Zeros are dropped
    (Wilcoxon's rule); no non-zero value gives p = 1.
    """
    nz = [x for x in d if x != 0]
    n = len(nz)
    if n == 0:
        return 1.0
    ranks = _ranks([abs(x) for x in nz])
    w_plus = sum(r for r, x in zip(ranks, nz, strict=True) if x > 0)
    if n <= EXACT_MAX:
        weights = [round(2 * r) for r in ranks]  # mid-ranks are halves: double them
        counts = _signed_rank_counts(weights)
        total = 2**n
        stat = round(2 * w_plus)
        upper = sum(counts[stat:]) / total  # P(W+ >= observed)
        lower = sum(counts[: stat + 1]) / total  # P(W+ <= observed)
    else:
        mean = n * (n + 1) / 4
        var = sum(r * r for r in ranks) / 4
        sd = math.sqrt(var) if var > 0 else 1.0
        upper = 0.5 * math.erfc((w_plus - 0.5 - mean) / sd / math.sqrt(2))
        lower = 0.5 * math.erfc((mean - w_plus - 0.5) / sd / math.sqrt(2))
    if alternative == "greater":
        return float(min(1.0, upper))
    if alternative == "less":
        return float(min(1.0, lower))
    return float(min(1.0, 2 * min(upper, lower)))


def min_signed_rank_p(n: int, alternative: Alternative = "greater") -> float:
    """The smallest p-value the signed-rank test can give with ``n`` pairs."""
    if n <= 0:
        return 1.0
    p = 0.5**n
    return min(1.0, 2 * p) if alternative == "two-sided" else p


def min_pairs(alpha: float, alternative: Alternative = "greater") -> int:
    """The fewest pairs with which the signed-rank test can reach ``p < alpha``."""
    n = 1
    while min_signed_rank_p(n, alternative) >= alpha:
        n += 1
    return n


def hodges_lehmann(d: Sequence[float], alpha: float) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the centre of ``d``: a ``1 - 2*alpha`` two-sided interval,
    whose each bound is a one-sided ``1 - alpha`` bound (Walsh averages, exact critical
    value of the signed-rank law up to :data:`EXACT_MAX` values, normal above)."""
    n = len(d)
    if n == 0:
        raise ValueError("no values")
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    m = len(walsh)
    estimate = float(statistics.median(walsh))
    # k: how many Walsh averages to cut from each end, the largest with P(W+ < k) <= alpha
    if n <= EXACT_MAX:
        counts = _signed_rank_counts(list(range(1, n + 1)))
        total = 2**n
        cdf = 0
        k = 0
        while k < len(counts) and (cdf + counts[k]) / total <= alpha:
            cdf += counts[k]
            k += 1
    else:
        z = _z(1 - alpha)
        mean = n * (n + 1) / 4
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        k = max(0, math.floor(mean - z * sd))
    if k == 0 or k > m // 2:
        return estimate, -math.inf, math.inf  # too few values for any interval
    return estimate, walsh[k - 1], walsh[m - k]


def _z(p: float) -> float:
    """The standard normal quantile (inverse by bisection on erfc; no scipy)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class PairedComparison:
    """The paired verdict's numbers: the ratio current/base with its interval."""

    pairs: int  # pairs used, after outliers
    outliers: int  # pairs dropped by the IQR rule
    ratio: float  # Hodges-Lehmann estimate of current / base
    low: float  # lower bound of the interval of the ratio
    high: float  # upper bound
    confidence: float  # two-sided coverage of [low, high]
    p_value: float  # Wilcoxon signed-rank, in the direction of "worse"
    test: str = "wilcoxon-signed-rank"
    # the interval at the stricter level a pass must clear to stop sampling
    # (:data:`SETTLE_FACTOR`); nan: not computed (then [low, high] is used)
    settle_low: float = math.nan
    settle_high: float = math.nan

    @property
    def change(self) -> float:
        return self.ratio - 1.0


def paired_compare(
    current: Sequence[float],
    base: Sequence[float],
    *,
    worse: Literal["greater", "less"],
    alpha: float,
) -> PairedComparison | None:
    """Compare paired samples (``current[i]`` with ``base[i]``); None: no usable pair."""
    d = log_ratios(current, base)
    if not d:
        return None
    keep = iqr_keep(d)
    used = [d[i] for i in keep]
    est, lo, hi = hodges_lehmann(used, alpha)
    _, slo, shi = hodges_lehmann(used, alpha / SETTLE_FACTOR)
    p = signed_rank_p(used, worse)
    return PairedComparison(
        pairs=len(used),
        outliers=len(d) - len(used),
        ratio=math.exp(est),
        low=_exp(lo),
        high=_exp(hi),
        confidence=1 - 2 * alpha,
        p_value=p,
        settle_low=_exp(slo),
        settle_high=_exp(shi),
    )


def _exp(x: float) -> float:
    return 0.0 if x == -math.inf else math.exp(x)


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm-Bonferroni: which of ``p_values`` are significant with the family-wise error
    rate held at ``alpha``."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] < alpha / (m - rank):
            out[i] = True
        else:
            break
    return out


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (significant at alpha when adjusted < alpha)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    m = len(p_values)
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out
