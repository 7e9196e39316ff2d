"""Parse and strictly validate the ``[check]`` section of ``perfkit.toml``.

Layout::

    [check]                      # gate settings (also the defaults of the CLI options)
    alpha = 0.05
    retries = 3

    [check.startup]              # one check per table; the table name is the check's name
    type = "command"
    run = "python -c 'import app'"
    max_increase = "10%"         # limits of the check's main metric ...

    [check.cold.limits]          # ... or of any metric by name
    total = { max_increase = "10%", max = "300ms" }
    modules = { max = 150 }

Every error names the file, the table and the key, and exits 2.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from perfkit.check.model import CheckSpec as CheckSpecT
from perfkit.check.model import GateConfig, Limits, MetricSpec
from perfkit.check.types import REGISTRY, get_type
from perfkit.check.types.base import Param, resolve_path
from perfkit.config import Config
from perfkit.errors import ConfigError
from perfkit.units import parse_duration, parse_percent

SECTION = "check"
# Scalar keys of [check]: the gate's settings, which are also CLI option defaults.
SETTINGS: dict[str, str] = {
    "alpha": "float",
    "retries": "int",
    "baseline": "str",
    "against": "str",
    "against_dir": "str",
    "save_baseline": "str",
    "markdown": "str",
    "junit": "str",
    "output": "str",
    "dsn": "str",
    "statement_timeout": "str",
    "only": "str_list",
}
LIMIT_KEYS = ("max_increase", "max_decrease", "max", "min")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_UNIT_WORDS = {
    "s": "a duration",
    "count": "a count",
    "cost": "a plan cost",
    "rows": "a row count",
    "ratio": "a ratio",
    "per_s": "a rate per second",
}


def parse_gate_config(config: Config) -> GateConfig:
    """Validate ``config``'s ``[check]`` section; raises :class:`ConfigError` on the first problem."""
    path = config.path or Path("perfkit.toml")
    if config.path is None:
        raise ConfigError(path, "config file not found (run `perfkit init`, or pass --config FILE)")
    raw = config.data.get(SECTION)
    if raw is None:
        raise ConfigError(path, "no [check] section (run `perfkit init` to write one)")
    if not isinstance(raw, Mapping):
        raise ConfigError(path, "must be a table", section=SECTION)
    settings: dict[str, Any] = {}
    checks: list[CheckSpecT] = []
    base_dir = path.resolve().parent
    for key, value in raw.items():
        if isinstance(value, Mapping):
            checks.append(_parse_check(path, base_dir, key, value))
        else:
            settings[key] = _parse_setting(path, key, value)
    if not checks:
        raise ConfigError(
            path, "no checks: add a table such as [check.startup] with a type", section=SECTION
        )
    return GateConfig(path=path, checks=tuple(checks), settings=settings)


def _parse_setting(path: Path, key: str, value: Any) -> Any:
    kind = SETTINGS.get(key.replace("-", "_"))
    if kind is None:
        raise ConfigError(
            path,
            f"unknown setting (settings: {', '.join(sorted(SETTINGS))}; "
            "a check is a table such as [check.startup])",
            section=SECTION,
            key=key,
        )
    if key == "alpha":
        if not _is_number(value) or not 0 < float(value) < 1:
            raise ConfigError(path, "must be a number between 0 and 1", section=SECTION, key=key)
        return float(value)
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(path, "must be a whole number >= 0", section=SECTION, key=key)
        return value
    if kind == "str_list":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(path, "must be a list of strings", section=SECTION, key=key)
        return value
    if not isinstance(value, str):
        raise ConfigError(path, "must be a string", section=SECTION, key=key)
    return value


