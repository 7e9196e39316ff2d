"""tools/async_to_sync.py: the sync executor is generated from the asyncio one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "async_to_sync.py"


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_the_sync_executor_on_disk_is_what_the_source_generates() -> None:
    proc = _tool("--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    head = (ROOT / "perfkit/cache/executor.py").read_text(encoding="utf-8").splitlines()[0]
    assert head == "# generated from async_executor.py by tools/async_to_sync.py, do not edit"


SOURCE = '''\
# the source's own note: not copied
"""``AsyncThing`` over an ``AsyncConnection``.

    r = await AsyncThing(conn).run()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["AsyncThing"]


class AsyncThing:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        if True:  # ASYNC: only asyncio needs this
            self.mode = "tasks"
        else:
            self.mode = "threads"  # the sync side

    @asynccontextmanager
    async def _cursor(self) -> AsyncIterator[Any]:
        async with self.conn.cursor() as cur:
            yield cur

    async def run(self) -> list[Any]:
        """Rows of the query (``await`` is dropped here too)."""
        async with self._cursor() as cur:
            await cur.execute("SELECT 1")

            rows = [r async for r in cur]
        async for _ in cur:
            pass
        return [await self.conn.close(), *rows]
'''


def test_generation_strips_async_maps_names_and_keeps_the_sync_branch(tmp_path: Path) -> None:
    src, out = tmp_path / "thing_async.py", tmp_path / "thing.py"
    src.write_text(SOURCE, encoding="utf-8")
    names = "AsyncThing"  # not in the tool's map: stays
    proc = _tool(str(src), str(out))
    assert proc.returncode == 0, proc.stderr
    code = out.read_text(encoding="utf-8")
    assert code.startswith("# generated from thing_async.py by tools/async_to_sync.py")
    assert "source's own note" not in code
    for gone in ("async ", "await ", "tasks", "ASYNC", "if True", "AsyncIterator"):
        assert gone not in code, gone
    assert "from collections.abc import Iterator" in code
    assert "from contextlib import contextmanager" in code
    assert "@contextmanager" in code and "with self.conn.cursor() as cur:" in code
    assert 'self.mode = "threads"  # the sync side' in code
    assert "r = AsyncThing(conn).run()" in code  # the docstring's example is sync
    assert "over an ``Connection``" in code
    assert names in code
    assert "rows = [r for r in cur]" in code
    assert 'cur.execute("SELECT 1")\n\n            rows' in code  # blank lines kept
    compile(code, str(out), "exec")


def test_check_fails_and_shows_the_difference_when_the_generated_file_was_edited(
    tmp_path: Path,
) -> None:
    src, out = tmp_path / "thing_async.py", tmp_path / "thing.py"
    src.write_text(SOURCE, encoding="utf-8")
    assert _tool(str(src), str(out)).returncode == 0
    assert _tool("--check", str(src), str(out)).returncode == 0
    out.write_text(out.read_text(encoding="utf-8").replace("threads", "hand edit"))
    proc = _tool("--check", str(src), str(out))
    assert proc.returncode == 1
    assert '-        self.mode = "hand edit"' in proc.stdout
    assert "is not what" in proc.stdout
    # a source changed without regenerating fails the same way
    src.write_text(SOURCE.replace('"SELECT 1"', '"SELECT 2"'), encoding="utf-8")
    out.write_text(out.read_text(encoding="utf-8").replace("hand edit", "threads"))
    assert _tool("--check", str(src), str(out)).returncode == 1
