"""perfkit batch --mode live is bounded like Lambda: a function timeout per invocation,
--max-time at every concurrency, handlers that hang, spin, block in C holding the GIL,
crash or raise SystemExit / KeyboardInterrupt / other BaseExceptions cannot hold or kill
perfkit, Ctrl-C and SIGTERM stop with a partial report, and every message is accounted
for exactly once. Wall-time bounds are deliberately generous (never tight timing asserts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from perfkit.batch import BatchRequest, InputSpec, QueueSettings, run_batch
from perfkit.batch.config import RunResult

HANDLERS = """
import ctypes, os, signal, time

class Custom(BaseException):
    pass

def hang(record):
    while True:
        time.sleep(1)

def spin(record):
    while True:
        pass

def c_sleep(record):
    # libc sleep() called through PyDLL keeps the GIL for the whole call
    ctypes.PyDLL(None).sleep(1000)

def sys_exit(record):
    raise SystemExit(3)

def ctrl_c(record):
    raise KeyboardInterrupt

def custom(record):
    raise Custom("not an Exception")

def crash(record):
    os.kill(os.getpid(), signal.SIGSEGV)

def slow_then_hang(record):
    if record["messageId"] == "m0":
        time.sleep(0.05)
        return
    while True:
        time.sleep(1)

def hang_batch(event, context):
    while True:
        time.sleep(1)

async def async_exit(record):
    raise SystemExit(3)

async def async_hang(record):
    import asyncio
    while True:
        time.sleep(1)  # blocks the event loop: only killing the worker ends it
