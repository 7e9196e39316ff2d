"""``perfkit replay``: replay a query log against a database, without and with the
``CachedExecutor``, and measure it (see :mod:`perfkit.replay.engine`)."""

from perfkit.replay.model import ReplayOptions, ReplayResult

__all__ = ["ReplayOptions", "ReplayResult", "replay"]


def __getattr__(name: str) -> object:
    if name == "replay":
        from perfkit.replay.engine import replay

        return replay
    raise AttributeError(name)
