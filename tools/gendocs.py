r"""Regenerate the example outputs in README.md and docs/*.md from real runs of perfkit.

    python tools/gendocs.py                # rewrite every generated block (a few minutes)
    python tools/gendocs.py --check        # exit 1, naming file, line and block, if one differs
    python tools/gendocs.py --check --all  # ... the ``manual`` blocks too

A generated block is a fenced code block between two markers::

    <!-- gendocs -->
    ```console
    $ perfkit analyze sample_configs/logs/stderr.log --top 4 --ttl 1,60
    (output, written by this script)
    ```
    <!-- /gendocs -->

The ``$ `` lines (a trailing backslash continues one) are the commands, exactly as the
reader sees them; everything else in the block is their output and is replaced. Commands
run from a scratch directory that links to every top-level entry of the repository (so
relative paths work as from the root, and files the commands write land outside the
checkout), one after another, in a fresh ``python -m perfkit`` with
``COLUMNS=100 NO_COLOR=1 TERM=dumb`` and without ``PERFKIT_DSN``, ``FORCE_COLOR`` or the
libpq ``PG*`` variables; stdout and stderr are shown together, as on a terminal; trailing
spaces and trailing blank lines are dropped. Besides ``perfkit``, a block may use
``python benchmarks/SCRIPT`` (e.g. to write a large input), ``cd DIR`` (later commands of
the block run there) and ``cat FILE``.

Options after ``gendocs`` in the opening marker:

* ``exit=N`` - the block's last command is expected to exit with N (default 0); any other
  exit status of any command is an error.
* ``db=FILE`` (or ``db``: an empty database) - the commands get a database of their own:
  ``gendocs`` on perfkit's embedded cluster (never another server), made afresh, loaded
  from the SQL file FILE as psql would (``COPY ... FROM stdin`` too; other ``\`` lines are
  skipped), vacuumed and analyzed with statistics from every row (so that plans repeat),
  and dropped afterwards. ``$DSN`` in a command is ``postgresql://postgres@/gendocs``
  (``PGHOST``/``PGPORT`` name the cluster's socket), so that the output shows the same
  short target on every machine.
* ``manual`` - the block takes long (a benchmark, the demo) or its words depend on timing
  (a race the output reports, a row that appears under load): ``--check`` and the test
  suite's check (tests/test_docs_examples.py) leave it out, ``--check --all`` and
  rewriting run it.
* ``volatile`` - the output holds timings or other figures of the machine it ran on. The
  check then compares the block's *shape*: every number (with its sign and its unit, if
  any: ms, s, B, kB, ...) and every run of 8 or more hex digits (generated names, ids)
  becomes ``#``, a run of bar (``█▌``) or rule (``─``) characters counts as one, and all
  white space (line breaks included) as one space: the labels, columns, rows and words
  must match, the figures may differ. Rewriting keeps the checked-in figures while the
  shape still matches (no churn) and writes the new run's figures when it does not.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: the one command that brings every generated block up to date (named in every failure)
REGEN_COMMAND = "python tools/gendocs.py"
COMMAND_TIMEOUT_S = 600

_BLOCK = re.compile(
    r"^<!-- gendocs(?P<opts>[^\n]*?)-->\n(?P<body>.*?)^<!-- /gendocs -->$",
    re.MULTILINE | re.DOTALL,
)
_FENCE = re.compile(r"^(`{3,})[\w-]*$")
# a figure with its unit, if any: 4.5 kB/s and 351 B/s, 9 ms and 1.2 s have one shape
_NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?(?:\s?(?:[kMGT]i?B|B|ms|µs|us|s|min|h)(?![\w]))?")
# generated names and ids (perfkit_demo_288c106c, fingerprint ids): any run of 8+ hex digits
_HEX = re.compile(r"(?<![0-9a-fA-F])(?=[0-9a-f]*\d)[0-9a-f]{8,}(?![0-9a-fA-F])")
_BARS = re.compile(r"[█▉▊▋▌▍▎▏]+")
_RULES = re.compile(r"─+")
_SPACE = re.compile(r"\s+")
_ENV_DROP = ("PERFKIT_DSN", "FORCE_COLOR", "CLICOLOR_FORCE", "PERFKIT_ANALYZE_CHUNK_BYTES")


class GenError(Exception):
    """A block that cannot be generated: one line naming the file, line and block."""


@dataclass(frozen=True)
class Command:
    lines: tuple[str, ...]  # as written in the doc, each starting with "$ " or a continuation

    @property
    def argv(self) -> list[str]:
        text = " ".join(line.removeprefix("$ ").rstrip("\\").strip() for line in self.lines)
        return shlex.split(text, comments=True)

    @property
    def shown(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening marker
    start: int  # offsets of the body in the file's text
    end: int
    fence: str
    info: str  # the opening fence line, e.g. "```console"
    commands: tuple[tuple[Command, str], ...]  # each command with its checked-in output
    volatile: bool = False
    exit_code: int = 0
    manual: bool = False
    db: str | None = None

    @property
    def where(self) -> str:
        try:
            name = self.path.relative_to(ROOT)
        except ValueError:
            name = self.path
        # named by its last command: the one whose output the block is about
        last = self.commands[-1][0].shown if self.commands else "(no command)"
        return f"{name}:{self.line}: block `{last}`"

    def render(self, outputs: Sequence[str]) -> str:
        lines = [self.info]
        for (command, _), output in zip(self.commands, outputs, strict=True):
            lines += command.lines
            if output:
                lines.append(output)
        lines.append(self.fence)
        return "\n".join(lines) + "\n"


@dataclass
class Runner:
    """Runs the commands of blocks; identical commands (same directory) run once."""

    cache: dict[tuple[str, tuple[str, ...]], tuple[int, str]] = field(default_factory=dict)
    blocks: dict[tuple[str | None, int, tuple[tuple[str, ...], ...]], list[str]] = field(
        default_factory=dict
    )
    workdir: Path | None = None

    def close(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _root(self) -> Path:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="gendocs-"))
            for entry in ROOT.iterdir():
                if entry.name not in (".git", ".venv", ".ci-venv"):
                    (self.workdir / entry.name).symlink_to(entry)
        return self.workdir

    def run(self, block: Block) -> list[str]:
        """The outputs of the block's commands (the same block elsewhere runs once)."""
        key = (block.db, block.exit_code, tuple(tuple(c.argv) for c, _ in block.commands))
        if key not in self.blocks:
            if block.db is None:
                self.blocks[key] = self._run(block, None)
            else:
                schema = ROOT / block.db if block.db else None
                with scratch_database(block, schema) as socket:
                    self.blocks[key] = self._run(block, socket)
        return self.blocks[key]

    def _run(self, block: Block, socket: dict[str, str] | None) -> list[str]:
        cwd = self._root()
        outputs: list[str] = []
        for i, (command, _) in enumerate(block.commands):
            argv = command.argv
            if socket is not None:
                argv = [a.replace("$DSN", SCRATCH_DSN) for a in argv]
            elif any("$DSN" in a for a in argv):
                raise GenError(f"{block.where}: $DSN needs a database: add db=FILE to the marker")
            expected = block.exit_code if i == len(block.commands) - 1 else 0
            if not argv:
                raise GenError(f"{block.where}: an empty command")
            if argv[0] == "cd" and len(argv) == 2:
                cwd = cwd / argv[1]
                if not cwd.is_dir():
                    raise GenError(f"{block.where}: cd {argv[1]}: no such directory")
                outputs.append("")
                continue
            if argv[0] == "cat" and len(argv) == 2:
                try:
                    outputs.append(_clean((cwd / argv[1]).read_text(encoding="utf-8")))
                except OSError as exc:
                    raise GenError(f"{block.where}: cat {argv[1]}: {exc.strerror}") from None
                continue
            if argv[0] == "perfkit":
                run = [sys.executable, "-m", "perfkit", *argv[1:]]
            elif argv[0] == "python" and argv[1:2] and argv[1].startswith("benchmarks/"):
                run = [sys.executable, *argv[1:]]  # the repository's own scripts
            else:
                raise GenError(
                    f"{block.where}: `{argv[0]}` is not something this script runs "
                    "(perfkit, python benchmarks/..., cd DIR, cat FILE)"
                )
            key = (str(cwd), tuple(argv))
            if socket is not None or key not in self.cache:
                self.cache[key] = _execute(run, cwd, socket or {})
            code, output = self.cache[key]
            if code != expected:
                tail = output.strip().splitlines()[-1:] or ["(no output)"]
                raise GenError(
                    f"{block.where}: `{command.shown}` exited {code}, not {expected}: {tail[0]}"
                )
            outputs.append(output)
        return outputs