def _parse_check(path: Path, base_dir: Path, name: str, table: Mapping[str, Any]) -> CheckSpecT:
    section = f"{SECTION}.{name}"

    def fail(key: str | None, message: str, sub: str | None = None) -> NoReturn:
        raise ConfigError(path, message, section=f"{section}.{sub}" if sub else section, key=key)

    if not _NAME.match(name):
        fail(None, "a check name may only contain letters, digits, '-' and '_'")
    if name.replace("-", "_") in (*SETTINGS, "fmt"):
        # [check] also holds the CLI's option defaults: a table there would shadow one
        fail(None, f"{name!r} is the name of a setting; choose another check name")
    if "type" not in table:
        fail("type", f"missing: say which check this is ({', '.join(sorted(REGISTRY))})")
    type_name = table["type"]
    if not isinstance(type_name, str):
        fail("type", "must be a string")
    ctype = get_type(type_name)
    if ctype is None:
        fail("type", f"unknown check type {type_name!r} (known: {', '.join(sorted(REGISTRY))})")
    if not ctype.available():
        fail("type", f"check type {type_name!r} is not available in this build")

    by_name = {p.name: p for p in ctype.params}
    allowed = {"type", "limits", *LIMIT_KEYS, *by_name}
    for key in table:
        if key not in allowed:
            fail(
                key,
                f"unknown key for {_a(type_name)} check (valid: {', '.join(sorted(allowed))})",
            )
    params: dict[str, Any] = {}
    for p in ctype.params:
        if p.name in table:
            params[p.name] = _convert(p, table[p.name], base_dir, lambda m, k=p.name: fail(k, m))
        elif p.required and not (ctype.one_of and p.name in ctype.one_of):
            fail(p.name, f"missing: {_a(type_name)} check needs it")
        else:
            default = p.default
            if p.type == "path" and isinstance(default, str):
                default = resolve_path(base_dir, default)
            if p.type == "duration" and isinstance(default, str):
                default = parse_duration(default)
            if p.type == "percent" and isinstance(default, str):
                default = _relative(default)
            params[p.name] = default
    if ctype.one_of:
        given = [k for k in ctype.one_of if k in table]
        if len(given) != 1:
            options = " or ".join(ctype.one_of)
            fail(
                ctype.one_of[0] if not given else given[1],
                f"give exactly one of {options}"
                if given
                else f"missing: {_a(type_name)} check needs {options}",
            )
    ctype.validate(params, lambda k, m: fail(k, m))
    specs = ctype.metric_specs(params)
    limits = _parse_limits(path, section, table, specs, type_name)
    return CheckSpecT(
        name=name,
        type=type_name,
        params=params,
        limits=limits,
        metrics=specs,
        base_dir=base_dir,
        source=path,
        fingerprint=_fingerprint(type_name, table),
    )


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _fingerprint(type_name: str, table: Mapping[str, Any]) -> str:
    definition = {k: v for k, v in table.items() if k not in ("limits", *LIMIT_KEYS)}
    definition["type"] = type_name
    text = json.dumps(definition, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _parse_limits(
    path: Path,
    section: str,
    table: Mapping[str, Any],
    specs: tuple[MetricSpec, ...],
    type_name: str,
) -> dict[str, Limits]:
    out: dict[str, Limits] = {}
    shorthand = {k: table[k] for k in LIMIT_KEYS if k in table}
    if shorthand:
        primary = specs[0]
        out[primary.name] = _parse_limit_table(path, section, shorthand, primary)
    raw = table.get("limits")
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        raise ConfigError(
            path,
            "must be a table of metric = { max_increase = ..., max = ... }",
            section=section,
            key="limits",
        )
    by_name = {s.name: s for s in specs}
    for metric, value in raw.items():
        spec = by_name.get(metric)
        if spec is None:
            raise ConfigError(
                path,
                f"{_a(type_name)} check has no metric {metric!r} (metrics: {', '.join(by_name)})",
                section=f"{section}.limits",
                key=metric,
            )
        if not isinstance(value, Mapping):
            raise ConfigError(
                path,
                'must be a table such as { max_increase = "10%" }',
                section=f"{section}.limits",
                key=metric,
            )
        if metric in out:
            raise ConfigError(
                path,
                f"limits of {metric!r} are also given at the top of the check; give them once",
                section=f"{section}.limits",
                key=metric,
            )
        out[metric] = _parse_limit_table(path, f"{section}.limits.{metric}", value, spec)
    return out


def _parse_limit_table(
    path: Path, section: str, table: Mapping[str, Any], spec: MetricSpec
) -> Limits:
    values: dict[str, float] = {}
    for key, value in table.items():
        if key not in LIMIT_KEYS:
            raise ConfigError(
                path, f"unknown limit (limits: {', '.join(LIMIT_KEYS)})", section=section, key=key
            )
        if spec.better == "lower" and key in ("max_decrease", "min"):
            other = "max_increase" if key == "max_decrease" else "max"
            raise ConfigError(
                path,
                f"{spec.name} is better when lower: use {other}",
                section=section,
                key=key,
            )
        if spec.better == "higher" and key in ("max_increase", "max"):
            other = "max_decrease" if key == "max_increase" else "min"
            raise ConfigError(
                path,
                f"{spec.name} is better when higher: use {other}",
                section=section,
                key=key,
            )
        try:
            if key in ("max_increase", "max_decrease"):
                parsed = _relative(value)
            else:
                parsed = parse_value(value, spec.unit)
        except ValueError as exc:
            raise ConfigError(path, str(exc), section=section, key=key) from None
        values[key] = parsed
    return Limits(**values)


def _relative(value: Any) -> float:
    if isinstance(value, str) and not value.strip().endswith("%"):
        raise ValueError(f'{value!r} is not a percentage (use e.g. "10%")')
    if not _is_number(value) and not isinstance(value, str):
        raise ValueError(f'{value!r} is not a percentage (use e.g. "10%")')
    parsed = parse_percent(value)
    if parsed < 0 or math.isnan(parsed):
        raise ValueError("a relative limit cannot be negative")
    return parsed


def parse_value(value: Any, unit: str) -> float:
    """An absolute limit in ``unit``: durations need their unit, counts are plain numbers."""
    what = _UNIT_WORDS.get(unit, unit)
    if unit == "s":
        if not isinstance(value, str):
            raise ValueError(f'wrong unit: {value!r} has none; give {what} such as "250ms"')
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"wrong unit: {exc}") from None
    if unit == "ratio":
        if isinstance(value, str) and value.strip().endswith("%"):
            return parse_percent(value)
        if _is_number(value) and 0 <= float(value) <= 1:
            return float(value)
        raise ValueError(f'wrong unit: {value!r} is not {what}; give e.g. "95%" or 0.95')
    if _is_number(value):
        if math.isnan(float(value)) or float(value) < 0:
            raise ValueError("must be a number >= 0")
        return float(value)
    if isinstance(value, str) and _looks_like_unit(value):
        raise ValueError(f"wrong unit: {value!r}; {what} is a plain number")
    raise ValueError(f"must be a number, not {value!r}")


