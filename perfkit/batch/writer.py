"""``BatchWriter``: group items into batches for a flush function (COPY, bulk APIs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class FlushError(Exception):
    """A flush failed. ``items`` are the items that were not written (in order)."""

    def __init__(self, items: Sequence[object], cause: BaseException) -> None:
        super().__init__(f"flush of {len(items)} item(s) failed: {type(cause).__name__}: {cause}")
        self.items = list(items)
        self.cause = cause


class BatchWriter(Generic[T]):
    """Collects items and calls ``flush(items)`` when ``max_items`` are waiting or when
    the oldest waiting item is ``max_wait_s`` old.

    The age rule is checked on every :meth:`add` and, unless ``timer=False``, by a
    background thread, so a quiet producer's items still go out in time. ``clock`` is
    injectable for tests (with ``timer=False``, call :meth:`poll` to apply the age rule).
    Closing (or leaving the ``with`` block, including on Ctrl-C) flushes what is left.

    A failed flush raises :class:`FlushError` carrying every item not written: the
    failed batch plus anything added after it. A failure in the background thread is
    raised by the next :meth:`add`, :meth:`flush` or :meth:`close`.
    """

    def __init__(
        self,
        flush: Callable[[list[T]], object],
        max_items: int = 100,
        max_wait_s: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s cannot be negative")
        self._flush = flush
        self.max_items = max_items
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._items: list[T] = []
        self._oldest: float | None = None
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._error: FlushError | None = None
        self._closed = False
        self.flushes = 0
        self.written = 0
        self._thread: threading.Thread | None = None
        if timer:
            self._thread = threading.Thread(
                target=self._run, name="perfkit-batchwriter", daemon=True
            )
            self._thread.start()

    # -- public -----------------------------------------------------------------------------
    def add(self, item: T) -> None:
        with self._lock:
            self._raise_pending()
            if self._closed:
                raise RuntimeError("BatchWriter is closed")
            if not self._items:
                self._oldest = self._clock()
                self._cond.notify()
            self._items.append(item)
            if len(self._items) >= self.max_items or self._too_old():
                self._flush_locked()

    def poll(self) -> bool:
        """Flush if the oldest item has waited ``max_wait_s``; True when it flushed."""
        with self._lock:
            self._raise_pending()
            if self._items and self._too_old():
                self._flush_locked()
                return True
            return False

    def flush(self) -> None:
        with self._lock:
            self._raise_pending()
            if self._items:
                self._flush_locked()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                self._raise_pending()
                return
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._raise_pending()
            if self._items:
                self._flush_locked()

    def __len__(self) -> int:
        return len(self._items)

    def __enter__(self) -> BatchWriter[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Flush even when leaving on an error or Ctrl-C: what was added is not lost.
        self.close()

    # -- internals --------------------------------------------------------------------------
    def _too_old(self) -> bool:
        return self._oldest is not None and self._clock() - self._oldest >= self.max_wait_s

    def _raise_pending(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _flush_locked(self) -> None:
        items, self._items, self._oldest = self._items, [], None
        try:
            self._flush(items)
        except Exception as exc:
            raise FlushError(items, exc) from exc
        self.flushes += 1
        self.written += len(items)

    def _run(self) -> None:
        with self._lock:
            while not self._closed:
                if not self._items or self._oldest is None or self._error is not None:
                    self._cond.wait()
                    continue
                remaining = self.max_wait_s - (self._clock() - self._oldest)
                if remaining > 0:
                    self._cond.wait(timeout=remaining)
                    continue
                try:
                    self._flush_locked()
                except FlushError as err:
                    # keep the unwritten items with the error; the producer sees it next
                    self._error = err
                    err.items.extend(self._items)
                    self._items = []
