"""Pure renderers: Document -> text for json, csv, markdown (table via rich)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfkit.report.cells import format_cell
from perfkit.report.model import Clipped, Document, Table

FORMATS = ("table", "json", "csv", "markdown")


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, datetimes, paths, enums, sets and NaN to JSON-safe values."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return to_jsonable(value.item())
    return str(value)


def render_json(doc: Document) -> str:
    payload: dict[str, Any] = {"schema_version": doc.schema_version, "kind": doc.kind}
    payload.update(to_jsonable(doc.data))
    if doc.warnings and "warnings" not in payload:
        payload["warnings"] = list(doc.warnings)
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def render_csv(doc: Document, table: str | None = None) -> str:
    if not doc.tables:
        return ""
    t = doc.table(table) if table else doc.tables[0]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in t.columns])
    for row in t.rows:
        writer.writerow(["" if v is None else _csv_value(v) for v in row])
    return buf.getvalue()


def _csv_value(v: Any) -> Any:
    if isinstance(v, Clipped):
        return str(v)
    if isinstance(v, (list, tuple, set, frozenset)):
        return ";".join(str(x) for x in v)
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return ""
    return v


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown_table(t: Table) -> str:
    lines = []
    lines.append("| " + " | ".join(_md_escape(c.header) for c in t.columns) + " |")
    lines.append(
        "| " + " | ".join("---:" if c.align == "right" else "---" for c in t.columns) + " |"
    )
    for row in t.rows:
        cells = [_md_escape(format_cell(v, c)) for v, c in zip(row, t.columns, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(doc: Document) -> str:
    out: list[str] = []
    if doc.title:
        out.append(f"## {doc.title}\n")
    for w in doc.warnings:
        out.append(f"> **warning:** {w}\n")
    if doc.summary:
        out.extend(f"- {line}" for line in doc.summary)
        out.append("")
    for t in doc.tables:
        if t.title:
            out.append(f"### {t.title}\n")
        if t.rows:
            out.append(render_markdown_table(t))
        else:
            out.append("_none_")
        out.append("")
    if doc.verdict:
        out.append(f"**{doc.verdict}**")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render(doc: Document, fmt: str, *, width: int | None = None, table: str | None = None) -> str:
    """Render ``doc`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return render_json(doc)
    if fmt == "csv":
        return render_csv(doc, table)
    if fmt == "markdown":
        return render_markdown(doc)
    if fmt == "table":
        from perfkit.report.terminal import render_table

        return render_table(doc, width=width)
    raise ValueError(f"unknown format {fmt!r}")
