"""A small Lambda-style handler for the `perfkit check` example (sample_configs/perfkit.check.toml)."""

import json
import logging

log = logging.getLogger(__name__)


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"ok": True, "keys": sorted(event)})}
