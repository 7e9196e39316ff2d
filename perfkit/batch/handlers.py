"""Loading the user's handler and checking a batch handler's response as Lambda does."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.errors import TargetError, UsageError


@dataclass(frozen=True)
class Handler:
    """A loaded handler. ``batch`` handlers take ``(event, context)``; record handlers one record."""

    spec: str
    func: Callable[..., Any]
    is_async: bool
    batch: bool

    @property
    def kind(self) -> str:
        return f"{'async' if self.is_async else 'sync'} {'batch' if self.batch else 'record'}"


@dataclass(frozen=True)
class HandlerRef:
    """A handler named but not imported: ``--mode live`` imports it in its worker processes
    only, so the user's code never runs inside perfkit."""

    spec: str
    batch: bool
    option: str = "HANDLER"


def handler_ref(spec: str, *, batch: bool, option: str = "HANDLER") -> HandlerRef:
    """Check the shape of ``module:function`` / ``path/to/file.py:function`` without importing."""
    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise UsageError(option, f"{spec!r}: use module:function")
    if _is_path(mod_name) and not Path(mod_name).is_file():
        raise UsageError(option, f"{mod_name}: no such file")
    return HandlerRef(spec=spec, batch=batch, option=option)


def _is_path(mod_name: str) -> bool:
    return mod_name.endswith(".py") or "/" in mod_name


def load_handler(
    spec: str, *, batch: bool, option: str = "HANDLER", lambda_like: bool = False
) -> Handler:
    """Import ``module:function`` (or ``path/to/file.py:function``; dotted attributes allowed).

    A file's folder goes on ``sys.path`` so the handler can import its sibling modules.
    ``lambda_like`` (a worker process of its own) puts it first, as Lambda's task root, and
    imports the file under its own name, as Lambda does; otherwise the folder goes last and
    the module gets a private name, so neither can shadow a module of the importing process.
    """
    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise UsageError(option, f"{spec!r}: use module:function")
    try:
        if _is_path(mod_name):
            path = Path(mod_name)
            if not path.is_file():
                raise UsageError(option, f"{mod_name}: no such file")
            folder = str(path.resolve().parent)
            if folder not in sys.path:
                # first in a worker (Lambda's task root); last in perfkit's own process,
                # where the handler's folder must not shadow a module perfkit imports later
                if lambda_like:
                    sys.path.insert(0, folder)
                else:
                    sys.path.append(folder)
            name = path.stem
            if not lambda_like or name in sys.modules or not name.isidentifier():
                name = f"perfkit_handler_{path.stem}"
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise UsageError(option, f"{mod_name}: cannot be imported")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            try:
                loader_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
        else:
            if "" not in sys.path and "." not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(mod_name)
    except UsageError:
        raise
    except Exception as exc:
        raise TargetError(f"{option} {spec}: import failed: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(option, f"{spec!r}: {mod_name} has no attribute {attr!r}") from None
    if not callable(obj):
        raise UsageError(option, f"{spec!r} is not callable")
    is_async = inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(
        getattr(obj, "__call__", None)  # noqa: B004
    )
    return Handler(spec=spec, func=obj, is_async=is_async, batch=batch)


class LambdaContext:
    """The parts of Lambda's context object handlers commonly read."""

    def __init__(self, function_name: str = "perfkit-batch", timeout_s: float = 900.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        )
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "perfkit"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def check_batch_response(response: Any, batch_ids: Collection[str]) -> tuple[list[str], str | None]:
    """Lambda's reading of a ``ReportBatchItemFailures`` response.

    Returns ``(ids to retry, handler bug)``. A complete success is ``None``, ``{}``, or an
    empty/null ``batchItemFailures``. An ``itemIdentifier`` that is missing, empty, null, not
    a string, or not a message of this batch fails the whole batch, as does a response that
    is not a JSON object - reported as a handler bug.
    """
    all_ids = list(batch_ids)
    if response is None:
        return [], None
    if not isinstance(response, dict):
        return all_ids, f"response is a {type(response).__name__}, not a JSON object"
    items = response.get("batchItemFailures")
    if items is None:
        return [], None
    if not isinstance(items, list):
        return all_ids, f"batchItemFailures is a {type(items).__name__}, not a list"
    known = set(all_ids)
    failed: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            return all_ids, f"batchItemFailures[{i}] has no itemIdentifier key"
        ident = item["itemIdentifier"]
        if ident is None or ident == "":
            return all_ids, f"batchItemFailures[{i}].itemIdentifier is empty"
        if not isinstance(ident, str):
            return all_ids, f"batchItemFailures[{i}].itemIdentifier is not a string"
        if ident not in known:
            return all_ids, f"batchItemFailures[{i}].itemIdentifier {ident!r} is not in the batch"
        if ident not in failed:
            failed.append(ident)
    return failed, None
