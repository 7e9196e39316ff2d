"""The example outputs in README.md and docs/*.md are what perfkit prints now.

The blocks between ``<!-- gendocs -->`` markers are re-run by ``tools/gendocs.py``; this
runs its check on every block but the ``manual`` ones (the demo, benchmarks, racy runs), so a change
that alters an output fails here until ``python tools/gendocs.py`` is run. Blocks with
``db=FILE`` run on a scratch database of the embedded PostgreSQL 18 the suite uses by
default (with PERFKIT_TEST_DSN naming another server they are left to the script)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gendocs", ROOT / "tools" / "gendocs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gendocs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gendocs = _load()

ANALYZE = "perfkit analyze sample_configs/logs/stderr.log --top 4 --ttl 1,60"


@pytest.fixture(scope="module")
def runner() -> Iterator[object]:
    found = gendocs.Runner()
    try:
        yield found
    finally:
        found.close()


def test_every_doc_has_its_generated_examples() -> None:
    """The examples this file exists for are under markers (not plain, unchecked text)."""
    blocks = [b for p in gendocs.doc_files() for b in gendocs.parse(p)]
    names = {(b.path.name, b.commands[-1][0].argv[1]) for b in blocks}
    for page in ("README.md", "analyze.md"):
        assert (page, "analyze") in names
    assert ("explain.md", "explain") in names
    assert ("suggest-indexes.md", "suggest-indexes") in names


def test_docs_are_current(runner: object, pg_server: str) -> None:
    embedded = not os.environ.get("PERFKIT_TEST_DSN")

    def select(block: object) -> bool:
        return not block.manual and (embedded or block.db is None)  # type: ignore[attr-defined]

    stale = gendocs.generate(check=True, select=select, runner=runner)
    assert not stale, gendocs.report(stale)


def _doc(tmp_path: Path, output: str, opts: str = "") -> Path:
    path = tmp_path / "page.md"
    path.write_text(
        f"# page\n\ntext\n\n<!-- gendocs{opts} -->\n```console\n$ {ANALYZE}\n{output}\n```\n"
        "<!-- /gendocs -->\n\nmore text\n",
        encoding="utf-8",
    )
    return path


def test_check_names_file_line_block_and_the_command(runner: object, tmp_path: Path) -> None:
    path = _doc(tmp_path, "queries: 130 in 16 fingerprints, 40.0% 12 18 1.7 5.6%")
    stale = gendocs.generate([path], check=True, runner=runner)
    assert len(stale) == 1
    text = gendocs.report(stale)
    assert f"page.md:5: block `{ANALYZE}` differs" in text
    assert "-queries: 130 in 16 fingerprints, 40.0% 12 18 1.7 5.6%" in text
    assert "run `python tools/gendocs.py`" in text
    assert "40.0% 12 18" in path.read_text(encoding="utf-8")  # --check writes nothing


def test_regenerate_then_check_is_clean(runner: object, tmp_path: Path) -> None:
    path = _doc(tmp_path, "stale output")
    assert gendocs.generate([path], runner=runner)
    text = path.read_text(encoding="utf-8")
    assert "stale output" not in text and "Cache replay" in text
    assert text.startswith("# page\n\ntext\n\n<!-- gendocs -->\n```console\n$ perfkit analyze")
    assert text.endswith("```\n<!-- /gendocs -->\n\nmore text\n")
    assert gendocs.generate([path], check=True, runner=runner) == []


def test_volatile_blocks_compare_shape(runner: object, tmp_path: Path) -> None:
    fresh = runner.run(gendocs.parse(_doc(tmp_path, "x"))[0])[0]  # type: ignore[attr-defined]
    # the same words and columns with other figures pass ...
    other = fresh.replace("130", "131").replace("29.9 ms", "3.1 s")
    path = _doc(tmp_path, other, " volatile")
    assert gendocs.generate([path], check=True, runner=runner) == []
    gendocs.generate([path], runner=runner)
    assert "131" in path.read_text(encoding="utf-8")  # same shape: figures kept, no churn
    # ... other words do not
    path = _doc(tmp_path, fresh.replace("Cache replay", "Cache replays"), " volatile")
    assert gendocs.generate([path], check=True, runner=runner)


def test_shape() -> None:
    assert gendocs.shape("p95 1.7 ms, ~351 B/s\n 12  18") == gendocs.shape(
        "p95 13.20 ms,   ~4.5 kB/s 120 18"
    )
    assert gendocs.shape("████▌ 3") == gendocs.shape("██ 12")
    assert gendocs.shape("hit rate 40%") != gendocs.shape("hits 40%")


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "page.md"
    path.write_text(
        "<!-- gendocs -->\n```\n$ perfkit --version\nperfkit 0.0\n```\n<!-- /gendocs -->\n"
    )
    assert gendocs.main(["--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "page.md:1: block `perfkit --version` differs" in err
    assert "python tools/gendocs.py" in err
    assert gendocs.main([str(path)]) == 0
    assert gendocs.main(["--check", str(path)]) == 0
    bad = tmp_path / "bad.md"
    bad.write_text("<!-- gendocs sometimes -->\n```\n$ perfkit --version\n```\n<!-- /gendocs -->\n")
    assert gendocs.main(["--check", str(bad)]) == 2
    assert "bad.md:1: unknown gendocs option 'sometimes'" in capsys.readouterr().err


def test_unexpected_exit_status_is_an_error(runner: object, tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text(
        "<!-- gendocs -->\n```\n$ perfkit analyze no-such.log\n```\n<!-- /gendocs -->\n"
    )
    with pytest.raises(gendocs.GenError, match=r"page.md:1: .* exited 2, not 0: perfkit: error"):
        gendocs.generate([path], check=True, runner=runner)
    path.write_text(
        "<!-- gendocs exit=2 -->\n```\n$ perfkit analyze no-such.log\n```\n<!-- /gendocs -->\n"
    )
    assert gendocs.generate([path], runner=runner)
    assert "no-such.log" in path.read_text(encoding="utf-8").split("$ perfkit", 1)[1]


def test_only_known_commands_run(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("<!-- gendocs -->\n```\n$ rm -rf /tmp/x\n```\n<!-- /gendocs -->\n")
    with pytest.raises(gendocs.GenError, match="not something this script runs"):
        gendocs.generate([path], check=True)


_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).filter(
    lambda s: not s.startswith(("$ ", "`")) and s == s.strip()
)


@given(
    outputs=st.lists(st.lists(_LINE, max_size=4).map("\n".join), min_size=1, max_size=3),
    volatile=st.booleans(),
)
def test_parse_reads_back_what_render_wrote(outputs: list[str], volatile: bool) -> None:
    commands = [f"$ perfkit analyze f{i}.log \\\n    --top {i}" for i in range(len(outputs))]
    body = "```console\n" + "".join(
        c + "\n" + (o + "\n" if o else "") for c, o in zip(commands, outputs, strict=True)
    )
    text = f"<!-- gendocs{' volatile' if volatile else ''} -->\n{body}```\n<!-- /gendocs -->\n"
    (block,) = gendocs.parse(Path("page.md"), text)
    assert block.volatile is volatile
    assert [c.argv[-1] for c, _ in block.commands] == [str(i) for i in range(len(outputs))]
    assert [o for _, o in block.commands] == outputs
    assert block.render([o for _, o in block.commands]) == body + "```\n"


def test_check_leaves_manual_blocks_to_all(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text(
        "<!-- gendocs manual -->\n```\n$ perfkit --version\nperfkit 0.0\n```\n<!-- /gendocs -->\n"
    )
    assert gendocs.main(["--check", str(path)]) == 0
    assert gendocs.main(["--check", "--all", str(path)]) == 1
    assert "perfkit 0.0" in path.read_text(encoding="utf-8")
    assert gendocs.main([str(path)]) == 0  # rewriting runs every block
    assert "perfkit 0.0" not in path.read_text(encoding="utf-8")
