"""``perfkit.toml``: every command option can be set in a section named after the command.

```toml
[analyze]
slow_ms = 200
ttl = "1,10,60"

[db]
dsn = "postgresql://app@db.internal/app"
statement_timeout = "30s"
```

Command-line options win over the file; the file wins over built-in defaults.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_CONFIG_NAME = "perfkit.toml"


@dataclass(frozen=True)
class Config:
    path: Path | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(self.path or DEFAULT_CONFIG_NAME, "must be a table", section=name)
        return value


def load_config(path: str | Path | None, *, search_cwd: bool = True) -> Config:
    """Load ``path``, or ``./perfkit.toml`` when it exists and no path is given."""
    if path is None:
        candidate = Path.cwd() / DEFAULT_CONFIG_NAME
        if not (search_cwd and candidate.is_file()):
            return Config(None, {})
        path = candidate
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, "config file not found") from None
    except OSError as exc:
        raise ConfigError(p, f"cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(p, "config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+)", str(exc))
        line = int(m.group(1)) if m else None
        msg = str(exc).split(" (at line")[0]
        raise ConfigError(p, f"invalid TOML: {msg}", line=line) from None
    return Config(p, data)


_PARAM_ALIASES = {"format": "fmt"}


def default_map(config: Config) -> dict[str, Any]:
    """Turn sections into click's ``default_map``: ``[suggest-indexes] min-savings`` ->
    ``{"suggest-indexes": {"min_savings": ...}}`` (section names are command names)."""

    def norm(section: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in section.items():
            key = k.replace("-", "_")
            # every command names its --format parameter `fmt` (format is a builtin)
            key = _PARAM_ALIASES.get(key, key)
            out[key] = norm(v) if isinstance(v, Mapping) else v
        return out

    return {
        name: norm(value) if isinstance(value, Mapping) else value
        for name, value in config.data.items()
    }


def unknown_options(config: Config, command: str, params: set[str]) -> list[str]:
    """Keys of section ``[command]`` that are not options of that command."""
    section = config.data.get(command)
    if not isinstance(section, Mapping):
        return []
    return [
        k
        for k in section
        if _PARAM_ALIASES.get(k.replace("-", "_"), k.replace("-", "_")) not in params
    ]
