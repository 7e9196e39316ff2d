"""SQS message dumps through a handler: batching, concurrency, retries, partial failures,
DLQ, in live and simulated runs; and :class:`BatchWriter` for batched writes.

The names below are imported on first use: a ``--mode live`` worker process imports
:mod:`perfkit.batch.worker` alone and must start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfkit.batch.config import (
        BatchOutcome,
        Conservation,
        LatencyModel,
        QueueSettings,
        RetryPolicy,
        RunResult,
        SweepResult,
    )
    from perfkit.batch.core import BatchRequest, run_batch
    from perfkit.batch.handlers import check_batch_response, load_handler
    from perfkit.batch.inputs import InputSpec, Message, read_messages
    from perfkit.batch.writer import BatchWriter, FlushError

_HOME = {
    "BatchOutcome": "config",
    "Conservation": "config",
    "LatencyModel": "config",
    "QueueSettings": "config",
    "RetryPolicy": "config",
    "RunResult": "config",
    "SweepResult": "config",
    "BatchRequest": "core",
    "run_batch": "core",
    "check_batch_response": "handlers",
    "load_handler": "handlers",
    "InputSpec": "inputs",
    "Message": "inputs",
    "read_messages": "inputs",
    "BatchWriter": "writer",
    "FlushError": "writer",
}

__all__ = [
    "BatchOutcome",
    "BatchRequest",
    "BatchWriter",
    "Conservation",
    "FlushError",
    "InputSpec",
    "LatencyModel",
    "Message",
    "QueueSettings",
    "RetryPolicy",
    "RunResult",
    "SweepResult",
    "check_batch_response",
    "load_handler",
    "read_messages",
    "run_batch",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'perfkit.batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"perfkit.batch.{home}"), name)
    globals()[name] = value
    return value
