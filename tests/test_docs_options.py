"""Every command and every option of the command tree is documented on its docs page.

The tree is read from the real Typer app (the click commands it builds), so a new
command or option fails here until docs/<command>.md mentions it (sqlite-utils'
``test_docs.py`` pattern)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

from perfkit.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# commands documented on another command's page; the global options are in the README
PAGE_OF = {"init": "check.md"}


# click is typer's (vendored from typer 0.26 on): the tree is walked through typer's public
# names and the commands' own methods, never through a private module
Command = Any


def _tree() -> Iterator[tuple[str, Command]]:
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        cmd = root.get_command(ctx, name)  # type: ignore[attr-defined]
        assert cmd is not None
        yield name, cmd
        if hasattr(cmd, "list_commands"):
            sub_ctx = typer.Context(cmd, parent=ctx)
            for sub in cmd.list_commands(sub_ctx):
                found = cmd.get_command(sub_ctx, sub)
                assert found is not None
                yield f"{name} {sub}", found


COMMANDS = list(_tree())


def page(command: str) -> Path:
    top = command.split()[0]
    return DOCS / PAGE_OF.get(top, f"{top}.md")


def _long_options(cmd: Command) -> list[str]:
    found = []
    for param in cmd.params:
        if param.param_type_name != "option":
            continue
        names = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
        found += [n for n in names if n != "--help"]
    return found


def mentions(text: str, option: str) -> bool:
    """``--top`` as a word of its own: not the start of ``--top-n``, not inside a word."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


@pytest.mark.parametrize("command", [c for c, _ in COMMANDS])
def test_command_has_a_docs_page(command: str) -> None:
    path = page(command)
    assert path.is_file(), f"perfkit {command} has no docs page: write {path.relative_to(ROOT)}"
    assert f"perfkit {command}" in path.read_text(encoding="utf-8"), (
        f"{path.relative_to(ROOT)} never names `perfkit {command}`"
    )


@pytest.mark.parametrize(
    ("command", "option"),
    [(c, o) for c, cmd in COMMANDS for o in _long_options(cmd)],
    ids=lambda v: v,
)
def test_option_is_documented(command: str, option: str) -> None:
    path = page(command)
    assert mentions(path.read_text(encoding="utf-8"), option), (
        f"perfkit {command} {option} is not documented in {path.relative_to(ROOT)}"
    )


@pytest.mark.parametrize("option", _long_options(typer.main.get_command(app)))
def test_global_option_is_documented(option: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert mentions(readme, option), f"perfkit {option} (global) is not documented in README.md"


def test_the_tree_is_the_whole_cli() -> None:
    from perfkit.cli import COMMANDS as REGISTERED

    top = {c for c, _ in COMMANDS if " " not in c}
    assert top == set(REGISTERED)
    assert any(c.startswith("db ") for c, _ in COMMANDS)  # sub-commands are walked too


def test_mentions_is_a_whole_word() -> None:
    assert mentions("use `--top 4`", "--top")
    assert not mentions("use --top-n 4", "--top")
    assert not mentions("use x--top", "--top")


def test_jobs_help_names_every_format_read_in_ranges() -> None:
    """``analyze --jobs`` says which logs it splits: every format the parallel reader
    takes (it said "uncompressed stderr" while it split compressed and structured logs)."""
    from perfkit.querylog import parallel

    analyze = dict(COMMANDS)["analyze"]
    (jobs,) = [p for p in analyze.params if "--jobs" in p.opts]
    words = set(re.findall(r"[\w-]+", jobs.help))
    assert words >= parallel.FORMATS, (sorted(parallel.FORMATS - words), jobs.help)
    assert "uncompressed" not in words and "compressed" in words
