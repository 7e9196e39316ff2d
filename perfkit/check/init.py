"""``perfkit init``: a starter ``[check]`` config for the project in a folder.

It looks for what perfkit can measure - a Lambda-style handler module, ``.sql``
files, PostgreSQL logs - and writes one check for each (tomli-w). An existing file
is never overwritten without ``force``; with it, the file's other sections are kept.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.check.types import REGISTRY
from perfkit.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_SKIP_DIRS = {
    ".git", ".hg", ".venv", "venv", "env", ".tox", ".nox", "node_modules", "__pycache__",
    "build", "dist", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
}  # fmt: skip
_HANDLER_FILES = ("handler.py", "lambda_function.py", "app.py", "main.py", "lambda_handler.py")
_HANDLER_DEF = re.compile(r"^def\s+(lambda_handler|handler|main)\s*\(", re.M)
_LOG_SUFFIXES = (".log", ".log.gz", ".csv", ".json", ".jsonl")
_MAX_SQL = 5
_MAX_STATEMENTS = 5  # explain checks per .sql file
_MAX_DEPTH = 4


@dataclass(frozen=True)
class StarterConfig:
    text: str
    checks: tuple[tuple[str, str], ...]  # (name, type)
    skipped: tuple[str, ...] = ()  # what was found and got no check, and why

    @property
    def summary(self) -> str:
        listed = ", ".join(f"{n} ({t})" for n, t in self.checks)
        return f"{len(self.checks)} check(s): {listed}"


def _walk(root: Path) -> Iterator[Path]:
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if len(here.parts) - base_depth >= _MAX_DEPTH:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            yield here / name


def _module_name(root: Path, path: Path) -> str | None:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def _is_pg_log(path: Path) -> bool:
    name = path.name.lower()
    if not name.endswith(_LOG_SUFFIXES):
        return False
    if "postgres" in name or "pg" in name or name.endswith(".log"):
        try:
            with path.open("rb") as fh:
                head = fh.read(4096).decode("utf-8", "replace")
        except OSError:
            return False
        return "duration:" in head or "statement:" in head or '"query"' in head
    return False


def _explain_checks(root: Path, path: Path, skipped: list[str]) -> dict[str, Any]:
    """The explain checks for one ``.sql`` file: the file itself when it holds one
    statement, one check per statement (``query``) when it holds several - an explain
    check plans exactly one - and none for a statement EXPLAIN cannot take (DDL,
    session commands, what the guard refuses), which ``skipped`` then names."""
    from perfkit.db.guard import Guard, explain_policy

    rel = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        skipped.append(f"{rel}: not read ({exc.strerror})")
        return {}
    verdicts = Guard(explain_policy(analyze=False)).judge(text)
    if not verdicts:
        skipped.append(f"{rel}: no SQL statement in it, no explain check")
        return {}
    usable = []
    for v in verdicts:
        if v.allowed and v.explainable:
            usable.append(v)
        else:
            skipped.append(f"{rel}:{v.line}: no explain check: {v.describe()}")
    base = "explain-" + re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-")
    limits = {"cost": {"max_increase": "20%"}}
    if len(verdicts) == 1 and usable:
        return {base: {"type": "explain", "file": rel, "limits": limits}}
    if len(usable) > _MAX_STATEMENTS:
        skipped.append(
            f"{rel}: explain checks for its first {_MAX_STATEMENTS} statements only, "
            f"not the {len(usable) - _MAX_STATEMENTS} after them (add them by hand)"
        )
        usable = usable[:_MAX_STATEMENTS]
    return {
        f"{base}-line{v.line}": {"type": "explain", "query": v.text, "limits": limits}
        for v in usable
    }


def detect(root: Path, skipped: list[str] | None = None) -> dict[str, Any]:
    """The checks a starter config should hold for ``root``, as TOML-ready tables;
    what was found but gets no check is appended to ``skipped``, one line each."""
    skipped = [] if skipped is None else skipped
    handler: tuple[str, str | None] | None = None
    sql_files: list[Path] = []
    logs: list[Path] = []
    for path in _walk(root):
        if path.name in _HANDLER_FILES and handler is None:
            module = _module_name(root, path)
            if module:
                try:
                    text = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                m = _HANDLER_DEF.search(text)
                handler = (module, m.group(1) if m else None)
        elif path.suffix == ".sql" and len(sql_files) < _MAX_SQL:
            sql_files.append(path)
        elif not logs and _is_pg_log(path):
            logs.append(path)

    checks: dict[str, Any] = {}
    if handler is not None:
        module, function = handler
        if _available("coldstart"):
            checks["coldstart"] = {
                "type": "coldstart",
                "target": f"{module}:{function}" if function else module,
                "runs": 10,
                "limits": {
                    "import_time": {"max_increase": "10%"},
                    "modules": {"max_increase": "0%"},
                },
            }
        checks["import"] = {
            "type": "command",
            "run": f'python -c "import {module}"',
            "runs": 10,
            "max_increase": "10%",
        }
    if _available("explain"):
        for path in sql_files:
            checks.update(_explain_checks(root, path, skipped))
    if logs and _available("analyze"):
        checks["log"] = {
            "type": "analyze",
            "log": logs[0].relative_to(root).as_posix(),
            "limits": {
                "calls": {"max_increase": "10%"},
                "total_time": {"max_increase": "20%"},
            },
        }
    if not checks:
        # Nothing recognised: one example to edit, which runs as it stands.
        checks["startup"] = {
            "type": "command",
            "run": 'python -c "pass"',
            "runs": 10,
            "max_increase": "10%",
        }
    return checks


def _available(type_name: str) -> bool:
    t = REGISTRY.get(type_name)
    return t is not None and t.available()


def starter_config(root: Path, existing: dict[str, Any] | None = None) -> StarterConfig:
    import tomli_w

    skipped: list[str] = []
    checks = detect(root, skipped)
    data: dict[str, Any] = dict(existing or {})
    data["check"] = {"alpha": 0.05, "retries": 3, **checks}
    return StarterConfig(
        text=tomli_w.dumps(data),
        checks=tuple((name, str(table["type"])) for name, table in checks.items()),
        skipped=tuple(skipped),
    )


def write_starter_config(root: Path, target: Path, *, force: bool = False) -> StarterConfig:
    """Write the starter config to ``target`` (atomically); refuse to overwrite unless ``force``."""
    from perfkit.report.output import write_atomic

    existing: dict[str, Any] | None = None
    if target.exists():
        if not force:
            raise InputError(target, "already exists; use --force to replace its [check] section")
        try:
            existing = tomllib.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            existing = None  # --force on a broken file: replace it whole
    result = starter_config(root.resolve(), existing)
    write_atomic(target, result.text)
    return result
