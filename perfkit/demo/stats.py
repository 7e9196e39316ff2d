"""The demo's live path: what pg_stat_statements saw over the workload, joined with the log.

Two snapshots of pg_stat_statements (:mod:`perfkit.livestats`) are taken on read-only
sessions right before and right after the workload. Their delta, restricted to the demo
database, is compared per fingerprint with what the statement log recorded: both paths
fingerprint the text with the same code, so the calls of each statement the workload made
should agree exactly. Where they do not, :class:`StatsComparison` says which statements
and why it may be (a statement only one path sees, e.g. the session's own ``SET``s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: statements the comparison lists per kind of (dis)agreement
TOP = 3


@dataclass(frozen=True)
class StatsQuery:
    """One fingerprint of the demo database over the workload, on both paths."""

    fingerprint: str
    query: str  # pg_stat_statements' normalised text (or the log's, if only there)
    stats_calls: int | None  # None: pg_stat_statements has no such statement
    stats_total_ms: float | None  # execution time
    stats_plan_ms: float | None  # planning time (None: not tracked or not in the view)
    log_calls: int | None  # None: the log has no such statement
    log_total_ms: float | None

    @property
    def stats_time_ms(self) -> float | None:
        """Execution plus planning time: what the log's duration of a statement covers."""
        if self.stats_total_ms is None:
            return None
        return self.stats_total_ms + (self.stats_plan_ms or 0.0)

    @property
    def agrees(self) -> bool:
        return self.stats_calls is not None and self.stats_calls == self.log_calls


@dataclass(frozen=True)
class StatsComparison:
    """pg_stat_statements over the workload, and how it joins the log path.

    ``problem`` is set (and every figure is missing) when the view could not be read;
    ``delta_problems`` are the reasons the delta itself is not the whole interval."""

    problem: str | None
    delta_problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    queries: tuple[StatsQuery, ...] = ()  # by stats total time, then log-only ones

    @property
    def complete(self) -> bool:
        return self.problem is None and not self.delta_problems

    @property
    def stats_queries(self) -> tuple[StatsQuery, ...]:
        return tuple(q for q in self.queries if q.stats_calls is not None)

    @property
    def calls(self) -> int:
        return sum(q.stats_calls or 0 for q in self.queries)

    @property
    def total_ms(self) -> float:
        return sum(q.stats_total_ms or 0.0 for q in self.queries)

    @property
    def joined(self) -> tuple[StatsQuery, ...]:
        """Fingerprints both paths saw."""
        return tuple(q for q in self.queries if q.stats_calls is not None and q.log_calls)

    @property
    def differ(self) -> tuple[StatsQuery, ...]:
        """Fingerprints both paths saw with a different number of calls."""
        return tuple(q for q in self.joined if not q.agrees)

    @property
    def stats_only(self) -> tuple[StatsQuery, ...]:
        return tuple(q for q in self.queries if q.stats_calls is not None and not q.log_calls)

    @property
    def log_only(self) -> tuple[StatsQuery, ...]:
        return tuple(q for q in self.queries if q.stats_calls is None)


def compare(delta: Any, log_fingerprints: Iterable[Any]) -> StatsComparison:
    """Join ``delta`` (a :class:`perfkit.livestats.delta.StatsDelta`; only its rows of the
    database the snapshots were read from) with the log path's fingerprints (``id``,
    ``query``, ``calls``, ``total_ms``)."""
    stats: dict[str, list[Any]] = {}
    for r in delta.rows:
        if r.dbid == delta.dbid:
            stats.setdefault(r.fingerprint, []).append(r)
    log = {f.id: f for f in log_fingerprints}
    queries = [
        StatsQuery(
            fingerprint=fp,
            query=rows[0].query,
            stats_calls=sum(r.calls for r in rows),
            stats_total_ms=sum(r.exec.total for r in rows),
            stats_plan_ms=None
            if any(r.plan is None for r in rows)
            else sum(r.plan.total for r in rows if r.plan is not None),
            log_calls=log[fp].calls if fp in log else None,
            log_total_ms=log[fp].total_ms if fp in log else None,
        )
        for fp, rows in stats.items()
    ]
    queries.sort(key=lambda q: (-(q.stats_time_ms or 0.0), -(q.stats_calls or 0), q.fingerprint))
    queries += [
        StatsQuery(f.id, f.query, None, None, None, f.calls, f.total_ms)
        for f in log.values()
        if f.id not in stats
    ]
    return StatsComparison(
        problem=None,
        delta_problems=tuple(delta.problems),
        notes=tuple(delta.notes),
        seconds=delta.seconds,
        queries=tuple(queries),
    )


def log_top(log_fingerprints: Sequence[Any], n: int = TOP) -> list[str]:
    """The log path's top ``n`` fingerprints by total time."""
    ranked = sorted(log_fingerprints, key=lambda f: (-f.total_ms, -f.calls, f.id))
    return [f.id for f in ranked[:n]]