"""


def _record(i: int) -> dict[str, Any]:
    return {
        "messageId": f"m{i}",
        "receiptHandle": f"rh{i}",
        "body": json.dumps({"n": i}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    h = tmp_path / "bound_handlers.py"
    h.write_text(textwrap.dedent(HANDLERS))
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(_record(i)) + "\n" for i in range(6)))
    return h, dump


def live(dump: Path, spec: str, *, batch: bool = False, **kw: Any) -> RunResult:
    settings = QueueSettings(
        batch_size=kw.pop("batch_size", 3),
        concurrency=kw.pop("concurrency", 1),
        visibility_timeout=1.0,
        max_receive_count=kw.pop("max_receive_count", 2),
        arrival_from_sent=False,
        timeout=kw.pop("timeout", 0.3),
        max_time=kw.pop("max_time", None),
    )
    req = BatchRequest(
        inputs=InputSpec((str(dump),)),
        mode="live",
        handler=None if batch else spec,
        batch_handler=spec if batch else None,
        settings=settings,
        batch_sizes=(settings.batch_size,),
        concurrencies=(settings.concurrency,),
        time_scale=0.01,
    )
    return run_batch(req).runs[0]


def _all_failed_whole(r: RunResult, reason: str) -> None:
    c = r.conservation
    assert (c.messages_in, c.succeeded, c.dlq, c.unfinished, c.ok) == (6, 0, 6, 0, True)
    assert not r.partial and r.stopped == "drained"
    # 6 messages in batches of 3, each delivered twice before the DLQ: 4 invocations
    assert r.batches == r.invocation_failures == 4
    assert all(b.whole_batch_failed and b.error and reason in b.error for b in r.batch_log)
    assert all(len(b.failures) == 3 for b in r.batch_log)


@pytest.mark.parametrize("func", ["hang", "spin", "c_sleep", "async_hang"])
@pytest.mark.parametrize("concurrency", [1, 2])
def test_timeout_kills_the_invocation_and_the_batch_is_retried_whole(
    files: tuple[Path, Path], func: str, concurrency: int
) -> None:
    h, dump = files
    t = time.monotonic()
    r = live(dump, f"{h}:{func}", concurrency=concurrency)
    assert time.monotonic() - t < 60
    _all_failed_whole(r, "Task timed out after 0.30 seconds")
    assert r.timeouts == 4
    assert r.cold_starts >= 4 - concurrency  # each killed worker was replaced


def test_batch_handler_timeout(files: tuple[Path, Path]) -> None:
    h, dump = files
    r = live(dump, f"{h}:hang_batch", batch=True)
    _all_failed_whole(r, "Task timed out")
    assert r.handler_bugs == 0


@pytest.mark.parametrize(
    ("func", "reason"),
    [
        ("sys_exit", "Runtime exited: SystemExit: 3"),
        ("ctrl_c", "Runtime exited: KeyboardInterrupt"),
        ("custom", "Runtime exited: Custom: not an Exception"),
        ("async_exit", "Runtime exited: SystemExit: 3"),
        ("crash", "Runtime exited with signal SIGSEGV"),
    ],
)
def test_base_exceptions_and_crashes_are_invocation_failures(
    files: tuple[Path, Path], func: str, reason: str
) -> None:
    h, dump = files
    t = time.monotonic()
    r = live(dump, f"{h}:{func}", timeout=30.0)
    assert time.monotonic() - t < 60
    _all_failed_whole(r, reason)
    assert r.timeouts == 0


@pytest.mark.parametrize("concurrency", [1, 3])
def test_max_time_holds_with_a_hanging_handler(files: tuple[Path, Path], concurrency: int) -> None:
    h, dump = files
    t = time.monotonic()
    # --max-time includes starting the workers: 4 s leaves room for that on a loaded machine
    r = live(dump, f"{h}:hang", timeout=600.0, max_time=4.0, concurrency=concurrency, batch_size=2)
    assert time.monotonic() - t < 4.0 + 10
    assert r.partial and r.stopped == "time limit"
    c = r.conservation
    assert c.ok and c.succeeded == 0 and c.dlq == 0
    assert c.in_progress == c.delivered and c.in_progress > 0
    assert c.in_progress + c.returned + c.never_delivered == c.messages_in == 6


def test_max_time_accounting_with_some_successes(files: tuple[Path, Path]) -> None:
    h, dump = files
    r = live(dump, f"{h}:slow_then_hang", timeout=600.0, max_time=5.0, batch_size=1)
    c = r.conservation
    assert r.partial and c.ok
    assert (c.succeeded, c.in_progress, c.delivered) == (1, 1, 2)
    assert c.never_delivered == 4


def test_handler_imports_its_sibling_modules(tmp_path: Path) -> None:
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "helpers_for_batch.py").write_text("def double(x):\n    return 2 * x\n")
    (pkg / "main_handler.py").write_text(
        "import helpers_for_batch\n"
        "def handle(record):\n"
        "    assert helpers_for_batch.double(2) == 4\n"
    )
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(_record(i)) + "\n" for i in range(4)))
    r = live(dump, f"{pkg / 'main_handler.py'}:handle")
    assert (r.conservation.succeeded, r.batch_log) == (4, ())


# -- the CLI as a real process: exit codes, signals, temp files ------------------------


def _perfkit(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "perfkit", "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _wait_for(path: Path, limit: float = 60.0) -> None:
    end = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def _gone(pid: int, limit: float = 10.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("sig", "code", "word"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated"),
])  # fmt: skip
def test_ctrl_c_and_sigterm_partial_report_and_cleanup(
    tmp_path: Path, sig: int, code: int, word: str
) -> None:
    marker = tmp_path / "started.pid"
    h = tmp_path / "sig_handler.py"
    h.write_text(
        textwrap.dedent(
            f"""
            import os, time
            def handle(record):
                if record["messageId"] == "m0":
                    raise ValueError("poison")  # returned: waits out its visibility timeout
                with open({str(marker)!r} + ".tmp", "w") as fh:
                    fh.write(str(os.getpid()))
                os.replace({str(marker)!r} + ".tmp", {str(marker)!r})
                while True:
                    time.sleep(1)
            """
        )
    )
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(_record(i)) + "\n" for i in range(5)))
    dlq = tmp_path / "out" / "dlq.jsonl"
    dlq.parent.mkdir()
    p = _perfkit(str(dump), "--mode", "live", "--handler", f"{h}:handle", "--batch-size", "1",
                 "--max-receive-count", "1", "--arrival", "backlog", "--timeout", "600s",
                 "--dlq-out", str(dlq), "-f", "json", cwd=tmp_path)  # fmt: skip
    try:
        _wait_for(marker)
        worker = int(marker.read_text())
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == code, err
    assert f"perfkit: {word}: partial report above" in err
    run = json.loads(out)["run"]
    assert run["stopped"] == word and run["complete"] is False
    acc = run["accounting"]
    assert run["conservation_ok"] and run["messages_in"] == 5
    assert (acc["returned"], acc["in_progress"], acc["succeeded"], acc["dlq"]) == (1, 1, 0, 0)
    assert (acc["delivered"], acc["never_delivered"]) == (2, 3)
    assert list(dlq.parent.iterdir()) == []  # no temp file, no file posing as complete
    assert _gone(worker), "the hanging worker process was left running"


def test_cli_system_exit_in_handler_is_not_perfkits_exit_code(tmp_path: Path) -> None:
    h = tmp_path / "exit_handler.py"
    h.write_text("def handle(record):\n    print('handler log line')\n    raise SystemExit(3)\n")
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(_record(i)) + "\n" for i in range(3)))
    p = _perfkit(str(dump), "--mode", "live", "--handler", f"{h}:handle", "--max-receive-count",
                 "1", "--time-scale", "0.01", "-f", "json", cwd=tmp_path)  # fmt: skip
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    run = json.loads(out)["run"]  # the handler's print went to stderr, not into the report
    assert "handler log line" in err
    assert (run["dlq"], run["invocation_failures"], run["complete"]) == (3, 1, True)
    assert run["batch_failures"][0]["error"] == "Runtime exited: SystemExit: 3"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import no_such_module_anywhere\n", "import failed: ModuleNotFoundError"),
        ("raise SystemExit(4)\n", "import failed: SystemExit: 4"),
        ("x = 1\n", "has no attribute 'handle'"),
    ],
)
def test_cli_handler_that_cannot_load_is_one_line_exit_2(
    cli: Any, tmp_path: Path, code: str, message: str
) -> None:
    h = tmp_path / "broken_handler.py"
    h.write_text(code)
    dump = tmp_path / "dump.jsonl"
    dump.write_text(json.dumps(_record(0)) + "\n")
    res = cli("batch", str(dump), "--mode", "live", "--handler", f"{h}:handle")
    assert res.exit_code == 2
    assert res.stderr.startswith("perfkit: error: ") and message in res.stderr
    assert res.stderr.count("\n") == 1


def test_timeout_option_is_checked(cli: Any, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text(json.dumps(_record(0)) + "\n")
    res = cli("batch", str(dump), "--timeout", "0s")
    assert res.exit_code == 2
    assert res.stderr == "perfkit: error: --timeout: must be more than 0\n"


def test_sigterm_while_reading_input_removes_the_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    p = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "batch", "-", "--dlq-out", str(out / "dlq.jsonl")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdin is not None
    try:
        p.stdin.write(json.dumps(_record(0)) + "\n")  # then stdin stays open: perfkit waits
        p.stdin.flush()
        end = time.monotonic() + 60
        while not list(out.iterdir()):
            assert time.monotonic() < end and p.poll() is None, "no temp file appeared"
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 143, err
    assert err == "perfkit: terminated\n"
    assert list(out.iterdir()) == []


def test_workers_import_perfkit_from_where_perfkit_runs_not_the_working_directory(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "perfkit"  # e.g. another checkout where the user stands
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the wrong perfkit')\n")
    (tmp_path / "cwd_handler.py").write_text("def handle(record):\n    pass\n")
    (tmp_path / "dump.jsonl").write_text(json.dumps(_record(0)) + "\n")
    monkeypatch.chdir(tmp_path)
    res = cli(
        "batch", "dump.jsonl", "--mode", "live", "--handler", "cwd_handler:handle", "-f", "json"
    )
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["run"]["succeeded"] == 1


def test_max_time_bounds_a_handler_whose_import_hangs(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "slow_import_handler.py").write_text(
        "import time\ntime.sleep(600)\ndef handle(record):\n    pass\n"
    )
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(_record(i)) + "\n" for i in range(3)))
    t = time.monotonic()
    res = cli("batch", str(dump), "--mode", "live", "--handler",
              f"{tmp_path / 'slow_import_handler.py'}:handle", "--max-time", "1s", "-f", "json")  # fmt: skip
    assert time.monotonic() - t < 1 + 10
    assert res.exit_code == 0, res.stderr
    run = json.loads(res.stdout)["run"]
    assert (run["stopped"], run["complete"], run["conservation_ok"]) == ("time limit", False, True)
    assert run["accounting"]["never_delivered"] == 3 and run["batches"] == 0


@pytest.mark.parametrize("mode", ["live", "simulate"])
def test_an_empty_input_is_never_presented_as_complete_work(
    cli: Any, tmp_path: Path, mode: str
) -> None:
    (tmp_path / "noop_handler.py").write_text("def handle(record):\n    pass\n")
    dump = tmp_path / "empty.jsonl"
    dump.write_text("")
    res = cli("batch", str(dump), "--mode", mode, "--handler",
              f"{tmp_path / 'noop_handler.py'}:handle", "-f", "markdown")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert "EMPTY RESULT: the input held no messages" in res.stdout
    assert "**EMPTY: no messages in the input**" in res.stdout


def test_ctrl_c_while_perfkit_waits_on_a_slow_stdin(tmp_path: Path) -> None:
    imported = tmp_path / "imported.txt"
    h = tmp_path / "stdin_handler.py"
    h.write_text(f"open({str(imported)!r}, 'w').close()\ndef handle(record):\n    pass\n")
    p = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "batch", "-", "--mode", "live", "--handler",
         f"{h}:handle", "-f", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert p.stdin is not None
    try:
        p.stdin.write(json.dumps(_record(0)) + "\n")  # then stdin stays open: perfkit waits
        p.stdin.flush()
        _wait_for(imported)  # the worker is up: perfkit is in (or near) its read of stdin
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, err
    run = json.loads(out)["run"]
    assert (run["stopped"], run["complete"], run["input_read_to_end"]) == (
        "interrupted",
        False,
        False,
    )
    assert (run["messages_in"], run["conservation_ok"]) == (1, True)
