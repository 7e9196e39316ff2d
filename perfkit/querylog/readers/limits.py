"""The limits every reader enforces, so that no input gives a silently wrong result or
unbounded memory.

* :data:`MAX_RECORD_BYTES`: one line (one record of a line-based format, one item of a
  JSON document) longer than this is an :class:`~perfkit.errors.InputError` naming its
  position. PostgreSQL's own messages are far shorter (a multi-line statement in a stderr
  log is many lines); the cap is the one pganalyze's collector uses (10 MB). It bounds the
  memory of reading ``/dev/zero``, a binary file or a 300 MB file without a newline.
* An empty statement (nothing but blanks and ``;``: a connection probe, ``statement: ;``)
  is not an executed statement, in every format (:func:`empty_statement`).
* A duration must be a finite number >= 0: a negative, NaN or infinite one is bad input
  (:func:`impossible_duration`), never added to a total.
"""

from __future__ import annotations

from perfkit.errors import InputError

MAX_RECORD_BYTES = 10 << 20
INF = float("inf")


def possible(duration: float) -> bool:
    """A finite duration >= 0 (NaN fails every comparison)."""
    return 0.0 <= duration < INF


def impossible_duration(source: str, line: int, value: object, text: str = "") -> InputError:
    shown = text if len(text) <= 120 else text[:120] + "..."
    return InputError(
        source,
        f"impossible duration {value!r} (negative, NaN or infinite)"
        + (f": {shown!r}" if shown else ""),
        line=line,
    )


def too_long(source: str, offset: int) -> InputError:
    return InputError(
        source,
        f"a line longer than {MAX_RECORD_BYTES >> 20} MB (the cap on one record) starts at "
        f"byte {offset}: not a text log, or a log without its line breaks",
    )


#: the first characters of a statement that may be empty (one ``in`` test on the hot path)
BLANK_START = " \t\r\n;"


def empty_statement(query: str) -> bool:
    """Nothing but blanks and semicolons."""
    return not query.strip(BLANK_START)
