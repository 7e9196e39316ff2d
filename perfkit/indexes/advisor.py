"""``suggest-indexes``: cost candidate indexes for a workload and choose the best set."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfkit.db.connect import rolled_back
from perfkit.db.sql import load_sql
from perfkit.errors import UsageError
from perfkit.indexes.analysis import ParseFailed, QueryShape, TableAccess, analyze_query
from perfkit.indexes.candidates import (
    IndexDef,
    advice_for,
    candidates_for,
    covered_by_existing,
    quote_ident,
)
from perfkit.indexes.catalog import Catalog, load_catalog
from perfkit.indexes.hygiene import hygiene
from perfkit.indexes.model import (
    Advice,
    NoSuggestion,
    QueryInfo,
    Suggestion,
    SuggestResult,
    Verification,
)
from perfkit.indexes.plan import ExplainFailed, Plan, explain, param_count
from perfkit.indexes.workload import Workload, WorkloadQuery
from perfkit.report.progress import NullProgress, ProgressSink

# names HypoPG and trial builds give their indexes, shown as the suggestion's name
_TRIAL_NAME = re.compile(r"using (?:<\d+>\S+|perfkit_trial_\d+|perfkit_verify)")
METHODS = ("auto", "trial", "hypopg", "none")
#: Share of a query's cost a further index must still save to count for it.
MIN_EXTRA_GAIN = 0.1


@dataclass(frozen=True)
class SuggestOptions:
    min_savings: float = 0.5
    min_cost: float = 100.0
    method: str = "auto"
    allow_trial: bool = False  # --trial: build real indexes on a non-embedded target
    verify: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_candidates: int = 8
    verify_runs: int = 2


@dataclass
class PlannedQuery:
    q: WorkloadQuery
    shape: QueryShape | None = None
    mode: str = "none"
    values: tuple[str | None, ...] | None = None
    base: Plan | None = None
    cands: list[IndexDef] = field(default_factory=list)
    covered_by: str | None = None
    reason: NoSuggestion | None = None


class _Explainer:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.calls = 0

    def plan(self, item: PlannedQuery, *, analyze: bool = False) -> Plan:
        self.calls += 1
        generic = item.mode == "generic"
        return explain(self.conn, item.q.sql, item.values, generic=generic, analyze=analyze)


def _table_allowed(table: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    short = table.partition(".")[2]
    names = {table.lower(), short.lower()}
    if include and not names & {i.lower() for i in include}:
        return False
    return not names & {e.lower() for e in exclude}


def choose_parameters(item: PlannedQuery, catalog: Catalog) -> None:
    """Choose how ``$n`` are planned: logged values, pg_stats values, or a generic plan."""
    n = param_count(item.q.sql)
    if n == 0:
        item.mode, item.values = "none", None
        return
    if item.q.params is not None and len(item.q.params) >= n:
        item.mode, item.values = "example", tuple(item.q.params[:n])
        return
    columns: dict[int, tuple[str, str]] = {}
    for a in item.shape.accesses if item.shape else ():
        for k, col in a.params.items():
            columns.setdefault(k, (a.table, col))
    values: list[str | None] = []
    for k in range(1, n + 1):
        if k not in columns:
            break
        st = catalog.stats(*columns[k])
        v = st.sample_value() if st else None
        if v is None:
            break
        values.append(v)
    if len(values) == n:
        item.mode, item.values = "pg_stats", tuple(values)
    else:
        item.mode, item.values = "generic", None


class _Costing:
    """How a candidate's effect is measured: HypoPG, a real index rolled back, or not at all."""

    method = "none"

    def cost(
        self, cand: IndexDef, items: Sequence[PlannedQuery], ex: _Explainer
    ) -> tuple[dict[str, Plan], int | None, str | None]:
        return {}, None, None


