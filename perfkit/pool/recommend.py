"""What the measurements mean: pool size, pooling speedup, Little's law, Lambda sizing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfkit.pool.model import PointResult
    from perfkit.pool.worker import Mode

WITHIN = 0.05  # "as good as the best" = within 5% of the best throughput
LAMBDA_MB_PER_CONNECTION = 128
LAMBDA_MAX_CONNECTIONS = 10


def lambda_pool_size(memory_mb: int) -> int:
    """The common Lambda heuristic: one connection per 128 MB of memory, 1 to 10."""
    return max(1, min(LAMBDA_MAX_CONNECTIONS, memory_mb // LAMBDA_MB_PER_CONNECTION))


@dataclass(frozen=True)
class SizeChoice:
    """At one client count: the best pool size and the smallest one within 5% of it."""

    clients: int
    recommended_pool_size: int
    recommended_throughput: float
    best_pool_size: int
    best_throughput: float
    fresh_throughput: float | None

    @property
    def speedup(self) -> float | None:
        """Pooling speedup: the recommended pool's throughput over fresh connections."""
        if not self.fresh_throughput:
            return None
        return self.recommended_throughput / self.fresh_throughput


@dataclass(frozen=True)
class Recommendation:
    endpoint: str
    mode: Mode
    by_clients: tuple[SizeChoice, ...]

    @property
    def at_max(self) -> SizeChoice:
        return max(self.by_clients, key=lambda c: c.clients)

    @property
    def pool_size(self) -> int:
        """The answer: the smallest size within 5% of the best at the highest client count."""
        return self.at_max.recommended_pool_size

    @property
    def clients(self) -> int:
        return self.at_max.clients

    @property
    def speedup(self) -> float | None:
        return self.at_max.speedup


@dataclass(frozen=True)
class LambdaCheck:
    memory_mb: int
    heuristic_pool_size: int
    measured_pool_size: int | None
    heuristic_throughput_pct: float | None
    agrees: bool | None
    verdict: str


def recommend(points: Sequence[PointResult]) -> tuple[Recommendation, ...]:
    ok = [p for p in points if p.status == "ok" and p.requests > 0]
    out: list[Recommendation] = []
    keys: list[tuple[str, Mode]] = []
    for p in ok:
        if p.pool_size is not None and (p.endpoint, p.mode) not in keys:
            keys.append((p.endpoint, p.mode))
    for endpoint, mode in keys:
        choices: list[SizeChoice] = []
        clients = sorted({p.clients for p in ok if p.endpoint == endpoint and p.mode == mode})
        for c in clients:
            pts = [p for p in ok if p.endpoint == endpoint and p.mode == mode and p.clients == c]
            best = max(pts, key=lambda p: p.throughput)
            good = [p for p in pts if p.throughput >= (1 - WITHIN) * best.throughput]
            rec = min(good, key=lambda p: (p.pool_size or 0, -p.throughput))
            fresh = next(
                (p for p in ok if p.endpoint == endpoint and p.mode == "fresh" and p.clients == c),
                None,
            )
            choices.append(
                SizeChoice(
                    clients=c,
                    recommended_pool_size=rec.pool_size or 0,
                    recommended_throughput=rec.throughput,
                    best_pool_size=best.pool_size or 0,
                    best_throughput=best.throughput,
                    fresh_throughput=fresh.throughput if fresh else None,
                )
            )
        out.append(Recommendation(endpoint, mode, tuple(choices)))
    return tuple(out)


def lambda_check(
    memory_mb: int, recs: Sequence[Recommendation], points: Sequence[PointResult]
) -> LambdaCheck:
    heuristic = lambda_pool_size(memory_mb)
    rec = next((r for r in recs if r.endpoint == "primary" and r.mode == "pool"), None)
    if rec is None:
        return LambdaCheck(
            memory_mb, heuristic, None, None, None, "no pooled point was measured to compare with"
        )
    at = rec.at_max
    heur_point = next(
        (
            p
            for p in points
            if p.status == "ok"
            and p.endpoint == "primary"
            and p.mode == "pool"
            and p.clients == at.clients
            and p.pool_size == heuristic
        ),
        None,
    )
    pct = (
        heur_point.throughput / at.best_throughput * 100
        if heur_point and at.best_throughput
        else None
    )
    measured = at.recommended_pool_size
    if pct is None:
        return LambdaCheck(
            memory_mb,
            heuristic,
            measured,
            None,
            None,
            f"heuristic size {heuristic} was not measured at {at.clients} clients",
        )
    if heuristic == measured:
        agrees, verdict = True, f"agrees: {heuristic} is also the measured answer"
    elif pct >= (1 - WITHIN) * 100:
        agrees = True
        verdict = (
            f"agrees on throughput ({pct:.0f}% of the best), but {measured} would do: "
            f"{heuristic - measured} server connection(s) per instance more than needed"
            if heuristic > measured
            else f"agrees: {heuristic} reaches {pct:.0f}% of the best"
        )
    else:
        agrees = False
        verdict = (
            f"disagrees: {heuristic} reaches only {pct:.0f}% of the best throughput; "
            f"the measured answer is {measured}"
        )
    return LambdaCheck(memory_mb, heuristic, measured, pct, agrees, verdict)


def analyze(
    points: Sequence[PointResult], memory_mb: int | None
) -> tuple[tuple[Recommendation, ...], LambdaCheck | None]:
    recs = recommend(points)
    lam = lambda_check(memory_mb, recs, points) if memory_mb is not None else None
    return recs, lam
