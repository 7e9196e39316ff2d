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
from perfkit.querylog.readers.formats.wrapped import Wrapper


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
        loads = json.loads
        parts: list[str] = []
        first = 0
        for lineno, line in lines:
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except ValueError:
                obj = None
            if not _is_record(obj):
                ctx.skip(lineno, line, "not a docker json-file record")
                continue
            text: str = obj["log"]
            if not text.endswith("\n"):
                if not parts:
                    first = lineno
                parts.append(text)
                continue
            text = text[:-1].rstrip("\r")
            if parts:
                parts.append(text)
                yield first, "".join(parts)
                parts = []
            else:
                yield lineno, text
        if parts:
            yield first, "".join(parts)
