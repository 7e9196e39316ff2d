"""perfkit's side of the ``--mode live`` worker processes (see :mod:`perfkit.batch.worker`).

One worker per concurrent invocation. perfkit sends a batch, waits on every busy worker's
pipe (and on a wake-up pipe that Ctrl-C / SIGTERM write to) with ``poll``, and enforces the
function timeout itself: a worker past its deadline is killed with its whole process group
(SIGKILL cannot be caught, and works on a handler blocked in C holding the GIL) and its
invocation fails whole. A dead worker is replaced by a fresh one when next needed (a cold
start). perfkit therefore never waits on the user's code beyond ``--timeout``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.batch.handlers import HandlerRef
from perfkit.batch.inputs import Message
from perfkit.batch.worker import Item, Outcome, read_frame, write_frame
from perfkit.errors import TargetError, UsageError

INIT_TIMEOUT = 10.0  # Lambda's limit for the init phase (imports, module-level code)
# sys.path[0] of ``python -c`` is the working directory: it is replaced by the folder perfkit
# itself was imported from, so a ``perfkit`` folder where the user stands (another checkout)
# cannot stand in for it
_BOOT = "import sys; sys.path[0] = sys.argv[3]; from perfkit.batch.worker import main; main()"
_ROOT = str(Path(__file__).resolve().parent.parent.parent)


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker is started with."""

    ref: HandlerRef
    fifo: bool
    retry: tuple[int, float, float]
    time_scale: float
    seed: int | None
    timeout: float


class Worker:
    """One worker process and the invocation it is running, if any."""

    __slots__ = ("batch", "bid", "deadline", "proc", "ready", "rfd", "sent", "start", "wfd")

    def __init__(self, proc: subprocess.Popen[bytes], rfd: int, wfd: int) -> None:
        self.proc = proc
        self.rfd = rfd
        self.wfd = wfd
        self.bid = 0
        self.batch: list[Message] | None = None
        self.start = 0.0  # queue clock when sent
        self.sent = 0.0  # perf_counter when sent
        self.deadline = 0.0  # perf_counter
        self.ready = False  # the handler is imported

    @property
    def busy(self) -> bool:
        return self.batch is not None


class InitFailed(Exception):
    """A replacement worker could not start the handler (Lambda's Runtime.InitError)."""


