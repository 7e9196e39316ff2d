"""Result types of ``suggest-indexes`` (frozen; rendering is in ``report``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verification:
    query: str
    before_ms: float
    after_ms: float
    plan_before: str
    plan_after: str


@dataclass(frozen=True)
class Suggestion:
    table: str
    columns: tuple[str, ...]
    expression: str | None
    where: str | None
    include: tuple[str, ...]
    statement: str
    name: str
    queries: tuple[str, ...]
    query_ids: tuple[str, ...]
    cost_before: float
    cost_after: float
    plan_before: str
    plan_after: str
    size_bytes: int | None
    table_rows: int
    table_writes: int
    benefit: float
    verification: tuple[Verification, ...] = ()

    @property
    def savings(self) -> float:
        return 1.0 - self.cost_after / self.cost_before if self.cost_before > 0 else 0.0


@dataclass(frozen=True)
class NoSuggestion:
    query: str
    code: str  # low_cost | no_candidates | covered | below_threshold | parse_error |
    # explain_error | unknown_tables | not_costed | excluded
    reason: str


@dataclass(frozen=True)
class Advice:
    kind: str  # trigram | gin
    table: str
    column: str
    statement: str
    queries: tuple[str, ...]
    note: str = "not costed"


@dataclass(frozen=True)
class HygieneItem:
    kind: str  # duplicate | prefix | unused
    table: str
    index: str
    detail: str
    size_bytes: int
    definition: str


@dataclass(frozen=True)
class QueryInfo:
    id: str
    query: str
    source: str
    calls: int
    total_ms: float | None
    params: str  # none | example | pg_stats | generic
    cost: float | None
    plan: str | None


@dataclass(frozen=True)
class Applied:
    name: str
    statement: str
    status: str  # created | exists | failed
    detail: str = ""


@dataclass(frozen=True)
class SuggestResult:
    method: str  # trial | hypopg | none
    method_note: str
    server_version: str
    suggestions: tuple[Suggestion, ...]
    no_suggestion: tuple[NoSuggestion, ...]
    advice: tuple[Advice, ...]
    hygiene: tuple[HygieneItem, ...]
    queries: tuple[QueryInfo, ...]
    explain_calls: int
    candidates_costed: int
    min_savings: float
    warnings: tuple[str, ...]
    applied: tuple[Applied, ...] = ()
