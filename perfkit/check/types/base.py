"""What every check type declares: its parameters, its metrics, and how to collect them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from perfkit.check.model import CheckSpec, Metric, MetricSpec
from perfkit.config import Config
from perfkit.report.progress import NullProgress, ProgressSink

ParamType = Literal[
    "str", "int", "float", "bool", "duration", "percent", "path", "str_list", "int_list", "table"
]


@dataclass(frozen=True)
class Param:
    """One key of a check table. ``min`` bounds numbers; paths resolve against the config's folder."""

    name: str
    type: ParamType
    required: bool = False
    default: Any = None
    min: float | None = None
    help: str = ""


@dataclass(frozen=True)
class RunEnv:
    """What a collector may use besides its own parameters."""

    config: Config = field(default_factory=lambda: Config(None, {}))
    dsn: str | None = None
    statement_timeout: str = "30s"
    progress: ProgressSink = field(default_factory=NullProgress)


class CheckType:
    """Base class; subclasses set the class attributes and implement :meth:`collect`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    # "module:function" the type calls; the module must exist for the type to be available.
    requires: ClassVar[tuple[str, ...]] = ()
    # Parameters of which exactly one must be given (e.g. ``query`` or ``file``).
    one_of: ClassVar[tuple[str, ...]] = ()

    def available(self) -> bool:
        # find_spec, not import: validating a config must not pay for pandas or psycopg.
        # A module present without its function fails the check at run time (exit 2).
        for ref in self.requires:
            module = ref.partition(":")[0]
            try:
                if importlib.util.find_spec(module) is None:
                    return False
            except (ImportError, ValueError):
                return False
        return True

    def validate(self, params: Mapping[str, Any], fail: Callable[[str, str], None]) -> None:
        """Cross-parameter checks; call ``fail(key, message)`` on the first problem."""

    def metric_specs(self, params: Mapping[str, Any]) -> tuple[MetricSpec, ...]:
        raise NotImplementedError

    def collect(self, check: CheckSpec, env: RunEnv) -> tuple[Metric, ...]:
        raise NotImplementedError

    # --- --against: running the check in two trees, one sample at a time --------------

    def rounds(self, params: Mapping[str, Any]) -> int:
        """How many samples :meth:`one_sample` splits the check into (1: not split)."""
        return 1

    def one_sample(self, params: Mapping[str, Any], first: bool) -> Mapping[str, Any]:
        """The parameters of one round (one sample of each timing, warm-up in the first)."""
        return params

    def rebase(self, params: Mapping[str, Any], move: Callable[[Path], Path]) -> dict[str, Any]:
        """The parameters for the other tree: ``move`` maps a path of this tree to that one."""
        return {k: move(v) if isinstance(v, Path) else v for k, v in params.items()}


def resolve_path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
