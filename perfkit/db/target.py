"""Which database to talk to, and how to show it without leaking a password."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from perfkit.redact import mask_after_scheme, mask_key_values, mask_text, register

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


def mask_dsn(dsn: str) -> str:
    """Hide the password of a URI or key=value DSN. Never raises, whatever ``dsn`` is.

    A URI is masked from ``://`` to its last ``@`` (keeping the user name), even when it is
    malformed (``postgresql://u:pw@[::1/db``, ``u:pw%zz@h``); ``password=`` values are masked
    in both forms, quoted or not, terminated or not.
    """
    if not isinstance(dsn, str):
        dsn = str(dsn)
    m = _URI_START.match(dsn)
    if m:  # libpq takes a string for a URI when it starts with a scheme
        return mask_key_values(m.group(0) + mask_after_scheme(dsn[m.end() :]))
    return mask_text(dsn)


_URI_START = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.\-]*://")


def resolve_target(dsn: str | None = None, config: Mapping[str, Any] | None = None) -> Target:
    """Apply perfkit's precedence: option, PERFKIT_DSN, libpq variables, config, embedded."""
    if dsn:
        register(dsn)
        return Target(dsn, "option")
    env = os.environ.get("PERFKIT_DSN")
    if env:
        register(env)
        return Target(env, "PERFKIT_DSN")
    if any(os.environ.get(k) for k in _LIBPQ_VARS):
        return Target("", "libpq")
    db_section = (config or {}).get("db", {})
    if isinstance(db_section, Mapping) and db_section.get("dsn"):
        register(str(db_section["dsn"]))
        return Target(str(db_section["dsn"]), "config")
    return Target("", "embedded")
