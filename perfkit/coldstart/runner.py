"""Run a target's import in a fresh interpreter and collect its ``-X importtime`` lines."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkit.coldstart.importtime import ImportRecord, parse_lines
from perfkit.errors import TargetError, UsageError

BOOTSTRAP = (Path(__file__).with_name("bootstrap.py")).read_text(encoding="utf-8")
_BEGIN = "perfkit-coldstart: import-begin"
_END = "perfkit-coldstart: import-end"
_CALL1 = "perfkit-coldstart: call1-begin"
_CALL1_END = "perfkit-coldstart: call1-end"
_MARKERS = (_BEGIN, _END, _CALL1, _CALL1_END)


@dataclass(frozen=True)
class Target:
    """Where a target lives: its module name, optional handler function and file."""

    spec: str
    module: str
    function: str | None
    file: Path | None  # None: not found under the project roots (an installed module)
    sys_path: tuple[str, ...]  # entries the bootstrap puts first on sys.path
    roots: tuple[Path, ...]  # directories holding the project's own modules


def resolve_target(spec: str, cwd: Path, paths: Sequence[str] = ()) -> Target:
    """Parse ``module``, ``file.py`` or either with ``:function``, without importing it."""
    from perfkit.coldstart.deferrable import find_module_file

    text = spec.strip()
    function: str | None = None
    head, sep, tail = text.rpartition(":")
    if sep and tail.isidentifier() and head:
        text, function = head, tail
    extra = [str((cwd / p).resolve()) for p in paths]
    roots = [Path(p) for p in extra] + [cwd.resolve()]
    if text.endswith(".py") or os.sep in text or "/" in text:
        path = (cwd / text).resolve()
        if not path.is_file():
            raise TargetError(f"{spec}: file not found", hint=f"looked for {path}")
        if not path.name.endswith(".py"):
            raise UsageError("TARGET", f"{spec}: not a .py file")
        parts = [path.stem] if path.name != "__init__.py" else []
        root = path.parent
        while (root / "__init__.py").is_file():
            parts.insert(0, root.name)
            root = root.parent
        module = ".".join(parts)
        if not module or not all(p.isidentifier() for p in parts):
            raise UsageError("TARGET", f"{spec}: {module!r} is not an importable module name")
        return Target(spec, module, function, path, (*extra, str(root)), (*roots, root))
    if not all(p.isidentifier() for p in text.split(".")):
        raise UsageError(
            "TARGET", f"{spec!r} is neither a module name, a .py file nor module:function"
        )
    hit = find_module_file(text, roots)
    return Target(spec, text, function, hit[0] if hit else None, tuple(extra), tuple(roots))


@dataclass(frozen=True)
class RunSpec:
    python: str
    target: Target
    cwd: Path
    env: dict[str, str]
    timeout: float
    event: Path | None = None
    memory_mb: int = 128


@dataclass
class RawRun:
    """What one process reported."""

    records: list[ImportRecord]  # the target's import
    call_records: list[ImportRecord]  # imports during the first handler call
    payload: dict[str, Any]
    wall_ms: float | None
    stderr_tail: list[str] = field(default_factory=list)
    cpu_ms: float | None = None  # user + system CPU of the process (and children it waited for)


def command_line(
    spec: RunSpec,
    result_path: str,
    *,
    mode: str = "measure",
    rewrite: str = "",
    warm: Sequence[str] = (),
    importtime: bool = True,
) -> list[str]:
    """The interpreter's command line of one run (``-X importtime`` in measure mode)."""
    t = spec.target
    cmd = [spec.python]
    if mode == "measure" and importtime:
        cmd += ["-X", "importtime"]
    return [
        *cmd,
        "-c",
        BOOTSTRAP,
        result_path,
        mode,
        t.module,
        t.function or "",
        str(spec.event) if spec.event else "",
        "\n".join(t.sys_path),
        str(spec.memory_mb),
        str(spec.timeout),
        rewrite,
        "\n".join(warm),
    ]


