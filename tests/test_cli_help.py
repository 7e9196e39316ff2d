"""The whole ``--help`` of every command, pinned (regenerate: tests/data/help/regen.py)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

HELP_DIR = Path(__file__).parent / "data" / "help"


def _regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("help_regen", HELP_DIR / "regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REGEN = _regen()


@pytest.mark.parametrize("command", REGEN.COMMANDS, ids=lambda c: c or "perfkit")
def test_help_snapshot(command: str) -> None:
    expected = (HELP_DIR / REGEN.snapshot_name(command)).read_text(encoding="utf-8")
    assert REGEN.help_text(command) == expected, (
        f"`perfkit {command} --help` changed; if on purpose, run python tests/data/help/regen.py"
    )


def test_every_command_has_a_snapshot() -> None:
    from perfkit.cli import COMMANDS

    listed = {c.split()[0] for c in REGEN.COMMANDS if c}
    assert set(COMMANDS) <= listed


@pytest.mark.parametrize("command", REGEN.COMMANDS, ids=lambda c: c or "perfkit")
def test_help_reads_like_a_person_wrote_it(command: str) -> None:
    text = REGEN.help_text(command)
    # no Python types as metavars (`<str>`, `<list[Path]>`, `<int range>`)
    assert not re.search(r"<[a-z_\[\], ]+>", text), text
    # usage lines: LOG... / [FILE]..., never {LOG}... or {LOG...}...
    usage = text.splitlines()[0]
    assert "{" not in usage and "...}" not in usage, usage
    # defaults are shown as values, not as (0.0000166667)
    assert "[default: (" not in text
    # the command list shows whole summaries
    commands = text.split("Commands:\n", 1)[1] if "Commands:\n" in text else ""
    assert "..." not in commands, commands


def test_seed_shows_its_default() -> None:
    for command in ("pool", "demo", "batch"):
        text = " ".join(REGEN.help_text(command).split())
        seed = text.split("--seed N", 1)[1][:120]
        assert "default" in seed, (command, seed)