SCRATCH_DB = "gendocs"
SCRATCH_DSN = f"postgresql://postgres@/{SCRATCH_DB}"


@contextlib.contextmanager
def scratch_database(block: Block, schema: Path | None) -> Iterator[dict[str, str]]:
    """Database ``gendocs`` on the embedded cluster, made afresh from ``schema`` and
    dropped after; yields the ``PGHOST``/``PGPORT`` that reach it."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from perfkit.db import embedded

    try:
        sql = schema.read_text(encoding="utf-8") if schema is not None else ""
    except OSError as exc:
        raise GenError(f"{block.where}: db={block.db}: {exc.strerror}") from None
    admin = embedded.ensure_running()
    name = SCRATCH_DB
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a killed run's
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(admin)
    socket = {"PGHOST": str(params.get("host", "")), "PGPORT": str(params.get("port") or 5432)}
    dsn = make_conninfo(admin, dbname=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            try:
                load_sql(conn, sql)
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0]
                raise GenError(f"{block.where}: db={block.db}: {first}") from None
            # the load's row counts reach pg_stat now, not after VACUUM set n_live_tup
            # (a late flush would add them again: n_live_tup twice the table)
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("SELECT 1")
            # statistics from every row, not a random sample: the same plans on every run
            conn.execute("SET default_statistics_target = 10000")
            conn.execute("VACUUM ANALYZE")
        yield socket
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_COPY_FROM_STDIN = re.compile(r"^COPY\b.*\bFROM\s+stdin\b.*;\s*$", re.IGNORECASE)


def load_sql(conn: Any, sql: str) -> None:
    """Run a SQL file as psql would for a pg_dump: statements, ``COPY ... FROM stdin``
    with its data up to ``\\.``; other psql meta-commands (``\\restrict``) are skipped."""
    pending: list[str] = []
    lines = iter(sql.splitlines())
    for line in lines:
        if _COPY_FROM_STDIN.match(line):
            if pending:
                conn.execute("\n".join(pending).encode())
                pending = []
            data = []
            for row in lines:
                if row == "\\.":
                    break
                data.append(row + "\n")
            with conn.cursor().copy(line.rstrip().rstrip(";").encode()) as copy:
                copy.write("".join(data).encode())
        elif not line.startswith("\\"):
            pending.append(line)
    if any(p.strip() for p in pending):
        conn.execute("\n".join(pending).encode())


def _execute(argv: Sequence[str], cwd: Path, extra: dict[str, str]) -> tuple[int, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _ENV_DROP and not (k.startswith("PG") and k[2:].isupper())
    }
    env.update(COLUMNS="100", LINES="50", NO_COLOR="1", TERM="dumb", **extra)
    # the checkout's perfkit, whatever the current directory
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise GenError(f"`{' '.join(argv)}` ran over {COMMAND_TIMEOUT_S} s") from None
    return done.returncode, _clean(done.stdout)


def _clean(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def shape(text: str) -> str:
    """What ``volatile`` blocks are compared by: the text without its figures."""
    text = _HEX.sub("#", text)
    text = _NUMBER.sub("#", text)
    text = _BARS.sub("█", text)
    text = _RULES.sub("─", text)
    return _SPACE.sub(" ", text).strip()


def parse(path: Path, text: str | None = None) -> list[Block]:
    """Every generated block of one Markdown file."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        where = f"{path.name}:{line}"
        opts = match["opts"].split()
        volatile = "volatile" in opts
        manual = "manual" in opts
        exit_code = 0
        db = None
        for opt in opts:
            if opt.startswith("exit="):
                exit_code = int(opt.removeprefix("exit="))
            elif opt.startswith("db="):
                db = opt.removeprefix("db=")
            elif opt == "db":
                db = ""  # an empty database
            elif opt not in ("volatile", "manual"):
                raise GenError(
                    f"{where}: unknown gendocs option {opt!r} (volatile, manual, exit=N, db=FILE)"
                )
        body = match["body"].splitlines()
        fence = _FENCE.match(body[0]) if body else None
        if fence is None or body[-1] != fence[1]:
            raise GenError(f"{where}: a gendocs marker must hold one fenced code block")
        commands: list[tuple[Command, str]] = []
        current: list[str] = []
        output: list[str] = []
        inner = body[1:-1]
        i = 0
        while i < len(inner):
            if inner[i].startswith("$ "):
                if current:
                    commands.append((Command(tuple(current)), "\n".join(output)))
                current, output = [inner[i]], []
                while current[-1].endswith("\\") and i + 1 < len(inner):
                    i += 1
                    current.append(inner[i])
            elif current:
                output.append(inner[i])
            else:
                raise GenError(f"{where}: the block must start with a `$ ` command line")
            i += 1
        if current:
            commands.append((Command(tuple(current)), "\n".join(output)))
        if not commands:
            raise GenError(f"{where}: the block holds no `$ ` command line")
        blocks.append(
            Block(
                path=path,
                line=line,
                start=match.start("body"),
                end=match.end("body"),
                fence=fence[1],
                info=body[0],
                commands=tuple(commands),
                volatile=volatile,
                exit_code=exit_code,
                manual=manual,
                db=db,
            )
        )
    return blocks


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Stale:
    block: Block
    diff: str