class _Trial(_Costing):
    method = "trial"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.n = 0

    def cost(
        self, cand: IndexDef, items: Sequence[PlannedQuery], ex: _Explainer
    ) -> tuple[dict[str, Plan], int | None, str | None]:
        import psycopg

        self.n += 1
        name = f"perfkit_trial_{self.n}"
        schema = cand.table.partition(".")[0]
        qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
        version = int(self.conn.info.server_version)
        plans: dict[str, Plan] = {}
        try:
            with rolled_back(self.conn, read_write=True):
                self.conn.execute(cand.statement(concurrently=False, name=name).encode())
                row = self.conn.execute(
                    load_sql("idx_index_size", version), {"name": qualified}
                ).fetchone()
                size = int(row[0]) if row else None
                chk = self.conn.execute(
                    load_sql("idx_indcheckxmin", version), {"name": qualified}
                ).fetchone()
                if chk and chk[0]:
                    return (
                        {},
                        size,
                        "the trial index is not usable in its own transaction (HOT chains)",
                    )
                for it in items:
                    with contextlib.suppress(ExplainFailed):
                        plans[it.q.id] = ex.plan(it)
        except psycopg.Error as exc:
            return {}, None, str(exc).strip().splitlines()[0]
        return plans, size, None


class _Hypo(_Costing):
    method = "hypopg"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def cost(
        self, cand: IndexDef, items: Sequence[PlannedQuery], ex: _Explainer
    ) -> tuple[dict[str, Plan], int | None, str | None]:
        import psycopg

        version = int(self.conn.info.server_version)
        stmt = cand.statement(concurrently=False).replace(
            f"INDEX {quote_ident(cand.name())} ON", "INDEX ON"
        )
        plans: dict[str, Plan] = {}
        try:
            with self.conn.transaction():
                row = self.conn.execute(
                    load_sql("idx_hypopg_create", version), {"statement": stmt}
                ).fetchone()
        except psycopg.Error as exc:
            return {}, None, "HypoPG: " + str(exc).strip().splitlines()[0]
        oid = row[0] if row else None
        try:
            for it in items:
                with contextlib.suppress(ExplainFailed):
                    plans[it.q.id] = ex.plan(it)
            with self.conn.transaction():
                srow = self.conn.execute(
                    load_sql("idx_hypopg_size", version), {"oid": oid}
                ).fetchone()
            size = int(srow[0]) if srow else None
        finally:
            with self.conn.transaction():
                self.conn.execute(load_sql("idx_hypopg_drop", version), {"oid": oid})
        return plans, size, None


@contextlib.contextmanager
def _costing(
    conn: Any, opts: SuggestOptions, embedded: bool, notes: list[str]
) -> Iterator[_Costing]:
    """Pick the costing method; HypoPG created on the fly lives in a rolled-back transaction."""
    import psycopg

    method = opts.method
    trial_ok = embedded or opts.allow_trial
    if method == "trial" and not trial_ok:
        raise UsageError(
            "--method",
            "trial mode builds real indexes and blocks writes to the table while it runs; "
            "pass --trial to allow it on a non-embedded target",
        )
    if method == "none":
        notes.append("costing disabled (--method none): candidates are listed as advice")
        yield _Costing()
        return
    if method == "trial" or (method == "auto" and trial_ok):
        notes.append(
            "trial mode: each candidate is built for real inside a transaction that is rolled back"
        )
        yield _Trial(conn)
        return
    version = int(conn.info.server_version)
    with conn.transaction():
        row = conn.execute(load_sql("idx_hypopg_available", version)).fetchone()
    installed, available = (bool(row[0]), bool(row[1])) if row else (False, False)
    if installed:
        notes.append("HypoPG: hypothetical indexes, estimated by the planner")
        yield _Hypo(conn)
        return
    why = "HypoPG is not available on the server"
    if available:
        # the extension exists only inside this transaction, which is always rolled back
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(rolled_back(conn, read_write=True))
            conn.execute("CREATE EXTENSION hypopg")
        except psycopg.Error as exc:
            stack.close()
            why = f"HypoPG could not be created ({str(exc).strip().splitlines()[0]})"
        else:
            with stack:
                notes.append(
                    "HypoPG: extension created for this run inside a transaction that is rolled back"
                )
                yield _Hypo(conn)
            return
    if trial_ok:
        notes.append(f"{why}; using trial mode")
        yield _Trial(conn)
        return
    notes.append(f"{why}; pass --trial to cost candidates by building them (rolled back)")
    yield _Costing()


