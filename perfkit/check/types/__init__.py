"""The check types. Each wraps one perfkit measurement; none re-implements it."""

from __future__ import annotations

from perfkit.check.types.analyze import AnalyzeCheck
from perfkit.check.types.base import CheckType, Param, RunEnv
from perfkit.check.types.batch import BatchCheck
from perfkit.check.types.coldstart import ColdstartCheck
from perfkit.check.types.command import CommandCheck
from perfkit.check.types.explain import ExplainCheck
from perfkit.check.types.indexes import SuggestIndexesCheck
from perfkit.check.types.livestats import StatsCheck
from perfkit.check.types.pool import PoolCheck

REGISTRY: dict[str, CheckType] = {
    t.name: t
    for t in (
        CommandCheck(),
        ColdstartCheck(),
        ExplainCheck(),
        SuggestIndexesCheck(),
        AnalyzeCheck(),
        PoolCheck(),
        BatchCheck(),
        StatsCheck(),
    )
}


def get_type(name: str) -> CheckType | None:
    return REGISTRY.get(name)


__all__ = ["REGISTRY", "CheckType", "Param", "RunEnv", "get_type"]
