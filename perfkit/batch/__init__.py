"""SQS message dumps through a handler: batching, concurrency, retries, partial failures,
DLQ, in live and simulated runs; and :class:`BatchWriter` for batched writes."""

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