def _verify(
    conn: Any, cand: IndexDef, items: Sequence[PlannedQuery], ex: _Explainer, runs: int
) -> tuple[Verification, ...]:
    """EXPLAIN ANALYZE before and after building ``cand`` (all rolled back)."""
    import psycopg

    out = []
    usable = [it for it in items if it.mode != "generic"][:3]
    if not usable:
        return ()

    def fastest(it: PlannedQuery) -> Plan:
        best: Plan | None = None
        for _ in range(runs):
            p = ex.plan(it, analyze=True)
            if best is None or (p.execution_ms or 0) < (best.execution_ms or 0):
                best = p
        assert best is not None
        return best

    try:
        before: dict[str, tuple[float, str]] = {}
        with rolled_back(conn, read_write=True):
            for it in usable:
                p = fastest(it)
                before[it.q.id] = (p.execution_ms or 0.0, p.summary(cand.table))
        # a fresh transaction: an index built after this session's own updates in the
        # same transaction may be unusable to it (indcheckxmin)
        with rolled_back(conn, read_write=True):
            conn.execute(cand.statement(concurrently=False, name="perfkit_verify").encode())
            for it in usable:
                p = fastest(it)
                b_ms, b_plan = before[it.q.id]
                after = _TRIAL_NAME.sub(f"using {cand.name()}", p.summary(cand.table))
                out.append(Verification(it.q.display, b_ms, p.execution_ms or 0.0, b_plan, after))
    except (psycopg.Error, ExplainFailed):
        return tuple(out)
    return tuple(out)


def suggest_indexes(
    conn: Any,
    workload: Workload,
    options: SuggestOptions | None = None,
    *,
    embedded: bool = False,
    progress: ProgressSink | None = None,
) -> SuggestResult:
    """Advise indexes for ``workload`` on ``conn`` (a read-only session: every write
    perfkit makes to cost or verify a candidate happens in a rolled-back transaction)."""
    opts = options or SuggestOptions()
    prog = progress or NullProgress()
    catalog = load_catalog(conn)
    ex = _Explainer(conn)
    warnings = list(workload.warnings)
    notes: list[str] = []
    items = [PlannedQuery(q) for q in workload.queries]
    advice: dict[str, Advice] = {}
    version_text = conn.info.parameter_status("server_version") or str(conn.info.server_version)

    with _costing(conn, opts, embedded, notes) as backend:
        if opts.verify and backend.method != "trial":
            raise UsageError("--verify", "needs trial mode (the embedded database, or --trial)")
        prog.start("planning the workload", total=len(items))
        for it in items:
            prog.advance(1)
            _prepare(it, catalog, ex, opts, advice)
        prog.finish()
        live = [it for it in items if it.reason is None and it.cands]
        by_sig: dict[str, IndexDef] = {}
        users: dict[str, list[PlannedQuery]] = {}
        for it in live:
            for c in it.cands:
                by_sig.setdefault(c.signature, c)
                users.setdefault(c.signature, []).append(it)
        costs: dict[str, dict[str, float]] = {}
        plans_after: dict[str, dict[str, str]] = {}
        sizes: dict[str, int | None] = {}
        prog.start(f"costing candidates ({backend.method})", total=len(by_sig))
        for sig, cand in by_sig.items():
            prog.advance(1)
            plans, size, err = backend.cost(cand, users[sig], ex)
            if err and err not in warnings:
                warnings.append(f"{cand.statement()}: {err}")
            costs[sig] = {qid: p.cost for qid, p in plans.items()}
            plans_after[sig] = {
                qid: _TRIAL_NAME.sub(f"using {cand.name()}", p.summary(cand.table))
                for qid, p in plans.items()
            }
            sizes[sig] = size
        prog.finish()
        chosen = _select(live, by_sig, costs, sizes, opts.min_savings)
        suggestions = []
        used = {(ix.schema, ix.name) for ix in catalog.indexes}
        for sig, helped in chosen:
            cand = by_sig[sig]
            name = _unique_name(cand, used)
            rel = catalog.relations.get(cand.table)
            helped.sort(key=lambda it: -it.q.weight)
            ver: tuple[Verification, ...] = ()
            if opts.verify:
                ver = _verify(conn, cand, helped, ex, opts.verify_runs)
            top = helped[0]
            suggestions.append(
                Suggestion(
                    table=cand.table,
                    columns=tuple(cand.columns),
                    expression=cand.expression,
                    where=cand.where,
                    include=cand.include,
                    statement=cand.statement(name=name),
                    name=name,
                    queries=tuple(it.q.display for it in helped),
                    query_ids=tuple(it.q.id for it in helped),
                    cost_before=sum(it.base.cost for it in helped if it.base),
                    cost_after=sum(costs[sig][it.q.id] for it in helped),
                    plan_before=top.base.summary(cand.table) if top.base else "",
                    plan_after=plans_after[sig].get(top.q.id, ""),
                    size_bytes=sizes.get(sig),
                    table_rows=int(rel.rows) if rel else 0,
                    table_writes=rel.writes if rel else 0,
                    benefit=sum(
                        it.q.weight * (1 - costs[sig][it.q.id] / it.base.cost)
                        for it in helped
                        if it.base and it.base.cost > 0
                    ),
                    verification=ver,
                )
            )
    helped_ids = {qid for s in suggestions for qid in s.query_ids}
    no = []
    for it in items:
        if it.q.id in helped_ids:
            continue
        if it.reason is not None:
            no.append(it.reason)
            continue
        no.append(_why_not(it, by_sig, costs, opts.min_savings, backend.method))
    queries = tuple(
        QueryInfo(
            id=it.q.id,
            query=it.q.display,
            source=it.q.source,
            calls=it.q.calls,
            total_ms=it.q.total_ms,
            params=it.mode,
            cost=it.base.cost if it.base else None,
            plan=it.base.summary() if it.base else None,
        )
        for it in items
    )
    suggestions.sort(key=lambda s: -s.benefit)
    return SuggestResult(
        method=backend.method,
        method_note="; ".join(notes),
        server_version=version_text,
        suggestions=tuple(suggestions),
        no_suggestion=tuple(no),
        advice=tuple(advice.values()),
        hygiene=tuple(hygiene(catalog)),
        queries=queries,
        explain_calls=ex.calls,
        candidates_costed=len(by_sig) if backend.method != "none" else 0,
        min_savings=opts.min_savings,
        warnings=tuple(warnings),
    )