def _looks_like_unit(text: str) -> bool:
    return bool(re.match(r"^\s*[\d.]+\s*[A-Za-zµ%/]+\s*$", text))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _convert(p: Param, value: Any, base_dir: Path, fail: Any) -> Any:
    t = p.type
    if t in ("str", "path"):
        if not isinstance(value, str):
            fail(f"must be a string, not {_toml_type(value)}")
        return resolve_path(base_dir, value) if t == "path" else value
    if t == "bool":
        if not isinstance(value, bool):
            fail(f"must be true or false, not {_toml_type(value)}")
        return value
    if t == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"must be a whole number, not {value!r}")
        if p.min is not None and value < p.min:
            fail(f"must be at least {p.min:g}")
        return value
    if t == "float":
        if not _is_number(value):
            fail(f"must be a number, not {value!r}")
        if p.min is not None and value < p.min:
            fail(f"must be at least {p.min:g}")
        return float(value)
    if t == "duration":
        if not isinstance(value, str):
            fail(f'wrong unit: {value!r} has none; give a duration such as "30s"')
        try:
            return parse_duration(value)
        except ValueError as exc:
            fail(f"wrong unit: {exc}")
    if t == "percent":
        try:
            return _relative(value)
        except ValueError as exc:
            fail(str(exc))
    if t == "str_list":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            fail("must be a list of strings")
        return tuple(value)
    if t == "int_list":
        if not (
            isinstance(value, list)
            and value
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            fail("must be a non-empty list of whole numbers > 0")
        return tuple(value)
    if t == "table":
        if not isinstance(value, Mapping):
            fail("must be a table")
        return dict(value)
    raise AssertionError(t)  # pragma: no cover


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__