def count_run_instructions(spec: RunSpec, counter: str) -> float:
    """Instructions of one cold start (interpreter, imports, the handler's calls) under
    ``counter`` ("perf" or "callgrind"). ``PYTHONHASHSEED`` is fixed (0) unless the
    environment sets it: hash randomisation moves the count of a dict-heavy import."""
    from perfkit.check.counters import count_instructions

    env = {"PYTHONHASHSEED": "0", **spec.env}
    with tempfile.TemporaryDirectory(prefix="perfkit-cs-") as tmp:
        argv = command_line(spec, os.path.join(tmp, "result.json"), importtime=False)
        return count_instructions(counter, argv, spec.cwd, env, spec.timeout)


def run_once(
    spec: RunSpec, *, mode: str = "measure", rewrite: str = "", warm: Sequence[str] = ()
) -> RawRun:
    """Run one fresh interpreter; raise :class:`TargetError` with the target's own error."""
    t = spec.target
    with tempfile.TemporaryDirectory(prefix="perfkit-cs-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        cmd = command_line(spec, result_path, mode=mode, rewrite=rewrite, warm=warm)
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=spec.cwd,
                env=spec.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a hang can be killed with its children
            )
        except OSError as exc:
            raise UsageError("--python", f"cannot run {spec.python}: {exc.strerror}") from None
        try:
            _, err = proc.communicate(timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            _, err = proc.communicate()
            raise TargetError(_timeout_message(spec, err.decode("utf-8", "replace"))) from None
        except BaseException:
            # Ctrl-C: the child runs in its own session and did not get the SIGINT
            _kill(proc)
            proc.wait()
            raise
        wall_ms = (time.perf_counter() - start) * 1000.0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the children reaped meanwhile are this one (runs are sequential)
        cpu_ms = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000.0
        text = err.decode("utf-8", "replace")
        payload = _read_payload(result_path)
    records, call_records, tail = _split(text, t.spec)
    if payload is None:
        detail = "\n".join(tail[-15:])
        raise TargetError(
            f"{t.spec}: the target's process exited with code {proc.returncode} before "
            f"reporting" + (f":\n{detail}" if detail else "")
        )
    if not payload.get("ok"):
        raise TargetError(_error_message(spec, payload), hint=_error_hint(spec, payload))
    return RawRun(records, call_records, payload, wall_ms, tail, cpu_ms)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _read_payload(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _split(text: str, source: str) -> tuple[list[ImportRecord], list[ImportRecord], list[str]]:
    """Cut the stderr stream at the bootstrap's markers."""
    window: str | None = None
    imports: list[str] = []
    calls: list[str] = []
    other: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in _MARKERS:
            window = {_BEGIN: "import", _CALL1: "call"}.get(stripped)
            continue
        if "import time:" in line:
            if window == "import":
                imports.append(line)
            elif window == "call":
                calls.append(line)
        elif stripped:
            other.append(line)
    return (
        parse_lines(imports, source=f"{source} (importtime)"),
        parse_lines(calls, source=f"{source} (importtime)"),
        other,
    )


def _timeout_message(spec: RunSpec, stderr: str) -> str:
    stage = "before importing the target"
    last = ""
    for line in stderr.splitlines():
        s = line.strip()
        if s == _BEGIN:
            stage = "while importing the target"
        elif s == _END:
            stage = "after the import (in the handler call)"
        elif "import time:" in line and "|" in line and stage.startswith("while"):
            last = line.rsplit("|", 1)[-1].strip()
    where = f"; the last module that finished loading was {last!r}" if last else ""
    return (
        f"{spec.target.spec}: did not finish within {spec.timeout:g}s and was killed; "
        f"it hung {stage}{where}"
    )


def _error_message(spec: RunSpec, payload: dict[str, Any]) -> str:
    stage = payload.get("stage", "import")
    what = "importing" if stage == "import" else "calling the handler of"
    head = (
        f"{spec.target.spec}: {what} the target failed: "
        f"{payload.get('error_type')}: {payload.get('error')}"
    )
    tb = str(payload.get("traceback") or "").rstrip()
    return f"{head}\n{tb}" if tb else head


def _error_hint(spec: RunSpec, payload: dict[str, Any]) -> str | None:
    missing = payload.get("missing_module")
    if payload.get("error_type") == "ModuleNotFoundError" and missing:
        own = spec.target.module
        if own == missing or own.startswith(f"{missing}."):
            return (
                f"{missing!r} is not importable from {spec.cwd}; use --cwd, --path, "
                "or give the file path"
            )
        return f"the target imports {missing!r}, which {spec.python} cannot find (--python?)"
    return None
