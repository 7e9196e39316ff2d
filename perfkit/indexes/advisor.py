"""``suggest-indexes``: cost candidate indexes for a workload and choose the best set.

The set is chosen as a whole: every candidate (or bundle of candidates that only help
together, such as one index per side of a join or one per disjunct of an OR) is costed
with the indexes already chosen present, the one that saves the most of the workload's
cost is taken, the rest are costed again where it changed something, and a last pass
drops members the others make useless. Thresholds apply to what the whole set does for
each query.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfkit.db.connect import rolled_back
from perfkit.db.ident import quote_ident
from perfkit.db.sql import load_sql
from perfkit.errors import UsageError
from perfkit.indexes.candidates import (
    IndexDef,
    advice_for,
    bundles_for,
    candidates_for,
    covered_by_existing,
)
from perfkit.indexes.catalog import Catalog, load_catalog
from perfkit.indexes.hygiene import hygiene
from perfkit.indexes.model import (
    Advice,
    NoSuggestion,
    QueryInfo,
    QuerySaving,
    Suggestion,
    SuggestResult,
    Verification,
    WriteCost,
)
from perfkit.indexes.plan import ExplainFailed, Plan, explain, param_count
from perfkit.indexes.shape import ParseFailed, QueryShape, TableAccess, analyze_query
from perfkit.indexes.workload import Workload, WorkloadQuery
from perfkit.report.progress import NullProgress, ProgressSink

METHODS = ("auto", "trial", "hypopg", "none")
#: Share of a query's cost a further index must still save to count for it.
MIN_EXTRA_GAIN = 0.1
#: Weight of breaking HOT updates: share of each such UPDATE's weight charged to an index.
HOT_PENALTY = 0.1
#: Weight of the extra index entry an INSERT or non-HOT UPDATE writes, per unit of
#: entry/row size ratio (capped at 1).
WRITE_PENALTY = 0.1
#: Savings are compared with this tolerance (a rounding error never fails a threshold).
EPS = 1e-6


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
    bundles: list[tuple[IndexDef, ...]] = field(default_factory=list)
    covered_by: str | None = None
    reason: NoSuggestion | None = None

    @property
    def key(self) -> str:
        return self.q.id

    @property
    def tables(self) -> set[str]:
        return set(self.shape.tables) if self.shape else set()

    @property
    def rescanned(self) -> set[str]:
        """Tables this query scans more than once (a subquery or self-join on them)."""
        seen: set[str] = set()
        again: set[str] = set()
        for a in self.shape.accesses if self.shape else ():
            (again if a.table in seen else seen).add(a.table)
        return again


class _Explainer:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.calls = 0

    def plan(self, item: PlannedQuery, *, analyze: bool = False) -> Plan:
        self.calls += 1
        generic = item.mode == "generic"
        return explain(self.conn, item.q.sql, item.values, generic=generic, analyze=analyze)

    def plan_sql(
        self, sql: str, values: Sequence[str | None] | None, *, analyze: bool = False
    ) -> Plan:
        self.calls += 1
        return explain(self.conn, sql, values, analyze=analyze)


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
    arrays = {k for a in (item.shape.accesses if item.shape else ()) for k in a.array_params}
    for k in range(1, n + 1):
        if k not in columns:
            break
        st = catalog.stats(*columns[k])
        v = st.sample_value() if st else None
        if v is None:
            break
        if k in arrays:  # col = ANY($1): an array of the value
            v = '{"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"}'
        values.append(v)
    if len(values) == n:
        item.mode, item.values = "pg_stats", tuple(values)
    else:
        item.mode, item.values = "generic", None


def send(conn: Any, sql: str, params: dict[str, Any] | None = None) -> Any:
    """Every statement suggest-indexes sends outside EXPLAIN (trial DDL, HypoPG calls,
    catalog reads of the costing) goes through here: one place to guard them."""
    if params is None:
        return conn.execute(sql.encode())
    return conn.execute(sql, params)


@dataclass
class _Probe:
    plans: dict[str, Plan]
    sizes: dict[str, int | None]
    error: str | None = None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class _Costing:
    """How candidates are measured: HypoPG, real indexes rolled back, or not at all.

    A backend keeps a *set* of chosen indexes present for the whole selection
    (:meth:`keep`, :meth:`drop`) and measures further candidates on top of it
    (:meth:`probe`) or the set without one member (:meth:`without`).
    """

    method = "none"

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # index name as plans show it -> signature
        self.sizes: dict[str, int | None] = {}

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        yield

    def probe(
        self, cands: Sequence[IndexDef], items: Sequence[PlannedQuery], ex: _Explainer
    ) -> _Probe:
        return _Probe({}, {})

    def keep(self, cand: IndexDef) -> str | None:
        return "not costed"

    def drop(self, sig: str) -> None:
        return None

    def without(self, sig: str, items: Sequence[PlannedQuery], ex: _Explainer) -> dict[str, Plan]:
        return {}


def _explain_all(items: Sequence[PlannedQuery], ex: _Explainer) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for it in items:
        with contextlib.suppress(ExplainFailed):
            plans[it.key] = ex.plan(it)
    return plans


class _Trial(_Costing):
    """Real indexes built inside one transaction that is always rolled back; each
    probe is a savepoint rolled back after its EXPLAINs."""

    method = "trial"

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.conn = conn
        self.n = 0
        self.kept: dict[str, str] = {}  # signature -> qualified trial index name

    def send(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """Every statement trial mode sends (DDL and catalog reads) goes through here."""
        return send(self.conn, sql, params)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        with rolled_back(self.conn, read_write=True):
            yield

    def _build(self, cand: IndexDef) -> tuple[str, str | None]:
        """Build ``cand`` in the current transaction: (qualified name, error)."""
        self.n += 1
        name = f"perfkit_trial_{self.n}"
        schema = cand.table.partition(".")[0]
        qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
        version = int(self.conn.info.server_version)
        self.send(cand.statement(concurrently=False, name=name))
        row = self.send(load_sql("idx_index_size", version), {"name": qualified}).fetchone()
        self.sizes[cand.signature] = int(row[0]) if row else None
        for shown in _plan_names(self.conn, cand, name, qualified):
            self.names[shown] = cand.signature
        chk = self.send(load_sql("idx_indcheckxmin", version), {"name": qualified}).fetchone()
        if chk and chk[0]:
            return qualified, "the trial index is not usable in its own transaction (HOT chains)"
        return qualified, None

    def probe(
        self, cands: Sequence[IndexDef], items: Sequence[PlannedQuery], ex: _Explainer
    ) -> _Probe:
        import psycopg

        sizes: dict[str, int | None] = {}
        try:
            with self.conn.transaction(force_rollback=True):
                for c in cands:
                    _, err = self._build(c)
                    sizes[c.signature] = self.sizes.get(c.signature)
                    if err:
                        return _Probe({}, sizes, err)
                plans = _explain_all(items, ex)
        except psycopg.Error as exc:
            return _Probe({}, sizes, _first_line(exc))
        return _Probe(plans, sizes)

    def keep(self, cand: IndexDef) -> str | None:
        import psycopg

        try:
            with self.conn.transaction():
                qualified, err = self._build(cand)
                if err:
                    raise _Unusable(err)
        except _Unusable as exc:
            return str(exc)
        except psycopg.Error as exc:
            return _first_line(exc)
        self.kept[cand.signature] = qualified
        return None

    def drop(self, sig: str) -> None:
        qualified = self.kept.pop(sig, None)
        if qualified:
            with self.conn.transaction():
                self.send(f"DROP INDEX {qualified}")

    def without(self, sig: str, items: Sequence[PlannedQuery], ex: _Explainer) -> dict[str, Plan]:
        qualified = self.kept.get(sig)
        if not qualified:
            return _explain_all(items, ex)
        with self.conn.transaction(force_rollback=True):
            self.send(f"DROP INDEX {qualified}")
            return _explain_all(items, ex)


class _Unusable(Exception):
    pass


def _plan_names(conn: Any, cand: IndexDef, name: str, qualified: str) -> list[str]:
    """The names plans show for a real index: its own, and on a partitioned table those
    of the partition indexes it created."""
    out = [name]
    if cand.partitioned:
        rows = send(
            conn,
            load_sql("idx_index_partitions", int(conn.info.server_version)),
            {"name": qualified},
        ).fetchall()
        out.extend(str(r[0]) for r in rows)
    return out


class _Hypo(_Costing):
    method = "hypopg"

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self.conn = conn
        self.kept: dict[str, tuple[int, IndexDef]] = {}  # signature -> (oid, candidate)

    def send(self, sql: str, params: dict[str, Any]) -> Any:
        with self.conn.transaction():
            return send(self.conn, sql, params).fetchone()

    def _create(self, cand: IndexDef) -> int:
        version = int(self.conn.info.server_version)
        stmt = cand.statement(concurrently=False).replace(
            f"INDEX {quote_ident(cand.name())} ON", "INDEX ON"
        )
        row = self.send(load_sql("idx_hypopg_create", version), {"statement": stmt})
        if row is None:
            raise _Unusable("HypoPG returned no index")
        oid, name = int(row[0]), str(row[1])
        self.names[name] = cand.signature
        if cand.signature not in self.sizes:
            srow = self.send(load_sql("idx_hypopg_size", version), {"oid": oid})
            self.sizes[cand.signature] = int(srow[0]) if srow else None
        return oid

    def _forget(self, oid: int) -> None:
        self.send(load_sql("idx_hypopg_drop", int(self.conn.info.server_version)), {"oid": oid})

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        try:
            yield
        finally:
            for oid, _ in list(self.kept.values()):
                with contextlib.suppress(Exception):
                    self._forget(oid)
            self.kept.clear()

    def probe(
        self, cands: Sequence[IndexDef], items: Sequence[PlannedQuery], ex: _Explainer
    ) -> _Probe:
        import psycopg

        oids: list[int] = []
        sizes: dict[str, int | None] = {}
        try:
            for c in cands:
                oids.append(self._create(c))
                sizes[c.signature] = self.sizes.get(c.signature)
            plans = _explain_all(items, ex)
        except (psycopg.Error, _Unusable) as exc:
            return _Probe({}, sizes, "HypoPG: " + _first_line(exc))
        finally:
            for oid in oids:
                with contextlib.suppress(Exception):
                    self._forget(oid)
        return _Probe(plans, sizes)

    def keep(self, cand: IndexDef) -> str | None:
        import psycopg

        try:
            self.kept[cand.signature] = (self._create(cand), cand)
        except (psycopg.Error, _Unusable) as exc:
            return "HypoPG: " + _first_line(exc)
        return None

    def drop(self, sig: str) -> None:
        got = self.kept.pop(sig, None)
        if got:
            self._forget(got[0])

    def without(self, sig: str, items: Sequence[PlannedQuery], ex: _Explainer) -> dict[str, Plan]:
        got = self.kept.get(sig)
        if not got:
            return _explain_all(items, ex)
        self.drop(sig)
        try:
            return _explain_all(items, ex)
        finally:
            self.keep(got[1])


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
            send(conn, "CREATE EXTENSION hypopg")
        except psycopg.Error as exc:
            stack.close()
            why = f"HypoPG could not be created ({_first_line(exc)})"
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


def _used_indexes(plan: Plan, names: dict[str, str]) -> set[str]:
    """Signatures of the candidate indexes ``plan`` scans."""
    return {names[n.index_name] for n in plan.nodes() if n.index_name in names}


def _index_only(plan: Plan, names: dict[str, str], sig: str) -> bool:
    return any(
        n.node_type == "Index Only Scan" and names.get(n.index_name or "") == sig
        for n in plan.nodes()
    )


@dataclass
class _Unit:
    """A candidate, or candidates that only help together, costed as one."""

    members: tuple[IndexDef, ...]
    users: list[PlannedQuery]
    plans: dict[str, Plan] = field(default_factory=dict)
    dead: bool = False
    stale: bool = False  # plans predate later picks on its tables

    @property
    def width(self) -> int:
        """Narrower wins a near tie (then the smaller: a partial index with evidence)."""
        return sum(len(m.keys) + len(m.include) + (1 if m.where else 0) for m in self.members)


class _Selector:
    """Greedy choice of the index set by marginal saving of the whole workload."""

    def __init__(
        self,
        live: Sequence[PlannedQuery],
        units: dict[tuple[str, ...], _Unit],
        backend: _Costing,
        ex: _Explainer,
        penalty: dict[str, float],
        warnings: list[str],
        opts: SuggestOptions,
    ) -> None:
        self.opts = opts
        self.live = list(live)
        self.units = units
        self.backend = backend
        self.ex = ex
        self.penalty = penalty
        self.warnings = warnings
        self.base = {it.key: it.base.cost for it in live if it.base}
        self.weight = {it.key: it.q.weight for it in live}
        self.cur = dict(self.base)
        self.plan: dict[str, Plan] = {it.key: it.base for it in live if it.base}
        # the chosen indexes (of its tables) each query's plan was made with
        self.plan_set: dict[str, frozenset[str]] = {it.key: frozenset() for it in live}
        self.chosen: list[str] = []
        self.pending: list[IndexDef] = []
        self.defs: dict[str, IndexDef] = {}
        self.best: dict[str, tuple[float, tuple[str, ...]]] = {}  # lowest cost seen, by what
        self.by_table: dict[str, list[PlannedQuery]] = {}
        for it in live:
            for t in it.tables:
                self.by_table.setdefault(t, []).append(it)

    def worth(self, key: str, before: float, after: float) -> bool:
        """Whether going from cost ``before`` to ``after`` is a real gain for query ``key``:
        a tenth of its initial cost, or --min-savings of what it costs with the set so far
        (and at least --min-cost), as the second index of a join often is."""
        b = self.base[key]
        d = before - after
        if b <= 0 or d <= 0:
            return False
        if d / b >= MIN_EXTRA_GAIN - EPS:
            return True
        return d / before >= self.opts.min_savings - EPS and d >= self.opts.min_cost

    def gain(self, u: _Unit) -> float:
        if u.dead:
            return 0.0
        new = [m for m in u.members if m.signature not in self.defs]
        if not new:
            return 0.0
        total = 0.0
        for it in u.users:
            p = u.plans.get(it.key)
            b = self.base.get(it.key, 0.0)
            if p is None or b <= 0:
                continue
            if self.worth(it.key, self.cur[it.key], p.cost):
                total += self.weight[it.key] * (self.cur[it.key] - p.cost) / b
        return total - sum(self.penalty.get(m.signature, 0.0) for m in new)

    def _probe(self, key: tuple[str, ...], u: _Unit) -> None:
        new = [m for m in u.members if m.signature not in self.defs]
        if not new:
            u.plans = {}
            return
        res = self.backend.probe(new, u.users, self.ex)
        if res.error:
            msg = f"{'; '.join(m.statement() for m in new)}: {res.error}"
            if msg not in self.warnings:
                self.warnings.append(msg)
            u.dead = True
            return
        u.plans = res.plans
        u.stale = False
        for it in u.users:
            p = res.plans.get(it.key)
            if p is not None and (it.key not in self.best or p.cost < self.best[it.key][0]):
                self.best[it.key] = (p.cost, tuple(m.signature for m in u.members))

    def _set_for(self, it: PlannedQuery) -> frozenset[str]:
        tables = it.tables
        return frozenset(s for s in self.chosen if self.defs[s].table in tables)

    def _refresh(self, items: Sequence[PlannedQuery]) -> set[str]:
        """Explain ``items`` with the current set; the keys whose cost changed."""
        changed: set[str] = set()
        for it in items:
            try:
                p = self.ex.plan(it)
            except ExplainFailed:
                continue
            self.plan_set[it.key] = self._set_for(it)
            old = self.cur[it.key]
            self.plan[it.key] = p
            self.cur[it.key] = p.cost
            if abs(old - p.cost) > 1e-3 * max(self.base[it.key], 1.0):
                changed.add(it.key)
        return changed

    def _flush(self) -> None:
        """Build the chosen indexes not built yet (they are built only when a later
        EXPLAIN needs them: the last pick of a table often never is)."""
        pending, self.pending = self.pending, []
        for m in pending:
            err = self.backend.keep(m)
            if err:
                self.warnings.append(f"{m.statement()}: {err}")
                self.defs.pop(m.signature, None)
                self.chosen.remove(m.signature)

    def _needs_probe(self, u: _Unit, tables: set[str]) -> bool:
        """Whether ``u`` must be costed again after a pick on ``tables`` changed the cost
        of some of its queries. A scan uses one index of its table, so for a unit on the
        same tables its saving over the new set is what its last costing shows beyond the
        new costs (computed lazily, no EXPLAIN); a unit on another table may complete a
        join (one index per side) and is costed again."""
        rescans = any(m.table in it.rescanned for it in u.users for m in u.members)
        if all(m.table in tables for m in u.members) and not rescans:
            return False
        if len(u.members) > 1 and any(m.signature in self.defs for m in u.members):
            return False  # its other members are costed on their own
        # and only when one of its queries still costs enough to gain anything worth it
        return any(self.worth(it.key, self.cur[it.key], 0.0) for it in u.users)

    def _variant_needed(self, u: _Unit) -> bool:
        """An INCLUDE variant is costed only when its keys alone help some query (it can
        only make that scan index-only); a bundle only for queries none of its members
        serves alone."""
        if len(u.members) == 1:
            plain = self.units.get((dataclasses.replace(u.members[0], include=()).signature,))
            if plain is None or not plain.plans:
                return plain is None
            return any(
                it.key in plain.plans
                and self.worth(it.key, self.cur[it.key], plain.plans[it.key].cost)
                for it in u.users
            )
        for it in u.users:
            alone = [
                self.units[(m.signature,)].plans.get(it.key)
                for m in u.members
                if (m.signature,) in self.units
            ]
            if not any(
                p is not None and self.worth(it.key, self.cur[it.key], p.cost) for p in alone
            ):
                return True
        return False

    def run(self, progress: ProgressSink) -> None:
        progress.start(f"costing candidates ({self.backend.method})", total=len(self.units))
        later = []
        for key, u in self.units.items():
            if len(u.members) == 1 and not u.members[0].include:
                self._probe(key, u)
                progress.advance(1)
            else:
                later.append((key, u))
        for key, u in later:
            if self._variant_needed(u):
                self._probe(key, u)
            progress.advance(1)
        progress.finish()
        dirty: set[tuple[str, ...]] = set()
        while True:
            if dirty:
                self._flush()
            for key in list(dirty):
                u = self.units[key]
                if not u.dead:
                    self._probe(key, u)
            dirty.clear()
            scored = [(self.gain(u), k) for k, u in self.units.items()]
            top = max((g for g, _ in scored), default=0.0)
            if top <= 1e-9:
                break
            # among near-equal gains prefer the narrower set (fewer keys, no INCLUDE)
            near = [k for g, k in scored if g >= 0.95 * top]
            pick = min(
                near,
                key=lambda k: (
                    self.units[k].width,
                    sum(self.backend.sizes.get(s) or 0 for s in k),
                    k,
                ),
            )
            u = self.units[pick]
            added = [m for m in u.members if m.signature not in self.defs]
            for m in added:
                self.defs[m.signature] = m
                self.chosen.append(m.signature)
                self.pending.append(m)
            tables = {m.table for m in added}
            changed: set[str] = set()
            if u.stale:  # costed before the last picks: plan its queries with the set
                self._flush()
                changed = self._refresh(u.users)
            for it in u.users if not u.stale else ():
                p = u.plans.get(it.key)
                if p is not None:
                    if abs(self.cur[it.key] - p.cost) > 1e-3 * max(self.base[it.key], 1.0):
                        changed.add(it.key)
                    self.plan[it.key], self.cur[it.key] = p, p.cost
                    self.plan_set[it.key] = self._set_for(it)
            # queries of these tables that are not users keep their cost until the end
            # (re-planning them after every pick cost more than it found); a unit that
            # looks better for them than it is gets dropped by the prune pass
            for k, other in self.units.items():
                if other.dead or k == pick or all(m.signature in self.defs for m in other.members):
                    continue
                if any(it.key in changed for it in other.users):
                    if self._needs_probe(other, tables):
                        dirty.add(k)
                    else:
                        other.stale = True
        # plan again only the queries whose plan predates picks on their tables
        tables = {self.defs[sig].table for sig in self.chosen}
        behind = {
            it.key: it
            for t in tables
            for it in self.by_table[t]
            if self.plan_set[it.key] != self._set_for(it)
        }
        if behind:
            self._flush()
            self._refresh(list(behind.values()))
        self._prune()

    def uses(self, sig: str) -> list[PlannedQuery]:
        return [
            it
            for it in self.live
            if it.key in self.plan and sig in _used_indexes(self.plan[it.key], self.backend.names)
        ]

    def _remove(self, sig: str) -> None:
        pending = [m for m in self.pending if m.signature == sig]
        if pending:
            self.pending.remove(pending[0])
        else:
            self.backend.drop(sig)
        self.defs.pop(sig, None)
        self.chosen.remove(sig)

    def _without(self, sig: str, users: Sequence[PlannedQuery]) -> dict[str, Plan]:
        """Plans of ``users`` with the set minus ``sig``."""
        if self.chosen == [sig]:
            return {it.key: it.base for it in users if it.base is not None}
        self._flush()
        return self.backend.without(sig, users, self.ex)

    def _replan(self, users: Sequence[PlannedQuery]) -> None:
        if not self.chosen:
            for it in users:
                if it.base is not None:
                    self.plan[it.key], self.cur[it.key] = it.base, it.base.cost
                    self.plan_set[it.key] = frozenset()
            return
        self._flush()
        self._refresh(users)

    def _prune(self) -> None:
        """Drop members the rest of the set makes useless (narrowest first)."""
        order = sorted(
            self.chosen,
            key=lambda s: (
                len(self.defs[s].keys) + len(self.defs[s].include),
                -self.chosen.index(s),
            ),
        )
        for sig in order:
            users = self.uses(sig)
            if not users:
                self._remove(sig)
                continue
            plans = self._without(sig, users)
            if all(
                it.key in plans and not self.worth(it.key, plans[it.key].cost, self.cur[it.key])
                for it in users
            ):
                self._remove(sig)
                for it in users:
                    self.plan[it.key] = plans[it.key]
                    self.cur[it.key] = plans[it.key].cost
                    self.plan_set[it.key] = self._set_for(it)
        # an INCLUDE variant stays only where it makes a scan index-only
        for sig in list(self.chosen):
            d = self.defs[sig]
            if not d.include:
                continue
            users = self.uses(sig)
            if any(_index_only(self.plan[it.key], self.backend.names, sig) for it in users):
                continue
            plain = dataclasses.replace(d, include=())
            self._remove(sig)
            if plain.signature not in self.defs:
                self.defs[plain.signature] = plain
                self.chosen.append(plain.signature)
                self.pending.append(plain)
            self._replan(users)

    def savings(self, key: str) -> float:
        b = self.base.get(key, 0.0)
        return 1.0 - self.cur[key] / b if b > 0 else 0.0

    def apply_threshold(self, min_savings: float) -> None:
        """Members whose every user still saves less than ``min_savings`` are dropped."""
        while True:
            drop = []
            for sig in self.chosen:
                users = self.uses(sig)
                if not any(self.savings(it.key) >= min_savings - EPS for it in users):
                    drop.append((sig, users))
            if not drop:
                return
            for sig, users in drop:
                self._remove(sig)
                self._replan(users)


def _write_penalties(
    live: Sequence[PlannedQuery], defs: dict[str, IndexDef], catalog: Catalog
) -> tuple[dict[str, float], dict[str, tuple[str, ...]]]:
    """Per candidate: the weight its write overhead costs the workload, and the columns
    of it the workload's UPDATEs set (HOT updates break there)."""
    writes: dict[str, list[tuple[PlannedQuery, TableAccess]]] = {}
    for it in live:
        for a in it.shape.accesses if it.shape else ():
            if a.write:
                writes.setdefault(a.table, []).append((it, a))
    penalty: dict[str, float] = {}
    updated: dict[str, tuple[str, ...]] = {}
    for sig, d in defs.items():
        cols = {k.column for k in d.keys if k.column} | set(d.include)
        if d.where:
            cols |= {c for c in catalog.columns.get(d.table, {}) if c in d.where}
        ratio = min(_entry_ratio(d, catalog), 1.0)
        p = 0.0
        hit: set[str] = set()
        for it, a in writes.get(d.table, ()):
            if a.write == "insert":
                p += it.q.weight * WRITE_PENALTY * ratio
            elif a.write == "update" and a.updated & cols:
                hit |= a.updated & cols
                p += it.q.weight * (HOT_PENALTY + WRITE_PENALTY * ratio)
        penalty[sig] = p
        updated[sig] = tuple(sorted(hit))
    return penalty, updated


