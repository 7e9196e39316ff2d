"""The script perfkit runs inside the target's interpreter (passed with ``-c``).

It must not import perfkit (the target may run under another Python, without
perfkit installed) and must import nothing before the target: every module it
loaded first would be missing from the target's measured import tree. ``sys``
and ``os`` are loaded by the interpreter at startup anyway; everything else is
imported after the target.

Protocol: ``sys.argv[1:]`` = result file, mode (``measure`` or ``probe``),
module, function (or ""), event file (or ""), extra sys.path entries (one per
line), memory MB, timeout seconds, rewrite spec (probe only: ``file<TAB>line:name,...``
per line), modules to import after the probe (one per line). Markers on fd 2
delimit the target's import and the handler calls in the ``-X importtime``
stream. The result is written as JSON to the result file.

Written for Python 3.8+ (the target's interpreter may be old). Annotations are
strings because ``from __future__ import annotations`` would import ``__future__``.
"""

import os
import sys

TYPE_CHECKING = False  # typing is not imported: the target may import it (mypy knows the name)
if TYPE_CHECKING:
    import ast
    import types
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec

BEGIN = b"\nperfkit-coldstart: import-begin\n"
END = b"\nperfkit-coldstart: import-end\n"
CALL1 = b"\nperfkit-coldstart: call1-begin\n"
CALL1_END = b"\nperfkit-coldstart: call1-end\n"
MAX_FRAMES = 8


def _write_result(path: "str", payload: "dict[str, object]") -> None:
    import json

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)


def _fail(path: "str", stage: "str", exc: "BaseException") -> None:
    import traceback

    te = traceback.TracebackException.from_exception(exc)
    # Frames of this script ("<string>") are perfkit's, not the user's.
    frames = [f for f in te.stack if f.filename != "<string>"]
    te.stack = traceback.StackSummary.from_list(frames[-MAX_FRAMES:])
    # No user frame left (e.g. the target module itself is missing): the message says it all.
    text = "".join(te.format()) if frames or isinstance(exc, SyntaxError) else ""
    _write_result(
        path,
        {
            "ok": False,
            "stage": stage,
            "error_type": type(exc).__name__,
            "error": str(exc),
            "missing_module": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
            "traceback": text,
            "version": list(sys.version_info[:3]),
            "executable": sys.executable,
        },
    )
    sys.stderr.flush()
    os._exit(3)


class _Context:
    """A stand-in for the Lambda context object (attributes handlers commonly read)."""

    def __init__(self, function_name: "str", memory_mb: "str", timeout_s: "str") -> None:
        import time

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        )
        self.memory_limit_in_mb = int(memory_mb)
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"
        self.log_group_name = "/aws/lambda/" + function_name
        self.log_stream_name = "2024/01/01/[$LATEST]perfkit"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + float(timeout_s)

    def get_remaining_time_in_millis(self) -> "int":
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _call(fn: "Callable[[object, object], object]", event: "object", context: "_Context") -> None:
    result = fn(event, context)
    if hasattr(result, "__await__"):
        import asyncio

        async def _await() -> "object":
            return await result

        asyncio.run(_await())


def _install_rewriter(spec: "str") -> None:
    """Probe mode: load the named project files with the listed imports removed."""
    import ast
    import importlib.machinery
    import importlib.util

    drops = {}
    for row in spec.split("\n"):
        if not row:
            continue
        path, _, items = row.partition("\t")
        wanted = set()
        for item in items.split(","):
            line, _, name = item.partition(":")
            wanted.add((int(line), name))
        drops[os.path.normcase(os.path.abspath(path))] = wanted

    class Loader(importlib.machinery.SourceFileLoader):
        def get_code(self, fullname: "str") -> "types.CodeType":
            path = self.get_filename(fullname)
            source = importlib.util.decode_source(self.get_data(path))
            tree = ast.parse(source, path)
            wanted = drops[os.path.normcase(os.path.abspath(path))]
            _strip(tree, wanted)
            return compile(tree, path, "exec", dont_inherit=True)

    class Finder:
        @classmethod
        def find_spec(
            cls, name: "str", path: "list[str] | None" = None, target: "object" = None
        ) -> "ModuleSpec | None":
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or not spec.origin:
                return None
            if os.path.normcase(os.path.abspath(spec.origin)) not in drops:
                return None
            spec.loader = Loader(name, spec.origin)
            return spec

    sys.meta_path.insert(0, Finder)  # type: ignore[arg-type]