class WorkerPool:
    """Up to ``size`` workers; :meth:`wait` returns finished, failed and timed-out batches."""

    def __init__(self, cfg: WorkerConfig, size: int, wake_fd: int) -> None:
        self.cfg = cfg
        self.size = size
        self.wake_fd = wake_fd
        self.workers: list[Worker] = []
        self.busy: dict[int, Worker] = {}  # rfd -> worker
        self.poller = select.poll()
        self.poller.register(wake_fd, select.POLLIN)
        self.is_async = False
        self.cold_starts = 0  # workers started after the first set (after a timeout/crash)
        self.woken = False

    # -- starting ---------------------------------------------------------------------------
    def _spawn(self, slot: int) -> Worker:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # handler logs appear as they are written
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(to_child_r), str(from_child_w), _ROOT],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=2,  # the handler's prints go to perfkit's stderr, never into the report
                env=env,
                start_new_session=True,  # its own process group: killpg reaches all the handler started
            )
        except BaseException:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise
        os.close(to_child_r)
        os.close(from_child_w)
        w = Worker(proc, from_child_r, to_child_w)
        cfg = self.cfg
        seed = None if cfg.seed is None else cfg.seed * 1_000_003 + slot
        with contextlib.suppress(OSError):  # it died at once: the handshake reports it
            write_frame(
                w.wfd,
                {
                    "spec": cfg.ref.spec,
                    "batch": cfg.ref.batch,
                    "option": cfg.ref.option,
                    "sys_path": list(sys.path),
                    "fifo": cfg.fifo,
                    "retry": cfg.retry,
                    "time_scale": cfg.time_scale,
                    "seed": seed,
                    "timeout": cfg.timeout,
                },
            )
        return w

    def _handshake(self, pending: list[Worker], until: float | None) -> str | None:
        """Wait for each worker's hello. Returns ``None`` when all are ready, ``"stop"`` when
        woken (Ctrl-C, SIGTERM) or ``until`` passed; raises on a handler that cannot load."""
        perf = time.perf_counter
        # Lambda's limit is per environment; k workers starting together on c CPUs take
        # about k/c times as long as one
        rounds = -(-len(pending) // max(1, os.cpu_count() or 1))
        limit = perf() + INIT_TIMEOUT * rounds
        end = limit if until is None else min(limit, until)
        poller = select.poll()
        poller.register(self.wake_fd, select.POLLIN)
        by_fd = {w.rfd: w for w in pending}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        while by_fd:
            left = end - perf()
            if left <= 0:
                if until is not None and perf() >= until:
                    return "stop"
                raise InitFailed(
                    f"{self.cfg.ref.option} {self.cfg.ref.spec}: the handler's init did not "
                    f"finish within {INIT_TIMEOUT * rounds:g} s (Lambda's init limit is "
                    f"{INIT_TIMEOUT:g} s per worker)"
                )
            for fd, _ in poller.poll(max(1, int(left * 1000) + 1)):
                if fd == self.wake_fd:
                    self.woken = True
                    return "stop"
                w = by_fd.pop(fd)
                poller.unregister(fd)
                try:
                    hello = read_frame(fd)
                except (EOFError, OSError):
                    code = w.proc.wait()
                    raise InitFailed(
                        f"{self.cfg.ref.option} {self.cfg.ref.spec}: the worker process "
                        f"exited during init ({_exit_text(code)})"
                    ) from None
                if hello[0] == "usage":
                    raise UsageError(hello[1], hello[2])
                if hello[0] == "init":
                    raise InitFailed(hello[1])
                self.is_async = bool(hello[1])
                w.ready = True
        return None

    def start(self, until: float | None) -> bool:
        """Start every worker; ``False`` if stopped (signal, ``until``) before they were ready.
        A handler that cannot be imported raises UsageError / TargetError."""
        try:
            self.workers = [self._spawn(0)]
            # the first one alone: a broken handler fails fast, once
            if self._handshake(self.workers, until) == "stop":
                return False
            for i in range(1, self.size):
                self.workers.append(self._spawn(i))  # one by one: close() reaches each
            rest = self.workers[1:]
            if rest and self._handshake(rest, until) == "stop":
                return False
        except InitFailed as exc:
            raise TargetError(str(exc)) from None
        for w in self.workers:
            self.poller.register(w.rfd, select.POLLIN)
        return True

    def idle(self, until: float | None = None) -> Worker | None:
        """An idle live worker, ``None`` if all are busy; replaces a dead one when needed
        (raises :class:`InitFailed`)."""
        for w in self.workers:
            if not w.busy and w.proc.returncode is None:
                return w
        if len(self.busy) >= self.size:
            return None
        # every non-busy slot is dead: a cold start
        for i, w in enumerate(self.workers):
            if not w.busy:
                self._discard(w)
                fresh = self._spawn(i)
                self.workers[i] = fresh
                self.cold_starts += 1
                try:
                    if self._handshake([fresh], until) == "stop":
                        self._kill(fresh)
                        return None
                except (InitFailed, UsageError) as exc:
                    self._kill(fresh)
                    raise InitFailed(str(exc)) from None
                self.poller.register(fresh.rfd, select.POLLIN)
                return fresh
        return None

    # -- running ----------------------------------------------------------------------------
    def submit(
        self, w: Worker, bid: int, batch: list[Message], items: list[Item], start: float
    ) -> None:
        w.bid, w.batch, w.start = bid, batch, start
        w.sent = time.perf_counter()
        w.deadline = w.sent + self.cfg.timeout
        self.busy[w.rfd] = w
        with contextlib.suppress(OSError):  # died: poll sees the hang-up, reports the crash
            write_frame(w.wfd, items)

    def next_deadline(self) -> float | None:
        return min((w.deadline for w in self.busy.values()), default=None)

    def wait(self, timeout: float | None) -> list[tuple[Worker, Outcome]]:
        """Block up to ``timeout`` s (``None``: until something happens). Returns the
        invocations that ended: answered, crashed, or killed at their deadline."""
        perf = time.perf_counter
        dl = self.next_deadline()
        if dl is not None:
            left = dl - perf()
            timeout = left if timeout is None else min(timeout, left)
        ms = -1 if timeout is None else max(0, int(timeout * 1000) + 1)
        done: list[tuple[Worker, Outcome]] = []
        for fd, _ in self.poller.poll(ms):
            if fd == self.wake_fd:
                self.woken = True
                with contextlib.suppress(OSError):
                    os.read(fd, 4096)
                continue
            w = self.busy.pop(fd, None)
            if w is None:  # an idle worker died (or wrote when it should not): retire it
                self._retire(fd)
                continue
            try:
                out = Outcome.from_tuple(read_frame(fd))
            except (EOFError, OSError, ValueError, TypeError):
                self._kill(w)
                code = w.proc.returncode
                out = Outcome.whole_batch(
                    [m.message_id for m in w.batch or ()],
                    f"Runtime exited with {_exit_text(code if code is not None else -9)}",
                    perf() - w.sent,
                )
            if out.fatal is not None and w.proc.returncode is None:
                self._kill(w)  # the runtime exited (SystemExit & co.): a fresh one next time
            done.append((w, out))
        now = perf()
        for fd, w in list(self.busy.items()):
            if now >= w.deadline:
                del self.busy[fd]
                self._kill(w)
                done.append(
                    (
                        w,
                        Outcome.whole_batch(
                            [m.message_id for m in w.batch or ()],
                            f"Task timed out after {self.cfg.timeout:.2f} seconds",
                            now - w.sent,
                        ),
                    )
                )
        return done

    def release(self, w: Worker) -> None:
        w.batch = None

    # -- stopping ---------------------------------------------------------------------------
    def _retire(self, fd: int) -> None:
        for w in self.workers:
            if w.rfd == fd:
                self._kill(w)

    def _discard(self, w: Worker) -> None:
        if w.proc.returncode is None:
            self._kill(w)
        for fd in (w.rfd, w.wfd):
            with contextlib.suppress(OSError):
                os.close(fd)
        w.rfd = w.wfd = -1

    def _kill(self, w: Worker) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            self.poller.unregister(w.rfd)
        if w.proc.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(w.proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                w.proc.kill()
            w.proc.wait()
        else:
            with contextlib.suppress(OSError):
                os.killpg(w.proc.pid, signal.SIGKILL)

    def abandon(self) -> int:
        """Kill every busy worker (``--max-time``, Ctrl-C): their batches stay in flight."""
        n = len(self.busy)
        for w in list(self.busy.values()):
            self._kill(w)
        self.busy.clear()
        return n

    def close(self) -> None:
        """Idle workers end on end-of-file; anything still running after 1 s is killed, and
        a worker still importing the handler at once."""
        for w in self.workers:
            if not w.ready:
                self._kill(w)
            with contextlib.suppress(OSError):
                os.close(w.wfd)
            w.wfd = -1
        end = time.perf_counter() + 1.0
        for w in self.workers:
            if w.proc.returncode is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    w.proc.wait(timeout=max(0.0, end - time.perf_counter()))
            self._kill(w)
            with contextlib.suppress(OSError):
                os.close(w.rfd)
            w.rfd = -1
        self.workers = []
        self.busy.clear()


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def items_of(batch: list[Message], records: list[dict[str, Any]]) -> list[Item]:
    return [(m.message_id, m.group, rec) for m, rec in zip(batch, records, strict=True)]
