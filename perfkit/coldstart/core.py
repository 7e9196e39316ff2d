"""``profile()``: measure a target's cold start over fresh processes and explain it."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfkit.coldstart.deferrable import (
    ImportSite,
    ProjectAnalysis,
    analyze_project,
    demote,
    vendored_names,
)
from perfkit.coldstart.importtime import ImportNode, build_tree
from perfkit.coldstart.model import (
    DEFAULT_PRICE_PER_GB_S,
    FULL_VCPU_MB,
    Candidate,
    ColdstartResult,
    HandlerTiming,
    KeptImport,
    LambdaEstimate,
    ModuleStat,
    RunSample,
    Stat,
    TreeNode,
)
from perfkit.coldstart.runner import RawRun, RunSpec, Target, resolve_target, run_once
from perfkit.errors import InputError, TargetError, UsageError
from perfkit.report.progress import NullProgress, ProgressSink

KEPT_MIN_MS = 1.0  # kept imports cheaper than this are not reported
_PROBE_RETRIES = 3
_NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
_UNVERIFIED = "savings not verified: the target failed with the candidate imports deferred"
_Probe = tuple[frozenset[tuple[str, int, str]], set[str] | None]  # (candidates, modules loaded)


def run_spec(
    target: str,
    python: str | None,
    cwd: Path,
    env: Mapping[str, str] | None,
    paths: Sequence[str],
    timeout: float,
    event: str | Path | None = None,
    lambda_memory_mb: int | None = None,
) -> RunSpec:
    """How one process of a cold start of ``target`` is run (interpreter, target,
    environment); exit 2 when the interpreter, the target or the event is not there."""
    interpreter = _interpreter(python, cwd)
    event_path = _check_event(event)
    tgt = resolve_target(target, cwd, paths)
    full_env = dict(os.environ)
    full_env.pop("PYTHONPROFILEIMPORTTIME", None)
    full_env.update(env or {})
    return RunSpec(interpreter, tgt, cwd, full_env, timeout, event_path, lambda_memory_mb or 128)


def profile(
    target: str,
    *,
    runs: int = 7,
    warmup: bool = True,
    python: str | None = None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    paths: Sequence[str] = (),
    timeout: float = 60.0,
    event: str | Path | None = None,
    lambda_memory_mb: int | None = None,
    price_per_gb_s: float = DEFAULT_PRICE_PER_GB_S,
    baseline: str | Path | None = None,
    analyze: bool = True,
    progress: ProgressSink | None = None,
    against_cwd: str | Path | None = None,
    against_label: str = "",
) -> ColdstartResult:
    """Import ``target`` in ``runs`` fresh processes (after a warm-up) and report.

    ``against_cwd``: the same folder in a checkout of another version; the runs there
    and here alternate in pairs of both orders (A B B A A B ...) and the result's
    ``baseline`` is the paired comparison with it (``against_label`` names it).

    ``target`` is a module name, a ``.py`` path, or either with ``:function`` (the
    handler is then called twice per process). Raises :class:`TargetError` when the
    target cannot be imported (the message carries the target's own traceback).
    """
    if runs < 1:
        raise UsageError("--runs", "must be at least 1")
    if timeout <= 0:
        raise UsageError("--timeout", "must be positive")
    sink = progress or NullProgress()
    workdir = Path(cwd or os.getcwd())
    if not workdir.is_dir():
        raise UsageError("--cwd", f"{workdir} is not a directory")
    if lambda_memory_mb is not None:
        estimate_lambda(0.0, None, lambda_memory_mb, price_per_gb_s)  # validates the options
    spec = run_spec(target, python, workdir, env, paths, timeout, event, lambda_memory_mb)
    interpreter, tgt, full_env, event_path = spec.python, spec.target, spec.env, spec.event
    version = _version(interpreter)
    warnings: list[str] = []
    baseline_data = None
    if baseline is not None:
        if against_cwd is not None:
            raise UsageError("--against", "give --baseline FILE or --against REF, not both")
        from perfkit.coldstart.baseline import load_baseline

        baseline_data = load_baseline(baseline)
    other: RunSpec | None = None
    if against_cwd is not None:
        other_dir = Path(against_cwd)
        if not other_dir.is_dir():
            raise UsageError("--against", f"{other_dir} is not a directory in {against_label}")
        other = RunSpec(
            interpreter, resolve_target(target, other_dir, paths), other_dir, full_env,
            timeout, event_path, lambda_memory_mb or 128,
        )  # fmt: skip
    raw_other: list[RawRun] = []

    analysis = analyze_project(tgt.module, tgt.roots, version) if analyze and tgt.file else None
    probed: _Probe | None = None
    demoted: dict[tuple[str, int, str], str] = {}
    sides = 2 if other is not None else 1
    sink.start(f"cold start of {tgt.spec}", total=sides * (runs + (1 if warmup else 0)))
    try:
        if warmup:
            if other is not None:
                _run_other(other, against_label)
                sink.advance()
            analysis, probed = _warm_up(spec, analysis, demoted, warnings)
            sink.advance()
        raw: list[RawRun] = []
        for i in range(runs):
            # pairs in alternating order (other-here, here-other ...): what the second
            # process of a pair inherits from the first falls on both sides equally
            if other is not None and i % 2 == 0:
                raw_other.append(_run_other(other, against_label))
                sink.advance()
            raw.append(run_once(spec))
            sink.advance()
            if other is not None and i % 2 == 1:
                raw_other.append(_run_other(other, against_label))
                sink.advance()
    finally:
        sink.finish()
    if other is not None:
        from perfkit.coldstart.baseline import Baseline

        before = _assemble(
            other.target, other.cwd.resolve(), interpreter, version, raw_other,
            _project_modules(raw_other[0].payload, other.target.roots), None, None, [],
            None, price_per_gb_s, None,
        )  # fmt: skip
        baseline_data = Baseline.from_result(before, against_label or str(other.cwd))

    project = _project_modules(raw[0].payload, tgt.roots)
    if analyze:
        extra = {
            n: Path(f) for n, f in project.items() if analysis is None or n not in _names(analysis)
        }
        if analysis is None or extra:
            fresh = analyze_project(tgt.module, tgt.roots, version, extra=extra)
            analysis = demote(fresh, demoted)
    candidates_sites = analysis.candidates if analysis else ()
    if analysis and candidates_sites and (probed is None or probed[0] != _keys(candidates_sites)):
        # modules found only at run time (dynamic imports, installed targets): probe again
        try:
            analysis, probed = _probe_until_consistent(spec, analysis, demoted)
        except TargetError as exc:
            probed = (_keys(analysis.candidates), None)
            warnings.append(f"{_UNVERIFIED} ({_first_line(exc)})")
    return _assemble(
        tgt, workdir.resolve(), interpreter, version, raw, project, analysis, probed, warnings,
        lambda_memory_mb, price_per_gb_s, baseline_data, paired=other is not None,
    )  # fmt: skip


def _run_other(spec: RunSpec, label: str) -> RawRun:
    try:
        return run_once(spec)
    except TargetError as exc:
        raise TargetError(f"in {label or spec.cwd}: {exc}", hint=exc.hint) from None


def profile_log(
    paths: Sequence[str | Path],
    *,
    lambda_memory_mb: int | None = None,
    price_per_gb_s: float = DEFAULT_PRICE_PER_GB_S,
    baseline: str | Path | None = None,
) -> ColdstartResult:
    """Statistics over saved ``-X importtime`` output (e.g. Lambda logs with
    ``PYTHONPROFILEIMPORTTIME=1``): one run per process header line.

    The tree is the whole process's (interpreter start-up and runtime included);
    there is no handler timing and no lazy-load analysis.
    """
    from perfkit.coldstart.importtime import parse_runs

    if lambda_memory_mb is not None:
        estimate_lambda(0.0, None, lambda_memory_mb, price_per_gb_s)
    baseline_data = None
    if baseline is not None:
        from perfkit.coldstart.baseline import load_baseline

        baseline_data = load_baseline(baseline)
    raw: list[RawRun] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror}") from None
        raw.extend(RawRun(r, [], {}, None) for r in parse_runs(text, source=str(path)))
    spec = ", ".join(str(p) for p in paths)
    tgt = Target(spec, "", None, None, (), ())
    return _assemble(
        tgt, Path.cwd(), "", (0, 0), raw, {}, None, None, [],
        lambda_memory_mb, price_per_gb_s, baseline_data,
    )  # fmt: skip


def _interpreter(python: str | None, workdir: Path) -> str:
    if not python:
        return sys.executable
    found = shutil.which(python)
    if not found and os.sep in python and not os.path.isabs(python):
        found = shutil.which(str(workdir / python))  # relative to --cwd, e.g. .venv/bin/python
    if not found:
        raise UsageError("--python", f"{python}: no such interpreter")
    return found


def _version(interpreter: str) -> tuple[int, int]:
    if os.path.realpath(interpreter) == os.path.realpath(sys.executable):
        return sys.version_info[0], sys.version_info[1]
    import subprocess

    try:
        out = subprocess.run(
            [interpreter, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        raise UsageError("--python", f"{interpreter} is not a working Python interpreter") from None


def _check_event(event: str | Path | None) -> Path | None:
    if event is None:
        return None
    path = Path(event).resolve()
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(event, f"cannot read event: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(event, f"not valid JSON: {exc}") from None
    return path


def _names(analysis: ProjectAnalysis) -> set[str]:
    return {m.name for m in analysis.modules}


def _keys(sites: Sequence[ImportSite]) -> frozenset[tuple[str, int, str]]:
    return frozenset((s.file, s.line, s.strip_key) for s in sites)


def _rewrite_spec(sites: Sequence[ImportSite]) -> str:
    by_file: dict[str, list[str]] = {}
    for s in sites:
        by_file.setdefault(s.file, []).append(f"{s.line}:{s.strip_key}")
    return "\n".join(f"{f}\t{','.join(items)}" for f, items in by_file.items())


def _probe(
    spec: RunSpec, sites: Sequence[ImportSite]
) -> tuple[frozenset[tuple[str, int, str]], set[str]]:
    """Import the target with every candidate import removed: what still loads is needed."""
    warm = sorted({s.module for s in sites})
    run = run_once(spec, mode="probe", rewrite=_rewrite_spec(sites), warm=warm)
    return _keys(sites), set(run.payload.get("modules", {}))


def _first_line(exc: TargetError) -> str:
    return exc.message.splitlines()[0].split(": ", 1)[-1]


def _probe_until_consistent(
    spec: RunSpec, analysis: ProjectAnalysis, demoted: dict[tuple[str, int, str], str]
) -> tuple[ProjectAnalysis, _Probe | None]:
    """Probe; when the target fails with a NameError for a candidate's name, that import
    is needed at import time after all (dynamic use the static look missed): demote it
    and probe again, a few times at most."""
    for _ in range(_PROBE_RETRIES):
        sites = analysis.candidates
        if not sites:
            return analysis, None
        try:
            return analysis, _probe(spec, sites)
        except TargetError as exc:
            m = _NAME_ERROR.search(exc.message)
            culprits = [s for s in sites if m and m.group(1) in s.names]
            if not m or not culprits:
                raise
            for s in culprits:
                demoted[(s.file, s.line, s.strip_key)] = (
                    f"needed at import time: the import failed without it ({m.group(0)})"
                )
            analysis = demote(analysis, demoted)
    return analysis, _probe(spec, analysis.candidates) if analysis.candidates else None


def _warm_up(
    spec: RunSpec,
    analysis: ProjectAnalysis | None,
    demoted: dict[tuple[str, int, str], str],
    warnings: list[str],
) -> tuple[ProjectAnalysis | None, _Probe | None]:
    """The uncounted first run. With candidates, it doubles as the savings probe."""
    if analysis and analysis.candidates:
        try:
            analysis, probed = _probe_until_consistent(spec, analysis, demoted)
            if probed is not None:
                return analysis, probed
        except TargetError as exc:
            run_once(spec)  # raises the target's own error if it is broken anyway
            warnings.append(f"{_UNVERIFIED} ({_first_line(exc)})")
            return analysis, (_keys(analysis.candidates), None)
    run_once(spec)
    return analysis, None


def _project_modules(payload: Mapping[str, Any], roots: Sequence[Path]) -> dict[str, str]:
    """Modules loaded from the project's directories (not site-packages or the stdlib)."""
    modules = payload.get("modules") or {}
    stdlib = str(payload.get("stdlib") or "")
    prefixes = [str(p) for p in payload.get("prefixes") or []]
    root_strs = [str(r) + os.sep for r in roots]
    vendored = {n for r in roots for n in vendored_names(r)}
    out: dict[str, str] = {}
    for name, file in modules.items():
        if not file or not str(file).endswith(".py") or name.split(".")[0] in vendored:
            continue
        real = os.path.realpath(file)
        if "site-packages" in real or "dist-packages" in real:
            continue
        if stdlib and real.startswith(stdlib + os.sep):
            continue
        if any(real.startswith(p + os.sep) for p in prefixes) and not any(
            real.startswith(r) for r in root_strs
        ):
            continue
        if any(real.startswith(r) for r in root_strs):
            out[name] = real
    return out


def _run_total(records_roots: Sequence[ImportNode]) -> float:
    return sum(r.cumulative_us for r in records_roots) / 1000.0


def _assemble(
    tgt: Target,
    cwd: Path,
    interpreter: str,
    version: tuple[int, int],
    raw: Sequence[RawRun],
    project: Mapping[str, str],
    analysis: ProjectAnalysis | None,
    probed: _Probe | None,
    warnings: list[str],
    lambda_memory_mb: int | None,
    price_per_gb_s: float,
    baseline_data: Any,
    *,
    paired: bool = False,
) -> ColdstartResult:
    trees = [build_tree(r.records, source=f"{tgt.spec} (importtime)") for r in raw]
    samples: list[RunSample] = []
    self_vals: dict[str, list[float]] = {}
    cum_vals: dict[str, list[float]] = {}
    parents: dict[str, tuple[str | None, int]] = {}
    run_selfs: list[dict[str, float]] = []
    run_cums: list[dict[str, float]] = []
    path_vals: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for run, roots in zip(raw, trees, strict=True):
        # A name can appear twice in one run: `import pkg.sub` may load pkg, whose
        # __init__ imports pkg.sub (inner line), then the outer import reports again.
        per_name: dict[str, list[Any]] = {}  # name -> [self sum, max cum, parent, depth]
        for root in roots:
            stack: list[tuple[ImportNode, tuple[str, ...], int]] = [(root, (), 0)]
            while stack:
                node, above, depth = stack.pop()
                if node.cached:
                    continue
                path = (*above, node.name)
                path_vals.setdefault(path, []).append((node.self_us, node.cumulative_us))
                agg = per_name.get(node.name)
                parent = above[-1] if above else None
                if agg is None:
                    per_name[node.name] = [node.self_us, node.cumulative_us, parent, depth]
                else:
                    agg[0] += node.self_us
                    if node.cumulative_us > agg[1]:
                        agg[1:] = [node.cumulative_us, parent, depth]
                stack.extend((c, path, depth + 1) for c in node.children)
        run_selfs.append({n: a[0] / 1000.0 for n, a in per_name.items()})
        run_cums.append({n: a[1] / 1000.0 for n, a in per_name.items()})
        for name, (self_us, cum_us, parent, depth) in per_name.items():
            self_vals.setdefault(name, []).append(self_us / 1000.0)
            cum_vals.setdefault(name, []).append(cum_us / 1000.0)
            parents.setdefault(name, (parent, depth))
        count = len(per_name)
        call_roots = build_tree(run.call_records, source=f"{tgt.spec} (importtime)")
        p = run.payload
        samples.append(
            RunSample(
                import_ms=_run_total(roots),
                wall_ms=None if run.wall_ms is None else round(run.wall_ms, 3),
                modules=count,
                first_call_ms=p.get("first_call_ms"),
                second_call_ms=p.get("second_call_ms"),
                first_call_imports_ms=_run_total(call_roots) if tgt.function else None,
                cpu_ms=None if run.cpu_ms is None else round(run.cpu_ms, 3),
            )
        )
    med_cum = {n: float(_median(v)) for n, v in cum_vals.items()}
    modules = tuple(
        sorted(
            (
                ModuleStat(
                    name=n,
                    parent=parents[n][0],
                    depth=parents[n][1],
                    self_ms=Stat.of(self_vals[n]),
                    cumulative_ms=Stat.of(cum_vals[n]),
                    runs=len(cum_vals[n]),
                    project=n in project,
                    cumulative_samples_ms=tuple(round(c.get(n, 0.0), 3) for c in run_cums),
                )
                for n in cum_vals
            ),
            key=lambda m: (-m.cumulative_ms.median, m.name),
        )
    )
    path_med = {
        path: (_median([v[0] for v in vals]) / 1000.0, _median([v[1] for v in vals]) / 1000.0)
        for path, vals in path_vals.items()
    }
    tree = tuple(_median_tree(r, (), path_med) for r in trees[0] if not r.cached)
    subtree = _subtrees(trees[0])
    candidates, kept, total_saving = _candidates(analysis, probed, subtree, run_selfs, med_cum)
    handler = None
    if tgt.function:
        handler = HandlerTiming(
            tgt.function,
            Stat.of([s.first_call_ms or 0.0 for s in samples]),
            Stat.of([s.second_call_ms or 0.0 for s in samples]),
            Stat.of([s.first_call_imports_ms or 0.0 for s in samples]),
        )
    import_stat = Stat.of([s.import_ms for s in samples])
    lam = None
    if lambda_memory_mb is not None:
        lam = estimate_lambda(
            import_stat.median,
            handler.first_call_ms.median if handler else None,
            lambda_memory_mb,
            price_per_gb_s,
            total_saving,
        )
    payload = raw[0].payload
    machine: dict[str, Any] = {}
    if version[0]:  # measured here, not read from logs
        from dataclasses import asdict

        from perfkit.check.baseline import this_machine

        machine = asdict(this_machine())
    comparison = None
    if baseline_data is not None:
        from perfkit.coldstart.baseline import compare

        comparison = compare(
            baseline_data,
            [s.import_ms for s in samples],
            med_cum,
            {m.name: m.cumulative_samples_ms for m in modules},
            paired=paired,
        )
        warnings.extend(comparison.notes)
        if not paired:
            from perfkit.coldstart.baseline import machine_warning

            differs = machine_warning(baseline_data, machine)
            if differs:
                warnings.append(differs)
        if (
            version[0]
            and baseline_data.python_version
            and baseline_data.python_version.split(".")[:2] != [str(v) for v in version]
        ):
            warnings.append(
                f"the baseline was measured with Python {baseline_data.python_version}; "
                "the comparison mixes interpreter versions"
            )
    if analysis:
        for m in analysis.modules:
            if m.error:
                warnings.append(f"{m.file}: not analysed: {m.error}")
    return ColdstartResult(
        target=tgt.spec,
        module=tgt.module,
        function=tgt.function,
        cwd=str(cwd),
        python=str(payload.get("executable") or interpreter),
        python_version=".".join(str(v) for v in payload.get("version", version) if version[0]),
        runs=tuple(samples),
        import_ms=import_stat,
        wall_ms=Stat.of(walls) if (walls := [s.wall_ms for s in samples if s.wall_ms]) else None,
        module_count=int(_median([s.modules for s in samples])),
        modules=modules,
        tree=tree,
        candidates=candidates,
        kept=kept,
        total_saving_ms=total_saving,
        handler=handler,
        lambda_estimate=lam,
        baseline=comparison,
        warnings=tuple(warnings),
        analyzed=analysis is not None,
        machine=machine,
    )


def _median(values: Sequence[float]) -> float:
    import statistics

    return float(statistics.median(values))


def _median_tree(
    node: ImportNode,
    above: tuple[str, ...],
    path_med: Mapping[tuple[str, ...], tuple[float, float]],
) -> TreeNode:
    """The node with the median times of the same position (path) over all runs."""
    path = (*above, node.name)
    children = sorted(
        (c for c in node.children if not c.cached),
        key=lambda c: -path_med.get((*path, c.name), (0.0, 0.0))[1],
    )
    self_ms, cum_ms = path_med.get(path, (0.0, 0.0))
    return TreeNode(
        node.name,
        round(self_ms, 3),
        round(cum_ms, 3),
        tuple(_median_tree(c, path, path_med) for c in children),
    )


def _subtrees(roots: Sequence[ImportNode]) -> dict[str, set[str]]:
    """Module -> itself and every module first imported while it was loading."""
    out: dict[str, set[str]] = {}

    def visit(node: ImportNode) -> set[str]:
        names = {node.name}
        for child in node.children:
            if not child.cached:
                names |= visit(child)
        out[node.name] = out.get(node.name, set()) | names
        return names

    for root in roots:
        if not root.cached:
            visit(root)
    return out


def _candidates(
    analysis: ProjectAnalysis | None,
    probed: _Probe | None,
    subtree: Mapping[str, set[str]],
    run_selfs: Sequence[Mapping[str, float]],
    med_cum: Mapping[str, float],
) -> tuple[tuple[Candidate, ...], tuple[KeptImport, ...], float | None]:
    if analysis is None:
        return (), (), None
    needed = probed[1] if probed else None  # None: the probe failed or did not run
    union: set[str] = set()
    candidates: list[Candidate] = []
    kept: list[KeptImport] = []
    for site in analysis.sites:
        names: set[str] = set()
        for touched in site.touched:
            names |= subtree.get(touched, set())
        if not site.candidate:
            cost = max((med_cum.get(t, 0.0) for t in site.touched if t in subtree), default=0.0)
            if cost >= KEPT_MIN_MS:
                kept.append(
                    KeptImport(
                        _display_module(site, subtree),
                        site.importer,
                        site.file,
                        site.line,
                        site.statement,
                        site.reason,
                        cost,
                    )
                )
            continue
        saving = None
        if needed is not None:
            freed = {n for n in names if n not in needed}
            union |= freed
            saving = _median_saving(run_selfs, freed)
        assert site.fix is not None
        module = _display_module(site, subtree)
        candidates.append(
            Candidate(
                module, site.importer, site.file, site.line, site.statement,
                site.names, site.used_in, saving, site.fix,
            )
        )  # fmt: skip
    candidates.sort(key=lambda c: (-(c.saving_ms or 0.0), c.file, c.line))
    kept.sort(key=lambda k: (-k.cumulative_ms, k.file, k.line))
    total = _median_saving(run_selfs, union) if needed is not None else None
    return tuple(candidates), tuple(kept), total


def _median_saving(run_selfs: Sequence[Mapping[str, float]], freed: set[str]) -> float:
    """Median over runs of the freed modules' own time (consistent with the run totals)."""
    return round(_median([sum(r.get(n, 0.0) for n in freed) for r in run_selfs]), 3)


def _display_module(site: ImportSite, subtree: Mapping[str, set[str]]) -> str:
    """`from pkg import sub` is about the submodule pkg.sub when it is one."""
    subs = [t for t in site.touched if t.startswith(f"{site.module}.") and t in subtree]
    return subs[0] if len(subs) == 1 else site.module


def estimate_lambda(
    init_ms: float,
    first_call_ms: float | None,
    memory_mb: int,
    price_per_gb_s: float = DEFAULT_PRICE_PER_GB_S,
    saving_ms: float | None = None,
) -> LambdaEstimate:
    """What the measured init would cost on Lambda at ``memory_mb``.

    Lambda's CPU share is proportional to memory (one vCPU at 1,769 MB), so a
    CPU-bound import measured on one full core is scaled by ``1769 / memory_mb``
    below that size. The INIT phase is billed like the handler's duration.
    """
    if memory_mb < 128 or memory_mb > 10240:
        raise UsageError("--lambda-memory-mb", "Lambda memory is between 128 and 10240 MB")
    if price_per_gb_s <= 0:
        raise UsageError("--price-per-gb-s", "must be positive")
    factor = max(1.0, FULL_VCPU_MB / memory_mb)
    init = init_ms * factor
    gb_s = init / 1000.0 * memory_mb / 1024.0
    share = None
    if first_call_ms is not None:
        first = first_call_ms * factor
        share = init / (init + first) if init + first > 0 else None
    saving = None
    if saving_ms is not None:
        saving = saving_ms * factor / 1000.0 * memory_mb / 1024.0 * price_per_gb_s * 1e6
    return LambdaEstimate(
        memory_mb=memory_mb,
        price_per_gb_s=price_per_gb_s,
        cpu_factor=factor,
        measured_init_ms=init_ms,
        estimated_init_ms=init,
        init_share=share,
        gb_seconds_per_cold_start=gb_s,
        cost_per_million_cold_starts=gb_s * price_per_gb_s * 1e6,
        saving_per_million_cold_starts=saving,
    )
