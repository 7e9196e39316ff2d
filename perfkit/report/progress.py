"""Progress reporting without rich in core code.

Core functions accept a :class:`ProgressSink`; the CLI passes a rich-backed one on a
terminal and :class:`NullProgress` in pipes, CI and ``--quiet``.
"""

from __future__ import annotations

from typing import Literal, Protocol

#: what a progress total counts: items (statements, runs, points) or bytes of input
Unit = Literal["items", "bytes"]


class ProgressSink(Protocol):
    def start(
        self, description: str, total: float | None = None, *, unit: Unit = "items"
    ) -> None: ...

    def advance(self, amount: float = 1.0) -> None: ...

    def update(self, *, completed: float | None = None, description: str | None = None) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """Does nothing; the default for library callers."""

    def start(self, description: str, total: float | None = None, *, unit: Unit = "items") -> None:
        pass

    def advance(self, amount: float = 1.0) -> None:
        pass

    def update(self, *, completed: float | None = None, description: str | None = None) -> None:
        pass

    def finish(self) -> None:
        pass
