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
    values: str = "example"  # example | logged | pg_stats: where the values came from
    cost_before: float | None = None
    cost_after: float | None = None
    helps: bool = True  # the index is used and the set saves --min-savings for these values


@dataclass(frozen=True)
class QuerySaving:
    """What one query served by a suggestion saves with the whole suggested set."""

    query: str
    cost_before: float
    cost_after: float
    indexes: tuple[str, ...]  # the suggested indexes its plan uses

    @property
    def savings(self) -> float:
        return 1.0 - self.cost_after / self.cost_before if self.cost_before > 0 else 0.0


@dataclass(frozen=True)
class WriteCost:
    """Estimated write overhead of one suggestion."""

    entry_bytes: float  # estimated index entry size
    row_bytes: float  # average heap row size
    ratio: float  # entry_bytes / row_bytes: extra bytes per inserted or non-HOT updated row
    inserts_per_s: float | None  # from pg_stat_user_tables over the statistics window
    updates_per_s: float | None
    deletes_per_s: float | None
    bytes_per_s: float | None  # entry size x (inserts + updates that are not HOT)
    updated_columns: tuple[str, ...]  # its columns the workload's UPDATEs set
    breaks_hot: bool


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
    per_query: tuple[QuerySaving, ...] = ()
    write_cost: WriteCost | None = None

    @property
    def savings(self) -> float:
        return 1.0 - self.cost_after / self.cost_before if self.cost_before > 0 else 0.0


@dataclass(frozen=True)
class NoSuggestion:
    query: str
    code: str  # low_cost | no_candidates | covered | below_threshold | parse_error |
    # explain_error | unknown_tables | not_costed | excluded | write_cost | verify_rejected
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
    rejected: tuple[NoSuggestion, ...] = ()  # accepted by cost, rejected by --verify
    workload_cost_before: float = 0.0
    workload_cost_after: float = 0.0
