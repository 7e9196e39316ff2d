"""The one statement guard: what user-provided SQL perfkit may send, judged per statement.

Every path that sends SQL a user gave perfkit (``explain``, ``suggest-indexes --verify``
and trial mode, ``replay``, ``pool --query/--script``, ``check``, the cache executor)
runs it through :class:`Guard` first. The guard parses with PostgreSQL's own parser
(pglast / libpg_query), splits multi-statement text into statements and judges each
one alone; callers then send each allowed statement by itself, never the whole text.

Classes (:data:`StatementKind`), one per statement:

* ``read`` - SELECT/VALUES/TABLE/SHOW, COPY (query) TO STDOUT, EXPLAIN without
  ANALYZE, cursors (DECLARE/FETCH/MOVE/CLOSE), EXECUTE of a known read.
* ``write`` - INSERT/UPDATE/DELETE/MERGE, a writing CTE, SELECT INTO, COPY FROM, DDL.
* ``lock`` - SELECT ... FOR UPDATE/SHARE and LOCK TABLE (locks end with the
  transaction, but block other sessions meanwhile).
* ``transaction`` - BEGIN/START/COMMIT/END/ROLLBACK/SAVEPOINT/RELEASE.
* ``lifts_guard`` - anything that could lift perfkit's own guards: SET/RESET of the
  read-only mode, of a timeout, of the role or session authorization, RESET ALL,
  DISCARD, SET TRANSACTION/SESSION CHARACTERISTICS ... READ WRITE, BEGIN READ WRITE,
  ``set_config`` of such a setting (or of a setting not named by a constant).
* ``side_effect`` - effects a rollback cannot undo (see :data:`EFFECT_FUNCTIONS` and
  the statement rules in :func:`_judge_stmt`): sequences, signals, advisory locks,
  notifications, server control, large objects, remote calls, COPY PROGRAM and server
  files, DO/CALL, maintenance, two-phase commit, and volatile functions whose effects
  are unknown (user-defined, or built-in ones outside :data:`HARMLESS_VOLATILE`).
* ``session`` - session state that cannot lift a guard (SET work_mem, LISTEN, PREPARE
  of an allowed statement, DEALLOCATE, SET CONSTRAINTS).
* ``unparsable`` / ``unknown`` - not parsed by PostgreSQL's parser, or holding a
  construct the guard does not know: never sent (an allow-list, not a deny-list).

What is allowed depends on the :class:`GuardPolicy` of the path; ``docs/safety.md``
lists the rules for users. Function names are matched case-insensitively and
whatever schema qualifies them; user-defined functions are looked up on the server
(``pg_proc.provolatile``, through a :class:`FunctionCatalog`): VOLATILE ones are refused
unless flagged, STABLE/IMMUTABLE ones pass.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

StatementKind = Literal[
    "read",
    "write",
    "lock",
    "transaction",
    "lifts_guard",
    "side_effect",
    "session",
    "unparsable",
    "unknown",
]

#: Effect categories a user can name in ``--allow-side-effects`` (a function name works too).
EFFECT_CATEGORIES: Mapping[str, str] = {
    "sequences": "advances or sets a sequence (PostgreSQL never rolls sequences back)",
    "signals": "signals another server process (cancels or terminates a session)",
    "advisory-locks": "takes or releases an advisory lock (session locks outlive a rollback)",
    "notify": "sends a notification to listening sessions",
    "server": "changes server state (configuration reload, WAL, replication, statistics)",
    "large-objects": "writes a large object or a server file through one",
    "remote": "runs SQL on another server (dblink, foreign servers)",
    "program": "runs a program on the database server (COPY ... PROGRAM)",
    "server-files": "reads or writes a file on the database server",
    "procedures": "runs procedural code whose effects are unknown (DO, CALL)",
    "maintenance": "runs maintenance that cannot be rolled back "
    "(VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, LOAD, CONCURRENTLY, ...)",
    "two-phase": "prepares or finishes a two-phase transaction (outlives the session)",
    "dynamic-sql": "runs SQL given as a string argument (query_to_xml, ts_stat, ...)",
    "volatile-functions": "calls a VOLATILE function whose effects are unknown",
}

#: Built-in functions with effects a rollback cannot undo: lower-case name -> category.
EFFECT_FUNCTIONS: Mapping[str, str] = {
    **dict.fromkeys(("nextval", "setval"), "sequences"),
    **dict.fromkeys(
        (
            "pg_terminate_backend",
            "pg_cancel_backend",
            "pg_signal_backend",
            "pg_log_backend_memory_contexts",
        ),
        "signals",
    ),
    **dict.fromkeys(("pg_notify",), "notify"),
    **dict.fromkeys(
        (
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_rotate_logfile_old",
            "pg_switch_wal",
            "pg_switch_xlog",
            "pg_create_restore_point",
            "pg_promote",
            "pg_wal_replay_pause",
            "pg_wal_replay_resume",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_logical_emit_message",
            "pg_import_system_collations",
            "pg_nextoid",
            "pg_stop_making_pinned_objects",
            "pg_extension_config_dump",
            "brin_summarize_new_values",
            "brin_summarize_range",
            "brin_desummarize_range",
            "gin_clean_pending_list",
            "pg_stat_statements_reset",
            "pg_sync_replication_slots",
            "pg_log_standby_snapshot",
            "pg_truncate_visibility_map",
        ),
        "server",
    ),
    **dict.fromkeys(
        (
            "lo_creat",
            "lo_create",
            "lo_import",
            "lo_export",
            "lo_unlink",
            "lo_put",
            "lo_from_bytea",
            "lowrite",
            "lo_truncate",
            "lo_truncate64",
        ),
        "large-objects",
    ),
    **dict.fromkeys(
        (
            "pg_file_write",
            "pg_file_rename",
            "pg_file_unlink",
            "pg_file_sync",
            "pg_logdir_ls",
        ),
        "server-files",
    ),
    **dict.fromkeys(
        (
            "query_to_xml",
            "query_to_xmlschema",
            "query_to_xml_and_xmlschema",
            "cursor_to_xml",
            "cursor_to_xmlschema",
            "ts_stat",
            "ts_rewrite",
        ),
        "dynamic-sql",
    ),
}

#: Name patterns of further built-in effect functions (families): pattern -> category.
EFFECT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^pg_(?:try_)?advisory_"), "advisory-locks"),
    (re.compile(r"^dblink"), "remote"),
    (re.compile(r"^postgres_fdw_"), "remote"),
    (re.compile(r"^pg_stat_reset"), "server"),
    (re.compile(r"^pg_.*replication_slot"), "server"),
    (re.compile(r"^pg_logical_slot_get_"), "server"),
    (re.compile(r"^pg_replication_origin_(?!session_is_setup|progress)"), "server"),
    (re.compile(r"^pg_(?:restore|clear)_(?:relation|attribute)_stats$"), "server"),
    (re.compile(r"^binary_upgrade_"), "server"),
    (re.compile(r"^pg_buffercache_evict"), "server"),
)

#: Built-in VOLATILE functions that are harmless inside a READ ONLY transaction: they
#: read state or time, or only change this session's own state.
HARMLESS_VOLATILE: frozenset[str] = frozenset(
    {
        "random",
        "random_normal",
        "setseed",
        "clock_timestamp",
        "timeofday",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "currval",
        "lastval",
        "txid_current",
        "txid_current_if_assigned",
        "pg_current_xact_id",
        "pg_current_xact_id_if_assigned",
        "txid_status",
        "pg_xact_status",
        "pg_xact_commit_timestamp",
        "pg_xact_commit_timestamp_origin",
        "pg_last_committed_xact",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "pg_isolation_test_session_is_blocked",
        "pg_current_logfile",
        "pg_is_in_recovery",
        "pg_is_wal_replay_paused",
        "pg_jit_available",
        "pg_lock_status",
        "pg_notification_queue_usage",
        "pg_partition_ancestors",
        "pg_partition_tree",
        "pg_prepared_xact",
        "pg_read_file",
        "pg_read_file_old",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_sequence_last_value",
        "pg_show_all_file_settings",
        "pg_show_replication_origin_status",
        "pg_stat_clear_snapshot",
        "pg_stat_force_next_flush",
        "pg_stat_have_stats",
        "pg_export_snapshot",
        "pg_collation_actual_version",
        "pg_database_collation_actual_version",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_replication_origin_session_is_setup",
        "pg_replication_origin_progress",
        "current_query",
        "lo_get",
        "loread",
        "lo_open",
        "lo_close",
        "lo_tell",
        "lo_tell64",
        "lo_lseek",
        "lo_lseek64",
        "bernoulli",
        "system",
        "pg_stat_statements",
        "pg_stat_statements_info",
        "hypopg",
        "hypopg_relation_size",
        "hypopg_get_indexdef",
    }
)


#: Marks an effect that happens when a statement is only planned: the planner evaluates
#: IMMUTABLE and STABLE functions (constant folding, selectivity estimates).
PLANNER_RUNS = "runs when planned"


def _names(text: str) -> list[str]:
    return text.split()


#: Common built-in functions that are not VOLATILE, for judging without a server.
KNOWN_SAFE: frozenset[str] = frozenset(
    _names(
        """abs avg bool_and bool_or ceil coalesce concat count date_trunc extract floor
    generate_series greatest least length lower max min now nullif round string_agg sum
    array_agg json_agg jsonb_agg upper substr substring trim to_char to_timestamp
    current_setting format md5 row_number rank dense_rank lag lead unnest
    jsonb_build_object json_build_object left right replace split_part position
    pg_backend_pid version"""
    )
)
_HARMLESS_PATTERNS = (
    re.compile(r"^pg_(?:.*_)?size$"),  # pg_relation_size, pg_database_size, ...
    re.compile(r"^pg_stat_get_"),
    re.compile(r"^pg_ls_"),
    re.compile(r"^pg_control_"),
    re.compile(r"^pg_current_wal_"),
    re.compile(r"^pg_last_"),
    re.compile(r"^pg_get_"),
    re.compile(r"^pg_logical_slot_peek_"),
)

#: Settings whose change could lift a guard (read-only mode, timeouts, identity).
_GUARDED_SETTING = re.compile(
    r"read_only|timeout|^role$|^session_authorization$|^session_replication_role$"
    r"|^allow_|^zero_damaged_pages$|^ignore_|_preload_libraries$",
    re.I,
)

# Node types allowed anywhere inside a statement the guard lets through. Anything else
# (a construct this guard was not written for) is refused.
_EXPR_NODES = frozenset(
    _names(
        """A_ArrayExpr A_Const A_Expr A_Indices A_Indirection A_Star Alias BitString BoolExpr
    Boolean BooleanTest CTECycleClause CTESearchClause CaseExpr CaseWhen CoalesceExpr
    CollateClause ColumnDef ColumnRef CommonTableExpr CurrentOfExpr DefElem Float FuncCall
    GroupingFunc GroupingSet IndexElem InferClause Integer IntoClause JoinExpr
    JsonAggConstructor JsonArgument JsonArrayAgg JsonArrayConstructor
    JsonArrayQueryConstructor JsonBehavior JsonFormat JsonFuncExpr JsonIsPredicate
    JsonKeyValue JsonObjectAgg JsonObjectConstructor JsonOutput JsonParseExpr
    JsonReturning JsonScalarExpr JsonSerializeExpr JsonTable JsonTableColumn
    JsonTablePathSpec JsonValueExpr List LockingClause MergeSupportFunc MergeWhenClause
    MinMaxExpr MultiAssignRef NamedArgExpr NullTest OnConflictClause ParamRef
    RangeFunction RangeSubselect RangeTableFunc RangeTableFuncCol RangeTableSample
    RangeVar ResTarget ReturningClause ReturningOption RowExpr SQLValueFunction
    SetToDefault SortBy String SubLink TypeCast TypeName WindowDef WithClause XmlExpr
    XmlSerialize SelectStmt InsertStmt UpdateStmt DeleteStmt MergeStmt"""
    )
)
_DML = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})
#: Statements PostgreSQL can EXPLAIN.
_EXPLAINABLE = frozenset(
    {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "ExecuteStmt"}
)
_READ_UTILITY = frozenset({"VariableShowStmt", "FetchStmt", "ClosePortalStmt"})
_SESSION_STMTS = frozenset({"ListenStmt", "UnlistenStmt", "DeallocateStmt", "ConstraintsSetStmt"})
# DDL PostgreSQL runs inside a transaction (undone by a rollback): a write.
_TRANSACTIONAL_DDL = frozenset(
    _names(
        """AlterCollationStmt AlterDefaultPrivilegesStmt AlterDomainStmt AlterEnumStmt
    AlterEventTrigStmt AlterExtensionContentsStmt AlterExtensionStmt AlterFdwStmt
    AlterForeignServerStmt AlterFunctionStmt AlterObjectDependsStmt AlterObjectSchemaStmt
    AlterOpFamilyStmt AlterOperatorStmt AlterOwnerStmt AlterPolicyStmt AlterPublicationStmt
    AlterRoleSetStmt AlterRoleStmt AlterSeqStmt AlterStatsStmt AlterTSConfigurationStmt
    AlterTSDictionaryStmt AlterTableStmt AlterTypeStmt AlterUserMappingStmt
    AlterDatabaseSetStmt AlterDatabaseRefreshCollStmt CommentStmt CompositeTypeStmt
    CreateAmStmt CreateCastStmt CreateConversionStmt CreateDomainStmt CreateEnumStmt
    CreateEventTrigStmt CreateExtensionStmt CreateFdwStmt CreateForeignServerStmt
    CreateForeignTableStmt CreateFunctionStmt CreateOpClassStmt CreateOpFamilyStmt
    CreatePLangStmt CreatePolicyStmt CreatePublicationStmt CreateRangeStmt CreateRoleStmt
    CreateSchemaStmt CreateSeqStmt CreateStatsStmt CreateStmt CreateTableAsStmt
    CreateTransformStmt CreateTrigStmt CreateUserMappingStmt DefineStmt DropOwnedStmt
    DropRoleStmt DropStmt DropUserMappingStmt GrantRoleStmt GrantStmt
    ImportForeignSchemaStmt IndexStmt ReassignOwnedStmt RefreshMatViewStmt RenameStmt
    ReplicaIdentityStmt RuleStmt SecLabelStmt TruncateStmt ViewStmt AlterTableMoveAllStmt
    AlterTableSpaceOptionsStmt"""
    )
)
# Statements a rollback cannot undo, or that cannot run in a transaction at all.
_MAINTENANCE = frozenset(
    _names(
        """VacuumStmt ClusterStmt ReindexStmt CheckPointStmt LoadStmt CreatedbStmt DropdbStmt
    AlterDatabaseStmt CreateTableSpaceStmt DropTableSpaceStmt AlterSystemStmt
    CreateSubscriptionStmt AlterSubscriptionStmt DropSubscriptionStmt"""
    )
)


_MAINTENANCE_WORDS = {
    "VacuumStmt": "VACUUM",
    "ClusterStmt": "CLUSTER",
    "ReindexStmt": "REINDEX",
    "CheckPointStmt": "CHECKPOINT",
    "LoadStmt": "LOAD",
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterDatabaseStmt": "ALTER DATABASE",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
    "DropSubscriptionStmt": "DROP SUBSCRIPTION",
    "IndexStmt": "CREATE INDEX",
    "DropStmt": "DROP",
}


@dataclass(frozen=True)
class Verdict:
    """The guard's judgement of one statement.

    ``effects`` names what a rollback cannot undo (``"setval: sequences"``);
    ``needs_write`` means it can only run in a READ WRITE transaction (DML, row locks,
    flagged effects); ``explainable`` whether ``EXPLAIN`` takes it.
    """

    text: str
    kind: StatementKind
    reason: str
    allowed: bool
    effects: tuple[str, ...] = ()
    explainable: bool = False
    needs_write: bool = False
    line: int = 1
    hint: str = ""  # what would let a refused statement through, if anything

    @property
    def message(self) -> str:
        """The reason, with the hint of a refusal: ``writes (UPDATE); pass --allow-writes``."""
        return f"{self.reason}; {self.hint}" if self.hint and not self.allowed else self.reason

    def describe(self) -> str:
        """``refused (write): UPDATE t SET ...: reason`` - one line for a report."""
        state = "allowed" if self.allowed else "refused"
        return f"{state} ({self.kind}): {_short(self.text)}: {self.message}"


@dataclass(frozen=True)
class GuardPolicy:
    """What a path may send.

    ``writes``: DML/DDL and row locks may be sent (rolled back on ``explain --analyze``;
    committed only by ``--allow-writes`` on pool/replay). ``transactions``: plain
    transaction blocks of the workload (never READ WRITE, never two-phase).
    ``executes=False``: the statement is only planned (EXPLAIN without ANALYZE), so
    side effects cannot happen. ``explain_only``: only statements EXPLAIN takes.
    ``allow_effects``: effect categories or function names the user flagged.
    """

    writes: bool = False
    transactions: bool = False
    session: bool = False
    executes: bool = True
    explain_only: bool = False
    allow_effects: frozenset[str] = frozenset()
    #: writes are committed (``--allow-writes`` on pool/replay): what a written table's
    #: defaults, triggers and rules do is part of the write the user asked for
    writes_commit: bool = False

    def allows_effect(self, name: str, category: str) -> bool:
        flags = self.allow_effects
        return category in flags or name.lower() in flags or name.rsplit(".", 1)[-1] in flags


@dataclass(frozen=True)
class FunctionInfo:
    """One ``pg_proc`` row: ``builtin`` when it lives in ``pg_catalog``; for a
    user-defined function its ``language`` and ``body`` (judged: volatility may lie)."""

    schema: str
    name: str
    volatility: str  # i | s | v
    builtin: bool
    extension: str | None = None
    language: str = ""
    body: str | None = None


class FunctionCatalog(Protocol):
    """Looks up functions (and operators) by name, on the server or from a table."""

    def functions(self, names: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        """For each lower-case name, every function of that name in any schema."""
        ...

    def operators(self, names: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        """For each operator name, the functions behind operators of that name."""
        ...

    def relations(self, names: Iterable[str]) -> Mapping[str, Sequence[RelationInfo]]:
        """For each relation name, every relation of that name in any schema."""
        ...

    def casts(self, types: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        """For each lower-case type name, the functions of the casts to it."""
        ...


@dataclass(frozen=True)
class RelationInfo:
    """What the guard needs to know of a table or view (``guard_relations.sql``)."""

    schema: str
    name: str
    relkind: str
    definition: str | None  # a view's SELECT: its functions run when it is read
    identity: bool  # an identity column (draws from a sequence on INSERT)
    defaults: tuple[str, ...]  # column default expressions (run on INSERT)
    checks: tuple[str, ...]  # CHECK constraint expressions (run on INSERT/UPDATE)
    policies: tuple[str, ...]  # row-level security expressions (run on every use)
    triggers: tuple[str, ...]  # user triggers (their functions' effects are unknown)
    rules: bool  # rewrite rules other than a view's own
    #: user triggers of the partitions, inheritance children and referencing tables
    #: (foreign-key cascades) that a write of this table reaches
    written_triggers: tuple[str, ...] = ()
    #: user functions called by index expressions, defaults, constraints and column
    #: domains of this table and of the tables a write of it reaches
    written_functions: tuple[str, ...] = ()
    #: a write (insert) of it or of the tables it reaches may draw from a sequence
    written_sequences: bool = False


class ServerCatalog:
    """:class:`FunctionCatalog` on a live connection (``guard_functions.sql``), cached."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._fn: dict[str, tuple[FunctionInfo, ...]] = {}
        self._op: dict[str, tuple[FunctionInfo, ...]] = {}
        self._rel: dict[str, tuple[RelationInfo, ...]] = {}
        self._cast: dict[str, tuple[FunctionInfo, ...]] = {}

    def _load(
        self, functions: Iterable[str], operators: Iterable[str], types: Iterable[str] = ()
    ) -> None:
        from perfkit.db.sql import load_sql

        fns = sorted({n for n in functions if n not in self._fn})
        ops = sorted({n for n in operators if n not in self._op})
        tys = sorted({n for n in types if n not in self._cast})
        if not fns and not ops and not tys:
            return
        sql = load_sql("guard_functions", int(self.conn.info.server_version))
        found: dict[tuple[str, str], list[FunctionInfo]] = {}
        args = {"functions": fns, "operators": ops, "types": tys}
        with self.conn.transaction():
            rows = self.conn.execute(sql, args).fetchall()
        for kind, key, schema, name, vol, builtin, ext, lang, body in rows:
            found.setdefault((str(kind), str(key)), []).append(
                FunctionInfo(
                    str(schema), str(name), str(vol), bool(builtin), ext, str(lang or ""), body
                )
            )
        for n in fns:
            self._fn[n] = tuple(found.get(("f", n), ()))
        for n in ops:
            self._op[n] = tuple(found.get(("o", n), ()))
        for n in tys:
            self._cast[n] = tuple(found.get(("c", n), ()))

    def casts(self, types: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        types = list(types)
        self._load((), (), types)
        return {n: self._cast.get(n, ()) for n in types}

    def functions(self, names: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        names = list(names)
        self._load(names, ())
        return {n: self._fn.get(n, ()) for n in names}

    def operators(self, names: Iterable[str]) -> Mapping[str, Sequence[FunctionInfo]]:
        names = list(names)
        self._load((), names)
        return {n: self._op.get(n, ()) for n in names}

    def relations(self, names: Iterable[str]) -> Mapping[str, Sequence[RelationInfo]]:
        from perfkit.db.sql import load_sql

        names = list(names)
        missing = sorted({n for n in names if n not in self._rel})
        if missing:
            sql = load_sql("guard_relations", int(self.conn.info.server_version))
            found: dict[str, list[RelationInfo]] = {n: [] for n in missing}
            with self.conn.transaction():
                rows = self.conn.execute(sql, {"names": missing}).fetchall()
            for (
                schema,
                name,
                relkind,
                definition,
                ident,
                dflt,
                chk,
                pol,
                trig,
                rules,
                w_trig,
                w_fn,
                w_seq,
            ) in rows:
                found.setdefault(str(name), []).append(
                    RelationInfo(
                        str(schema),
                        str(name),
                        str(relkind),
                        definition,
                        bool(ident),
                        tuple(dflt or ()),
                        tuple(chk or ()),
                        tuple(pol or ()),
                        tuple(trig or ()),
                        bool(rules),
                        tuple(w_trig or ()),
                        tuple(w_fn or ()),
                        bool(w_seq),
                    )
                )
            for n, infos in found.items():
                self._rel[n] = tuple(infos)
        return {n: self._rel.get(n, ()) for n in names}


@dataclass
class _Facts:
    """What a walk of one statement's tree found."""

    functions: list[str] = field(default_factory=list)  # qualified lower-case names
    operators: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    dml: bool = False
    locks: bool = False
    into: bool = False
    set_config: list[Any] = field(default_factory=list)  # first-argument nodes
    relations: list[str] = field(default_factory=list)  # every relation name read or written
    targets: list[str] = field(default_factory=list)  # relations written by DML
    inserts: list[str] = field(default_factory=list)  # ... where defaults may be used
    types: list[str] = field(default_factory=list)  # type names of explicit casts
    defaults: bool = False  # SET col = DEFAULT somewhere


def _node_name(names: Any) -> str:
    parts = []
    for item in names or ():
        if isinstance(item, dict) and "String" in item:
            parts.append(str(item["String"].get("sval", "")))
    return ".".join(parts)


def _walk(node: Any, facts: _Facts, top: bool = True) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, facts, False)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        (key, val) = next(iter(node.items()))
        if key[:1].isupper() and isinstance(val, dict):
            if key not in _EXPR_NODES and not top:
                facts.unknown.add(key)
            if key in _DML and not top:
                facts.dml = True
            _fields(key, val, facts)
            return
    _fields("", node, facts)


def _fields(kind: str, val: dict[str, Any], facts: _Facts) -> None:
    if "funcname" in val and kind in ("FuncCall", ""):
        name = _node_name(val["funcname"]).lower()
        facts.functions.append(name)
        if name.rsplit(".", 1)[-1] == "set_config":
            args = val.get("args") or []
            facts.set_config.append(args[0] if args else None)
    if kind == "A_Expr" and "name" in val:
        facts.operators.append(_node_name(val["name"]))
    if kind == "SortBy" and val.get("useOp"):
        facts.operators.append(_node_name(val["useOp"]))
    if (kind == "JoinExpr" and (val.get("usingClause") or val.get("isNatural"))) or (
        kind == "CaseExpr" and val.get("arg")
    ):
        facts.operators.append("=")  # an implicit equality: whichever = the types have
    if "relname" in val:
        facts.relations.append(str(val["relname"]))
    if kind in _DML and isinstance(val.get("relation"), dict):
        facts.targets.append(str(val["relation"].get("relname", "")))
        if kind in ("InsertStmt", "MergeStmt"):
            facts.inserts.append(facts.targets[-1])
    if kind == "SetToDefault":
        facts.defaults = True
    if kind == "TypeCast" and isinstance(val.get("typeName"), dict):
        names = val["typeName"].get("names") or []
        facts.types.append(_node_name(names[-1:]).lower())
    if kind == "LockingClause":
        facts.locks = True
    if kind == "SelectStmt" and "intoClause" in val:
        facts.into = True
    for sub in val.values():
        if isinstance(sub, (dict, list)):
            _walk(sub, facts, False)


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


@dataclass(frozen=True)
class _Raw:
    text: str
    node_type: str
    body: dict[str, Any]
    line: int


def split_statements(sql: str) -> tuple[list[_Raw], str | None]:
    """Split ``sql`` with PostgreSQL's parser: the statements, or the parse error."""
    from pglast import parser

    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except Exception as exc:  # pglast.parser.ParseError, and others on odd input
        return [], str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    data = sql.encode("utf-8")
    out = []
    for st in tree.get("stmts", []):
        start = int(st.get("stmt_location", 0))
        length = st.get("stmt_len")
        end = start + int(length) if length else len(data)
        text = data[start:end].decode("utf-8", errors="replace").strip()
        stmt = st.get("stmt") or {}
        if not stmt:
            continue
        ((node_type, body),) = stmt.items()
        lead = data[start:end].decode("utf-8", errors="replace")
        line = data[:start].count(b"\n") + 1 + lead[: len(lead) - len(lead.lstrip())].count("\n")
        out.append(_Raw(text, node_type, body, line))
    return out, None


_PLPGSQL_DYNAMIC = frozenset({"PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"})
_PLPGSQL_ASSIGN = re.compile(r"^[^:=]*?:?=")


def _plpgsql_queries(definition: str) -> list[str] | None:
    """Every SQL text (statements and expressions) of a PL/pgSQL function, given its
    ``CREATE FUNCTION`` text, or None when it runs dynamic SQL or cannot be parsed:
    what cannot be read cannot be judged."""
    from pglast import parser

    try:
        tree = json.loads(parser.parse_plpgsql_json(definition))
    except Exception:  # pglast.parser.ParseError, and others on odd input
        return None
    out: list[str] = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "dynquery" in node or any(k in _PLPGSQL_DYNAMIC for k in node):
                return None
            expr = node.get("PLpgSQL_expr")
            if isinstance(expr, dict) and isinstance(expr.get("query"), str):
                query, mode = expr["query"], int(expr.get("parseMode") or 0)
                if mode >= 3:  # an assignment: judge its value
                    query = "SELECT " + _PLPGSQL_ASSIGN.sub("", query, count=1)
                elif mode:  # an expression
                    query = f"SELECT {query}"
                out.append(query)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return out


def _const_text(node: Any) -> str | None:
    if isinstance(node, dict) and "A_Const" in node:
        c = node["A_Const"]
        if "sval" in c:
            return str(c["sval"].get("sval", ""))
    if isinstance(node, dict) and "TypeCast" in node:
        return _const_text(node["TypeCast"].get("arg"))
    return None


def _read_write_opt(options: Any) -> bool:
    """Whether transaction options say READ WRITE (``transaction_read_only`` false)."""
    for opt in options or ():
        d = opt.get("DefElem") if isinstance(opt, dict) else None
        if d and d.get("defname") == "transaction_read_only":
            arg = d.get("arg", {}).get("A_Const", {})
            if not arg.get("ival", {}).get("ival"):
                return True
    return False


class Guard:
    """Judges statements for one session under a :class:`GuardPolicy`.

    ``catalog`` resolves function volatility (a :class:`ServerCatalog`); without one, a
    function the built-in tables do not know is refused. The guard remembers the
    PREPAREd statements it judged, so an ``EXECUTE`` is judged by its body.
    """

    def __init__(self, policy: GuardPolicy, catalog: FunctionCatalog | None = None) -> None:
        self.policy = policy
        self.catalog = catalog
        self.prepared: dict[str, Verdict] = {}
        self._views: list[str] = []  # views being judged (no endless recursion)
        self._bodies: dict[tuple[str, str, str | None], list[tuple[str, str]]] = {}
        self._cut = 0  # how often recursion was cut short (such results are not cached)

    # --- the public entry points -------------------------------------------------

    def judge(self, sql: str) -> tuple[Verdict, ...]:
        """Every statement of ``sql``, in order, with its verdict. Empty text: ()."""
        if "\x00" in sql:
            # the parser and libpq both stop at a NUL byte: what follows it would be
            # judged and sent differently from what the text shows
            why = "holds a NUL byte (PostgreSQL cannot take one in a query)"
            return (Verdict(sql.replace("\x00", "\\x00").strip(), "unparsable", why, False),)
        raws, error = split_statements(sql)
        if error is not None:
            return (Verdict(sql.strip(), "unparsable", f"PostgreSQL's parser: {error}", False),)
        return tuple(self._final(raw) for raw in raws)

    def judge_one(self, sql: str) -> Verdict:
        """``sql`` must be exactly one statement: several are refused as a whole."""
        verdicts = self.judge(sql)
        if len(verdicts) == 1:
            return verdicts[0]
        if not verdicts:
            return Verdict(sql.strip(), "unknown", "no statement", False)
        return Verdict(
            sql.strip(),
            "unknown",
            f"{len(verdicts)} statements in one text: " + "; ".join(v.describe() for v in verdicts),
            False,
        )

    # --- internals ---------------------------------------------------------------

    def _final(self, raw: _Raw) -> Verdict:
        v = self._judge_stmt(raw)
        if raw.node_type == "PrepareStmt":
            name = str(raw.body.get("name", "")).lower()
            self.prepared[name] = v
        return v

    def _verdict(
        self,
        raw: _Raw,
        kind: StatementKind,
        reason: str,
        *,
        effects: Sequence[tuple[str, str]] = (),
        explainable: bool = False,
        needs_write: bool = False,
    ) -> Verdict:
        p = self.policy
        allowed = True
        hint = ""
        unflagged = [(n, c) for n, c in effects if not p.allows_effect(n, c)]
        if kind in ("unparsable", "unknown", "lifts_guard"):
            allowed = False
        elif kind == "transaction":
            allowed = p.transactions and not p.explain_only
            hint = "" if allowed else "transaction control is never sent on this path"
        elif kind == "session":
            allowed = p.session and not p.explain_only
            hint = "" if allowed else "session changes are not sent on this path"
        elif kind in ("write", "lock") and not p.writes:
            allowed = False
            hint = "pass --allow-writes to send writes"
        if allowed and p.explain_only and not explainable:
            allowed = False
            hint = "EXPLAIN cannot take this statement"
        if not p.executes:  # only planned: what the planner itself runs still counts
            unflagged = [(n, c) for n, c in unflagged if PLANNER_RUNS in n]
        if allowed and unflagged:
            allowed = False
            what = ", ".join(dict.fromkeys(n for n, _ in unflagged))
            hint = f"not undone by a rollback: {what}; pass --allow-side-effects " + ",".join(
                sorted({c for _, c in unflagged})
            )
        if kind == "side_effect" and not effects:
            allowed = False
        return Verdict(
            raw.text,
            kind,
            reason,
            allowed,
            tuple(f"{n}: {c}" for n, c in effects),
            explainable,
            needs_write or bool(effects),
            raw.line,
            hint,
        )

    def _function_effects(self, facts: _Facts) -> tuple[list[tuple[str, str]], str | None]:
        """(effects, a lifts-guard reason) of the functions and operators called."""
        effects: list[tuple[str, str]] = []
        lookup: set[str] = set()
        for full in facts.functions:
            name = full.rsplit(".", 1)[-1]
            cat = EFFECT_FUNCTIONS.get(name)
            if cat is None:
                cat = next((c for pat, c in EFFECT_PATTERNS if pat.search(name)), None)
            if cat is not None:
                effects.append((full, cat))
            elif name != "set_config":
                lookup.add(name)
        for arg in facts.set_config:
            setting = _const_text(arg)
            if setting is None:
                return effects, "set_config of a setting not named by a constant"
            if _GUARDED_SETTING.search(setting):
                return effects, f"set_config of {setting}"
        if lookup:
            effects.extend(self._volatile(sorted(lookup)))
        ops = sorted({o for o in facts.operators if o})
        if ops:
            effects.extend(self._volatile_ops(ops))
        if self.catalog is not None and facts.types:
            found = self.catalog.casts(sorted(set(facts.types)))
            for tname, infos in found.items():
                for info in infos:
                    if info.builtin:
                        continue
                    effects.extend(
                        (f"cast to {tname} ({n})", c) for n, c in self._info_effects(info)
                    )
        if self.catalog is not None and facts.relations:
            effects.extend(self._relation_effects(facts))
        return effects, None

    def _expression_effects(self, where: str, expr: str) -> list[tuple[str, str]]:
        """Effects of a stored expression (a default, a CHECK, a policy): judged as the
        SELECT of it; what cannot be judged counts as unknown effects."""
        raws, error = split_statements(f"SELECT {expr}")
        if error is not None or len(raws) != 1:
            return [(f"{where} (not parsed)", "volatile-functions")]
        facts = _Facts()
        _walk({raws[0].node_type: raws[0].body}, facts)
        effects, lift = self._function_effects(facts)
        if lift:
            effects.append((f"{where} ({lift})", "volatile-functions"))
        if "nextval" in expr.lower() and not any(c == "sequences" for _, c in effects):
            effects.append((f"{where} (nextval)", "sequences"))
        return [(f"{where}: {n}", c) for n, c in effects]

    def _relation_effects(self, facts: _Facts) -> list[tuple[str, str]]:
        """Effects hidden behind relations: a view's functions run when it is read; a
        DML target's sequence defaults, user triggers and rules run when it is written."""
        assert self.catalog is not None
        out: list[tuple[str, str]] = []
        targets = set(facts.targets)
        found = self.catalog.relations(sorted(set(facts.relations)))
        for name, infos in found.items():
            for rel in infos:
                qual = f"{rel.schema}.{rel.name}"
                if qual in self._views:
                    continue  # already being judged (a view or policy naming itself)
                if len(self._views) >= 8:
                    out.append((f"{qual} (nested too deep)", "volatile-functions"))
                    continue
                self._views.append(qual)
                try:
                    out.extend(self._one_relation(rel, qual, name, targets, facts))
                finally:
                    self._views.pop()
        return out

    def _one_relation(
        self, rel: RelationInfo, qual: str, name: str, targets: set[str], facts: _Facts
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if rel.relkind == "v" and rel.definition:
            for v in self.judge(rel.definition):
                if v.kind in ("lifts_guard", "unknown", "unparsable"):
                    out.append((f"view {qual} ({v.reason})", "volatile-functions"))
                out.extend((f"view {qual}: {n}", c) for n, c in _effects(v))
        for expr in rel.policies:
            out.extend(self._expression_effects(f"policy on {qual}", expr))
        if name not in targets or self.policy.writes_commit:
            return out
        inserts = name in facts.inserts or facts.defaults
        if rel.identity and inserts:
            out.append((f"identity column of {qual}", "sequences"))
        for expr in rel.defaults if inserts else ():
            out.extend(self._expression_effects(f"default of {qual}", expr))
        for expr in rel.checks:
            out.extend(self._expression_effects(f"check of {qual}", expr))
        for trig in rel.triggers:
            out.append((f"trigger {trig} on {qual}", "volatile-functions"))
        for trig in rel.written_triggers:
            out.append((f"trigger {trig} reached by a write of {qual}", "volatile-functions"))
        if rel.written_sequences and inserts and not rel.identity:
            out.append((f"sequence default reached by a write of {qual}", "sequences"))
        if rel.written_functions:
            fx = self._volatile(sorted({f.lower() for f in rel.written_functions}))
            out.extend((f"code run by a write of {qual}: {n}", c) for n, c in fx)
        if rel.rules:
            out.append((f"rule on {qual}", "volatile-functions"))
        return out

    def _volatile(self, names: list[str]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.catalog is None:
            # no server to ask: only the functions the tables above know pass
            for name in names:
                if name not in HARMLESS_VOLATILE and name not in KNOWN_SAFE:
                    out.append((name, "volatile-functions"))
            return out
        found = self.catalog.functions(names)
        for name in names:
            for info in found.get(name, ()):
                effects = self._info_effects(info)
                if effects:
                    out.extend(effects)
                    break
        return out

    def _info_effects(self, info: FunctionInfo) -> list[tuple[str, str]]:
        """Effects of calling one function: a VOLATILE one unless known harmless; a
        user-defined one whatever it declares, by its body (volatility can lie)."""
        qual = f"{info.schema}.{info.name}"
        lowered = info.name.lower()
        if info.builtin or info.extension:
            if info.volatility != "v" or lowered in HARMLESS_VOLATILE:
                return []
            if any(p.search(lowered) for p in _HARMLESS_PATTERNS):
                return []  # built-in (or an extension's) harmless volatile function
            return [(qual, "volatile-functions")]
        if info.volatility == "v":
            return [(qual, "volatile-functions")]
        key = f"function {qual}"
        cached = self._bodies.get((qual, info.volatility, info.body))
        if cached is not None:
            return cached
        if key in self._views:
            self._cut += 1
            return []  # recursion: already being judged
        if len(self._views) >= 8:
            return [(f"{qual} (nested too deep)", "volatile-functions")]
        self._views.append(key)
        # the planner runs IMMUTABLE (and, to estimate, STABLE) functions: their effects
        # happen even when the statement is only planned (EXPLAIN without ANALYZE)
        declared = "immutable" if info.volatility == "i" else "stable"
        cut = self._cut
        try:
            out = [
                (f"{qual} (declared {declared}, {PLANNER_RUNS}): {n}", c)
                for n, c in self._body_effects(info)
            ]
            if cut == self._cut:  # complete: nothing was left out for recursion
                self._bodies[(qual, info.volatility, info.body)] = out
            return out
        finally:
            self._views.pop()

    def _body_effects(self, info: FunctionInfo) -> list[tuple[str, str]]:
        body = info.body
        lang = info.language.lower()
        if body is None or lang not in ("sql", "plpgsql"):
            return [(f"body in language {lang or '?'} not judged", "volatile-functions")]
        if lang == "sql":
            texts = [body]
        else:  # the body is the CREATE FUNCTION text (guard_functions.sql)
            texts_or_none = _plpgsql_queries(body)
            if texts_or_none is None:
                return [("dynamic or unparsed PL/pgSQL", "volatile-functions")]
            texts = texts_or_none
        out: list[tuple[str, str]] = []
        for text in texts:
            for v in self.judge(text):
                if v.kind in ("lifts_guard", "unknown", "unparsable"):
                    out.append((f"body ({v.reason})", "volatile-functions"))
                out.extend(_effects(v))
        return out

    def _volatile_ops(self, names: list[str]) -> list[tuple[str, str]]:
        if self.catalog is None:
            return []
        out: list[tuple[str, str]] = []
        found = self.catalog.operators([n.rsplit(".", 1)[-1] for n in names])
        for name, infos in found.items():
            for info in infos:
                if not info.builtin:
                    out.extend((f"operator {name} ({n})", c) for n, c in self._info_effects(info))
        return out

    def _judge_stmt(self, raw: _Raw) -> Verdict:
        t, body = raw.node_type, raw.body
        if t in ("SelectStmt", *_DML):
            return self._judge_query(raw, {t: body})
        if t == "ExplainStmt":
            analyze = any(
                isinstance(o, dict) and o.get("DefElem", {}).get("defname") == "analyze"
                for o in body.get("options") or ()
            )
            inner = self._judge_query(raw, body.get("query") or {})
            if analyze or inner.kind in ("lifts_guard", "unknown", "unparsable"):
                return self._verdict(
                    raw,
                    inner.kind,
                    f"EXPLAIN ANALYZE runs it: {inner.reason}" if analyze else inner.reason,
                    effects=_effects(inner),
                    needs_write=inner.needs_write,
                )
            return self._verdict(raw, "read", "EXPLAIN without ANALYZE only plans")
        if t == "TransactionStmt":
            kind = str(body.get("kind", "")).removeprefix("TRANS_STMT_")
            word = kind.replace("_", " ")
            if kind in ("PREPARE", "COMMIT_PREPARED", "ROLLBACK_PREPARED"):
                return self._verdict(
                    raw,
                    "side_effect",
                    f"{word} outlives the session",
                    effects=[(word, "two-phase")],
                )
            if _read_write_opt(body.get("options")):
                return self._verdict(raw, "lifts_guard", f"{word} READ WRITE lifts read-only mode")
            return self._verdict(raw, "transaction", f"transaction control ({word})")
        if t == "VariableSetStmt":
            return self._judge_set(raw, body)
        if t in ("AlterRoleSetStmt", "AlterDatabaseSetStmt", "AlterSystemStmt"):
            setstmt = body.get("setstmt") or {}
            name = str(setstmt.get("name") or "")
            if setstmt.get("kind") == "VAR_RESET_ALL" or _GUARDED_SETTING.search(name):
                return self._verdict(
                    raw, "lifts_guard", f"changes the default of {name or 'every setting'}"
                )
        if t == "DiscardStmt":
            return self._verdict(raw, "lifts_guard", "DISCARD resets session state")
        if t in _READ_UTILITY:
            return self._verdict(raw, "read", "reads session state")
        if t in _SESSION_STMTS:
            return self._verdict(raw, "session", "session state")
        if t == "DeclareCursorStmt":
            inner = self._judge_query(raw, body.get("query") or {})
            return self._verdict(
                raw,
                inner.kind,
                inner.reason,
                effects=_effects(inner),
                needs_write=inner.needs_write,
            )
        if t == "PrepareStmt":
            inner = self._judge_query(raw, body.get("query") or {})
            if inner.kind == "read" and not inner.effects:
                return self._verdict(raw, "session", "PREPARE of a read")
            return self._verdict(
                raw,
                inner.kind,
                f"PREPARE of: {inner.reason}",
                effects=_effects(inner),
                needs_write=inner.needs_write,
            )
        if t == "ExecuteStmt":
            name = str(body.get("name", "")).lower()
            prep = self.prepared.get(name)
            facts = _Facts()
            _walk(body.get("params") or [], facts, False)
            if prep is None:
                return self._verdict(
                    raw, "unknown", f"EXECUTE of prepared statement {name!r} whose body is unknown"
                )
            stop, effects = self._screen(raw, facts)
            if stop is not None:
                return stop
            return self._verdict(
                raw,
                "read" if prep.kind == "session" else prep.kind,
                f"EXECUTE {name}: {prep.reason}",
                effects=[*_effects(prep), *effects],
                explainable=True,
                needs_write=prep.needs_write,
            )
        if t == "CopyStmt":
            return self._judge_copy(raw, body)
        if t in ("DoStmt", "CallStmt"):
            what = (
                "DO"
                if t == "DoStmt"
                else "CALL " + _node_name((body.get("funccall") or {}).get("funcname"))
            )
            return self._verdict(
                raw,
                "side_effect",
                f"{what} runs code with unknown effects",
                effects=[(what, "procedures")],
            )
        if t == "NotifyStmt":
            return self._verdict(raw, "side_effect", "NOTIFY", effects=[("NOTIFY", "notify")])
        if t == "LockStmt":
            return self._verdict(raw, "lock", "LOCK TABLE blocks other sessions")
        if t in _MAINTENANCE or (
            t in ("IndexStmt", "DropStmt", "ReindexStmt") and body.get("concurrent")
        ):
            word = _MAINTENANCE_WORDS.get(t, t.removesuffix("Stmt"))
            if t == "VacuumStmt" and not body.get("is_vacuumcmd"):
                word = "ANALYZE"
            if body.get("concurrent"):
                word = f"{word} CONCURRENTLY"
            return self._verdict(
                raw,
                "side_effect",
                f"{word} cannot be rolled back",
                effects=[(word, "maintenance")],
            )
        if t in _TRANSACTIONAL_DDL:
            facts = _Facts()
            _walk({t: body}, facts)
            effects, lift = self._function_effects(facts)
            if lift:
                return self._verdict(raw, "lifts_guard", lift)
            return self._verdict(raw, "write", "DDL", effects=effects, needs_write=True)
        return self._verdict(raw, "unknown", f"statement type {t} is not known to the guard")

    def _screen(self, raw: _Raw, facts: _Facts) -> tuple[Verdict | None, list[tuple[str, str]]]:
        """A refusal for an unknown construct or a guard-lifting call, else the effects."""
        if facts.unknown:
            why = "unknown construct " + ", ".join(sorted(facts.unknown))
            return self._verdict(raw, "unknown", why), []
        effects, lift = self._function_effects(facts)
        if lift:
            return self._verdict(raw, "lifts_guard", lift), []
        return None, effects

    def _judge_query(self, raw: _Raw, node: dict[str, Any]) -> Verdict:
        if not node:
            return self._verdict(raw, "unknown", "no statement")
        ((t, _body),) = node.items()
        if t not in ("SelectStmt", *_DML):
            inner = _Raw(raw.text, t, _body, raw.line)
            return self._judge_stmt(inner)
        facts = _Facts()
        _walk(node, facts)
        stop, effects = self._screen(raw, facts)
        if stop is not None:
            return stop
        if t in _DML or facts.dml:
            what = t.removesuffix("Stmt").upper() if t in _DML else "a data-modifying CTE"
            return self._verdict(
                raw,
                "write",
                f"writes ({what})",
                effects=effects,
                explainable=True,
                needs_write=True,
            )
        if facts.into:
            return self._verdict(raw, "write", "SELECT INTO creates a table", effects=effects)
        if facts.locks:
            return self._verdict(
                raw,
                "lock",
                "locks rows (FOR UPDATE/SHARE)",
                effects=effects,
                explainable=True,
                needs_write=True,
            )
        if effects:
            return self._verdict(
                raw,
                "side_effect",
                "calls " + ", ".join(sorted({n for n, _ in effects})),
                effects=effects,
                explainable=True,
            )
        return self._verdict(raw, "read", "read", explainable=True)

    def _judge_set(self, raw: _Raw, body: dict[str, Any]) -> Verdict:
        kind = str(body.get("kind", ""))
        name = str(body.get("name", "") or "")
        if kind == "VAR_RESET_ALL":
            return self._verdict(raw, "lifts_guard", "RESET ALL resets perfkit's session settings")
        if kind == "VAR_SET_MULTI":
            if _read_write_opt(body.get("args")):
                return self._verdict(
                    raw, "lifts_guard", f"SET {name} READ WRITE lifts read-only mode"
                )
            return self._verdict(raw, "session", f"SET {name}")
        if _GUARDED_SETTING.search(name):
            return self._verdict(raw, "lifts_guard", f"changes {name}")
        facts = _Facts()
        _walk(body.get("args") or [], facts, False)
        if facts.unknown or facts.functions:
            return self._verdict(raw, "unknown", f"SET {name} to an expression")
        return self._verdict(raw, "session", f"SET {name}")

    def _judge_copy(self, raw: _Raw, body: dict[str, Any]) -> Verdict:
        effects: list[tuple[str, str]] = []
        if body.get("is_program"):
            effects.append(("COPY PROGRAM", "program"))
        elif body.get("filename"):
            effects.append(("COPY file", "server-files"))
        if body.get("is_from"):
            return self._verdict(raw, "write", "COPY FROM writes a table", effects=effects)
        if body.get("query"):
            inner = self._judge_query(raw, body["query"])
            if inner.kind != "read":
                return self._verdict(
                    raw,
                    inner.kind,
                    f"COPY of: {inner.reason}",
                    effects=[*effects, *_effects(inner)],
                    needs_write=inner.needs_write,
                )
        if effects:
            return self._verdict(
                raw, "side_effect", "COPY to a server file or program", effects=effects
            )
        return self._verdict(raw, "read", "COPY ... TO STDOUT")


def _effects(v: Verdict) -> list[tuple[str, str]]:
    out = []
    for e in v.effects:
        n, _, c = e.rpartition(": ")
        out.append((n, c))
    return out


def parse_effect_flags(
    values: Iterable[str], option: str = "--allow-side-effects"
) -> frozenset[str]:
    """The names given to ``--allow-side-effects`` (comma-separated or repeated): effect
    categories (:data:`EFFECT_CATEGORIES`) or function names. Raises UsageError when empty."""
    from perfkit.errors import UsageError

    out: set[str] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name in ("all", "*"):
                raise UsageError(
                    option, "name the effects to allow: " + ", ".join(EFFECT_CATEGORIES)
                )
            out.add(name)
    return frozenset(out)


_CATALOGS: weakref.WeakKeyDictionary[Any, ServerCatalog] = weakref.WeakKeyDictionary()


def server_catalog(conn: Any) -> ServerCatalog:
    """The (cached) :class:`ServerCatalog` of ``conn``."""
    cat = _CATALOGS.get(conn)
    if cat is None:
        cat = _CATALOGS[conn] = ServerCatalog(conn)
    return cat


def explain_policy(*, analyze: bool, allow_effects: frozenset[str] = frozenset()) -> GuardPolicy:
    """EXPLAIN's rules: one statement EXPLAIN takes; DML is planned, or with ``analyze``
    run in a rolled-back transaction; side effects refused under ``analyze`` unless
    flagged; never transaction control or session changes."""
    return GuardPolicy(
        writes=True, explain_only=True, executes=analyze, allow_effects=allow_effects
    )


def explain_guard(
    conn: Any, *, analyze: bool, allow_effects: frozenset[str] = frozenset()
) -> Guard:
    """A :class:`Guard` for EXPLAIN on ``conn`` (see :func:`explain_policy`)."""
    return Guard(explain_policy(analyze=analyze, allow_effects=allow_effects), server_catalog(conn))


def sequence_values(conn: Any) -> dict[str, int | None]:
    """``last_value`` of every sequence the session can see (``guard_sequences.sql``)."""
    from perfkit.db.sql import load_sql

    with conn.transaction():
        rows = conn.execute(load_sql("guard_sequences", int(conn.info.server_version))).fetchall()
    return {str(name): (None if v is None else int(v)) for name, v in rows}


def advanced_sequences(
    before: Mapping[str, int | None], after: Mapping[str, int | None]
) -> tuple[str, ...]:
    """``advanced sequence public.t_id_seq`` for each sequence whose value changed."""
    return tuple(
        f"advanced sequence {name}"
        for name, value in sorted(after.items())
        if before.get(name) != value
    )


def refusals(verdicts: Iterable[Verdict]) -> Iterator[Verdict]:
    """The verdicts that were refused."""
    return (v for v in verdicts if not v.allowed)


__all__: Sequence[str] = (
    "EFFECT_CATEGORIES",
    "EFFECT_FUNCTIONS",
    "HARMLESS_VOLATILE",
    "FunctionCatalog",
    "FunctionInfo",
    "Guard",
    "GuardPolicy",
    "RelationInfo",
    "ServerCatalog",
    "StatementKind",
    "Verdict",
    "advanced_sequences",
    "explain_guard",
    "explain_policy",
    "parse_effect_flags",
    "refusals",
    "sequence_values",
    "server_catalog",
    "split_statements",
)
