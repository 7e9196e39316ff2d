"""The worker process of ``--mode live``: one per concurrent invocation, like a Lambda
execution environment.

perfkit never runs the user's code in its own process: a worker imports the handler and
runs one invocation (one batch) at a time, sent and answered over a pair of pipes as
length-prefixed pickles. A worker that overruns the function timeout, crashes, or whose
handler raises a ``BaseException`` that is not an ``Exception`` (``SystemExit``,
``KeyboardInterrupt``, ...) is killed or exits and is replaced by a fresh one (a cold
start), as Lambda replaces the runtime. This module is the worker's whole import
footprint (it must stay light: every worker pays for it at start-up).

Started as ``python -c "...; from perfkit.batch.worker import main; main()" RFD WFD ROOT``.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

_HEADER = struct.Struct("<Q")

# (message id, FIFO group, Lambda record) per message of a batch
Item = tuple[str, Any, dict[str, Any]]


def write_frame(fd: int, obj: Any) -> None:
    """Send ``obj`` as one length-prefixed pickle (blocking until written)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    buf = memoryview(_HEADER.pack(len(data)) + data)
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """The next object from ``fd``; raises ``EOFError`` when the other side is gone."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        raise EOFError
    data = _read_exact(fd, _HEADER.unpack(head)[0])
    if data is None:
        raise EOFError
    return pickle.loads(data)


def error_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not hide the failure itself
        text = "<unprintable>"
    return f"{type(exc).__name__}: {text}"


class Outcome:
    """What one invocation did (sent back to perfkit as a plain tuple)."""

    __slots__ = (
        "bug",
        "duration",
        "error",
        "failed",
        "failed_attempts",
        "fatal",
        "lats",
        "retries",
        "work",
    )

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.bug: str | None = None
        self.error: str | None = None
        self.retries = 0
        self.failed_attempts = 0
        self.duration = 0.0
        self.work = 0.0  # time inside the handler
        self.lats: list[float] = []  # per-record attempt times
        # the invocation failed whole: a timeout, a crash, or a BaseException that is not an
        # Exception (the runtime exits; Lambda retries every record of the batch)
        self.fatal: str | None = None

    def to_tuple(self) -> tuple[Any, ...]:
        return (
            self.failed,
            self.bug,
            self.error,
            self.retries,
            self.failed_attempts,
            self.duration,
            self.work,
            self.lats,
            self.fatal,
        )

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...]) -> Outcome:
        out = cls()
        (
            out.failed,
            out.bug,
            out.error,
            out.retries,
            out.failed_attempts,
            out.duration,
            out.work,
            out.lats,
            out.fatal,
        ) = t
        return out

    @classmethod
    def whole_batch(cls, ids: list[str], reason: str, duration: float) -> Outcome:
        out = cls()
        out.failed = list(ids)
        out.fatal = out.error = reason
        out.duration = duration
        return out


class Invoker:
    """Runs one batch through the handler and says which records to retry."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        batch: bool,
        is_async: bool,
        fifo: bool,
        retry: tuple[int, float, float],
        time_scale: float,
        seed: int | None,
        timeout: float,
    ) -> None:
        self.func = func
        self.batch = batch
        self.is_async = is_async
        self.fifo = fifo
        self.retries, self.backoff_base, self.backoff_cap = retry
        self.scale = time_scale
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.loop: asyncio.AbstractEventLoop | None = None

    def _backoff(self, attempt: int) -> float:
        # full jitter, as perfkit.batch.config.RetryPolicy.delay
        cap = min(self.backoff_cap, self.backoff_base * (2.0**attempt))
        return self.rng.random() * cap * self.scale

    def run(self, items: list[Item]) -> Outcome:
        """One invocation. A ``BaseException`` that is not an ``Exception`` propagates."""
        if self.is_async:
            if self.loop is None:
                import asyncio  # only for async handlers: workers start faster without it

                self.loop = asyncio.new_event_loop()
            return self.loop.run_until_complete(self._run_async(items))
        return self._run_sync(items)

    def _context(self) -> Any:
        from perfkit.batch.handlers import LambdaContext

        return LambdaContext(timeout_s=self.timeout)

    def _attempt_done(
        self, out: Outcome, mid: str, group: Any, held: set[Any], ok: bool, attempt: int
    ) -> bool:
        """Book one attempt of a record; True when the record is finished (it worked, or
        it has no retries left: then it is reported, and with FIFO its group held back)."""
        if ok:
            return True
        out.failed_attempts += 1
        if attempt >= self.retries:
            out.failed.append(mid)
            if self.fifo:
                held.add(group)
            return True
        out.retries += 1
        return False

    def _batch_result(self, out: Outcome, ids: list[str], resp: Any, exc: Exception | None) -> None:
        from perfkit.batch.handlers import check_batch_response

        if exc is not None:
            out.failed = ids
            out.error = error_text(exc)
        else:
            out.failed, out.bug = check_batch_response(resp, ids)

    def _run_sync(self, items: list[Item]) -> Outcome:
        out = Outcome()
        perf = time.perf_counter
        t0 = perf()
        if self.batch:
            resp, err = None, None
            try:
                resp = self.func({"Records": [rec for _, _, rec in items]}, self._context())
            except Exception as exc:
                err = exc
            self._batch_result(out, [mid for mid, _, _ in items], resp, err)
            out.duration = out.work = perf() - t0
            return out
        func = self.func
        held: set[Any] = set()
        lats = out.lats
        for mid, group, rec in items:
            if group in held:
                out.failed.append(mid)
                continue
            attempt = 0
            while True:
                a = perf()
                try:
                    func(rec)
                    ok = True
                except Exception as exc:
                    ok = False
                    if out.error is None:
                        out.error = error_text(exc)
                lats.append(perf() - a)
                if ok or self._attempt_done(out, mid, group, held, ok, attempt):
                    break
                time.sleep(self._backoff(attempt))
                attempt += 1
        out.work = sum(lats)
        out.duration = perf() - t0
        return out

    async def _run_async(self, items: list[Item]) -> Outcome:
        import asyncio

        out = Outcome()
        perf = time.perf_counter
        t0 = perf()
        if self.batch:
            resp, err = None, None
            try:
                resp = self.func({"Records": [rec for _, _, rec in items]}, self._context())
                if asyncio.iscoroutine(resp):
                    resp = await resp
            except Exception as exc:
                err = exc
            self._batch_result(out, [mid for mid, _, _ in items], resp, err)
            out.duration = out.work = perf() - t0
            return out
        held: set[Any] = set()
        for mid, group, rec in items:
            if group in held:
                out.failed.append(mid)
                continue
            attempt = 0
            while True:
                a = perf()
                try:
                    await self.func(rec)
                    ok = True
                except Exception as exc:
                    ok = False
                    if out.error is None:
                        out.error = error_text(exc)
                out.lats.append(perf() - a)
                if ok or self._attempt_done(out, mid, group, held, ok, attempt):
                    break
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
        out.work = sum(out.lats)
        out.duration = perf() - t0
        return out


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when perfkit dies (even by SIGKILL), so a
    hanging handler is never left behind."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def serve(rfd: int, wfd: int) -> int:
    """The worker loop: init message, then one batch in, one outcome out, until EOF."""
    # perfkit decides what Ctrl-C means (workers run in a session of their own, so a
    # terminal's Ctrl-C does not reach them anyway)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    try:
        init = read_frame(rfd)
    except EOFError:
        return 0
    sys.path[:] = init["sys_path"]
    from perfkit.batch.handlers import load_handler
    from perfkit.errors import TargetError, UsageError

    spec, option = init["spec"], init["option"]
    try:
        h = load_handler(spec, batch=init["batch"], option=option, lambda_like=True)
    except UsageError as exc:
        write_frame(wfd, ("usage", exc.option, str(exc).removeprefix(f"{exc.option}: ")))
        return 0
    except TargetError as exc:
        write_frame(wfd, ("init", str(exc)))
        return 0
    except BaseException as exc:
        write_frame(wfd, ("init", f"{option} {spec}: import failed: {error_text(exc)}"))
        return 0
    inv = Invoker(
        h.func,
        batch=h.batch,
        is_async=h.is_async,
        fifo=init["fifo"],
        retry=init["retry"],
        time_scale=init["time_scale"],
        seed=init["seed"],
        timeout=init["timeout"],
    )
    write_frame(wfd, ("ok", h.is_async, os.getpid()))
    while True:
        try:
            items: list[Item] = read_frame(rfd)
        except EOFError:
            return 0
        t0 = time.perf_counter()
        try:
            out = inv.run(items)
        except BaseException as exc:
            out = Outcome.whole_batch(
                [mid for mid, _, _ in items],
                f"Runtime exited: {error_text(exc)}",
                time.perf_counter() - t0,
            )
            write_frame(wfd, out.to_tuple())
            return 3
        if inv.batch:
            per = out.duration / max(1, len(items))
            out.lats = [per] * len(items)
        write_frame(wfd, out.to_tuple())


def main() -> None:
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    code = serve(rfd, wfd)
    sys.stdout.flush()
    # skip interpreter teardown: a handler's atexit hooks or non-daemon threads must not
    # keep a finished worker alive
    os._exit(code)
