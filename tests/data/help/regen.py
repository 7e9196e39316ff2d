"""Regenerate the ``--help`` snapshots: ``python tests/data/help/regen.py``.

Each ``*.txt`` here is the whole ``--help`` of one command at COLUMNS=100 with NO_COLOR;
tests/test_cli_help.py compares them with what perfkit prints now.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# every command and sub-command, in `perfkit --help` order; "" is perfkit itself
COMMANDS = (
    "",
    "analyze",
    "merge",
    "pool",
    "explain",
    "suggest-indexes",
    "coldstart",
    "batch",
    "replay",
    "check",
    "init",
    "report",
    "demo",
    "db",
    "db status",
    "db start",
    "db stop",
    "db url",
    "db reset",
)


def snapshot_name(command: str) -> str:
    return (command.replace(" ", "_") or "perfkit") + ".txt"


def help_text(command: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PERFKIT_DSN")}
    env.update(COLUMNS="100", NO_COLOR="1", TERM="dumb")
    args = [sys.executable, "-m", "perfkit", *command.split(), "--help"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=True, cwd=HERE)
    return done.stdout


def main() -> None:
    for command in COMMANDS:
        (HERE / snapshot_name(command)).write_text(help_text(command), encoding="utf-8")


if __name__ == "__main__":
    main()
