"""The connection-storm model: how many Lambda instances a server's connection slots carry.

PostgreSQL gives client backends ``max_connections`` slots. A role without the
SUPERUSER attribute is refused while fewer than ``superuser_reserved_connections`` +
``reserved_connections`` slots are free ("remaining connection slots are reserved ...";
``reserved_connections`` exists from 16 and is waived for members of
``pg_use_reserved_connections``); a superuser is refused only when none is free ("sorry,
too many clients already"). Background workers, autovacuum and WAL senders have their own
slots. Everything here is pure arithmetic on those rules; :mod:`perfkit.pool.storm`
measures the same quantities on a live server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSlots:
    """A server's connection slots as seen by one role, at one moment."""

    max_connections: int
    superuser_reserved: int
    reserved: int  # reserved_connections (PostgreSQL 16+; 0 before)
    in_use: int  # client backends already connected (the monitor connection included)
    superuser: bool
    reserved_role: bool  # member of pg_use_reserved_connections (16+)

    @property
    def held_back(self) -> int:
        """Slots this role may never take: the reserved ones it is not entitled to."""
        if self.superuser:
            return 0
        return self.superuser_reserved + (0 if self.reserved_role else self.reserved)

    @property
    def usable(self) -> int:
        """New connections this role can open before the server refuses it."""
        return max(0, self.max_connections - self.held_back - self.in_use)

    @property
    def refusal(self) -> str:
        """What the server says to this role once the usable slots are gone."""
        if self.held_back == 0:
            return "too many clients"
        return "remaining connection slots are reserved"


@dataclass(frozen=True)
class InstancePool:
    """Each Lambda instance's client-side pool."""

    min_size: int  # connections opened at the cold start
    max_size: int  # what the pool may grow to under load
    reason: str  # where the sizes come from (the Lambda heuristic, the options)


@dataclass(frozen=True)
class LevelPrediction:
    """What the model says happens when ``instances`` cold-start at once."""

    instances: int
    wanted: int  # connections asked for
    accepted: int  # at most: under a storm, in-flight refusals can take a few more
    refused: int  # at least

    @property
    def saturated(self) -> bool:
        return self.refused > 0


def predict(slots: ServerSlots, per_instance: int, instances: int) -> LevelPrediction:
    """Connections ``instances`` cold starts of ``per_instance`` connections get."""
    wanted = per_instance * instances
    accepted = min(wanted, slots.usable)
    return LevelPrediction(instances, wanted, accepted, wanted - accepted)


def safe_concurrency(slots: ServerSlots, per_instance: int) -> int:
    """The largest number of instances whose connections all fit (Lambda reserved
    concurrency): no refusal at or below it, refusals from one more."""
    if per_instance < 1:
        raise ValueError("per_instance must be 1 or more")
    return slots.usable // per_instance


def saturation_point(slots: ServerSlots, per_instance: int) -> int:
    """The first concurrency the server refuses connections at."""
    return safe_concurrency(slots, per_instance) + 1


def storm_levels(
    slots: ServerSlots, per_instance: int, max_clients: int, *, may_exhaust: bool
) -> tuple[int, ...]:
    """Concurrencies to measure: a ramp up to the saturation point and past it.

    Never more than ``max_clients`` connections at once; without ``may_exhaust`` the
    storm stays below the usable slots (other applications keep at least one).
    """
    cap = max_clients // per_instance
    safe = safe_concurrency(slots, per_instance)
    if not may_exhaust:
        cap = min(cap, max(0, slots.usable - 1) // per_instance)
    wanted = {1, safe // 4, safe // 2, safe, safe + 1, safe + max(1, safe // 2), 2 * safe}
    if cap < 2 * safe:
        wanted.add(cap)  # the ramp is cut short: go as far as allowed
    return tuple(sorted(n for n in wanted if 1 <= n <= cap))


def exhausts(slots: ServerSlots, wanted: int) -> bool:
    """Whether ``wanted`` new connections take every slot other sessions of this role
    (and every non-superuser application) could use."""
    return wanted >= slots.usable