def _unique_name(cand: IndexDef, used: set[tuple[str, str]]) -> str:
    """``cand.name()``, numbered when an existing index or another suggestion has it."""
    schema = cand.table.partition(".")[0]
    name = cand.name()
    n = 2
    while (schema, name) in used:
        base = cand.name()[: -len("_idx")]
        name = f"{base[: 63 - 8]}_{n}_idx"
        n += 1
    used.add((schema, name))
    return name


def _prepare(
    it: PlannedQuery,
    catalog: Catalog,
    ex: _Explainer,
    opts: SuggestOptions,
    advice: dict[str, Advice],
) -> None:
    text = it.q.display
    try:
        it.shape = analyze_query(it.q.sql, catalog)
    except ParseFailed as exc:
        it.reason = NoSuggestion(text, "parse_error", f"could not parse: {exc}")
        return
    if not it.shape.is_query:
        it.reason = NoSuggestion(text, "no_candidates", "not a query")
        return
    if it.shape.unknown_tables and not it.shape.tables:
        names = ", ".join(it.shape.unknown_tables)
        it.reason = NoSuggestion(text, "unknown_tables", f"tables not in this database: {names}")
        return
    choose_parameters(it, catalog)
    try:
        it.base = ex.plan(it)
    except ExplainFailed as exc:
        it.reason = NoSuggestion(text, "explain_error", f"could not explain: {exc}")
        return
    accesses: list[TableAccess] = [
        a for a in it.shape.accesses if _table_allowed(a.table, opts.include, opts.exclude)
    ]
    for a in accesses:
        for kind, column, stmt in advice_for(a):
            adv = advice.get(stmt)
            qs = (*adv.queries, text) if adv else (text,)
            advice[stmt] = Advice(kind, a.table, column, stmt, qs)
    if it.shape.accesses and not accesses:
        it.reason = NoSuggestion(text, "excluded", "its tables are excluded by --include/--exclude")
        return
    if it.base.cost < opts.min_cost:
        it.reason = NoSuggestion(
            text, "low_cost", f"low initial cost ({it.base.cost:,.0f} < {opts.min_cost:,.0f})"
        )
        return
    cands: list[IndexDef] = []
    covered: list[str] = []
    for a in accesses:
        for c in candidates_for(a, catalog):
            ix = covered_by_existing(c, catalog)
            if ix is not None:
                covered.append(ix.name)
            else:
                cands.append(c)
    it.cands = cands[: opts.max_candidates]
    if not it.cands:
        if covered:
            it.reason = NoSuggestion(
                text, "covered", f"existing index {covered[0]} already covers its predicates"
            )
        elif any(text in a.queries for a in advice.values()):
            it.reason = NoSuggestion(
                text, "no_candidates", "no btree candidate; see the advice (not costed)"
            )
        else:
            it.reason = NoSuggestion(text, "no_candidates", "no candidate columns")