def _row_bytes(table: str, catalog: Catalog) -> float:
    rel = catalog.relations.get(table)
    if rel is None or rel.rows <= 0:
        return 0.0
    return rel.relpages * 8192.0 / rel.rows


def _entry_ratio(d: IndexDef, catalog: Catalog, size: int | None = None) -> float:
    rel = catalog.relations.get(d.table)
    row = _row_bytes(d.table, catalog)
    if not row or rel is None:
        return 0.0
    entry = (size / rel.rows) if size and rel.rows else 16.0 + 8.0 * (len(d.keys) + len(d.include))
    return entry / row


def _write_cost(
    d: IndexDef, size: int | None, catalog: Catalog, updated: tuple[str, ...]
) -> WriteCost:
    rel = catalog.relations.get(d.table)
    row = _row_bytes(d.table, catalog)
    entry = _entry_ratio(d, catalog, size) * row
    window = catalog.stats_window_s
    ins = upd = dele = bps = None
    if rel is not None and window and window > 0:
        ins, upd, dele = (rel.n_tup_ins / window, rel.n_tup_upd / window, rel.n_tup_del / window)
        # a HOT update writes no index entry unless it sets an indexed column
        non_hot = rel.n_tup_upd if updated else rel.n_tup_upd - rel.n_tup_hot_upd
        bps = entry * (rel.n_tup_ins + max(non_hot, 0)) / window
    return WriteCost(
        entry_bytes=round(entry, 1),
        row_bytes=round(row, 1),
        ratio=round(entry / row, 3) if row else 0.0,
        inserts_per_s=ins,
        updates_per_s=upd,
        deletes_per_s=dele,
        bytes_per_s=bps,
        updated_columns=updated,
        breaks_hot=bool(updated),
    )


