"""Run the checks, compare with a baseline, re-measure borderline timings, give a verdict."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from perfkit.check.baseline import (
    Baseline,
    busy,
    load_average,
    machine_differences,
    this_machine,
)
from perfkit.check.compare import (
    compare_metric,
    compare_paired,
    gone_metric,
    min_p_value,
    unsettled,
)
from perfkit.check.model import (
    AgainstInfo,
    CheckOutcome,
    CheckSpec,
    GateConfig,
    GateResult,
    Limits,
    Metric,
    MetricResult,
)
from perfkit.check.stats import min_pairs
from perfkit.check.types import REGISTRY
from perfkit.check.types.base import RunEnv
from perfkit.errors import PerfkitError, UsageError

DEFAULT_ALPHA = 0.05
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class GateOptions:
    alpha: float = DEFAULT_ALPHA
    retries: int = DEFAULT_RETRIES
    only: Sequence[str] = ()
    env: RunEnv = field(default_factory=RunEnv)
    # --against: the other tree, and the folder of this tree it corresponds to
    against: AgainstInfo | None = None
    here_root: Path | None = None


def run_gate(
    gate: GateConfig, baseline: Baseline | None = None, options: GateOptions | None = None
) -> GateResult:
    """Run every check of ``gate`` and compare it with ``baseline`` (if any)."""
    opts = options or GateOptions()
    if not 0 < opts.alpha < 1:
        raise UsageError("--alpha", "must be between 0 and 1")
    if opts.retries < 0:
        raise UsageError("--retries", "must be >= 0")
    names = [c.name for c in gate.checks]
    for name in opts.only:
        if name not in names:
            raise UsageError("--only", f"no check named {name!r} (checks: {', '.join(names)})")
    selected = [c for c in gate.checks if not opts.only or c.name in opts.only]

    started = time.perf_counter()
    machine = this_machine()
    warnings: list[str] = []
    if baseline is not None:
        warnings.extend(baseline.warnings)
        diffs = machine_differences(baseline.info.machine, machine)
        if diffs:
            warnings.append(
                "baseline measured on another machine or environment ("
                + "; ".join(diffs)
                + "): timings compared anyway"
            )
        for c in selected:
            old = baseline.checks.get(c.name)
            if old and old.get("fingerprint") and old.get("fingerprint") != c.fingerprint:
                warnings.append(
                    f"check {c.name} is defined differently than when the baseline was taken; "
                    "compared anyway"
                )

    if opts.against is not None and busy(machine.load, machine.cpu_count):
        warnings.append(
            f"the machine is busy (load {machine.load[0]:g} on {machine.cpu_count} cores): "
            "the paired runs cancel its drift, but noise widens the intervals"
        )

    progress = opts.env.progress
    progress.start("perfkit check", total=len(selected))
    outcomes = []
    try:
        for c in selected:
            progress.update(description=f"check {c.name}")
            if opts.against is not None and (baseline is None or _timed(c)):
                outcomes.append(_run_paired_check(c, opts.against, opts))
            else:
                outcomes.append(_run_check(c, baseline, opts))
            progress.advance()
    finally:
        progress.finish()
    if opts.against is not None:
        for o in outcomes:
            for m in o.metrics:
                if m.paired is not None and not m.limits.empty:
                    need = min_pairs(opts.alpha)
                    if m.paired.pairs < need:
                        warnings.append(
                            f"{m.id}: {m.paired.pairs} pair(s) can never be significant at "
                            f"alpha {opts.alpha:g} (needs {need}); raise runs"
                        )

    gone: list[MetricResult] = []
    if baseline is not None:
        produced = {(m.check, m.name) for o in outcomes for m in o.metrics}
        errored = {o.name for o in outcomes if o.error is not None}
        wanted = {c.name for c in selected}
        for check, metrics in baseline.metrics.items():
            if check in errored or (opts.only and check not in wanted):
                continue
            for name, metric in metrics.items():
                if (check, name) not in produced:
                    gone.append(gone_metric(check, metric))
        for m in (m for o in outcomes for m in o.metrics):
            if m.kind == "timing" and m.baseline and not m.limits.empty:
                floor = min_p_value(len(m.current), len(m.baseline))
                if floor >= opts.alpha:
                    warnings.append(
                        f"{m.id}: {len(m.current)} and {len(m.baseline)} samples can never "
                        f"be significant at alpha {opts.alpha:g}; raise runs"
                    )
    return GateResult(
        config_path=gate.path,
        outcomes=tuple(outcomes),
        gone=tuple(gone),
        alpha=opts.alpha,
        retries=opts.retries,
        baseline=baseline.info if baseline is not None else None,
        machine=machine,
        warnings=tuple(warnings),
        seconds=time.perf_counter() - started,
        against=opts.against,
    )


def _timed(check: CheckSpec) -> bool:
    return any(s.kind == "timing" for s in check.metrics)


def _load_now() -> float | None:
    load = load_average()
    return load[0] if load else None


def _collect(check: CheckSpec, opts: GateOptions) -> tuple[tuple[Metric, ...], float]:
    ctype = REGISTRY[check.type]
    t0 = time.perf_counter()
    metrics = ctype.collect(check, opts.env)
    return metrics, time.perf_counter() - t0


def _run_check(check: CheckSpec, baseline: Baseline | None, opts: GateOptions) -> CheckOutcome:
    return _guarded(check, lambda tally: _measure_and_compare(check, baseline, opts, tally))


@dataclass
class _Tally:
    """What a check spent so far: still known when it fails half-way."""

    measured: float = 0.0
    attempts: int = 0


def _guarded(check: CheckSpec, body: Callable[[_Tally], tuple[MetricResult, ...]]) -> CheckOutcome:
    """Run ``body`` as one check's outcome: an error becomes the check's error, not the gate's."""
    load = _load_now()
    t0 = time.perf_counter()
    tally = _Tally()
    try:
        metrics = body(tally)
    except PerfkitError as exc:
        return _failed(check, str(exc), t0, tally.measured, tally.attempts)
    except Exception as exc:  # a bug in a collector must not hide the other checks' results
        return _failed(
            check,
            f"internal error: {type(exc).__name__}: {exc}",
            t0,
            tally.measured,
            tally.attempts,
            traceback.format_exc(),
        )
    return CheckOutcome(
        name=check.name,
        type=check.type,
        metrics=metrics,
        seconds=time.perf_counter() - t0,
        attempts=tally.attempts,
        measured_seconds=tally.measured,
        load=load,
    )


