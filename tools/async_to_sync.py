#!/usr/bin/env python3
"""Generate a sync module from its asyncio source (psycopg's pattern).

    python tools/async_to_sync.py            # write perfkit/cache/executor.py
    python tools/async_to_sync.py --check    # exit 1 (and show a diff) if it differs
    python tools/async_to_sync.py [--check] SOURCE TARGET   # another pair

The asyncio module is the one source. The tool parses it (``ast_comments``, so comments
survive), turns ``async def``/``async with``/``async for`` into their sync forms, drops
``await``, renames the asyncio names (:data:`NAMES`, also inside strings and
docstrings, where ``await`` is dropped too), keeps the ``else:`` branch of each
``if True:  # ASYNC`` block (the block where the twins must differ), unparses, sorts
the imports and formats the result with ruff (the project's configuration), and
writes it under a "generated, do not edit" header. Comment lines above the source's
docstring are the source's own and are not copied.
"""

from __future__ import annotations

import argparse
import ast as std_ast
import difflib
import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import ast_comments as ast

ROOT = Path(__file__).resolve().parent.parent

#: (asyncio source, generated sync module), relative to the repository root
PAIRS: tuple[tuple[str, str], ...] = (
    ("perfkit/cache/async_executor.py", "perfkit/cache/executor.py"),
)

#: asyncio name -> sync name (identifiers, attributes, imported names, strings)
NAMES: dict[str, str] = {
    "AsyncCachedExecutor": "CachedExecutor",
    "AsyncClientCursor": "ClientCursor",
    "AsyncConnection": "Connection",
    "AsyncConnectionPool": "ConnectionPool",
    "AsyncCursor": "Cursor",
    "AsyncIterator": "Iterator",
    "AsyncPipeline": "Pipeline",
    "AsyncRawCursor": "RawCursor",
    "asynccontextmanager": "contextmanager",
}

_WORD = re.compile(r"\b(" + "|".join(sorted(NAMES, key=len, reverse=True)) + r")\b")
_AWAIT = re.compile(r"\bawait ")


def header(source: str) -> str:
    name = Path(source).name
    return (
        f"# generated from {name} by tools/async_to_sync.py, do not edit\n"
        f"# (written by every build, see hatch_build.py; after changing {source} run "
        f"`python tools/async_to_sync.py`; a test checks it)\n"
    )


def _rename_text(text: str) -> str:
    return _WORD.sub(lambda m: NAMES[m.group()], text)


def _is_async_marker(node: std_ast.AST) -> bool:
    """``if True:  # ASYNC``: the body is the asyncio code, ``else:`` the sync code."""
    if not (isinstance(node, std_ast.If) and isinstance(node.test, std_ast.Constant)):
        return False
    if node.test.value is not True or not node.body:
        return False
    first = node.body[0]
    return (
        isinstance(first, ast.Comment)
        and first.inline
        and first.value.lstrip("# ").startswith("ASYNC")
    )


class AsyncToSync(std_ast.NodeTransformer):
    """async/await constructs -> sync ones; asyncio names -> sync names."""

    def visit_AsyncFunctionDef(self, node: std_ast.AsyncFunctionDef) -> std_ast.AST:
        fields = {f: getattr(node, f) for f in node._fields}
        new = std_ast.FunctionDef(**fields)
        std_ast.copy_location(new, node)
        new.name = NAMES.get(new.name, new.name)
        return self.generic_visit(new)

    def visit_AsyncWith(self, node: std_ast.AsyncWith) -> std_ast.AST:
        new = std_ast.With(items=node.items, body=node.body, type_comment=node.type_comment)
        std_ast.copy_location(new, node)
        return self.generic_visit(new)

    def visit_AsyncFor(self, node: std_ast.AsyncFor) -> std_ast.AST:
        new = std_ast.For(
            target=node.target,
            iter=node.iter,
            body=node.body,
            orelse=node.orelse,
            type_comment=node.type_comment,
        )
        std_ast.copy_location(new, node)
        return self.generic_visit(new)

    def visit_comprehension(self, node: std_ast.comprehension) -> std_ast.AST:
        node.is_async = 0
        return self.generic_visit(node)

    def visit_Await(self, node: std_ast.Await) -> Any:
        return self.visit(node.value)

    def visit_If(self, node: std_ast.If) -> Any:
        if _is_async_marker(node):
            if not node.orelse:
                return None  # async-only block
            return [self.visit(n) for n in node.orelse]
        return self.generic_visit(node)

    def visit_Name(self, node: std_ast.Name) -> std_ast.AST:
        node.id = NAMES.get(node.id, node.id)
        return node

    def visit_Attribute(self, node: std_ast.Attribute) -> std_ast.AST:
        node.attr = NAMES.get(node.attr, node.attr)
        return self.generic_visit(node)

    def visit_ClassDef(self, node: std_ast.ClassDef) -> std_ast.AST:
        node.name = NAMES.get(node.name, node.name)
        return self.generic_visit(node)

    def visit_alias(self, node: std_ast.alias) -> std_ast.AST:
        node.name = NAMES.get(node.name, node.name)
        return node

    def visit_Constant(self, node: std_ast.Constant) -> std_ast.AST:
        if isinstance(node.value, str):
            node.value = _rename_text(node.value)
        return node


