"""`perfkit check --against REF`: the worktree, both sides, their order, cleanup, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

PY = sys.executable


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path, config: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "ci")
    (root / "perfkit.toml").write_text(textwrap.dedent(config), encoding="utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "v1")
    return root


def worktrees(repo: Path) -> list[str]:
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_both_sides_run_interleaved_in_a_worktree_that_is_removed(cli: Any, tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    repo = make_repo(
        tmp_path / "repo",
        f"""
        [check.side]
        type = "command"
        run = "cat side.txt >> '{log}'"
        runs = 3
        warmup = 1
        """,
        {"side.txt": "A\n"},
    )
    (repo / "side.txt").write_text("B\n")  # the change, not committed
    r = cli("--config", str(repo / "perfkit.toml"), "check", "--against", "v1", "-f", "json")
    assert r.exit_code == 0, r.stderr
    # round 1 warms each side up first, the other tree first; then the order alternates
    assert log.read_text().split() == ["A", "A", "B", "B", "B", "A", "A", "B"]
    payload = json.loads(r.stdout)
    against = payload["against"]
    assert against["ref"] == "v1" and against["commit"] == git(repo, "rev-parse", "v1")
    assert against["temporary"] is True
    assert not Path(against["directory"]).exists()
    assert len(worktrees(repo)) == 1
    wall = payload["checks"][0]["metrics"][0]
    assert wall["paired"]["test"] == "wilcoxon-signed-rank"
    assert wall["baseline"]["n"] == wall["current"]["n"] == 3
    assert payload["message"].startswith("no regression against v1 (")


def test_a_much_slower_change_fails_and_the_unchanged_passes(cli: Any, tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        f"""
        [check]
        retries = 0

        [check.nap]
        type = "command"
        run = "{PY} -S nap.py"
        runs = 6
        warmup = 0
        max_increase = "100%"
        """,
        {"nap.py": "import time\ntime.sleep(0.05)\n"},
    )
    cfg = str(repo / "perfkit.toml")
    r = cli("--config", cfg, "check", "--against", "HEAD")
    assert r.exit_code == 0, r.stdout + r.stderr
    # 0.5 s more per run: a change far beyond any noise
    (repo / "nap.py").write_text("import time\ntime.sleep(0.55)\n")
    r = cli("--config", cfg, "check", "--against", "HEAD", "-f", "json")
    assert r.exit_code == 1, r.stderr
    wall = json.loads(r.stdout)["checks"][0]["metrics"][0]
    assert wall["status"] == "regression"
    assert wall["paired"]["ci"][0] > 2.0
    assert "Wilcoxon signed-rank" in wall["note"]


def test_against_dir_uses_a_prepared_checkout(cli: Any, tmp_path: Path) -> None:
    log = tmp_path / "dirs.log"
    here = tmp_path / "here"
    other = tmp_path / "other"
    for d in (here, other):
        d.mkdir()
        (d / "perfkit.toml").write_text(
            textwrap.dedent(
                f"""
                [check.where]
                type = "command"
                run = "pwd >> '{log}'"
                runs = 2
                warmup = 0
                """
            )
        )
    r = cli("--config", str(here / "perfkit.toml"), "check", "--against-dir", str(other))
    assert r.exit_code == 0, r.stderr
    assert log.read_text().split() == [str(other), str(here), str(here), str(other)]
    assert other.exists()  # not ours to remove


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--against", "no-such-branch"), "--against: unknown revision 'no-such-branch' in "),
        (("--against", "--all"), "--against: '--all' is not a revision"),
        (("--against-dir", "missing"), "--against-dir: "),
        (("--against", "v1", "--against-dir", "."), "give --against REF or --against-dir DIR"),
    ],
)
def test_bad_refs_are_one_line_exit_2(
    cli: Any, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """
        [check.t]
        type = "command"
        run = "true"
        """,
        {},
    )
    r = cli("--config", str(repo / "perfkit.toml"), "check", *args)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert len(worktrees(repo)) == 1


def test_not_a_git_repository_is_exit_2(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "perfkit.toml").write_text('[check.t]\ntype = "command"\nrun = "true"\n')
    r = cli("--config", str(tmp_path / "perfkit.toml"), "check", "--against", "main")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        f"perfkit: error: --against: {tmp_path} is not in a git repository "
        "(give --against-dir DIR for a checkout)"
    )


def test_a_check_new_in_this_tree_is_reported_new(cli: Any, tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """
        [check.old]
        type = "command"
        run = "true"
        runs = 2
        """,
        {},
    )
    (repo / "perfkit.toml").write_text(
        textwrap.dedent(
            """
            [check.old]
            type = "command"
            run = "true"
            runs = 2

            [check.fresh]
            type = "command"
            run = "cat added.txt"
            runs = 2
            max_increase = "10%"
            """
        )
    )
    (repo / "added.txt").write_text("only here\n")
    r = cli("--config", str(repo / "perfkit.toml"), "check", "--against", "HEAD", "-f", "json")
    assert r.exit_code == 0, r.stderr
    fresh = next(c for c in json.loads(r.stdout)["checks"] if c["name"] == "fresh")
    assert {m["status"] for m in fresh["metrics"]} == {"new"}
    assert "could not run on HEAD (" in fresh["metrics"][0]["note"]


def test_deterministic_checks_use_the_baseline_file_when_given(cli: Any, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    repo = make_repo(
        tmp_path / "repo",
        f"""
        [check.timed]
        type = "command"
        run = "echo t >> '{log}'"
        runs = 2
        warmup = 0

        [check.queue]
        type = "batch"
        input = "queue.jsonl"
        """,
        {
            "queue.jsonl": "\n".join(
                json.dumps({"messageId": f"m{i}", "body": "{}"}) for i in range(20)
            )
            + "\n"
        },
    )
    cfg = str(repo / "perfkit.toml")
    base = tmp_path / "base.json"
    assert cli("--config", cfg, "check", "--save-baseline", str(base)).exit_code == 0
    r = cli("--config", cfg, "check", "--against", "HEAD", "--baseline", str(base), "-f", "json")
    assert r.exit_code == 0, r.stderr
    payload = json.loads(r.stdout)
    by_name = {c["name"]: c for c in payload["checks"]}
    assert all(m["paired"] is not None for m in by_name["timed"]["metrics"])
    assert all(m["paired"] is None for m in by_name["queue"]["metrics"])
    assert log.read_text().split() == ["t"] * 6  # 2 for the baseline, 2 per side


def test_sigterm_removes_the_worktree(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """
        [check.slow]
        type = "command"
        run = "sleep 30"
        runs = 2
        warmup = 0
        """,
        {},
    )
    proc = subprocess.Popen(
        [PY, "-m", "perfkit", "--config", str(repo / "perfkit.toml"), "check", "--against", "v1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(worktrees(repo)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(worktrees(repo)) == 2
        extra = worktrees(repo)[1].split(" ", 1)[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert len(worktrees(repo)) == 1
    assert not os.path.exists(extra), err


def test_coldstart_checks_run_paired_too(cli: Any, tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """
        [check]
        retries = 0

        [check.cold]
        type = "coldstart"
        target = "svc"
        runs = 3
        modules = ["json"]
        """,
        {"svc.py": "import json\n"},
    )
    (repo / "svc.py").write_text("import json\nimport csv\n")
    r = cli("--config", str(repo / "perfkit.toml"), "check", "--against", "HEAD", "-f", "json")
    assert r.exit_code == 1, r.stderr  # one module more: exact
    m = {x["name"]: x for x in json.loads(r.stdout)["checks"][0]["metrics"]}
    assert m["modules"]["status"] == "regression" and m["modules"]["paired"] is None
    for name in ("import_time", "wall", "cpu", "module:json"):
        assert m[name]["paired"]["pairs"] + m[name]["paired"]["outliers"] == 3, name
