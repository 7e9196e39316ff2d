"""perfkit's partial-failure responses equal aws-lambda-powertools' for the same records
and the same failing handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfkit.batch import BatchRequest, InputSpec, QueueSettings, run_batch

pt_batch = pytest.importorskip("aws_lambda_powertools.utilities.batch")

FAIL = {"m2", "m5", "m6"}


def handler(record: Any) -> None:
    # works on a plain dict (perfkit) and on Powertools' SQSRecord (a dict wrapper)
    if record["messageId"] in FAIL:
        raise ValueError(record["messageId"])


def _records(fifo: bool) -> list[dict[str, Any]]:
    out = []
    for i in range(9):
        attrs = {"ApproximateReceiveCount": "1", "SentTimestamp": str(1_700_000_000_000 + i)}
        if fifo:
            attrs["MessageGroupId"] = f"g{i % 2}"
        out.append(
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": json.dumps({"i": i}),
                "attributes": attrs,
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q"
                + (".fifo" if fifo else ""),
                "awsRegion": "us-east-1",
            }
        )
    return out


def _perfkit_response(tmp_path: Path, records: list[dict[str, Any]], fifo: bool) -> dict[str, Any]:
    dump = tmp_path / "event.json"
    dump.write_text(json.dumps({"Records": records}))
    req = BatchRequest(
        inputs=InputSpec((str(dump),)),
        mode="live",
        handler=f"{__file__}:handler",
        settings=QueueSettings(max_receive_count=1, fifo=fifo),
        batch_sizes=(10,),
        time_scale=0.0,
    )
    first = run_batch(req).runs[0].batch_log[0]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in first.failures]}


@pytest.mark.parametrize("fifo", [False, True])
def test_same_response_as_process_partial_response(tmp_path: Path, fifo: bool) -> None:
    records = _records(fifo)
    if fifo:
        processor = pt_batch.SqsFifoPartialProcessor(skip_group_on_error=True)
    else:
        processor = pt_batch.BatchProcessor(event_type=pt_batch.EventType.SQS)
    expected = pt_batch.process_partial_response(
        event={"Records": records}, record_handler=handler, processor=processor
    )
    assert _perfkit_response(tmp_path, records, fifo) == expected
    if fifo:  # the rest of a group is held back after its first failure
        assert expected == {
            "batchItemFailures": [
                {"itemIdentifier": i} for i in ("m2", "m4", "m5", "m6", "m7", "m8")
            ]
        }
