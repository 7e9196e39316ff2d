"""Values shown in their unit: 12.3 ms, 1,234 rows, 98.5%."""

from __future__ import annotations

from perfkit.check.model import Limits


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "s":
        if abs(value) < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if abs(value) < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "per_s":
        return f"{value:,.1f}/s"
    if unit == "cost":
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def fmt_change(change: float | None) -> str:
    if change is None:
        return ""
    return f"{change * 100:+.1f}%"


def fmt_limits(limits: Limits, unit: str) -> str:
    parts = []
    if limits.max_increase is not None:
        parts.append(f"+{limits.max_increase * 100:g}%")
    if limits.max_decrease is not None:
        parts.append(f"-{limits.max_decrease * 100:g}%")
    if limits.max is not None:
        parts.append(f"<= {fmt_value(limits.max, unit)}")
    if limits.min is not None:
        parts.append(f">= {fmt_value(limits.min, unit)}")
    return ", ".join(parts)
