"""Kubernetes container logs as the kubelet stores them (CRI format, containerd and
CRI-O: ``/var/log/containers/*.log``, ``/var/log/pods/...``):
``<RFC 3339 time> <stdout|stderr> <F|P> <text>``. A line the runtime had to split is
written as ``P`` (partial) parts ended by an ``F`` part; the parts are joined again.
Format documented in the Kubernetes CRI logging design (kubernetes/design-proposals,
"kubelet-cri-logging") and containerd's ``pkg/cri`` log writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers.formats.base import Head, Numbered
from perfkit.querylog.readers.formats.wrapped import Wrapper, join_parts

_CRI = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:stdout|stderr) ([FP]) ?(.*)$"
)


class CriFormat(Wrapper):
    name: ClassVar[str] = "cri"
    summary: ClassVar[str] = (
        "Kubernetes container log (CRI: '<time> stderr F <line>'), around stderr, "
        "jsonlog or CloudNativePG lines"
    )
    order: ClassVar[int] = 5

    def looks(self, head: Head) -> bool:
        lines = [ln for ln in head.lines if ln.strip()][:50]
        return bool(lines) and sum(1 for ln in lines if _CRI.match(ln)) * 2 > len(lines)

    def unwrap(self, lines: Numbered, ctx: Context) -> Iterator[tuple[int, str]]:
        return join_parts(self._parts(lines, ctx))

    @staticmethod
    def _parts(lines: Numbered, ctx: Context) -> Iterator[tuple[int, str, bool]]:
        match = _CRI.match
        for lineno, line in lines:
            m = match(line)
            if m is None:
                if line.strip():
                    ctx.skip(lineno, line, "not a CRI log line")
                continue
            tag, text = m.groups()
            yield lineno, text, tag == "F"
