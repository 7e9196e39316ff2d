"""BatchWriter flush rules with a fake clock, and its error contract."""

from __future__ import annotations

import threading
import time

import pytest

from perfkit.batch import BatchWriter, FlushError


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_flushes_when_full() -> None:
    out: list[list[int]] = []
    w = BatchWriter(out.append, max_items=3, max_wait_s=5, clock=FakeClock(), timer=False)
    for i in range(7):
        w.add(i)
    assert out == [[0, 1, 2], [3, 4, 5]]
    w.close()
    assert out == [[0, 1, 2], [3, 4, 5], [6]]
    assert (w.flushes, w.written) == (3, 7)


def test_flushes_when_the_oldest_item_waited_too_long() -> None:
    clock = FakeClock()
    out: list[list[str]] = []
    w = BatchWriter(out.append, max_items=100, max_wait_s=5, clock=clock, timer=False)
    w.add("a")
    clock.t = 4.9
    w.add("b")
    assert not w.poll() and out == []
    clock.t = 5.0  # "a" has now waited 5 s
    assert w.poll()
    assert out == [["a", "b"]]
    clock.t = 7.0
    w.add("c")  # the age counts from the oldest item of the new batch
    clock.t = 11.9
    assert not w.poll()
    clock.t = 12.0
    w.add("d")  # check-on-add
    assert out == [["a", "b"], ["c", "d"]]


def test_background_timer_flushes_a_quiet_producer() -> None:
    out: list[list[int]] = []
    done = threading.Event()

    def flush(items: list[int]) -> None:
        out.append(items)
        done.set()

    with BatchWriter(flush, max_items=100, max_wait_s=0.05) as w:
        w.add(1)
        assert done.wait(2.0)
        assert out == [[1]]


def test_context_exit_flushes_on_error_and_ctrl_c() -> None:
    out: list[list[int]] = []
    with pytest.raises(KeyboardInterrupt), BatchWriter(out.append, max_items=10, timer=False) as w:
        w.add(1)
        w.add(2)
        raise KeyboardInterrupt
    assert out == [[1, 2]]


def test_flush_error_carries_the_items_not_written() -> None:
    def flush(items: list[int]) -> None:
        if 4 in items:
            raise ConnectionError("server gone")

    w = BatchWriter(flush, max_items=2, clock=FakeClock(), timer=False)
    w.add(1)
    w.add(2)
    w.add(3)
    with pytest.raises(FlushError) as err:
        w.add(4)
    assert err.value.items == [3, 4]
    assert isinstance(err.value.cause, ConnectionError)
    assert str(err.value) == "flush of 2 item(s) failed: ConnectionError: server gone"
    assert (w.written, len(w)) == (2, 0)


def test_background_flush_error_is_raised_to_the_producer() -> None:
    def flush(items: list[int]) -> None:
        raise OSError("disk full")

    w = BatchWriter(flush, max_items=100, max_wait_s=0.02)
    w.add(1)
    deadline = time.monotonic() + 2
    while w._error is None and time.monotonic() < deadline:
        time.sleep(0.005)
    with pytest.raises(FlushError) as err:
        w.add(2)
    assert err.value.items == [1]
    w.close()
