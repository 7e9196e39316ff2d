"""Compare a cold-start result with an earlier one (``--baseline PREVIOUS.json``) or with
another revision measured in the same run (``--against REF``).

The import total and every module large enough to matter (a median cumulative time of
at least :data:`FAMILY_MIN_MS` and :data:`FAMILY_MIN_SHARE` of the total, on either
side) each get a two-sided test that it moved by more than its threshold ``max(1 ms,
2 %)`` of its baseline median: Mann-Whitney U over the per-run times of two separate
results, the Wilcoxon signed-rank test over the per-run differences when the runs were
interleaved (paired). The p-values of that family are Holm-corrected, so testing forty
modules does not give forty chances of a false alarm. A change is a regression or an
improvement only when its corrected p < 0.05 *and* its estimate is past the threshold;
the overall verdict is a regression when the total or any module regressed.
With too few runs for any test to reach significance after the correction, the verdict
says so ("inconclusive").
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkit.coldstart.model import (
    KIND,
    SCHEMA_VERSION,
    BaselineComparison,
    ColdstartResult,
    ModuleDiff,
    ModuleVerdict,
)
from perfkit.errors import InputError

ALPHA = 0.05
MIN_DELTA_MS = 1.0
MIN_DELTA_FRACTION = 0.02
MODULE_DIFF_MIN_MS = 0.5


FAMILY_MIN_MS = 1.0
FAMILY_MIN_SHARE = 0.01


@dataclass(frozen=True)
class Baseline:
    path: str
    totals_ms: tuple[float, ...]
    modules_ms: Mapping[str, float]  # median cumulative per module
    python_version: str | None
    # per-run cumulative ms per module (empty: a result written before perfkit kept them)
    module_samples_ms: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    machine: Mapping[str, Any] = field(default_factory=dict)  # where it was measured

    @classmethod
    def from_result(cls, result: ColdstartResult, label: str = "<result>") -> Baseline:
        """A baseline from an in-memory result (library callers, e.g. `perfkit check`)."""
        modules = {m.name: m.cumulative_ms.median for m in result.modules}
        samples = {m.name: m.cumulative_samples_ms for m in result.modules}
        return cls(
            label, result.totals_ms, modules, result.python_version or None, samples,
            result.machine,
        )  # fmt: skip


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
        samples = {
            str(m["name"]): tuple(float(x) for x in m["cumulative_samples_ms"])
            for m in data["modules"]
            if isinstance(m.get("cumulative_samples_ms"), list)
        }
    except (KeyError, TypeError, ValueError):
        raise InputError(path, "baseline is missing runs[].import_ms or modules[]") from None
    if not totals:
        raise InputError(path, "baseline has no runs")
    version = data.get("python_version")
    if samples and any(len(v) != len(totals) for v in samples.values()):
        raise InputError(path, "baseline modules[].cumulative_samples_ms do not match its runs")
    machine = data.get("machine")
    return Baseline(
        str(path), totals, modules, str(version) if version else None, samples,
        machine if isinstance(machine, dict) else {},
    )  # fmt: skip


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value the U test can give for these sample sizes."""
    return 2.0 / math.comb(n1 + n2, n1)


def _threshold(base_ms: float) -> float:
    return max(MIN_DELTA_MS, MIN_DELTA_FRACTION * base_ms)


def _test(current: Sequence[float], base: Sequence[float], paired: bool, margin: float) -> float:
    """Two-sided p-value that ``current`` and ``base`` differ by more than ``margin`` ms.

    The null hypothesis is a change within the threshold (``|delta| <= margin``), not
    no change at all: each direction is tested with the current side shifted by the
    margin (Wilcoxon on the differences minus / plus the margin when paired, Mann-Whitney
    U on the shifted current runs otherwise), and the smaller p-value doubled. A module
    that truly did not move is then far from significance even when load skews its
    runs, instead of alarming at the test's nominal rate.
    """
    if paired:
        from perfkit.check.stats import signed_rank_p

        diffs = [c - b for c, b in zip(current, base, strict=False)]
        slower = signed_rank_p([x - margin for x in diffs], "greater")
        faster = signed_rank_p([x + margin for x in diffs], "less")
        return min(1.0, 2 * min(slower, faster))
    if len(set(current) | set(base)) == 1:
        return 1.0
    from scipy.stats import mannwhitneyu

    def one(shifted: list[float], alternative: str) -> float:
        p = float(mannwhitneyu(shifted, base, alternative=alternative).pvalue)
        return 1.0 if math.isnan(p) else p

    slower = one([c - margin for c in current], "greater")
    faster = one([c + margin for c in current], "less")
    return min(1.0, 2 * min(slower, faster))


