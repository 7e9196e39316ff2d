"""How one cell reads in a table for people (terminal, markdown): a leaf module that
both :mod:`perfkit.report.render` and :mod:`perfkit.report.terminal` import (CSV and
JSON write the values themselves)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from perfkit.report.model import Clipped, Column

__all__ = ["format_cell"]


def format_cell(value: Any, column: Column) -> str:
    """A cell as people read it (table, markdown); CSV writes the value itself."""
    if value is None:
        return ""
    if isinstance(value, Clipped):
        return value.shown()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return ""
    if column.fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        return column.fmt.format(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return str(value)
