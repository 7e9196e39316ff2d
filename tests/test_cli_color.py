"""Colour: --color auto|always|never, NO_COLOR, FORCE_COLOR and TERM=dumb, under a pty."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit.report.color import use_color

LOG = Path(__file__).parent / "data" / "querylog" / "multiline_param.log"
ESC = b"\x1b["


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CI")}
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def run_in_pty(args: list[str], env: dict[str, str]) -> bytes:
    """stdout and stderr of ``perfkit args`` when both are a terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(leader)
        proc.wait(timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out


def run_piped(args: list[str], env: dict[str, str]) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "perfkit", *args], capture_output=True, env=env, check=True
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("env", "flags", "coloured"),
    [
        ({}, [], True),
        ({"NO_COLOR": "1"}, [], False),
        ({"TERM": "dumb"}, [], False),
        ({}, ["--color", "never"], False),
        ({}, ["--color=never"], False),
        ({"NO_COLOR": "1"}, ["--color", "always"], True),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, [], False),
    ],
)
def test_terminal(env: dict[str, str], flags: list[str], coloured: bool) -> None:
    out = run_in_pty(["analyze", str(LOG), *flags], _env(**env))
    assert b"Fingerprints" in out or b"fingerprint" in out.lower()
    assert (ESC in out) is coloured, out[:400]


@pytest.mark.parametrize(
    ("env", "flags", "coloured"),
    [
        ({}, [], False),
        ({"FORCE_COLOR": "1"}, [], True),
        ({"FORCE_COLOR": "0"}, [], False),
        ({}, ["--color", "always"], True),
        ({"FORCE_COLOR": "1"}, ["--color", "never"], False),
    ],
)
def test_pipe(env: dict[str, str], flags: list[str], coloured: bool) -> None:
    out = run_piped(["analyze", str(LOG), *flags], _env(**env))
    assert (ESC in out) is coloured, out[:400]


def test_global_flag_goes_anywhere() -> None:
    before = run_piped(["--color", "always", "analyze", str(LOG)], _env())
    after = run_piped(["analyze", "--color", "always", str(LOG)], _env())
    assert ESC in before and ESC in after


def test_bad_mode_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "perfkit", "--color", "sometimes", "analyze", str(LOG)],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert done.returncode == 2
    assert "--color" in done.stderr and "Traceback" not in done.stderr


def test_use_color_precedence() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    assert use_color(tty, "auto", {}) is True
    assert use_color(None, "auto", {}) is False
    assert use_color(tty, "auto", {"NO_COLOR": "1"}) is False
    assert use_color(tty, "auto", {"NO_COLOR": ""}) is True  # empty means unset
    assert use_color(tty, "auto", {"TERM": "dumb"}) is False
    assert use_color(None, "auto", {"FORCE_COLOR": "1"}) is True
    assert use_color(None, "auto", {"FORCE_COLOR": "1", "TERM": "dumb"}) is True
    assert use_color(tty, "never", {"FORCE_COLOR": "1"}) is False
    assert use_color(None, "always", {"NO_COLOR": "1"}) is True
    with pytest.raises(ValueError):
        use_color(tty, "sometimes", {})