def _new_body(block: Block, outputs: Sequence[str]) -> str:
    if block.volatile:
        kept = [_clean(old) for _, old in block.commands]
        if all(shape(o) == shape(n) for o, n in zip(kept, outputs, strict=True)):
            outputs = kept  # same shape: keep the checked-in figures
    return block.render(outputs)


def generate(
    paths: Iterable[Path] | None = None,
    *,
    check: bool = False,
    select: Callable[[Block], bool] = lambda b: True,
    runner: Runner | None = None,
) -> list[Stale]:
    """Run every selected block; rewrite the files (or, with ``check``, only compare).

    Returns the blocks whose checked-in output differed from the run."""
    own = runner is None
    runner = runner or Runner()
    try:
        return _generate(paths, check, select, runner)
    finally:
        if own:
            runner.close()


def _generate(
    paths: Iterable[Path] | None, check: bool, select: Callable[[Block], bool], runner: Runner
) -> list[Stale]:
    stale: list[Stale] = []
    for path in paths if paths is not None else doc_files():
        text = path.read_text(encoding="utf-8")
        pieces: list[str] = []
        pos = 0
        for block in parse(path, text):
            old = text[block.start : block.end]
            new = old
            if select(block):
                new = _new_body(block, runner.run(block))
            if new != old:
                diff = "".join(
                    difflib.unified_diff(
                        old.splitlines(keepends=True),
                        new.splitlines(keepends=True),
                        "checked in",
                        "perfkit prints now",
                        n=1,
                    )
                )
                stale.append(Stale(block, diff))
            pieces += [text[pos : block.start], new]
            pos = block.end
        pieces.append(text[pos:])
        result = "".join(pieces)
        if not check and result != text:
            tmp = path.with_name(f".{path.name}.gendocs")
            tmp.write_text(result, encoding="utf-8")
            tmp.replace(path)
    return stale


