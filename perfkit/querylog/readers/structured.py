"""csvlog, jsonlog (PostgreSQL 15+) and the CloudNativePG JSON envelope.

All three carry one message per record with its DETAIL, session id and the
connection's user/database/application, so they feed the same :class:`Linker` as
the stderr reader. csvlog fields may contain newlines: the csv module reads records,
not lines. Layouts: 22 columns (PostgreSQL 8.4, no ``application_name``), 23 (9.0-12),
24 (13, ``backend_type``) and 26 (14+, ``leader_pid`` and ``query_id``) - the fields used
are at the same positions.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from perfkit.querylog.model import LogEvent
from perfkit.querylog.readers._common import (
    SEVERITIES,
    STATEMENT_STARTS,
    ChunkEdges,
    Context,
    Linker,
)
from perfkit.querylog.readers._time import TimestampParser

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

MIN_CSV_COLUMNS = 22


def _client(conn: str | None) -> str | None:
    """``10.0.0.1:5432`` / ``[local]`` / ``::1:5432`` -> host."""
    if not conn:
        return None
    if conn.startswith("[") or ":" not in conn:
        return conn
    host, _, port = conn.rpartition(":")
    return host if port.isdigit() else conn


def read_csvlog(
    lines: Iterable[str], ctx: Context, edges: ChunkEdges | None = None, line0: int = 1
) -> Iterator[LogEvent]:
    """csvlog records; ``edges``/``line0``: the lines are one byte range of a file
    (parallel ``analyze``) whose first line has number ``line0``."""
    parse_ts = TimestampParser(ctx.warn)
    linker = Linker(ctx)
    out = linker.out
    starts = STATEMENT_STARTS
    reader = csv.reader(lines)
    events = ctx.events  # analyze --events: every record also goes there
    base = line0 - 1
    prev_end = 0
    while True:
        try:
            r = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ctx.skip(base + reader.line_num, str(exc), "bad csv record")
            prev_end = reader.line_num
            if edges is not None:
                edges.unsure = True
            continue
        line = base + prev_end + 1
        prev_end = reader.line_num
        if len(r) < MIN_CSV_COLUMNS:
            if r and any(r):
                ctx.skip(line, ",".join(r), f"csv record with {len(r)} columns, expected 22+")
                if edges is not None:
                    edges.unsure = True
            continue
        sev = r[11]
        if events is not None:
            events.csv_record(r, line, parse_ts, ctx.source)
        if sev != "LOG":
            if sev not in SEVERITIES:
                ctx.foreign(line, f"severity {sev!r}")
            continue
        msg = r[13]
        if not msg.startswith(starts):
            linker.check_foreign(msg, line)
            continue
        pid_text = r[3]
        ts = parse_ts(r[0]) if r[0] else None
        ctx.check_order(ts, line, edges)
        meta = (
            ts,
            r[5] or pid_text or None,
            int(pid_text) if pid_text.isdigit() else None,
            r[1] or None,
            r[2] or None,
            (len(r) > 22 and r[22]) or None,
            _client(r[4]),
        )
        ev = linker.handle(msg, r[14] or None, meta, line)
        if ev is not None:
            yield ev
        elif out:
            yield from out
            out.clear()
    yield from linker.close(edges, ctx.last_ts)


# (timestamp, user, db, pid, client host, session, severity, message, detail, app)
_JSONLOG_KEYS = (
    "timestamp",
    "user",
    "dbname",
    "pid",
    "remote_host",
    "session_id",
    "error_severity",
    "message",
    "detail",
    "application_name",
)
_CNPG_KEYS = (
    "log_time",
    "user_name",
    "database_name",
    "process_id",
    "connection_from",
    "session_id",
    "error_severity",
    "message",
    "detail",
    "application_name",
)
# A parse/bind duration record (one or two per statement of the extended protocol, never
# an event): the unescaped `":"` can only be a key/value boundary, never text inside a
# JSON string, so this cannot match a statement that merely contains these words.
_VALIDATE = 200  # the first lines are fully parsed whatever they hold (format check)
_PARSE_BIND = re.compile(r'"message":"duration: [0-9.]+ ms  (?:bind|parse) ')


def _text(value: Any) -> str | None:
    """A name field of a JSON record: text, or None (a number or a list is not a name
    PostgreSQL wrote; it is kept as text rather than failing later)."""
    if isinstance(value, str):
        return value or None
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def read_json_records(
    lines: Iterable[tuple[int, str]],
    ctx: Context,
    *,
    envelope: bool,
    edges: ChunkEdges | None = None,
) -> Iterator[LogEvent]:
    """jsonlog (``envelope=False``) or CNPG (``{"logger":"postgres","record":{...}}``).

    ``edges``: the lines are one byte range of a file (parallel ``analyze``); what the
    reader reports there lets the ranges join exactly as one pass would read the file.
    """
    parse_ts = TimestampParser(ctx.warn)
    linker = Linker(ctx)
    out = linker.out
    keys = _CNPG_KEYS if envelope else _JSONLOG_KEYS
    k_ts, k_user, k_db, k_pid, k_host, k_sess, k_sev, k_msg, k_detail, k_app = keys
    loads = json.loads
    starts = STATEMENT_STARTS
    checked = 0
    if edges is not None:
        lines = iter(lines)
        first = next(lines, None)
        if first is None:
            return
        # one pass has validated (fully parsed) the file's first 200 lines only
        checked = min(_VALIDATE, first[0] - 1)
        lines = itertools.chain((first,), lines)
    parse_bind = _PARSE_BIND.search
    events = ctx.events  # analyze --events: every record also goes there
    for lineno, line in lines:
        # records without a statement are only fully parsed at the start (validation)
        if checked >= _VALIDATE and (
            not (
                '"duration: ' in line
                or '"statement: ' in line
                or '"execute ' in line
                or events is not None
            )
            or parse_bind(line)
        ):
            if line[:1] != "{" and line.strip():
                ctx.skip(lineno, line, "not a JSON record")
            continue
        checked += 1
        if not line.strip():
            continue
        try:
            obj: Any = loads(line)
        except (ValueError, RecursionError):  # deeply nested JSON: not a record
            ctx.skip(lineno, line, "not a JSON record")
            continue
        if not isinstance(obj, dict):
            ctx.skip(lineno, line, "not a JSON object")
            continue
        if envelope:
            rec = obj.get("record")
            if not isinstance(rec, dict):
                # CNPG also logs its own (non-postgres) messages in the same stream
                if "logger" not in obj and "level" not in obj:
                    ctx.skip(lineno, line, "not a CloudNativePG record")
                continue
        else:
            rec = obj
        if events is not None:
            events.json_record(rec, lineno, parse_ts, ctx.source, envelope=envelope)
        sev = rec.get(k_sev)
        if sev != "LOG":
            if sev is None:
                ctx.skip(lineno, line, "JSON record without error_severity")
            elif not isinstance(sev, str):
                ctx.skip(lineno, line, "JSON record whose error_severity is no text")
            elif sev not in SEVERITIES:
                ctx.foreign(lineno, f"severity {sev!r}")
            continue
        msg = rec.get(k_msg)
        if not isinstance(msg, str):
            continue
        if not msg.startswith(starts):
            linker.check_foreign(msg, lineno)
            continue
        pid = rec.get(k_pid)
        try:
            pid_int = int(pid) if pid is not None else None
        except (TypeError, ValueError, OverflowError):
            pid_int = None
        ts_text = rec.get(k_ts)
        ts = parse_ts(ts_text) if isinstance(ts_text, str) else None
        ctx.check_order(ts, lineno, edges)
        session = _text(rec.get(k_sess)) or (str(pid) if pid is not None else None)
        host = _text(rec.get(k_host))
        client = _client(host) if envelope else host
        detail = rec.get(k_detail)
        meta = (
            ts,
            session,
            pid_int,
            _text(rec.get(k_user)),
            _text(rec.get(k_db)),
            _text(rec.get(k_app)),
            client or None,
        )
        ev = linker.handle(msg, detail if isinstance(detail, str) else None, meta, lineno)
        if ev is not None:
            yield ev
        elif out:
            yield from out
            out.clear()
    yield from linker.close(edges, ctx.last_ts)
