"""PostgreSQL log timestamps (``2024-05-01 10:00:00.123 UTC``) to aware datetimes, fast.

Logs repeat the same second thousands of times, so the expensive part (date and zone)
is cached per second and only the milliseconds are applied per line. Zone
abbreviations are mapped to fixed offsets (PostgreSQL prints abbreviations such as
``CET``/``CEST`` that carry the offset in force); an unknown abbreviation is treated
as UTC and reported once through ``warn``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

UTC = dt.timezone.utc
MILLISECONDS = {f"{i:03d}": dt.timedelta(milliseconds=i) for i in range(1000)}

# offsets in minutes
_ZONES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "IST": 330,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180,
    "JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AWST": 480, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "EST": -300, "EDT": -240,
    "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AKST": -540, "AKDT": -480, "HST": -600, "BRT": -180, "ART": -180, "SAST": 120,
    "PKT": 300, "ICT": 420, "WIB": 420, "PHT": 480,
}  # fmt: skip


def _zone(name: str) -> dt.tzinfo | None:
    if not name:
        return UTC
    off = _ZONES.get(name.upper())
    if off is not None:
        return UTC if off == 0 else dt.timezone(dt.timedelta(minutes=off))
    if name[0] in "+-":
        digits = name[1:].replace(":", "")
        if digits.isdigit() and len(digits) in (2, 4):
            minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) == 4 else 0)
            return dt.timezone(dt.timedelta(minutes=minutes if name[0] == "+" else -minutes))
    return None


class TimestampParser:
    """Callable: ``parse("2024-05-01 10:00:00.123 CEST")`` -> aware datetime or None."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._cache: dict[str, dt.datetime | None] = {}
        self._warn = warn
        self._warned: set[str] = set()
        self._last = ""
        self._last_value: dt.datetime | None = None

    def __call__(self, s: str) -> dt.datetime | None:
        # fast path: "YYYY-MM-DD HH:MM:SS.mmm ZONE" (%m) with its second already seen
        if len(s) > 23 and s[19] == "." and s[23] == " ":
            base = self._cache.get(s[:19] + s[23:])
            if base is not None:
                return base + MILLISECONDS[s[20:23]]
        elif s == self._last:
            return self._last_value
        value = self._parse(s)
        self._last = s
        self._last_value = value
        return value

    def base_cache(self) -> dict[str, dt.datetime | None]:
        """Second-resolution cache, keyed ``"YYYY-MM-DD HH:MM:SS ZONE"`` (for inlining)."""
        return self._cache

    def _parse(self, s: str) -> dt.datetime | None:
        sp = s.find(" ", 19)
        if sp < 0:
            zone = ""
            frac = s[19:]
        else:
            zone = s[sp + 1 :]
            frac = s[19:sp]
        key = s[:19] + (" " + zone if zone else "")
        base = self._cache.get(key)
        if base is None:
            if key in self._cache:
                return None
            base = self._parse_base(s[:19], zone)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = base
            if base is None:
                return None
        if frac:
            # ".123" (ms) or ".123456" (us); anything else is ignored
            digits = frac[1:7]
            if frac[0] == "." and digits.isdigit():
                return base.replace(microsecond=int(digits.ljust(6, "0")))
        return base

    def _parse_base(self, base: str, zone: str) -> dt.datetime | None:
        try:
            naive = dt.datetime.strptime(base, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        tz = _zone(zone)
        if tz is None:
            if zone not in self._warned:
                self._warned.add(zone)
                self._warn(f"unknown time zone abbreviation {zone!r}: its times are read as UTC")
            tz = UTC
        return naive.replace(tzinfo=tz)


def parse_iso(value: object) -> dt.datetime | None:
    """Timestamps of application JSON lines: ISO 8601 text or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            ts = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return dt.datetime.fromtimestamp(float(text), tz=UTC)
            except (ValueError, OverflowError, OSError):
                return None
        return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return None
