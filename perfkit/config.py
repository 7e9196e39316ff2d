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
from collections.abc import Callable, Iterable, Mapping
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


def _norm(key: str) -> str:
    key = key.replace("-", "_")
    return _PARAM_ALIASES.get(key, key)


def unknown_options(config: Config, command: str, params: set[str]) -> list[str]:
    """Keys of section ``[command]`` that are not options of that command."""
    section = config.data.get(command)
    if not isinstance(section, Mapping):
        return []
    return [k for k in section if _norm(k) not in params]


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was probably meant to be (``-`` and ``_`` are the same), if any."""
    import difflib

    by_norm = {c.replace("-", "_").lower(): c for c in choices}
    hits = difflib.get_close_matches(word.replace("-", "_").lower(), list(by_norm), n=1)
    return by_norm[hits[0]] if hits else None


def _did_you_mean(word: str, choices: Iterable[str], fmt: str = "{}") -> str:
    match = close_match(word, choices)
    return f"; did you mean {fmt.format(match)}?" if match else ""


# Keys of [db] besides the session settings (perfkit.db.connect.SessionDefaults' fields).
DB_TARGET_KEYS = ("dsn",)
# [check] tables are validated by perfkit.check.config, which knows every check type.
SELF_VALIDATED_SECTIONS = frozenset({"check"})


def db_keys() -> tuple[str, ...]:
    """Every key ``[db]`` may hold: the target and the session settings perfkit applies."""
    from dataclasses import fields

    from perfkit.db.connect import SessionDefaults

    return DB_TARGET_KEYS + tuple(f.name for f in fields(SessionDefaults))


def validate_config(
    config: Config,
    commands: Iterable[str],
    params_of: Callable[[str], set[str] | None],
) -> None:
    """Raise :class:`ConfigError` for the first unknown section, unknown key or bad ``[db]``
    value of ``config``. ``commands`` are the command names (each may have a section);
    ``params_of(name)`` gives the parameter names of that command (``None``: not checked).
    """
    if config.path is None:
        return
    path = config.path
    known = {"db", *SELF_VALIDATED_SECTIONS, *commands}
    for name, value in config.data.items():
        if name not in known:
            hint = _did_you_mean(name, sorted(known), "[{}]")
            raise ConfigError(path, f"unknown section{hint}", section=name)
        if not isinstance(value, Mapping):
            raise ConfigError(path, "must be a table", section=name)
    db = config.data.get("db")
    if isinstance(db, Mapping):
        allowed = db_keys()
        for key in db:
            if key not in allowed:
                raise ConfigError(
                    path, f"unknown key{_did_you_mean(key, allowed)}", section="db", key=key
                )
        dsn = db.get("dsn")
        if dsn is not None and not isinstance(dsn, str):
            raise ConfigError(
                path, "must be a string (a libpq URI or key=value DSN)", section="db", key="dsn"
            )
        from perfkit.db.connect import session_defaults

        session_defaults(config.data, path=str(path))
    for name in config.data:
        if name == "db" or name in SELF_VALIDATED_SECTIONS:
            continue
        params = params_of(name)
        if params is None:
            continue
        bad = unknown_options(config, name, params)
        if bad:
            choices = sorted({_REVERSE_ALIASES.get(p, p) for p in params}, key=str)
            raise ConfigError(
                path,
                f"unknown option for perfkit {name}{_did_you_mean(bad[0], choices)}",
                section=name,
                key=bad[0],
            )


_REVERSE_ALIASES = {v: k for k, v in _PARAM_ALIASES.items()}


def config_key(config: Config, section: str, param: str) -> str | None:
    """The key of ``[section]`` that set parameter ``param``, spelt as in the file."""
    data = config.data.get(section)
    if not isinstance(data, Mapping):
        return None
    for key in data:
        if _norm(key) == param:
            return str(key)
    return None