def _strip(tree: "ast.Module", wanted: "set[tuple[int, str]]") -> None:
    import ast

    def clean(body: "list[ast.stmt]") -> "list[ast.stmt]":
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                target = stmt.module if isinstance(stmt, ast.ImportFrom) else None
                keep = []
                for alias in stmt.names:
                    name = (target or "") if isinstance(stmt, ast.ImportFrom) else alias.name
                    if (stmt.lineno, name) not in wanted:
                        keep.append(alias)
                if not keep:
                    stmt = ast.copy_location(ast.Pass(), stmt)
                else:
                    stmt.names = keep
            elif isinstance(stmt, ast.If):
                stmt.body = clean(stmt.body) or [ast.copy_location(ast.Pass(), stmt)]
                stmt.orelse = clean(stmt.orelse)
            out.append(stmt)
        return out

    tree.body = clean(tree.body)


def main() -> None:
    argv = sys.argv
    result_path, mode, module, function, event_path = argv[1:6]
    extra = [p for p in argv[6].split("\n") if p]
    memory_mb, timeout_s = argv[7], argv[8]
    sys.path[0:0] = extra
    before = set(sys.modules)
    if mode == "probe":
        _install_rewriter(argv[9])
    os.write(2, BEGIN)
    try:
        __import__(module)
        target = sys.modules[module]
    except BaseException as exc:
        os.write(2, END)
        _fail(result_path, "import", exc)
    os.write(2, END)

    modules = {}
    for name in list(sys.modules):
        if name in before:
            continue
        mod = sys.modules.get(name)
        try:
            # object.__getattribute__ skips lazy-module proxies that would load on access
            ns = object.__getattribute__(mod, "__dict__")
            origin = ns.get("__file__")
        except Exception:
            origin = None
        modules[name] = origin if isinstance(origin, str) else None
    payload = {
        "ok": True,
        "version": list(sys.version_info[:3]),
        "executable": sys.executable,
        "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}),
        "stdlib": os.path.dirname(os.__file__),
        "modules": modules,
    }
    if mode == "probe":
        for name in argv[10].split("\n"):
            if name:
                try:  # noqa: SIM105 - warming caches only; failures do not matter
                    __import__(name)
                except BaseException:
                    pass
        _write_result(result_path, payload)
        _exit()

    if function:
        import json
        import time

        try:
            fn = getattr(target, function)
        except AttributeError as exc:
            _fail(result_path, "handler", exc)
        if not callable(fn):
            _fail(result_path, "handler", TypeError(module + "." + function + " is not callable"))
        text = "{}"
        if event_path:
            with open(event_path, encoding="utf-8") as fh:
                text = fh.read()
        context = _Context(function, memory_mb, timeout_s)
        timings = []
        for round_ in (1, 2):
            event = json.loads(text)
            if round_ == 1:
                os.write(2, CALL1)
            start = time.perf_counter()
            try:
                _call(fn, event, context)
            except BaseException as exc:
                if round_ == 1:
                    os.write(2, CALL1_END)
                _fail(result_path, "handler", exc)
            timings.append((time.perf_counter() - start) * 1000.0)
            if round_ == 1:
                os.write(2, CALL1_END)
        payload["first_call_ms"] = timings[0]
        payload["second_call_ms"] = timings[1]
    _write_result(result_path, payload)
    _exit()


def _exit() -> None:
    # Skip interpreter teardown (GC of every module, atexit hooks): it is not part of a
    # cold start and can take a tenth of the run with a large dependency tree.
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - a closed stream must not hide the result
            stream.flush()
        except Exception:
            pass
    os._exit(0)


main()
