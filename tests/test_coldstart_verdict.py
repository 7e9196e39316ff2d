"""coldstart's verdicts: per module as well as for the total, Holm-corrected; paired runs
with --against. Statistics on deterministic synthetic samples; one CLI run with a module
made 0.5 s slower (far beyond noise)."""

from __future__ import annotations

import json
import random
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from perfkit.coldstart.baseline import Baseline, compare, load_baseline


def baseline_of(totals: list[float], modules: dict[str, list[float]]) -> Baseline:
    medians = {k: sorted(v)[len(v) // 2] for k, v in modules.items()}
    samples = {k: tuple(v) for k, v in modules.items()}
    return Baseline("base.json", tuple(totals), medians, "3.11", samples)


def noisy_project(
    rnd: random.Random, runs: int, n_modules: int, spread: float, slow: dict[str, float]
) -> tuple[list[float], dict[str, list[float]]]:
    """Per-run module times: each module ~U(2, 20) ms with multiplicative noise; the
    total is their sum plus a noisy interpreter share (the noise that hid a module)."""
    sizes = {f"m{i}": 2 + 18 * random.Random(i).random() for i in range(n_modules)}
    modules: dict[str, list[float]] = {k: [] for k in sizes}
    totals = []
    for _ in range(runs):
        total = rnd.uniform(0, spread)
        for name, size in sizes.items():
            t = size * rnd.uniform(0.9, 1.1) + slow.get(name, 0.0)
            modules[name].append(t)
            total += t
        totals.append(total)
    return totals, modules


def test_one_module_slower_is_found_although_the_total_is_noisy() -> None:
    rnd = random.Random(5)
    base_totals, base_mods = noisy_project(rnd, 10, 40, 400.0, {})
    cur_totals, cur_mods = noisy_project(rnd, 10, 40, 400.0, {"m7": 100.0})
    c = compare(
        baseline_of(base_totals, base_mods),
        cur_totals,
        {k: sorted(v)[5] for k, v in cur_mods.items()},
        cur_mods,
    )
    assert c.total_verdict == "no significant change"
    assert c.verdict == "regression"
    worst = c.module_verdicts[0]
    assert (worst.name, worst.verdict) == ("m7", "regression")
    assert 90 < worst.delta_ms < 110 and worst.adjusted_p < 0.05
    assert [v.name for v in c.module_verdicts if v.verdict == "regression"] == ["m7"]
    assert "1 module(s) slower: m7 +" in c.reason
    # the family: the total and every module of 1% of it or more
    assert 20 < len(c.module_verdicts) < 40
    assert f"Holm-corrected over {len(c.module_verdicts) + 1}" in c.reason


@pytest.mark.parametrize("seed", range(10))
def test_unchanged_code_gives_no_module_alarm(seed: int) -> None:
    # 40 modules tested: without the correction, about 2 would be "significant" by chance
    rnd = random.Random(100 + seed)
    base_totals, base_mods = noisy_project(rnd, 10, 40, 50.0, {})
    cur_totals, cur_mods = noisy_project(rnd, 10, 40, 50.0, {})
    c = compare(
        baseline_of(base_totals, base_mods),
        cur_totals,
        {k: sorted(v)[5] for k, v in cur_mods.items()},
        cur_mods,
    )
    assert c.verdict == "no significant change", c.reason
    assert len(c.module_verdicts) > 25


def test_paired_runs_cancel_drift() -> None:
    # the machine gets up to 3x slower and back during the runs; each pair shares it
    rnd = random.Random(9)
    drift = [1 + 2 * abs(((i % 8) - 4) / 4) for i in range(12)]
    base = [40 * d * rnd.uniform(0.98, 1.02) for d in drift]
    same = [40 * d * rnd.uniform(0.98, 1.02) for d in drift]
    slower = [(40 * d + 10) * rnd.uniform(0.98, 1.02) for d in drift]
    b = Baseline("HEAD", tuple(base), {}, None, {})
    assert compare(b, same, {}, paired=True).verdict == "no significant change"
    c = compare(b, slower, {}, paired=True)
    assert c.verdict == "regression" and c.test == "wilcoxon-signed-rank" and c.paired
    # unpaired, the same +10 ms hides in the drift
    assert compare(b, slower, {}).verdict == "no significant change"


def test_family_shrinks_to_what_the_runs_can_settle() -> None:
    rnd = random.Random(2)
    base_totals, base_mods = noisy_project(rnd, 7, 40, 10.0, {})
    cur_totals, cur_mods = noisy_project(rnd, 7, 40, 10.0, {})
    b = baseline_of(base_totals, base_mods)
    c = compare(b, cur_totals, {}, cur_mods, paired=True)
    # 7 pairs: two-sided p >= 1/64, so at most 3 comparisons can pass Holm at 0.05
    assert len(c.module_verdicts) == 2
    assert any("the largest are tested" in n for n in c.notes)
    few = compare(Baseline("b", (1.0,) * 5, {}, None, {}), [2.0] * 5, {}, paired=True)
    assert few.verdict == "inconclusive"


def test_an_old_baseline_without_module_samples_still_compares(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {
                "kind": "coldstart",
                "schema_version": 1,
                "runs": [{"import_ms": x} for x in (10.0, 11.0, 10.5, 10.2, 10.8)],
                "modules": [{"name": "a", "cumulative_ms": {"median": 5.0}}],
            }
        )
    )
    b = load_baseline(path)
    c = compare(b, [10.1, 10.9, 10.4, 10.6, 10.3], {"a": 5.0}, {"a": [5.0] * 5})
    assert c.module_verdicts == ()
    assert any("no verdict per module" in n for n in c.notes)
    bad = json.loads(path.read_text())
    bad["modules"][0]["cumulative_samples_ms"] = [1.0]
    path.write_text(json.dumps(bad))
    with pytest.raises(Exception, match="do not match its runs"):
        load_baseline(path)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_cli_against_finds_the_slower_module(cli: Any, tmp_path: Path) -> None:
    repo = tmp_path / "svc"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "ci")
    (repo / "app.py").write_text("import json\nimport helper\n")
    (repo / "helper.py").write_text("VALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    (repo / "helper.py").write_text(
        textwrap.dedent(
            """
            import time
            time.sleep(0.5)
            VALUE = 1
            """
        )
    )
    out = tmp_path / "r.json"
    r = cli(
        "coldstart", "app", "--cwd", str(repo), "--against", "HEAD", "--runs", "7",
        "--no-candidates", "--format", "json", "--output", str(out), "--fail-on-regression",
    )  # fmt: skip
    assert r.exit_code == 1, r.stderr
    data = json.loads(out.read_text())
    b = data["baseline"]
    assert b["paired"] is True and b["test"] == "wilcoxon-signed-rank"
    assert b["baseline_file"].startswith("HEAD (")
    verdicts = {v["name"]: v["verdict"] for v in b["module_verdicts"]}
    assert verdicts["helper"] == "regression"
    assert len(data["runs"]) == 7
    assert all(len(m["cumulative_samples_ms"]) == 7 for m in data["modules"])
    listed = subprocess.run(
        ["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert len(listed.stdout.strip().splitlines()) == 1


def test_cli_against_errors_are_one_line(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    r = cli("coldstart", "app", "--cwd", str(tmp_path), "--against", "main")
    assert r.exit_code == 2
    assert r.stderr.strip().endswith(
        "is not in a git repository (give --against-dir DIR for a checkout)"
    )
    r = cli("coldstart", "app", "--cwd", str(tmp_path), "--against", "main", "--baseline", "x.json")
    assert r.exit_code == 2


def test_a_baseline_from_another_machine_is_named() -> None:
    from dataclasses import asdict, replace

    from perfkit.check.baseline import this_machine
    from perfkit.coldstart.baseline import machine_warning

    here = this_machine()
    other = replace(here, cpu_count=here.cpu_count + 2, load=(40.0, 40.0, 40.0))
    b = Baseline("b", (1.0,), {}, None, {}, asdict(other))
    text = machine_warning(b, asdict(replace(here, load=(0.0, 0.0, 0.0))))
    assert text is not None
    assert f"cpu count {here.cpu_count + 2} -> {here.cpu_count}" in text
    assert "busy machine" in text
    assert machine_warning(replace(b, machine=asdict(here)), asdict(here)) is None


def test_a_move_within_the_threshold_is_not_significant() -> None:
    # an unchanged 50 ms module whose paired runs moved by about its 1 ms threshold
    # (load skewing one side): every difference is positive, so "differs from 0" is
    # significant and the median (1.08 ms) is past the threshold, yet half the pairs
    # are inside it - the test is against the threshold, so no alarm
    diffs = [1.2, 1.1, 0.3, 1.5, 0.2, 1.3, 0.4, 1.6, 1.05, 0.1, 1.4, 0.5]
    base = [50.0 + 0.5 * (i % 3) for i in range(len(diffs))]
    cur = [b + d for b, d in zip(base, diffs, strict=True)]
    b = Baseline("HEAD", tuple(x + 500 for x in base), {"m": 50.0}, None, {"m": tuple(base)})
    c = compare(b, [x + 500 for x in cur], {"m": 51.0}, {"m": cur}, paired=True)
    assert [v.verdict for v in c.module_verdicts] == ["no significant change"]
    # the same pairs moved well past it (+3 ms each): a regression
    cur = [b + d + 2 for b, d in zip(base, diffs, strict=True)]
    c = compare(b, [x + 500 for x in cur], {"m": 53.0}, {"m": cur}, paired=True)
    assert [v.verdict for v in c.module_verdicts] == ["regression"]
