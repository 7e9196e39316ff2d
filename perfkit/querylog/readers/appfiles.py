"""Application JSON Lines and pg_stat_statements exports.

* JSON Lines: one object per line, ``{"ts", "duration_ms", "query", "params"?}``;
  ``ts`` is ISO 8601 or epoch seconds, ``params`` a list (or an object ``{"1": ..}``).
  Optional ``session``, ``user``, ``database``, ``application`` are kept.
* pg_stat_statements: a CSV with a header, or JSON (an array, or one object per line)
  with ``query, calls, total_exec_time`` (``total_time`` before PostgreSQL 13),
  optionally ``mean_exec_time``, ``rows``, ``datname``/``usename``. Each row becomes
  one event with ``protocol="stats"``, ``calls=N`` and ``duration_ms`` = the *total*;
  there is no timeline (``ts=None``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from perfkit.errors import InputError
from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import Context
from perfkit.querylog.readers._time import parse_iso
from perfkit.querylog.readers.jsondoc import BadItem, json_items
from perfkit.querylog.readers.limits import impossible_duration, possible


def _params(value: Any) -> tuple[str | None, ...] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        try:
            items = sorted((int(str(k).lstrip("$")), v) for k, v in value.items())
        except ValueError:
            return None
        value = [v for _, v in items]
    if not isinstance(value, list):
        return None
    return tuple(None if v is None else v if isinstance(v, str) else json.dumps(v) for v in value)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_jsonl(lines: Iterable[tuple[int, str]], ctx: Context) -> Iterator[LogEvent]:
    loads = json.loads
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except (ValueError, RecursionError):  # deeply nested JSON: not a record
            ctx.skip(lineno, line, "not a JSON object")
            continue
        if not isinstance(obj, dict):
            ctx.skip(lineno, line, "not a JSON object")
            continue
        query = obj.get("query")
        if not isinstance(query, str):
            ctx.skip(lineno, line, 'JSON line without a "query" string')
            continue
        raw_duration = obj.get("duration_ms")
        duration = _number(raw_duration)
        if raw_duration is not None and duration is None:
            ctx.skip(lineno, line, f"bad duration_ms {raw_duration!r}")
            continue
        if duration is not None and not possible(duration):
            raise impossible_duration(ctx.source, lineno, raw_duration, line)
        ts = parse_iso(obj.get("ts"))
        ctx.check_order(ts, lineno)
        yield LogEvent(
            ts,
            duration,
            query,
            ctx.source,
            lineno,
            _params(obj.get("params")),
            _text(obj.get("session")),
            None,
            _text(obj.get("user")),
            _text(obj.get("database")),
            _text(obj.get("application")),
            _text(obj.get("client")),
            "simple",
        )


_TOTAL_KEYS = ("total_exec_time", "total_time")
_MEAN_KEYS = ("mean_exec_time", "mean_time")


def _stats_event(row: dict[str, Any], ctx: Context, line: int) -> LogEvent | None:
    query = row.get("query")
    calls = _number(row.get("calls"))
    if not isinstance(query, str) or calls is None:
        ctx.skip(line, json.dumps(row)[:300], "pg_stat_statements row without query/calls")
        return None
    total = next((_number(row[k]) for k in _TOTAL_KEYS if row.get(k) not in (None, "")), None)
    if total is None:
        mean = next((_number(row[k]) for k in _MEAN_KEYS if row.get(k) not in (None, "")), None)
        total = mean * calls if mean is not None else None
    if total is not None and not possible(total):
        raise impossible_duration(ctx.source, line, total, json.dumps(row)[:300])
    if not possible(calls) or calls != int(calls):
        raise InputError(ctx.source, f"impossible calls {calls!r}", line=line)
    rows = _number(row.get("rows"))
    return LogEvent(
        None,
        total,
        query,
        ctx.source,
        line,
        user=_text(row.get("usename") or row.get("user") or row.get("rolname")),
        database=_text(row.get("datname") or row.get("database") or row.get("dbname")),
        protocol="stats",
        calls=int(calls),
        rows=int(rows) if rows is not None and possible(rows) else None,
    )


def is_pgss_header(fields: list[str]) -> bool:
    names = {f.strip().lower() for f in fields}
    return "query" in names and "calls" in names


def read_pgss_csv(lines: Iterable[str], ctx: Context) -> Iterator[LogEvent]:
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    if not is_pgss_header(header):
        raise InputError(
            ctx.source, "pg_stat_statements CSV needs a header with query and calls", line=1
        )
    if not any(k in header for k in (*_TOTAL_KEYS, *_MEAN_KEYS)):
        raise InputError(
            ctx.source, "pg_stat_statements CSV needs total_exec_time (or total_time)", line=1
        )
    prev_end = reader.line_num
    for rec in reader:
        line = prev_end + 1
        prev_end = reader.line_num
        if not any(rec):
            continue
        if len(rec) != len(header):
            ctx.skip(line, ",".join(rec)[:300], f"{len(rec)} fields, header has {len(header)}")
            continue
        ev = _stats_event(dict(zip(header, rec, strict=False)), ctx, line)
        if ev is not None:
            yield ev


def read_pgss_json(lines: Iterable[tuple[int, str]], ctx: Context) -> Iterator[LogEvent]:
    """A JSON array, an object holding one, or one object per line (streamed: memory is
    bounded by one row, see :mod:`~perfkit.querylog.readers.jsondoc`)."""
    for lineno, row in json_items(lines, ctx.source):
        if isinstance(row, BadItem):
            ctx.skip(lineno, row.text, "not valid JSON")
            continue
        if not isinstance(row, dict):
            ctx.skip(lineno, str(row)[:300], "not a JSON object")
            continue
        ev = _stats_event(row, ctx, lineno)
        if ev is not None:
            yield ev
