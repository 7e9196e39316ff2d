"""A Lambda-style handler: pandas is needed only for the report path."""

import json
import logging

import pandas as pd

from orders.settings import SETTINGS

log = logging.getLogger(__name__)


def lambda_handler(event, context):
    if event.get("report"):
        return summarize(event["orders"])
    return {"table": SETTINGS.table, "request": context.aws_request_id}


def summarize(orders):
    frame = pd.DataFrame(orders)
    total = float(frame["amount"].sum()) * float(1 + SETTINGS.vat)
    return json.dumps({"orders": len(frame), "total": round(total, 2)})
