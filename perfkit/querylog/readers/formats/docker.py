"""Docker's json-file log driver (``/var/lib/docker/containers/<id>/<id>-json.log``,
also what older Kubernetes nodes kept): ``{"log": "<text>\n", "stream": "stderr",
"time": "..."}`` per line. A line the daemon split (16 kB) comes in parts without the
final newline; they are joined again. Format documented by Docker ("JSON File logging
driver").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Head, Numbered
from perfkit.querylog.readers.formats.wrapped import Wrapper, join_parts
from perfkit.querylog.readers.jsondoc import BadItem, json_items


def _is_record(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("log"), str) and "stream" in obj


class DockerFormat(Wrapper):
    name: ClassVar[str] = "docker"
    summary: ClassVar[str] = (
        'Docker json-file container log ({"log": ..., "stream": "stderr"}), around '
        "stderr, jsonlog or CloudNativePG lines"
    )
    order: ClassVar[int] = 6

    def looks(self, head: Head) -> bool:
        objs = head.objects
        return bool(objs) and sum(1 for o in objs if _is_record(o)) * 2 > len(objs)

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        return join_parts(self._parts(lines, ctx))

    @staticmethod
    def _parts(lines: Numbered, ctx: Context) -> Iterator[tuple[int, str, bool]]:
        for lineno, obj in json_items(lines, ctx.source):
            if not _is_record(obj):
                shown = obj.text if isinstance(obj, BadItem) else json.dumps(obj)[:300]
                ctx.skip(lineno, shown, "not a docker json-file record")
                continue
            text: str = obj["log"]
            if text.endswith("\n"):
                yield lineno, text[:-1].rstrip("\r"), True
            else:  # the daemon split the line: the next record continues it
                yield lineno, text, False
