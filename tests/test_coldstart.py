"""perfkit coldstart end to end, on small packages whose import costs are known by construction.

Sleeps at import time give each module a known cost; assertions use generous
tolerances (timing claims live in benchmarks/bench_coldstart.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from perfkit.coldstart import profile
from perfkit.coldstart.model import ColdstartResult
from perfkit.errors import TargetError, UsageError

FILES = {
    "app/__init__.py": "",
    # used at module level: must stay eager
    "app/slow.py": "import time\ntime.sleep(0.08)\nVALUE = 1\n",
    # used only inside the handler: the candidate
    "app/heavy.py": "import time\ntime.sleep(0.05)\n\ndef compute():\n    return 42\n",
    # imported for its side effects (registers something): never a candidate
    "app/registry.py": "import time\ntime.sleep(0.03)\nREGISTERED = True\n",
    # used in a decorator: runs at import time
    "app/deco.py": "import time\ntime.sleep(0.02)\n\ndef traced(fn):\n    return fn\n",
    # imported inside the handler: shows up as an import during the first call
    "app/late.py": "import time\ntime.sleep(0.03)\n",
    "app/handler.py": """\
        import app.slow
        import app.registry
        from app import deco
        from app import heavy

        CONFIG = app.slow.VALUE


        @deco.traced
        def handler(event, context):
            import app.late

            return {"v": heavy.compute(), "n": event.get("n"), "fn": context.function_name}
        """,
}


def write_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("proj"), FILES)
    (root / "event.json").write_text('{"n": 7}')
    return root


@pytest.fixture(scope="module")
def result(project: Path) -> ColdstartResult:
    return profile(
        "app.handler:handler",
        runs=3,
        cwd=project,
        event=project / "event.json",
        lambda_memory_mb=1024,
    )


def _module(r: ColdstartResult, name: str) -> Any:
    return next(m for m in r.modules if m.name == name)


def test_tree_has_the_target_and_its_imports_in_import_order(result: ColdstartResult) -> None:
    assert [n.name for n in result.tree] == ["app.handler"]
    children = [c.name for c in result.tree[0].children]
    # the package is loaded while its submodule is imported; children sorted by median time
    assert children[:4] == ["app.slow", "app.heavy", "app.registry", "app.deco"]
    assert children[4] == "app"
    assert "app.late" not in {m.name for m in result.modules}  # imported only when called


def test_per_module_statistics_reflect_the_sleeps(result: ColdstartResult) -> None:
    assert len(result.runs) == 3
    slow = _module(result, "app.slow")
    assert slow.runs == 3 and slow.parent == "app.handler" and slow.depth == 1
    assert 75 <= slow.self_ms.min <= slow.self_ms.median <= slow.self_ms.max < 400
    assert slow.cumulative_ms.median >= slow.self_ms.median
    heavy = _module(result, "app.heavy")
    assert 45 <= heavy.cumulative_ms.median < 400
    assert {m.name for m in result.modules if m.project} == {
        "app", "app.handler", "app.slow", "app.heavy", "app.registry", "app.deco",
    }  # fmt: skip
    # the total is the sum of the sleeps plus a little
    assert 175 <= result.import_ms.median < 1000
    assert result.import_ms.min <= result.import_ms.median <= result.import_ms.max
    assert list(result.totals_ms) == [r.import_ms for r in result.runs]
    assert all(r.wall_ms is not None and r.wall_ms > r.import_ms for r in result.runs)


def test_only_the_function_only_import_is_a_candidate(
    result: ColdstartResult, project: Path
) -> None:
    assert [(c.module, c.line, c.statement) for c in result.candidates] == [
        ("app.heavy", 4, "from app import heavy")
    ]
    c = result.candidates[0]
    assert c.file == str(project / "app" / "handler.py")
    assert c.used_in == ("handler",)
    assert c.fix.kind == "function-local"
    assert c.fix.text == "line 4: move `from app import heavy` into handler()"
    # PEP 810: a from-import is made lazy by naming the module after `from`
    assert "__lazy_modules__ = ['app']" in c.fix.alternative
    assert c.saving_ms is not None and 45 <= c.saving_ms < 400
    assert result.total_saving_ms == pytest.approx(c.saving_ms)


def test_kept_imports_say_why(result: ColdstartResult) -> None:
    kept = {k.module: k.reason for k in result.kept}
    assert kept["app.slow"] == "used at import time (line 6)"
    assert kept["app.registry"].startswith("not used in this module")
    assert kept["app.deco"] == "used at import time (line 9)"


def test_handler_first_and_warm_call(result: ColdstartResult) -> None:
    h = result.handler
    assert h is not None and h.function == "handler"
    assert h.first_call_imports_ms.median >= 25  # app.late sleeps 30 ms on first import
    assert h.first_call_ms.median >= 25
    assert h.second_call_ms.median < h.first_call_ms.median


def test_lambda_estimate_uses_the_measured_init(result: ColdstartResult) -> None:
    lam = result.lambda_estimate
    assert lam is not None
    assert lam.measured_init_ms == result.import_ms.median
    assert lam.cpu_factor == pytest.approx(1769 / 1024)
    assert lam.init_share is not None and 0.5 < lam.init_share < 1.0


def test_lambda_arithmetic() -> None:
    from perfkit.coldstart import estimate_lambda

    lam = estimate_lambda(500.0, 100.0, 2048, 0.0000166667, saving_ms=200.0)
    assert lam.cpu_factor == 1.0
    assert lam.gb_seconds_per_cold_start == pytest.approx(1.0)
    assert lam.cost_per_million_cold_starts == pytest.approx(16.6667)
    assert lam.init_share == pytest.approx(500 / 600)
    assert lam.saving_per_million_cold_starts == pytest.approx(0.4 * 16.6667)
    with pytest.raises(UsageError, match="--lambda-memory-mb"):
        estimate_lambda(1.0, None, 64)


def test_file_target_env_and_path(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "lib/helper.py": "X = 1\n",
            "svc/main.py": """\
                import os
                import helper

                if os.environ["STAGE"] != "test":
                    raise RuntimeError("STAGE not passed")
                """,
        },
    )
    r = profile("svc/main.py", runs=1, cwd=tmp_path, env={"STAGE": "test"}, paths=["lib"])
    assert r.module == "main"
    assert {"main", "helper"} <= {m.name for m in r.modules}
    assert {m.name for m in r.modules if m.project} == {"main", "helper"}


def _other_python() -> str | None:
    """A Python other than this one that runs (pyenv shims may not)."""
    names = ["python3.12", "python3.10", "python3.13"]
    names += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[023]*/bin/python3"))
    for name in names:
        exe = shutil.which(name)
        if not exe:
            continue
        probe = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() != str(sys.version_info[:2]):
            return exe
    return None


def test_another_interpreter_without_perfkit(tmp_path: Path) -> None:
    other = _other_python()
    if other is None:
        pytest.skip("no second Python interpreter")
    write_project(tmp_path, {"h.py": "import json\n\ndef f(e, c):\n    return json.dumps(e)\n"})
    r = profile("h:f", runs=1, cwd=tmp_path, python=other)
    assert r.python_version != ".".join(map(str, sys.version_info[:3]))
    assert "perfkit" not in {m.name for m in r.modules}
    assert [c.module for c in r.candidates] == ["json"]


@pytest.mark.parametrize(
    ("files", "target", "expected"),
    [
        ({}, "nosuch.mod", "nosuch.mod: importing the target failed: ModuleNotFoundError: "
         "No module named 'nosuch'"),
        ({"bad.py": "def f(:\n"}, "bad.py", "bad.py: importing the target failed: SyntaxError"),
        (
            {"boom.py": "import json\n\ndef helper():\n    raise KeyError('cfg')\n\nhelper()\n"},
            "boom",
            "boom: importing the target failed: KeyError: 'cfg'",
        ),
        ({"h.py": "def f(e, c):\n    return 1 / 0\n"}, "h:f",
         "h:f: calling the handler of the target failed: ZeroDivisionError: division by zero"),
    ],
)  # fmt: skip
def test_target_errors_carry_the_targets_own_error(
    tmp_path: Path, files: dict[str, str], target: str, expected: str
) -> None:
    write_project(tmp_path, files)
    with pytest.raises(TargetError) as info:
        profile(target, runs=1, cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(expected)
    assert "perfkit/coldstart" not in message and '"<string>"' not in message


def test_exception_shows_the_targets_frames(tmp_path: Path) -> None:
    write_project(tmp_path, {"boom.py": "def helper():\n    raise KeyError('cfg')\n\nhelper()\n"})
    with pytest.raises(TargetError) as info:
        profile("boom", runs=1, cwd=tmp_path)
    assert str(info.value).splitlines()[1:] == [
        "Traceback (most recent call last):",
        f'  File "{tmp_path / "boom.py"}", line 4, in <module>',
        "    helper()",
        f'  File "{tmp_path / "boom.py"}", line 2, in helper',
        "    raise KeyError('cfg')",
        "KeyError: 'cfg'",
    ]


def test_a_hanging_target_is_killed(tmp_path: Path) -> None:
    write_project(tmp_path, {"hang.py": "import time\ntime.sleep(60)\n"})
    with pytest.raises(TargetError, match=r"did not finish within 2s and was killed; it hung "
                       r"while importing the target"):  # fmt: skip
        profile("hang", runs=1, cwd=tmp_path, timeout=2.0)


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--python"):
        profile("x", python="/nonexistent/python", cwd=tmp_path)
    with pytest.raises(UsageError, match="--runs"):
        profile("x", runs=0, cwd=tmp_path)
    with pytest.raises(UsageError, match="TARGET"):
        profile("not a module!", cwd=tmp_path)


def test_cli_json_is_a_baseline_and_html_is_offline(
    cli: Any, project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "base.json"
    page = tmp_path / "chart.html"
    r = cli(
        "coldstart", "app.handler", "--runs", "2", "--cwd", str(project),
        "--format", "json", "--output", str(out), "--html", str(page),
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["schema_version"] == 1 and data["kind"] == "coldstart"
    assert len(data["totals_ms"]) == 2
    assert data["candidates"][0]["fix"]["kind"] == "function-local"
    text = page.read_text()
    assert 'id="icicle"' in text and '"app.slow"' in text
    # one file: no external script, style sheet, image or font (URLs in comments are fine)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
    assert "<script src" not in text and "<link" not in text and "@import" not in text

    r = cli(
        "coldstart", "app.handler", "--runs", "2", "--cwd", str(project),
        "--baseline", str(out), "--format", "markdown",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "**inconclusive:" in r.stdout
    assert "too few for a significance test" in r.stdout


def test_cli_table_shows_tree_and_candidates(cli: Any, project: Path) -> None:
    r = cli("coldstart", "app.handler:handler", "--runs", "1", "--cwd", str(project), "--top", "3")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    version = ".".join(map(str, sys.version_info[:3]))
    assert lines[0] == f"cold start of app.handler:handler (Python {version})"
    tree = lines[lines.index(next(x for x in lines if x.startswith("   cum ms"))) :][:4]
    assert tree[1].endswith("  app.handler") and "─" not in tree[1]
    assert tree[2].endswith("├─ app.slow") or tree[2].endswith("└─ app.slow")
    assert any("from app import heavy" in x and "handler.py:4" in x for x in lines)


def test_cli_errors_exit_2_without_perfkit_traceback(cli: Any, tmp_path: Path) -> None:
    write_project(tmp_path, {"bad.py": "x = (\n"})
    r = cli("coldstart", "bad.py", "--runs", "1", "--cwd", str(tmp_path))
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == (
        "perfkit: error: bad.py: importing the target failed: SyntaxError: "
        + ("'(' was never closed (bad.py, line 1)")
    )
    assert "perfkit/" not in r.stderr
    r = cli("coldstart", "x", "--env", "NOEQUALS", "--cwd", str(tmp_path))
    assert r.exit_code == 2
    assert r.stderr == "perfkit: error: --env: 'NOEQUALS' is not KEY=VALUE\n"
    r = cli("coldstart", "x", "--timeout", "soon", "--cwd", str(tmp_path))
    assert r.exit_code == 2 and r.stderr.startswith("perfkit: error: --timeout:")
    r = cli("coldstart", "x", "--lambda-memory-mb", "64", "--cwd", str(tmp_path))
    assert r.exit_code == 2
    assert r.stderr == (
        "perfkit: error: --lambda-memory-mb: Lambda memory is between 128 and 10240 MB\n"
    )
    r = cli("coldstart", "x", "--html", str(tmp_path / "no" / "c.html"))
    assert r.exit_code == 2
    assert r.stderr == f"perfkit: error: --html: directory {tmp_path / 'no'} does not exist\n"
    r = cli("coldstart", "x", "--importtime-log", str(tmp_path / "a.log"))
    assert r.exit_code == 2
    assert r.stderr == "perfkit: error: TARGET: give a target or --importtime-log, not both\n"


def test_a_module_reported_twice_in_one_run_counts_once(tmp_path: Path) -> None:
    # importing pkg.sub loads pkg, whose __init__ imports pkg.sub: CPython prints pkg.sub
    # twice (inner real load, outer wrapper)
    write_project(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import sub\n",
            "pkg/sub.py": "import time\ntime.sleep(0.05)\n",
            "main.py": "import pkg.sub\n",
        },
    )
    r = profile("main", runs=1, cwd=tmp_path)
    assert [m.name for m in r.modules].count("pkg.sub") == 1
    sub = _module(r, "pkg.sub")
    assert sub.parent == "main" and sub.depth == 1
    assert sub.self_ms.median >= 45
    assert r.runs[0].modules == 3
    outer = r.tree[0].children[0]
    assert (outer.name, outer.children[0].name, outer.children[0].children[0].name) == (
        "pkg.sub", "pkg", "pkg.sub",
    )  # fmt: skip
    assert outer.children[0].children[0].self_ms >= 45


def test_wrong_static_guess_is_caught_by_the_probe(tmp_path: Path) -> None:
    # `json` looks function-only, but the module reads it through globals() at import time
    write_project(
        tmp_path,
        {"dyn.py": "import json\n\nDUMP = globals()['json'].dumps\n\ndef f():\n    return json\n"},
    )
    r = profile("dyn", runs=1, cwd=tmp_path)
    assert [c.module for c in r.candidates] == ["json"]
    assert r.candidates[0].saving_ms is None and r.total_saving_ms is None
    assert any("savings not verified" in w for w in r.warnings)


def test_a_function_called_indirectly_at_import_time_is_demoted_by_the_probe(
    tmp_path: Path,
) -> None:
    # `render` is only *passed* to map() at module level: the static look cannot see the
    # call, the probe's NameError proves json is needed, and json is then kept eager
    write_project(
        tmp_path,
        {
            "cb.py": """\
                import json
                import csv

                def render(x):
                    return json.dumps(x)

                def later():
                    return csv.QUOTE_ALL

                RENDERED = list(map(render, [1, 2]))
                """
        },
    )
    r = profile("cb", runs=1, cwd=tmp_path)
    assert [c.module for c in r.candidates] == ["csv"]
    assert r.candidates[0].saving_ms is not None
    assert not r.warnings


def test_python_path_relative_to_cwd(tmp_path: Path) -> None:
    write_project(tmp_path, {"h.py": "X = 1\n"})
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    r = profile("h", runs=1, cwd=tmp_path, python="venv/bin/python")
    assert r.python_version == ".".join(map(str, sys.version_info[:3]))
