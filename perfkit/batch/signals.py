"""Ctrl-C and SIGTERM during ``perfkit batch``: stop at a safe point, report, clean up."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """SIGTERM where perfkit cannot stop gracefully: unwinds like Ctrl-C (temporary files
    are removed); the CLI exits 143."""


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM are held back (blocked, then delivered on exit) for the length of
    the block, so that it cannot be interrupted half-way (main thread, POSIX)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _ReadInterrupted(BaseException):
    """Raised by the signal handler into a blocking read of the input (see ``guard``)."""


class StopSignals:
    """While active (main thread only), the first Ctrl-C or SIGTERM does not raise: it
    records why the run must stop and wakes the live loop through a pipe (``rfd``), so the
    loop stops at a safe point with every message accounted for and the partial report is
    written. A second one raises (KeyboardInterrupt / :class:`Terminated`), for when perfkit
    is stuck outside the loop. A signal during a blocking read of the input (a slow stdin)
    ends the input there instead (``cut``). Restores the previous handlers."""

    REASONS: ClassVar[dict[int, str]] = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}

    def __init__(self) -> None:
        self.reason: str | None = None
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.wfd, False)
        self._old: dict[int, Any] = {}
        self.reading = False  # inside next() of a guarded input
        self.cut = False  # the input was ended early by a signal

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.reading:
            self.reason = self.reason or self.REASONS.get(signum, "interrupted")
            raise _ReadInterrupted
        if self.reason is not None:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        self.reason = self.REASONS.get(signum, "interrupted")
        with contextlib.suppress(OSError):
            os.write(self.wfd, b"x")

    def guard(self, it: Iterator[T], *, stream: bool = False) -> Iterator[T]:
        """``it``, ended early (``cut``) by a Ctrl-C or SIGTERM that arrives while reading
        from it blocks; the input's own generator is closed as on any exception. A
        ``stream`` (stdin: it may never end) is not read at all once a stop was asked for;
        files are, so that the messages never read can still be counted."""
        while True:
            if stream and self.reason is not None:
                self.cut = True
                return
            try:
                self.reading = True
                item = next(it)
            except StopIteration:
                return
            except _ReadInterrupted:
                self.cut = True
                return
            finally:
                self.reading = False
            yield item

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.REASONS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        for fd in (self.rfd, self.wfd):
            with contextlib.suppress(OSError):
                os.close(fd)