def report(stale: Sequence[Stale], *, max_diff_lines: int = 40) -> str:
    lines = []
    for item in stale:
        lines.append(f"{item.block.where} differs from what perfkit prints now")
        diff = item.diff.splitlines()
        lines += ["    " + d for d in diff[:max_diff_lines]]
        if len(diff) > max_diff_lines:
            lines.append(f"    ... ({len(diff) - max_diff_lines} more diff lines)")
    lines.append(f"docs are out of date: run `{REGEN_COMMAND}` and commit the result")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    parser.add_argument(
        "--all", action="store_true", help="with --check: the manual blocks too (they may vary)"
    )
    parser.add_argument("files", nargs="*", type=Path, help="default: README.md docs/*.md")
    opts = parser.parse_args(argv)
    paths = [p.resolve() for p in opts.files] or None
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the checkout's perfkit, installed or not
    from perfkit.errors import PerfkitError

    try:
        every = not opts.check or opts.all
        stale = generate(paths, check=opts.check, select=lambda b: every or not b.manual)
    except (GenError, PerfkitError) as exc:  # e.g. the embedded cluster would not start
        print(f"gendocs: error: {exc}", file=sys.stderr)
        return 2
    if opts.check and stale:
        print(report(stale), file=sys.stderr)
        return 1
    for item in stale:
        print(f"updated {item.block.where}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
