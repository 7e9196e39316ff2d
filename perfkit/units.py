"""Parsing of durations, sizes, percentages and lists given on the command line or in TOML.

Every parser raises :class:`ValueError` with a short reason; callers wrap it in a
:class:`perfkit.errors.UsageError` or :class:`perfkit.errors.ConfigError` naming where
the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>us|µs|ms|s|sec|m|min|h)?\s*$")
_DURATION_FACTORS = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str | float | int, *, default_unit: str = "s") -> float:
    """``"250ms"`` -> 0.25, ``"10s"`` -> 10.0, ``"2m"`` -> 120.0; a bare number uses ``default_unit``."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 10s or 250ms")
    if isinstance(text, (int, float)):
        value, unit = float(text), default_unit
    else:
        m = _DURATION.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a duration (use e.g. 500ms, 10s, 2m)")
        value, unit = float(m.group("num")), m.group("unit") or default_unit
    if value < 0:
        raise ValueError("a duration cannot be negative")
    return value * _DURATION_FACTORS[unit]


_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d*)?)\s*(?P<unit>b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_FACTORS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(text: str | int) -> int:
    """``"64MiB"`` -> 67108864; a bare number is bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a size cannot be negative")
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size (use e.g. 512KiB, 64MB)")
    return int(float(m.group("num")) * _SIZE_FACTORS[(m.group("unit") or "b").lower()])


def parse_percent(text: str | float | int) -> float:
    """``"10%"`` -> 0.10; a bare number below or equal to 1 is a fraction, above 1 a percentage."""
    if isinstance(text, bool):
        raise ValueError("expected a percentage such as 10%")
    if isinstance(text, (int, float)):
        value = float(text)
        return value if value <= 1 else value / 100
    s = text.strip()
    try:
        if s.endswith("%"):
            return float(s[:-1]) / 100
        value = float(s)
    except ValueError:
        raise ValueError(f"{text!r} is not a percentage (use e.g. 10%)") from None
    return value if value <= 1 else value / 100


def parse_list(text: str, item: Callable[[str], T]) -> list[T]:
    """``"1,4,16"`` -> ``[1, 4, 16]`` with ``item`` applied to each part."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p for p in parts):
        raise ValueError(f"{text!r} is not a comma-separated list")
    return [item(p) for p in parts]


def parse_duration_ms(text: str | float | int) -> int:
    """A duration in whole milliseconds, as PostgreSQL settings want it."""
    return round(parse_duration(text) * 1000)
