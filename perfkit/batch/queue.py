"""The SQS model shared by ``--mode live`` and ``--mode simulate``.

Times are seconds on the caller's clock (virtual in the simulator, scaled wall time
live). The queue follows SQS semantics:

* a received message is invisible until ``receive time + visibility timeout``; a
  message not deleted by then becomes visible again (a failed record of a partial
  batch response simply stays undeleted). A message received while another copy is
  still being processed is a *duplicate delivery*.
* when a message that has already been received ``max_receive_count`` times would be
  received again, it is moved to the DLQ instead.
* FIFO: messages of one ``MessageGroupId`` are delivered in order and a group is locked
  while any of its messages is in flight, so the rest of a group is held back behind a
  failed message until that message's visibility timeout ends.

Input is pulled lazily from an iterator with a bounded look-ahead, so memory holds only
the messages that are queued, in flight or waiting to become visible again.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from perfkit.batch.inputs import Message


class SqsQueue:
    """One queue (standard or FIFO) fed from ``source``."""

    def __init__(
        self,
        source: Iterator[Message],
        *,
        fifo: bool,
        visibility_timeout: float,
        max_receive_count: int,
        lookahead: int = 10_000,
        arrival_from_sent: bool = True,
        time_scale: float = 1.0,
        on_admit: Callable[[Message], None] | None = None,
        on_dlq: Callable[[Message], None] | None = None,
    ) -> None:
        self._source = source
        self.fifo = fifo
        self.vt = visibility_timeout
        self.max_rc = max_receive_count
        self.lookahead = max(1, lookahead)
        self._arrival_from_sent = arrival_from_sent
        self._scale = time_scale
        self._origin: int | None = None
        self._next: Message | None = None
        self._exhausted = False
        self._on_admit = on_admit
        self._on_dlq = on_dlq
        self._visible: deque[Message] = deque()
        self._groups: dict[str | None, _Group] = {}
        self._ready: deque[_Group] = deque()
        self._buffered = 0
        self._inflight: list[tuple[float, int, int, list[Message]]] = []
        self._counter = 0
        # counters
        self.admitted = 0
        self.deliveries = 0
        self.redelivered = 0
        self.duplicate_deliveries = 0
        self.dlq = 0
        self.succeeded = 0
        self.duplicate_processed = 0
        self.used_sent_timestamp = False

    # -- input --------------------------------------------------------------------------
    def _peek(self) -> Message | None:
        if self._next is None and not self._exhausted:
            try:
                m = next(self._source)
            except StopIteration:
                self._exhausted = True
                return None
            if self._arrival_from_sent and m.sent_ms is not None:
                if self._origin is None:
                    self._origin = m.sent_ms
                self.used_sent_timestamp = True
                m.arrival = max(0.0, (m.sent_ms - self._origin) / 1000.0 * self._scale)
            self._next = m
        return self._next

    def _admit(self, now: float) -> None:
        room = self.lookahead - self._buffered
        if room <= 0:
            return
        m = self._next
        if m is None:
            m = self._peek()
            if m is None:
                return
        src = self._source
        from_sent = self._arrival_from_sent
        on_admit = self._on_admit
        fifo = self.fifo
        visible = self._visible
        admitted = 0
        while True:
            if m.arrival > now:
                self._next = m
                break
            admitted += 1
            if on_admit is not None:
                on_admit(m)
            if fifo:
                g = self._groups.get(m.group)
                if g is None:
                    g = self._groups[m.group] = _Group(m.group)
                g.pending.append(m)
                if not g.queued and g.held == 0:
                    g.queued = True
                    self._ready.append(g)
            else:
                visible.append(m)
            if admitted >= room:
                self._next = None
                break
            try:
                m = next(src)
            except StopIteration:
                self._exhausted = True
                self._next = None
                break
            if from_sent and m.sent_ms is not None:
                if self._origin is None:
                    self._origin = m.sent_ms
                self.used_sent_timestamp = True
                m.arrival = max(0.0, (m.sent_ms - self._origin) / 1000.0 * self._scale)
        self.admitted += admitted
        self._buffered += admitted

    # -- visibility ---------------------------------------------------------------------
    def _expire(self, now: float) -> None:
        heap = self._inflight
        while heap and heap[0][0] <= now:
            _, _, bid, msgs = heapq.heappop(heap)
            if self.fifo:
                back: dict[int, list[Message]] = {}
                for m in msgs:
                    if m.rseq != bid or not m.held:
                        continue
                    m.held = False
                    g = self._groups[m.group]
                    g.held -= 1
                    if not m.done:
                        back.setdefault(id(g), []).append(m)
                        self._buffered += 1
                    elif g.held == 0 and g.pending and not g.queued:
                        g.queued = True
                        self._ready.append(g)
                for ms in back.values():
                    g = self._groups[ms[0].group]
                    g.pending.extendleft(reversed(ms))
                    if g.held == 0 and not g.queued:
                        g.queued = True
                        self._ready.appendleft(g)
            else:
                for m in msgs:
                    if m.rseq == bid and not m.done:
                        self._visible.append(m)
                        self._buffered += 1

    def _to_dlq(self, m: Message) -> None:
        m.done = True
        self.dlq += 1
        self._buffered -= 1
        if self._on_dlq is not None:
            self._on_dlq(m)

    def receive(self, now: float, n: int, bid: int) -> list[Message]:
        """Up to ``n`` messages visible at ``now``, received into batch ``bid``."""
        self._expire(now)
        self._admit(now)
        out: list[Message] = []
        max_rc = self.max_rc
        if self.fifo:
            ready = self._ready
            while len(out) < n:
                if not ready:
                    self._admit(now)
                    if not ready:
                        break
                # Merge the heads of the unlocked groups in arrival order, as SQS hands
                # out a FIFO queue's messages (a group's own order is never broken).
                cands: list[_Group] = []
                while ready and len(cands) < n:
                    g = ready.popleft()
                    g.queued = False
                    if not g.held and g.pending:
                        cands.append(g)
                heap = [(g.pending[0].index, i, g) for i, g in enumerate(cands)]
                heapq.heapify(heap)
                while heap and len(out) < n:
                    _, i, g = heapq.heappop(heap)
                    m = g.pending.popleft()
                    if m.done:
                        self._buffered -= 1
                    elif m.receive_count >= max_rc:
                        self._to_dlq(m)
                    else:
                        self._deliver(m, bid)
                        m.held = True
                        g.held += 1
                        out.append(m)
                    if g.pending:
                        heapq.heappush(heap, (g.pending[0].index, i, g))
                for g in reversed(cands):
                    if g.pending and g.held == 0 and not g.queued:
                        g.queued = True
                        ready.appendleft(g)
                if not cands:
                    break
        else:
            visible = self._visible
            while len(out) < n:
                if not visible:
                    self._admit(now)
                    if not visible:
                        break
                m = visible.popleft()
                if m.done:
                    self._buffered -= 1
                    continue
                rc = m.receive_count
                if rc >= max_rc:
                    self._to_dlq(m)
                    continue
                # inlined _deliver (hot path)
                m.receive_count = rc + 1
                if rc == 1:
                    self.redelivered += 1
                if m.copies:
                    self.duplicate_deliveries += 1
                m.copies += 1
                m.rseq = bid
                out.append(m)
        if out and not self.fifo:
            self._buffered -= len(out)
            self.deliveries += len(out)
        if out:
            self._counter += 1
            heapq.heappush(self._inflight, (now + self.vt, self._counter, bid, out))
        return out

    def _deliver(self, m: Message, bid: int) -> None:
        m.receive_count += 1
        if m.receive_count == 2:
            self.redelivered += 1
        if m.copies:
            self.duplicate_deliveries += 1
        m.copies += 1
        m.rseq = bid
        self._buffered -= 1
        self.deliveries += 1

    def complete(self, batch: list[Message], bid: int, failed: Any) -> list[Message]:
        """Apply a batch's outcome; ``failed`` holds the message ids not to delete.

        Returns the messages deleted for the first time (newly succeeded).
        """
        done: list[Message] = []
        fifo = self.fifo
        for m in batch:
            m.copies -= 1
            if failed and m.message_id in failed:
                continue  # stays invisible until its visibility timeout ends
            if m.done:
                self.duplicate_processed += 1
            else:
                m.done = True
                self.succeeded += 1
                done.append(m)
            if fifo and m.held and m.rseq == bid:
                m.held = False
                g = self._groups[m.group]
                g.held -= 1
                if g.held == 0 and g.pending and not g.queued:
                    g.queued = True
                    self._ready.append(g)
                elif g.held == 0 and not g.pending:
                    del self._groups[m.group]
        return done

    # -- time -----------------------------------------------------------------------------
    def next_ready_time(self, now: float) -> float | None:
        """Earliest time after ``now`` at which a receive might return something, or
        ``None`` when the queue is drained for good."""
        best: float | None = None
        if self._visible or self._ready:
            return now
        if self._buffered < self.lookahead:
            m = self._peek()
            if m is not None:
                best = max(now, m.arrival)
        heap = self._inflight
        while heap:
            _, _, bid, msgs = heap[0]
            for m in msgs:
                if m.rseq == bid and (not m.done or m.held):
                    break
            else:
                # every message of that receive is deleted or was received again since:
                # its visibility deadline changes nothing
                heapq.heappop(heap)
                continue
            t = heap[0][0]
            best = t if best is None or t < best else best
            break
        return best

    def drained(self) -> bool:
        return self.next_ready_time(0.0) is None

    def remaining(self) -> tuple[int, int]:
        """(messages read but neither succeeded nor in the DLQ, messages never read)."""
        acc = self.account()
        return acc.in_progress + acc.returned + acc.queued, acc.never_read

    def account(self) -> Remaining:
        """Where every unfinished message is, counted by walking the queue's structures (an
        independent check on the counters): being processed (a copy is in an invocation
        that has not ended), returned (delivered, not deleted: waiting for its visibility
        timeout or visible again), queued (read, never delivered), or never read (the
        input is drained here to count them)."""
        seen: dict[int, Message] = {}
        for m in self._visible:
            if not m.done:
                seen[id(m)] = m
        for g in self._groups.values():
            for m in g.pending:
                if not m.done:
                    seen[id(m)] = m
        for _, _, _, msgs in self._inflight:
            for m in msgs:
                if not m.done:
                    seen[id(m)] = m
        in_progress = returned = queued = 0
        for m in seen.values():
            if m.copies > 0:
                in_progress += 1
            elif m.receive_count > 0:
                returned += 1
            else:
                queued += 1
        unread = 0
        if self._next is not None:
            unread += 1
            self._next = None
        for _ in self._source:
            unread += 1
        self._exhausted = True
        return Remaining(in_progress, returned, queued, unread)

    def in_flight_messages(self) -> list[Message]:
        out: dict[int, Message] = {}
        for _, _, _, msgs in self._inflight:
            for m in msgs:
                if not m.done:
                    out[id(m)] = m
        return list(out.values())


class Remaining(NamedTuple):
    """The unfinished messages of a stopped run, by state (see :meth:`SqsQueue.account`)."""

    in_progress: int
    returned: int
    queued: int
    never_read: int


class _Group:
    __slots__ = ("held", "key", "pending", "queued")

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.pending: deque[Message] = deque()
        self.held = 0
        self.queued = False
