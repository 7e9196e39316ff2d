"""``--against REF``: a checkout of another revision to measure side by side with this one.

:func:`other_tree` makes a ``git worktree`` of REF in a temporary folder and removes it
afterwards, also on Ctrl-C and SIGTERM; ``--against-dir DIR`` uses a prepared checkout
as it is. :func:`rebase_check` maps a check of this tree's config onto the other tree:
paths inside this repository point to the same place in the other one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType

from perfkit.check.model import AgainstInfo, CheckSpec
from perfkit.check.types import REGISTRY
from perfkit.errors import UsageError

_GIT_TIMEOUT = 120.0


def _run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=_GIT_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return _run_git(cwd, *args)
    except FileNotFoundError:
        raise UsageError("--against", "git is not installed (or give --against-dir DIR)") from None
    except subprocess.TimeoutExpired:
        raise UsageError("--against", f"git {args[0]} took over {_GIT_TIMEOUT:g}s") from None


def repo_root(start: Path) -> Path | None:
    """The top folder of the git working tree holding ``start``, or None."""
    if not start.is_dir():
        return None
    try:
        proc = _run_git(start, "rev-parse", "--show-toplevel")
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    out = proc.stdout.strip()
    return Path(out).resolve() if proc.returncode == 0 and out else None


def resolve_ref(root: Path, ref: str) -> str:
    """The commit ``ref`` names in the repository at ``root``; exit 2 when it names none."""
    if not ref.strip() or ref.startswith("-"):
        raise UsageError("--against", f"{ref!r} is not a revision")
    proc = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise UsageError(
            "--against", f"unknown revision {ref!r} in {root} (a branch, tag or commit)"
        )
    return proc.stdout.strip()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C, so the worktree is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def other_tree(config_dir: Path, ref: str | None, directory: Path | None) -> Iterator[AgainstInfo]:
    """The other side of the comparison, for the duration of the ``with`` block."""
    if directory is not None:
        if not directory.is_dir():
            raise UsageError("--against-dir", f"{directory} is not a directory")
        there = repo_root(directory)
        commit = ""
        if there is not None:
            head = _git(there, "rev-parse", "HEAD")
            commit = head.stdout.strip() if head.returncode == 0 else ""
        yield AgainstInfo(str(directory), commit, directory.resolve(), temporary=False)
        return
    assert ref is not None
    root = repo_root(config_dir)
    if root is None:
        raise UsageError(
            "--against",
            f"{config_dir} is not in a git repository (give --against-dir DIR for a checkout)",
        )
    commit = resolve_ref(root, ref)
    parent = Path(tempfile.mkdtemp(prefix="perfkit-against-"))
    tree = parent / "tree"
    try:
        with _terminate_as_interrupt():
            proc = _git(root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
                raise UsageError("--against", f"cannot check out {ref!r}: {last}")
            yield AgainstInfo(ref, commit, tree, temporary=True)
    finally:
        remove_tree(root, tree, parent)


def remove_tree(root: Path, tree: Path, parent: Path) -> None:
    """Remove a worktree made by :func:`other_tree` and git's record of it."""
    with contextlib.suppress(UsageError):
        if tree.exists():
            _git(root, "worktree", "remove", "--force", str(tree))
    shutil.rmtree(parent, ignore_errors=True)
    with contextlib.suppress(UsageError):
        _git(root, "worktree", "prune")


def this_root(config_dir: Path) -> Path:
    """What the other tree's root corresponds to here: the repository's top, or the
    config's folder outside git."""
    return repo_root(config_dir) or config_dir.resolve()


def rebase_check(check: CheckSpec, here: Path, there: Path) -> CheckSpec:
    """``check`` with every path inside ``here`` moved to the same place under ``there``.

    A path whose counterpart does not exist there but exists here (an untracked
    virtualenv, a generated file) keeps pointing here.
    """
    here = here.resolve()

    def move(path: Path) -> Path:
        try:
            rel = path.resolve().relative_to(here)
        except ValueError:
            return path  # outside the repository: shared by both sides
        target = there / rel
        if not target.exists() and path.exists():
            return path
        return target

    ctype = REGISTRY[check.type]
    return replace(
        check,
        params=ctype.rebase(check.params, move),
        base_dir=move(check.base_dir),
    )


def describe(info: AgainstInfo) -> str:
    where = "a temporary worktree" if info.temporary else os.fspath(info.directory)
    return f"{info.label}, measured in {where}"
