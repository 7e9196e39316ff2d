"""Which database to talk to, and how to show it without leaking a password."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

Source = Literal["option", "PERFKIT_DSN", "libpq", "config", "embedded"]

_LIBPQ_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")


@dataclass(frozen=True)
class Target:
    """A resolved connection target. ``dsn`` may be empty: libpq reads ``PG*`` itself."""

    dsn: str
    source: Source

    @property
    def embedded(self) -> bool:
        return self.source == "embedded"

    @property
    def masked(self) -> str:
        if self.source == "libpq" and not self.dsn:
            parts = [f"{k.lower()[2:]}={os.environ[k]}" for k in _LIBPQ_VARS if os.environ.get(k)]
            return "libpq(" + " ".join(parts) + ")"
        return mask_dsn(self.dsn)

    def __str__(self) -> str:
        return self.masked


_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """Hide the password of a URI or key=value DSN."""
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return "<unparseable dsn>"
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hostinfo = netloc.rsplit("@", 1)
            if ":" in userinfo:
                user = userinfo.split(":", 1)[0]
                netloc = f"{user}:***@{hostinfo}"
        query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return _KV_PASSWORD.sub(lambda m: m.group(1) + "***", dsn)


def resolve_target(dsn: str | None = None, config: Mapping[str, Any] | None = None) -> Target:
    """Apply perfkit's precedence: option, PERFKIT_DSN, libpq variables, config, embedded."""
    if dsn:
        return Target(dsn, "option")
    env = os.environ.get("PERFKIT_DSN")
    if env:
        return Target(env, "PERFKIT_DSN")
    if any(os.environ.get(k) for k in _LIBPQ_VARS):
        return Target("", "libpq")
    db_section = (config or {}).get("db", {})
    if isinstance(db_section, Mapping) and db_section.get("dsn"):
        return Target(str(db_section["dsn"]), "config")
    return Target("", "embedded")