def _measure_and_compare(
    check: CheckSpec, baseline: Baseline | None, opts: GateOptions, tally: _Tally
) -> tuple[MetricResult, ...]:
    metrics, spent = _collect(check, opts)
    tally.measured += spent
    tally.attempts = 1
    results = {r.name: r for r in _compare_all(check, metrics, baseline, opts)}
    dirty = {name for name, r in results.items() if _borderline(r)}
    pooled = metrics
    clean: dict[str, MetricResult] = {}
    # A crossed timing limit is re-measured with fresh samples. One clean attempt
    # clears it: a real regression reproduces, a slow spell on a shared runner does
    # not. If every attempt crosses, the verdict uses all samples pooled.
    while tally.attempts <= opts.retries and dirty - clean.keys():
        again, spent = _collect(check, opts)
        tally.measured += spent
        tally.attempts += 1
        pooled = _pool(pooled, again)
        for r in _compare_all(check, again, baseline, opts):
            if r.name in dirty and r.name not in clean and not _borderline(r):
                clean[r.name] = replace(
                    r,
                    note=_join(
                        r.note,
                        f"limit crossed in attempt 1, not reproduced in attempt {tally.attempts}",
                    ),
                )
    if dirty:
        for r in _compare_all(check, pooled, baseline, opts):
            if r.name in dirty:
                results[r.name] = clean.get(r.name, r)
    return tuple(results.values())


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _failed(
    check: CheckSpec, message: str, t0: float, measured: float, attempts: int, detail: str = ""
) -> CheckOutcome:
    return CheckOutcome(
        name=check.name,
        type=check.type,
        metrics=(),
        seconds=time.perf_counter() - t0,
        attempts=attempts,
        error=message,
        measured_seconds=measured,
        detail=detail,
    )


def _borderline(result: MetricResult) -> bool:
    return result.kind == "timing" and result.status in ("regression", "noisy")


def _pool(old: tuple[Metric, ...], new: tuple[Metric, ...]) -> tuple[Metric, ...]:
    before = {m.name: m for m in old}
    out = []
    for m in new:
        prev = before.get(m.name)
        if m.kind == "timing" and prev is not None:
            out.append(Metric(m.name, m.unit, m.kind, prev.samples + m.samples, m.better))
        else:
            out.append(m)
    return tuple(out)


def _compare_all(
    check: CheckSpec,
    metrics: tuple[Metric, ...],
    baseline: Baseline | None,
    opts: GateOptions,
) -> tuple[MetricResult, ...]:
    out = []
    for m in metrics:
        if not m.samples:
            continue
        base = baseline.metric(check.name, m.name) if baseline is not None else None
        out.append(
            compare_metric(
                check.name,
                m,
                base,
                check.limits.get(m.name, Limits()),
                alpha=opts.alpha,
                have_baseline=baseline is not None,
            )
        )
    return tuple(out)


# --- --against: both trees, interleaved ------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    here: tuple[Metric, ...]
    there: tuple[Metric, ...] | None  # None: the check could not run in the other tree
    there_error: str | None
    seconds: float


def _merge(rounds: Sequence[tuple[Metric, ...]]) -> tuple[Metric, ...]:
    """One metric per name from rounds of one sample each: timings concatenated in round
    order (so sample ``i`` of both sides is pair ``i``), deterministic values from round 1."""
    out: tuple[Metric, ...] = ()
    for metrics in rounds:
        out = _pool(out, metrics) if out else metrics
    by_first = {m.name: m for m in rounds[0]} if rounds else {}
    return tuple(by_first[m.name] if m.kind == "deterministic" else m for m in out)


