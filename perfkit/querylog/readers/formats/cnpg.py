"""CloudNativePG: each PostgreSQL record inside ``{"logger": "postgres", "record": {...}}``
(``kubectl logs`` of a CNPG pod), among the operator's own JSON messages."""

from __future__ import annotations

from typing import ClassVar

from perfkit.querylog.readers.formats.base import Detected, Head
from perfkit.querylog.readers.formats.jsonlog import JsonRecordsFormat


class CnpgFormat(JsonRecordsFormat):
    name: ClassVar[str] = "cnpg"
    summary: ClassVar[str] = 'CloudNativePG pod log (JSON, PostgreSQL records under "record")'
    order: ClassVar[int] = 21
    envelope: ClassVar[bool] = True

    def detect(self, head: Head) -> Detected | None:
        objs = [o for o in head.objects if isinstance(o, dict)]
        if not objs or not all("record" in o or "logger" in o or "level" in o for o in objs):
            return None
        if any(isinstance(o.get("record"), dict) for o in objs):
            return Detected(self.name)
        return None