def _select(
    live: Sequence[PlannedQuery],
    by_sig: dict[str, IndexDef],
    costs: dict[str, dict[str, float]],
    sizes: dict[str, int | None],
    min_savings: float,
) -> list[tuple[str, list[PlannedQuery]]]:
    """Greedy workload-level choice: repeatedly take the index with the largest weighted
    saving over the queries it helps enough, given those already taken."""
    base = {it.q.id: it.base.cost for it in live if it.base}
    cur = dict(base)
    weight = {it.q.id: it.q.weight for it in live}

    def ok(sig: str, qid: str) -> bool:
        c = costs.get(sig, {}).get(qid)
        return c is not None and base.get(qid, 0) > 0 and c <= (1 - min_savings) * base[qid]

    def benefit(sig: str) -> float:
        total = 0.0
        for qid, c in costs.get(sig, {}).items():
            # an index must add a real gain over those already taken, not a rounding error
            if ok(sig, qid) and (cur[qid] - c) / base[qid] >= MIN_EXTRA_GAIN:
                total += weight[qid] * (cur[qid] - c) / base[qid]
        return total

    chosen: list[str] = []
    remaining = set(by_sig)
    while remaining:
        scored = [(benefit(s), s) for s in remaining]
        top = max((b for b, _ in scored), default=0.0)
        if top <= 1e-9:
            break
        # among near-equal benefits prefer the narrower index (fewer columns, no INCLUDE)
        near = [s for b, s in scored if b >= 0.95 * top]
        pick = min(
            near,
            key=lambda s: (len(by_sig[s].keys) + len(by_sig[s].include), sizes.get(s) or 0, s),
        )
        chosen.append(pick)
        remaining.discard(pick)
        for qid, c in costs.get(pick, {}).items():
            if ok(pick, qid):
                cur[qid] = min(cur[qid], c)
    # each query is served by the chosen index that makes it cheapest
    assigned: dict[str, list[PlannedQuery]] = {s: [] for s in chosen}
    for it in live:
        opts_ = [(costs[s][it.q.id], s) for s in chosen if ok(s, it.q.id)]
        if opts_:
            assigned[min(opts_)[1]].append(it)
    # a suggestion that is a prefix of another one folds into it when that still helps
    for s in list(chosen):
        for other in chosen:
            if other == s or not assigned.get(s) or not assigned.get(other):
                continue
            if by_sig[s].is_prefix_of(by_sig[other]) and all(
                ok(other, it.q.id) for it in assigned[s]
            ):
                assigned[other].extend(assigned[s])
                assigned[s] = []
    return [(s, assigned[s]) for s in chosen if assigned[s]]


def _why_not(
    it: PlannedQuery,
    by_sig: dict[str, IndexDef],
    costs: dict[str, dict[str, float]],
    min_savings: float,
    method: str,
) -> NoSuggestion:
    text = it.q.display
    if method == "none":
        best = it.cands[0].statement() if it.cands else ""
        return NoSuggestion(text, "not_costed", f"not costed; candidate: {best}")
    base = it.base.cost if it.base else 0.0
    best_cost, best_sig = None, None
    for c in it.cands:
        v = costs.get(c.signature, {}).get(it.q.id)
        if v is not None and (best_cost is None or v < best_cost):
            best_cost, best_sig = v, c.signature
    if best_cost is None or base <= 0 or best_sig is None:
        return NoSuggestion(text, "below_threshold", "no candidate could be costed")
    saving = 1 - best_cost / base
    if saving >= min_savings:
        return NoSuggestion(text, "below_threshold", "served better by another suggestion")
    return NoSuggestion(
        text,
        "below_threshold",
        f"savings below threshold: best ({by_sig[best_sig].key_sql()}) saves {saving:.0%} "
        f"(< {min_savings:.0%})",
    )
