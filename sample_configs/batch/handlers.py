"""Sample handlers for `perfkit batch` (see docs/batch.md).

    perfkit batch sample_configs/batch/orders.event.json --mode live \
        --handler sample_configs/batch/handlers.py:process_order --time-scale 0.01
"""

from __future__ import annotations

import json
from typing import Any


def process_order(record: dict[str, Any]) -> None:
    """One record: raises for a malformed order (a poison message)."""
    order = json.loads(record["body"])
    if "amount_cents" not in order:
        raise ValueError(f"order {order.get('order_id')} has no amount")


async def process_order_async(record: dict[str, Any]) -> None:
    process_order(record)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Lambda-style batch handler reporting partial failures."""
    failures = []
    for rec in event["Records"]:
        try:
            process_order(rec)
        except Exception:
            failures.append({"itemIdentifier": rec["messageId"]})
    return {"batchItemFailures": failures}