def _gin_as_advice(items: Sequence[PlannedQuery], advice: dict[str, Advice]) -> None:
    """HypoPG cannot cost a GIN index: it is listed as advice (trial mode costs it)."""
    for it in items:
        gin = [c for c in it.cands if c.method != "btree"]
        if not gin:
            continue
        for c in gin:
            stmt = c.statement()
            adv = advice.get(stmt)
            qs = (*adv.queries, it.q.display) if adv else (it.q.display,)
            col = c.keys[0].column
            advice[stmt] = Advice(
                "gin", c.table, col, stmt, qs, note="not costed: HypoPG cannot; --trial costs it"
            )
        it.cands = [c for c in it.cands if c.method == "btree"]
        it.bundles = [b for b in it.bundles if all(c.method == "btree" for c in b)]
        if not it.cands and it.reason is None:
            it.reason = NoSuggestion(
                it.q.display, "no_candidates", "only a GIN candidate; see the advice (not costed)"
            )


def _expand(items: Sequence[WorkloadQuery]) -> list[PlannedQuery]:
    """One planned query per fingerprint, or one per distinct set of literal values when a
    fingerprint was seen with a few (they may deserve different indexes)."""
    out = []
    for q in items:
        samples = q.samples
        if 2 <= q.distinct_values <= len(samples) and all(s.params is None for s in samples):
            for i, s in enumerate(samples):
                out.append(
                    PlannedQuery(
                        dataclasses.replace(
                            q,
                            id=f"{q.id}.{i + 1}",
                            sql=s.sql,
                            calls=s.calls,
                            total_ms=s.total_ms,
                            samples=(s,),
                            distinct_values=1,
                        )
                    )
                )
        else:
            out.append(PlannedQuery(q))
    return out


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
    items = _expand(workload.queries)
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
        if backend.method == "hypopg":
            _gin_as_advice(items, advice)
        live = [it for it in items if it.reason is None and it.cands]
        units: dict[tuple[str, ...], _Unit] = {}
        defs: dict[str, IndexDef] = {}
        for it in live:
            for group in [(c,) for c in it.cands] + it.bundles:
                key = tuple(sorted(c.signature for c in group))
                if len(set(key)) != len(key):
                    continue
                for c in group:
                    defs.setdefault(c.signature, c)
                u = units.get(key)
                if u is None:
                    u = units[key] = _Unit(tuple(group), [])
                if it not in u.users:
                    u.users.append(it)
        penalty, updated = _write_penalties(items, defs, catalog)
        sel = _Selector(live, units, backend, ex, penalty, warnings, opts)
        if backend.method != "none":
            with backend.session():
                sel.run(prog)
                sel.apply_threshold(opts.min_savings)
                chosen = list(sel.chosen)
                plans = dict(sel.plan)
                served = {
                    it.key: [s for s in chosen if s in _used_indexes(plans[it.key], backend.names)]
                    for it in live
                    if it.key in plans and sel.savings(it.key) >= opts.min_savings - EPS
                }
        else:
            chosen, plans, served = [], {}, {}
        used_names = {(ix.schema, ix.name) for ix in catalog.indexes}
        final_names = {sig: _unique_name(sel.defs[sig], used_names) for sig in chosen}
        display_names = {n: final_names.get(s, n) for n, s in backend.names.items()}

        def rename(text: str) -> str:
            return re.sub(
                r"using (\S+)",
                lambda m: "using " + display_names.get(m.group(1), m.group(1)),
                text,
            )

        suggestions = []
        rejected: list[NoSuggestion] = []
        for sig in chosen:
            cand = sel.defs[sig]
            name = final_names[sig]
            helped = [it for it in live if sig in served.get(it.key, ())]
            if not helped:
                continue
            helped.sort(key=lambda it: -it.q.weight)
            rel = catalog.relations.get(cand.table)
            ver: tuple[Verification, ...] = ()
            if opts.verify:
                ver = _verify(
                    conn,
                    sig,
                    {s: sel.defs[s] for s in chosen},
                    final_names,
                    helped,
                    ex,
                    opts,
                    catalog,
                )
                others = [v for v in ver if v.values != "example"]
                if others and not any(v.helps for v in others):
                    rejected.append(
                        NoSuggestion(
                            cand.statement(name=name),
                            "verify_rejected",
                            "rejected by --verify: it helps the example values only, not "
                            + ", ".join(sorted({v.values for v in others}))
                            + " values",
                        )
                    )
                    continue
            top = helped[0]
            per_query = tuple(
                QuerySaving(
                    it.q.display,
                    sel.base[it.key],
                    sel.cur[it.key],
                    tuple(final_names[s] for s in served[it.key]),
                )
                for it in helped
            )
            size = backend.sizes.get(sig)
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
                    query_ids=tuple(it.key for it in helped),
                    cost_before=sum(sel.base[it.key] for it in helped),
                    cost_after=sum(sel.cur[it.key] for it in helped),
                    plan_before=top.base.summary(cand.table) if top.base else "",
                    plan_after=rename(plans[top.key].summary(cand.table)),
                    size_bytes=size,
                    table_rows=int(rel.rows) if rel else 0,
                    table_writes=rel.writes if rel else 0,
                    benefit=sum(it.q.weight * sel.savings(it.key) for it in helped),
                    verification=tuple(
                        dataclasses.replace(
                            v, plan_before=rename(v.plan_before), plan_after=rename(v.plan_after)
                        )
                        for v in ver
                    ),
                    per_query=per_query,
                    write_cost=_write_cost(cand, size, catalog, updated.get(sig, ())),
                )
            )
    helped_ids = {qid for s in suggestions for qid in s.query_ids}
    no = []
    for it in items:
        if it.key in helped_ids:
            continue
        if it.reason is not None:
            no.append(it.reason)
            continue
        no.append(_why_not(it, sel, opts.min_savings, backend.method))
    queries = tuple(
        QueryInfo(
            id=it.key,
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
    before = sum(sel.weight[k] for k in sel.base)
    after = sum(sel.weight[k] * (1 - sel.savings(k)) for k in sel.base if k in helped_ids)
    after += sum(sel.weight[k] for k in sel.base if k not in helped_ids)
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
        candidates_costed=len(units) if backend.method != "none" else 0,
        min_savings=opts.min_savings,
        warnings=tuple(warnings),
        rejected=tuple(rejected),
        workload_cost_before=before,
        workload_cost_after=after,
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
    per_access: list[list[IndexDef]] = []
    covered: list[str] = []
    for a in accesses:
        mine = []
        for c in candidates_for(a, catalog, fixed=it.q.fixed):
            ix = covered_by_existing(c, catalog)
            if ix is not None:
                covered.append(ix.name)
            else:
                mine.append(c)
        per_access.append(mine)
    # round robin over the tables, so that every table keeps its best candidates
    cands: list[IndexDef] = []
    for rank in range(max((len(m) for m in per_access), default=0)):
        for mine in per_access:
            if rank < len(mine) and mine[rank] not in cands:
                cands.append(mine[rank])
    it.cands = cands[: opts.max_candidates]
    it.bundles = bundles_for(accesses, per_access, catalog)
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


def _alternatives(
    it: PlannedQuery, cand: IndexDef, catalog: Catalog, limit: int = 2
) -> list[tuple[str, str, tuple[str | None, ...] | None]]:
    """Other values to plan ``it`` with: (origin, sql, params) from the log's other
    calls, else from pg_stats (most common values and histogram bounds)."""
    from perfkit.indexes.literals import literals, substitute

    out: list[tuple[str, str, tuple[str | None, ...] | None]] = []
    if it.values is not None:
        for s in it.q.samples:
            if s.params is not None and tuple(s.params) != it.values and len(out) < limit:
                out.append(("logged", s.sql, tuple(s.params)))
        if out:
            return out
        columns: dict[int, tuple[str, str]] = {}
        for a in it.shape.accesses if it.shape else ():
            for k, col in a.params.items():
                columns.setdefault(k, (a.table, col))
        for n in range(limit):
            vals = list(it.values)
            moved = False
            for k, (table, col) in columns.items():
                st = catalog.stats(table, col)
                if st is None or k > len(vals):
                    continue
                alt = [v for v in st.other_values() if v != vals[k - 1]]
                if len(alt) > n:
                    vals[k - 1] = alt[n]
                    moved = True
            if moved:
                out.append(("pg_stats", it.q.sql, tuple(vals)))
        return out
    # constants written in the statement: another value in their place, except those the
    # suggestion's WHERE clause or the workload's evidence fixes
    lits = literals(it.q.sql)
    targets: list[tuple[int, str, str]] = []
    taken: set[int] = set()
    for a in it.shape.accesses if it.shape else ():
        for column, value, sql in a.constants:
            if value == "NULL" or value in it.q.fixed or (cand.where and sql in cand.where):
                continue
            for i, lit in enumerate(lits):
                if i not in taken and lit.value == value:
                    taken.add(i)
                    targets.append((i, a.table, column))
                    break
    for n in range(limit):
        repl: dict[int, str] = {}
        for i, table, column in targets:
            st = catalog.stats(table, column)
            alt = [v for v in (st.other_values() if st else ()) if v != lits[i].value]
            if len(alt) > n:
                repl[i] = alt[n]
        if repl:
            out.append(("pg_stats", substitute(it.q.sql, repl), None))
    return out


def _verify(
    conn: Any,
    sig: str,
    defs: dict[str, IndexDef],
    final_names: dict[str, str],
    items: Sequence[PlannedQuery],
    ex: _Explainer,
    opts: SuggestOptions,
    catalog: Catalog,
) -> tuple[Verification, ...]:
    """EXPLAIN ANALYZE before and after building the suggested set (all rolled back), with
    the example values and with other values of each query the index serves."""
    import psycopg

    cand = defs[sig]
    usable = [it for it in items if it.mode != "generic"][:3]
    runs: list[tuple[PlannedQuery, str, str, tuple[str | None, ...] | None]] = []
    for it in usable:
        runs.append((it, "example", it.q.sql, it.values))
        for origin, sql, params in _alternatives(it, cand, catalog):
            runs.append((it, origin, sql, params))
    if not runs:
        return ()

    def fastest(sql: str, params: tuple[str | None, ...] | None) -> Plan:
        best: Plan | None = None
        for _ in range(max(opts.verify_runs, 1)):
            p = ex.plan_sql(sql, params, analyze=True)
            if best is None or (p.execution_ms or 0) < (best.execution_ms or 0):
                best = p
        assert best is not None
        return best

    names: dict[str, str] = {}
    before: dict[int, Plan] = {}
    out: list[Verification] = []
    try:
        with rolled_back(conn, read_write=True):
            for i, (_, _, sql, params) in enumerate(runs):
                with contextlib.suppress(ExplainFailed):
                    before[i] = fastest(sql, params)
        # a fresh transaction: an index built after this session's own updates in the
        # same transaction may be unusable to it (indcheckxmin)
        with rolled_back(conn, read_write=True):
            for n, (s, d) in enumerate(defs.items(), 1):
                name = f"perfkit_verify_{n}"
                send(conn, d.statement(concurrently=False, name=name))
                schema = d.table.partition(".")[0]
                qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
                for shown in _plan_names(conn, d, name, qualified):
                    names[shown] = s
            for i, (it, origin, sql, params) in enumerate(runs):
                if i not in before:
                    continue
                try:
                    p = fastest(sql, params)
                except ExplainFailed:
                    continue
                b = before[i]
                helps = sig in _used_indexes(p, names) and (
                    p.cost <= (1 - opts.min_savings) * b.cost + EPS
                )
                label = it.q.display if origin == "example" else f"{it.q.display} [{origin}]"
                out.append(
                    Verification(
                        label,
                        b.execution_ms or 0.0,
                        p.execution_ms or 0.0,
                        b.summary(cand.table),
                        re.sub(
                            r"using (\S+)",
                            lambda m: (
                                "using " + final_names.get(names.get(m.group(1), ""), m.group(1))
                            ),
                            p.summary(cand.table),
                        ),
                        values=origin,
                        cost_before=b.cost,
                        cost_after=p.cost,
                        helps=helps,
                    )
                )
    except (psycopg.Error, ExplainFailed):
        return tuple(out)
    return tuple(out)


def _pct(x: float) -> str:
    """A share as a percentage rounded down (99.96% shows as 99.9%, never as 100%)."""
    import math

    v = math.floor(x * 1000 + 1e-9) / 10
    return f"{v:.0f}%" if v == int(v) else f"{v:.1f}%"


def _why_not(it: PlannedQuery, sel: _Selector, min_savings: float, method: str) -> NoSuggestion:
    text = it.q.display
    if method == "none":
        first = it.cands[0].statement() if it.cands else ""
        return NoSuggestion(text, "not_costed", f"not costed; candidate: {first}")
    base = sel.base.get(it.key, 0.0)
    got = sel.best.get(it.key)
    if got is None or base <= 0:
        return NoSuggestion(text, "below_threshold", "no candidate could be costed")
    best_cost, sigs = got
    best = max(1 - best_cost / base, sel.savings(it.key))
    keys = " + ".join(m.key_sql() for m in sel.units[tuple(sorted(sigs))].members)
    if best >= min_savings - EPS:
        cost = sum(sel.penalty.get(sig, 0.0) for sig in sigs)
        if cost > 0 and not any(sig in sel.defs for sig in sigs):
            return NoSuggestion(
                text,
                "write_cost",
                f"its best index ({keys}) saves {_pct(best)} but costs the workload's writes "
                "more (index entries, HOT updates)",
            )
        return NoSuggestion(text, "below_threshold", "served better by another suggestion")
    return NoSuggestion(
        text,
        "below_threshold",
        f"savings below threshold: best ({keys}) saves {_pct(best)} (< {_pct(min_savings)})",
    )