def _docstrings(tree: std_ast.AST) -> None:
    """Docstrings describe the sync code: no ``await`` in its examples."""
    for node in std_ast.walk(tree):
        if isinstance(
            node,
            (std_ast.Module, std_ast.ClassDef, std_ast.FunctionDef, std_ast.AsyncFunctionDef),
        ):
            body = [n for n in node.body if not isinstance(n, ast.Comment)]
            if (
                body
                and isinstance(body[0], std_ast.Expr)
                and isinstance(body[0].value, std_ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body[0].value.value = _AWAIT.sub("", body[0].value.value)


def _blank_lines(tree: std_ast.AST) -> None:
    """Keep one blank line where the source has one or more between two statements
    (``unparse`` drops them; ruff restores those around definitions only)."""
    for node in std_ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, name, None)
            if not isinstance(stmts, list) or len(stmts) < 2:
                continue
            out = [stmts[0]]
            for before, after in itertools.pairwise(stmts):
                gap = getattr(after, "lineno", 0) - (getattr(before, "end_lineno", 0) or 0)
                inline = isinstance(after, ast.Comment) and after.inline
                if gap > 1 and not inline:
                    out.append(ast.Comment(value="", inline=False))
                out.append(after)
            setattr(node, name, out)


def _drop_leading_comments(tree: std_ast.Module) -> None:
    while tree.body and isinstance(tree.body[0], ast.Comment):
        tree.body.pop(0)


def _ruff(args: list[str], text: str, filename: str) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            *args,
            "--config",
            str(ROOT / "pyproject.toml"),
            "--stdin-filename",
            filename,
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"ruff {' '.join(args)} failed on {filename}:\n{proc.stderr}")
    return proc.stdout


def generate(source: str, target: str) -> str:
    """The sync module's text generated from ``source`` (paths relative to the
    repository root, or absolute)."""
    text = (ROOT / source).read_text(encoding="utf-8")
    tree = ast.parse(text, filename=source)
    _drop_leading_comments(tree)
    _blank_lines(tree)
    _docstrings(tree)
    tree = AsyncToSync().visit(tree)
    std_ast.fix_missing_locations(tree)
    code = header(source) + ast.unparse(tree) + "\n"
    # the generated code must be valid Python with no async left
    for node in std_ast.walk(std_ast.parse(code, filename=target)):
        if isinstance(node, (std_ast.AsyncFunctionDef, std_ast.AsyncWith, std_ast.AsyncFor)):
            raise SystemExit(f"{source}:{node.lineno}: async construct left in the sync code")
        if isinstance(node, std_ast.Await):
            raise SystemExit(f"{source}:{node.lineno}: await left in the sync code")
    code = _ruff(["check", "--fix", "--select", "I,F401", "--quiet"], code, target)
    return _ruff(["format", "--quiet"], code, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and show a diff when a generated file differs",
    )
    parser.add_argument(
        "pair",
        nargs="*",
        metavar="SOURCE TARGET",
        help="an asyncio source and the sync module to generate (default: the project's)",
    )
    opts = parser.parse_args(argv)
    if len(opts.pair) % 2:
        parser.error("give SOURCE TARGET in pairs")
    pairs = list(zip(opts.pair[::2], opts.pair[1::2], strict=True)) or list(PAIRS)
    stale = 0
    for source, target in pairs:
        code = generate(source, target)
        path = ROOT / target
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if code == current:
            continue
        if opts.check:
            stale += 1
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                code.splitlines(keepends=True),
                f"{target} (on disk)",
                f"{target} (generated from {source})",
            )
            sys.stdout.writelines(diff)
            print(f"{target} is not what {source} generates: run python tools/async_to_sync.py")
        else:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(code, encoding="utf-8")
            tmp.replace(path)
            print(f"wrote {target} (from {source})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
