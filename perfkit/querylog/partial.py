"""Mergeable partial results of ``perfkit analyze`` (``--partial-out``, ``perfkit merge``).

A partial holds what one input adds to a run (:class:`~perfkit.querylog.accumulator.RangeTotals`):
one row per statement in a Parquet table (time, fingerprint id, cache key, duration,
session: what the merge replays in time order for exact percentiles, the timeline and
the cache replay), and in the file's key-value metadata (JSON under the key "perfkit.partial") the
per-fingerprint figures (calls, first/last seen, databases, users, applications, an
example with its parameters), the slow statements, the counters and the input's
description (format, prefix, warnings, skipped lines). Parquet because DuckDB, Spark,
pandas and Polars read it as it is; pyarrow writes it in row groups.

:func:`perfkit.querylog.merge.merge_partials` turns any set of partials of one server
into the report a single ``analyze`` run over the same inputs gives, in their time order.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.errors import InputError
from perfkit.querylog.accumulator import FingerprintAcc, RangeTotals
from perfkit.querylog.fingerprint import Fingerprint
from perfkit.querylog.model import LogEvent

__all__ = [
    "PARTIAL_SCHEMA",
    "PartialInput",
    "partial_files",
    "partial_name",
    "read_partial",
    "write_partial",
]

#: bumped when a partial written by this perfkit cannot be read by an older one
PARTIAL_SCHEMA = 1
_META_KEY = b"perfkit.partial"
_ROW_GROUP = 65_536


@dataclass(frozen=True)
class PartialInput:
    """The input a partial was read from, and what its reader recorded."""

    path: str
    format: str
    prefix: str | None
    prefix_inferred: bool
    compression: str
    server: str
    #: the analyze run that wrote it, its input's position in that run and the range's
    #: in the input (an input of many statements gets several partials)
    run: str
    index: int
    range: int
    #: the time of the input's first statement, which orders inputs in a merge
    order: float | None
    skipped_lines: int
    skipped_samples: tuple[tuple[str, int, str], ...]
    #: told when the inputs were opened (an inferred prefix...), before any was read
    plan_warnings: tuple[str, ...]
    warnings: tuple[str, ...]
    has_timeline: bool
    truncated: bool
    slow_ms: float
    slow_limit: int


def partial_name(index: int, path: str, part: int = 0) -> str:
    """``0003-postgresql.log.0000.partial.parquet``: input, then range."""
    return f"{index:04d}-{os.path.basename(path) or 'stdin'}.{part:04d}.partial.parquet"


def _ts(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _from_ts(s: str | None) -> dt.datetime | None:
    return None if s is None else dt.datetime.fromisoformat(s)


def _event(ev: LogEvent) -> list[Any]:
    return [_ts(ev.ts), *ev[1:5], None if ev.params is None else list(ev.params), *ev[6:]]


def _from_event(row: list[Any]) -> LogEvent:
    params = None if row[5] is None else tuple(row[5])
    return LogEvent._make([_from_ts(row[0]), *row[1:5], params, *row[6:]])


def _float(x: float) -> float | None:
    return None if math.isinf(x) else x  # JSON has no infinity


def write_partial(path: Path, totals: RangeTotals, source: PartialInput) -> None:
    """Write ``totals`` of ``source`` to ``path`` atomically (a temporary file renamed)."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from perfkit import __version__

    accs = [
        {
            "fid": fid,
            "calls": a.calls,
            "first": _ts(a.first),
            "first_f": _float(a.first_f),
            "last": _ts(a.last),
            "last_f": _float(a.last_f),
            "dbs": list(a.dbs),
            "users": list(a.users),
            "apps": list(a.apps),
            "example": _event(a.example),
        }
        for fid, a in totals.accs.items()
    ]
    meta = {
        "schema": PARTIAL_SCHEMA,
        "perfkit": __version__,
        "input": {
            **{k: v for k, v in source.__dict__.items() if k != "skipped_samples"},
            "skipped_samples": [list(s) for s in source.skipped_samples],
        },
        "fingerprints": [
            {"id": fp.id, "query": fp.query, "method": fp.method} for fp in totals.by_id.values()
        ],
        "accs": accs,
        "slow": [[d, neg, _event(ev), fid] for d, neg, ev, fid in totals.slow],
        "counts": {
            "events": totals.events,
            "queries": totals.queries,
            "timed": totals.timed,
            "untimed": totals.untimed,
            "untimed_ts": totals.untimed_ts,
            "slow_count": totals.slow_count,
        },
        "first": _ts(totals.first),
        "first_f": _float(totals.first_f),
        "last": _ts(totals.last),
        "last_f": _float(totals.last_f),
    }
    schema = pa.schema(
        [
            ("ts", pa.float64()),
            ("fingerprint", pa.dictionary(pa.int32(), pa.string())),
            ("key", pa.uint64()),
            ("duration_ms", pa.float64()),
            ("session", pa.string()),
            ("pid", pa.int64()),
        ],
        metadata={_META_KEY: orjson.dumps(meta)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            recs = totals.records
            for lo in range(0, max(len(recs), 1), _ROW_GROUP):
                block = recs[lo : lo + _ROW_GROUP]
                cols = list(zip(*block, strict=True)) if block else [(), (), (), (), ()]
                sessions = cols[4]
                w.write_table(
                    pa.table(
                        [
                            pa.array(cols[0], pa.float64()),
                            pa.array(cols[1], pa.string()).dictionary_encode(),
                            pa.array(cols[2], pa.uint64()),
                            pa.array(cols[3], pa.float64()),
                            pa.array([s if isinstance(s, str) else None for s in sessions]),
                            pa.array([s if isinstance(s, int) else None for s in sessions]),
                        ],
                        schema=schema,
                    )
                )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_partial(path: Path) -> tuple[PartialInput, RangeTotals]:
    """Read a partial; a file that is not one (or of another schema) is an InputError."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        raw = (pf.schema_arrow.metadata or {}).get(_META_KEY)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(str(path), f"not a perfkit partial ({exc})") from None
    if raw is None:
        raise InputError(str(path), "a Parquet file, but not a perfkit partial")
    try:
        meta = orjson.loads(raw)
        if meta.get("schema") != PARTIAL_SCHEMA:
            raise InputError(
                str(path),
                f"partial schema {meta.get('schema')!r}; this perfkit reads schema "
                f"{PARTIAL_SCHEMA} (written by perfkit {meta.get('perfkit', '?')})",
            )
        src = dict(meta["input"])
        src["skipped_samples"] = tuple(tuple(s) for s in src["skipped_samples"])
        src["warnings"] = tuple(src["warnings"])
        src["plan_warnings"] = tuple(src["plan_warnings"])
        source = PartialInput(**src)
        by_id = {
            f["id"]: Fingerprint(f["id"], f["query"], f["method"]) for f in meta["fingerprints"]
        }
        accs: dict[str, FingerprintAcc] = {}
        for r in meta["accs"]:
            a = FingerprintAcc(_from_event(r["example"]))
            a.calls = r["calls"]
            a.first, a.last = _from_ts(r["first"]), _from_ts(r["last"])
            a.first_f = math.inf if r["first_f"] is None else r["first_f"]
            a.last_f = -math.inf if r["last_f"] is None else r["last_f"]
            a.dbs = dict.fromkeys(r["dbs"])
            a.users = dict.fromkeys(r["users"])
            a.apps = dict.fromkeys(r["apps"])
            accs[r["fid"]] = a
        table = pf.read()
        sessions = table.column("session").to_pylist()
        pids = table.column("pid").to_pylist()
        records = list(
            zip(
                table.column("ts").to_pylist(),
                table.column("fingerprint").to_pylist(),
                table.column("key").to_pylist(),
                table.column("duration_ms").to_pylist(),
                [s if s is not None else p for s, p in zip(sessions, pids, strict=True)],
                strict=True,
            )
        )
        c = meta["counts"]
        totals = RangeTotals(
            accs,
            by_id,
            records,
            [(d, neg, _from_event(ev), fid) for d, neg, ev, fid in meta["slow"]],
            c["events"],
            c["queries"],
            c["timed"],
            c["untimed"],
            c["untimed_ts"],
            c["slow_count"],
            _from_ts(meta["first"]),
            math.inf if meta["first_f"] is None else meta["first_f"],
            _from_ts(meta["last"]),
            -math.inf if meta["last_f"] is None else meta["last_f"],
        )
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, pa.ArrowException) as exc:
        raise InputError(str(path), f"a damaged perfkit partial ({type(exc).__name__})") from None
    return source, totals


def partial_files(paths: Iterable[Path]) -> list[Path]:
    """The partials named: files, and the ``*.partial.parquet`` files of directories."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.partial.parquet"))
            if not found:
                raise InputError(str(p), "no *.partial.parquet files in this directory")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise InputError(str(p), "no such file or directory")
    return out