def _floor(n1: int, n2: int, paired: bool) -> float:
    if paired:
        from perfkit.check.stats import min_signed_rank_p

        return min_signed_rank_p(min(n1, n2), "two-sided")
    return min_p_value(n1, n2)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def compare(
    baseline: Baseline,
    current_totals: Sequence[float],
    current_modules: Mapping[str, float],
    current_samples: Mapping[str, Sequence[float]] | None = None,
    *,
    paired: bool = False,
    alpha: float = ALPHA,
) -> BaselineComparison:
    """The verdict on the total and on each module; ``paired``: run ``i`` of both sides
    ran back to back (``--against``), so the test is on the per-run differences."""
    from perfkit.check.stats import holm_adjusted

    if paired and len(current_totals) != len(baseline.totals_ms):
        raise ValueError("paired comparison needs as many runs on both sides")
    base_med = _median(baseline.totals_ms)
    cur_med = _median(current_totals)
    delta = cur_med - base_med
    pct = delta / base_med * 100.0 if base_med > 0 else 0.0
    n1, n2 = len(current_totals), len(baseline.totals_ms)
    notes: list[str] = []

    # the family: the total, then every module that is not negligible on either side
    family: list[tuple[str, Sequence[float], Sequence[float]]] = [
        ("", current_totals, baseline.totals_ms)
    ]
    current_samples = current_samples or {}
    smallest = _floor(n1, n2, paired)
    # Holm's first step is Bonferroni's: with m comparisons a p-value must be < alpha/m,
    # and these sample sizes cannot give less than `smallest`
    room = max(0, math.ceil(alpha / smallest) - 1) if smallest > 0 else 0
    if current_samples and baseline.module_samples_ms:
        floor_ms = max(FAMILY_MIN_MS, FAMILY_MIN_SHARE * max(base_med, cur_med))
        sized: list[tuple[float, str, Sequence[float], Sequence[float]]] = []
        for name in sorted(set(baseline.module_samples_ms) | set(current_samples)):
            cur = current_samples.get(name) or (0.0,) * n1
            base = baseline.module_samples_ms.get(name) or (0.0,) * n2
            size = max(_median(cur), _median(base))
            if size >= floor_ms:
                sized.append((size, name, cur, base))
        sized.sort(key=lambda t: (-t[0], t[1]))
        if len(sized) + 1 > room >= 1:
            notes.append(
                f"{len(sized)} modules of {floor_ms:.1f} ms or more, but {n1} runs can "
                f"settle only {room - 1} after the correction: the largest are tested "
                "(raise --runs to test more)"
            )
            sized = sized[: room - 1]
        family.extend((name, cur, base) for _, name, cur, base in sized)
    elif current_samples:
        notes.append(
            "no verdict per module: the baseline has no per-run module times "
            "(written by an older perfkit; save it again)"
        )
    test_name = "wilcoxon-signed-rank" if paired else "mann-whitney-u"
    test_label = "Wilcoxon signed-rank" if paired else "Mann-Whitney U"

    def outcome(
        p: float | None,
        verdict: str,
        reason: str,
        total_verdict: str,
        verdicts: tuple[ModuleVerdict, ...],
    ) -> BaselineComparison:
        return BaselineComparison(
            baseline_file=baseline.path,
            baseline_median_ms=base_med,
            current_median_ms=cur_med,
            delta_ms=delta,
            delta_pct=pct,
            p_value=p,
            test=test_name,
            verdict=verdict,
            reason=reason,
            modules=_diffs(baseline, current_modules),
            total_verdict=total_verdict,
            module_verdicts=verdicts,
            paired=paired,
            alpha=alpha,
            notes=tuple(notes),
        )

    if room < 1:
        verdict = total_verdict = "inconclusive"
        reason = (
            f"{n2} baseline and {n1} current runs are too few for a significance test "
            f"(use at least {6 if paired else 4} runs on each side)"
        )
        return outcome(None, verdict, reason, total_verdict, ())
    raw = [_test(cur, base, paired, _threshold(_median(base))) for _, cur, base in family]
    adjusted = holm_adjusted(raw)
    p = raw[0]

    def judge(d: float, base_ms: float, adj: float) -> str:
        if adj < alpha and abs(d) >= _threshold(base_ms):
            return "regression" if d > 0 else "improvement"
        return "no significant change"

    total_verdict = judge(delta, base_med, adjusted[0])
    verdicts: list[ModuleVerdict] = []
    for (name, now, then), raw_p, adj in list(zip(family, raw, adjusted, strict=True))[1:]:
        b, c = _median(then), _median(now)
        d = _median([x - y for x, y in zip(now, then, strict=False)]) if paired else c - b
        verdicts.append(ModuleVerdict(name, b, c, d, raw_p, adj, judge(d, b, adj)))
    verdicts.sort(key=lambda v: (v.verdict != "regression", v.adjusted_p, -abs(v.delta_ms)))
    regressed = [v for v in verdicts if v.verdict == "regression"]
    improved = [v for v in verdicts if v.verdict == "improvement"]
    corrected = f", Holm-corrected over {len(family)}" if len(family) > 1 else ""
    if total_verdict == "regression" or regressed:
        verdict = "regression"
    elif total_verdict == "improvement" or improved:
        verdict = "improvement"
    else:
        verdict = "no significant change"
    if total_verdict in ("regression", "improvement"):
        reason = (
            f"{test_label} p={adjusted[0]:.3g} < {alpha}{corrected}, "
            f"change {delta:+.1f} ms ({pct:+.1f}%)"
        )
    elif adjusted[0] < alpha:
        reason = (
            f"total statistically different (p={adjusted[0]:.3g}{corrected}) but "
            f"{delta:+.1f} ms is below {_threshold(base_med):.1f} ms"
        )
    else:
        reason = f"total within run-to-run noise ({test_label} p={adjusted[0]:.3g}{corrected})"
    for word, group in (("slower", regressed), ("faster", improved)):
        if group:
            shown = ", ".join(
                f"{v.name} {v.delta_ms:+.1f} ms (p={v.adjusted_p:.3g})" for v in group[:3]
            )
            more = f" and {len(group) - 3} more" if len(group) > 3 else ""
            reason += f"; {len(group)} module(s) {word}: {shown}{more}"
    return outcome(p, verdict, reason, total_verdict, tuple(verdicts))


def _diffs(baseline: Baseline, current_modules: Mapping[str, float]) -> tuple[ModuleDiff, ...]:
    diffs: list[ModuleDiff] = []
    for name in set(baseline.modules_ms) | set(current_modules):
        before = baseline.modules_ms.get(name)
        after = current_modules.get(name)
        d = (after or 0.0) - (before or 0.0)
        if abs(d) >= MODULE_DIFF_MIN_MS:
            diffs.append(ModuleDiff(name, before, after, d))
    diffs.sort(key=lambda m: (-abs(m.delta_ms), m.name))
    return tuple(diffs)


def machine_warning(baseline: Baseline, machine: Mapping[str, Any]) -> str | None:
    """A warning naming what differs between where the baseline and this result were
    measured (CPU model, cores, Python, perfkit, a busy machine), or None."""
    from perfkit.check.baseline import machine_differences, machine_from_json

    now = machine_from_json(machine)
    if now is None:
        return None
    diffs = machine_differences(machine_from_json(baseline.machine), now)
    if not diffs:
        return None
    return "baseline measured on another machine or environment (" + "; ".join(diffs) + ")"