def _collect_pair(check: CheckSpec, other: CheckSpec, opts: GateOptions, repeat: int = 1) -> _Pair:
    """Every sample of ``check`` here and of ``other`` there (``repeat`` times as many),
    in pairs: other-here, then here-other, and so on."""
    ctype = REGISTRY[check.type]
    env = opts.env
    split = ctype.rounds(check.params)
    n = split * repeat if split > 1 else 1
    here: list[tuple[Metric, ...]] = []
    there: list[tuple[Metric, ...]] = []
    error: str | None = None
    t0 = time.perf_counter()

    def run_there(first: bool) -> None:
        nonlocal error
        if error is None:
            params = ctype.one_sample(other.params, first) if n > 1 else other.params
            try:
                there.append(ctype.collect(replace(other, params=params), env))
            except PerfkitError as exc:
                error = str(exc)

    def run_here(first: bool) -> None:
        params = ctype.one_sample(check.params, first) if n > 1 else check.params
        here.append(ctype.collect(replace(check, params=params), env))

    for i in range(n):
        # counterbalanced (other-here, here-other, ...): whatever the second run of a
        # pair inherits from the first (a warm cache, a hog just started) falls on each
        # side equally often
        order = (run_there, run_here) if i % 2 == 0 else (run_here, run_there)
        for side in order:
            side(i == 0)
    return _Pair(
        _merge(here),
        _merge(there) if error is None else None,
        error,
        time.perf_counter() - t0,
    )


def _compare_pair(
    check: CheckSpec, pair: _Pair, info: AgainstInfo, opts: GateOptions
) -> tuple[tuple[MetricResult, ...], tuple[MetricResult, ...]]:
    """(verdicts of this tree's metrics, metrics only the other tree produced)."""
    there = {m.name: m for m in pair.there or ()}
    out = []
    for m in pair.here:
        if not m.samples:
            continue
        limits = check.limits.get(m.name, Limits())
        base = there.get(m.name)
        if m.kind == "timing" and base is not None and base.kind == "timing":
            out.append(compare_paired(check.name, m, base, limits, alpha=opts.alpha))
            continue
        r = compare_metric(check.name, m, base, limits, alpha=opts.alpha, have_baseline=True)
        if pair.there_error is not None:
            r = replace(r, note=_join(r.note, f"could not run on {info.label}: {pair.there_error}"))
        out.append(r)
    produced = {m.name for m in pair.here}
    gone = tuple(gone_metric(check.name, m) for m in pair.there or () if m.name not in produced)
    return tuple(out), gone


def _run_paired_check(check: CheckSpec, info: AgainstInfo, opts: GateOptions) -> CheckOutcome:
    return _guarded(check, lambda tally: _measure_pairs(check, info, opts, tally))


def _measure_pairs(
    check: CheckSpec, info: AgainstInfo, opts: GateOptions, tally: _Tally
) -> tuple[MetricResult, ...]:
    from perfkit.check.against import rebase_check

    other = rebase_check(check, opts.here_root or check.base_dir, info.directory)
    pair = _collect_pair(check, other, opts)
    tally.measured += pair.seconds
    tally.attempts = 1
    results, gone = _compare_pair(check, pair, info, opts)
    # Sequential sampling: a verdict the pairs cannot settle yet - the interval of the
    # ratio still holds the limit, whichever side of it the estimate lies - gets fresh
    # pairs, pooled with the first, doubling the pairs at each attempt (runs, 2 x runs,
    # 4 x runs ...): the interval narrows with the square root of the pairs. It stops
    # when every limited timing is settled: wholly past its limit (a regression, which
    # stands: drift cancels in every pair) or wholly inside it (a pass).
    while (
        tally.attempts <= opts.retries and pair.there is not None and any(map(unsettled, results))
    ):
        again = _collect_pair(check, other, opts, repeat=2 ** (tally.attempts - 1))
        tally.measured += again.seconds
        tally.attempts += 1
        if again.there is None:
            pair = replace(pair, there=None, there_error=again.there_error)
            results, gone = _compare_pair(check, pair, info, opts)
            break
        assert pair.there is not None  # the loop's condition
        pair = _Pair(_pool(pair.here, again.here), _pool(pair.there, again.there), None, 0.0)
        results, gone = _compare_pair(check, pair, info, opts)
    if tally.attempts > 1:
        results = tuple(
            replace(r, note=_join(r.note, f"{tally.attempts} attempts pooled"))
            if r.paired is not None and (r.status != "pass" or unsettled(r))
            else r
            for r in results
        )
    results = tuple(
        replace(r, note=_join(r.note, "not settled: the interval still holds the limit"))
        if r.status == "pass" and unsettled(r) and pair.there is not None
        else r
        for r in results
    )
    return results + gone
