"""What a SQL statement does, as far as a query cache is concerned.

``classify(sql)`` answers: is it a read, a write, DDL, transaction control or something
else; which tables does it read and write; may its result be cached, and if not, why.
``analyze``'s cache replay and the live ``CachedExecutor`` both use it (one set of rules).

Rules (documented for users in docs/analyze.md):

* A read (``SELECT``/``WITH``/``VALUES``/``TABLE``) is cacheable unless it calls a
  volatile function (``now()``, ``random()``, ``nextval()``, ``clock_timestamp()``,
  ``txid_current()``, ``gen_random_uuid()``, advisory locks, ``pg_sleep``, ...), locks
  rows (``FOR UPDATE/SHARE``), reads a ``pg_temp`` table or a statistics view
  (``pg_stat_*``, ``pg_locks``), or is ``SELECT ... INTO`` (which creates a table).
* Writes: INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM/REFRESH MATERIALIZED VIEW, data
  modifying statements inside CTEs (``WITH x AS (DELETE ...) SELECT``), and DDL. ``CALL``
  and ``DO`` may write anything: they write :data:`ALL_TABLES`.
* A ``SELECT`` calling a user-defined function that writes cannot be detected from the
  text; it is treated as a read. Functions with a known volatile name are not cached.
* Table names are lower-case unless quoted, qualified as written (``public.t`` stays
  ``public.t``, ``t`` stays ``t``). Since the search_path is unknown, the cache matches
  reads and writes on the *unqualified* name (:func:`table_key`): a write to ``s.t``
  invalidates reads of ``t`` and of ``other.t`` (over-invalidation is safe, a miss of a
  real invalidation would not be).
* Transaction control and session state (BEGIN/COMMIT/SET/SHOW/...) are never cached;
  "inside a transaction that already wrote" and temporary tables are per-session facts
  tracked by :class:`SessionTracker`.

sqlglot (postgres dialect) gives the structure. Parsing costs 0.2-1 ms, so callers must
classify once per distinct fingerprint; :func:`classify` also memoises by text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from perfkit.cache.core import (  # "*": written by CALL/DO, effects unknown
    ALL_TABLES,
    table_key,
)

Kind = Literal["read", "write", "ddl", "transaction", "other"]
TxAction = Literal["begin", "commit", "rollback", "savepoint"]

__all__ = [
    "ALL_TABLES",
    "SessionTracker",
    "StatementClass",
    "classify",
    "table_key",
]


@dataclass(frozen=True, slots=True)
class StatementClass:
    """The cache-relevant facts about one statement (see the module docstring)."""

    kind: Kind
    tables_read: frozenset[str] = frozenset()
    tables_written: frozenset[str] = frozenset()
    cacheable: bool = False
    reason: str | None = None
    tx_action: TxAction | None = None
    temp_tables_created: frozenset[str] = frozenset()

    @property
    def is_write(self) -> bool:
        """Changes data or schema, so cached reads of its tables become stale."""
        return bool(self.tables_written)


# --- first-keyword routing for statements sqlglot does not model -----------------------

_LEADING_JUNK = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/|\()+", re.S)
_WORDS = re.compile(r"[A-Za-z_]+")

_TX_WORDS: dict[str, TxAction] = {
    "begin": "begin",
    "start": "begin",
    "commit": "commit",
    "end": "commit",
    "rollback": "rollback",
    "abort": "rollback",
    "savepoint": "savepoint",
    "release": "savepoint",
}

_SESSION_WORDS = {
    "set": "changes session settings",
    "reset": "changes session settings",
    "show": "reads a session setting",
    "discard": "changes session state",
    "deallocate": "changes session state",
    "prepare": "defines a prepared statement",
    "execute": "SQL EXECUTE of a prepared statement (its text is not in the log)",
    "listen": "changes session state",
    "unlisten": "changes session state",
    "notify": "sends a notification",
    "declare": "uses a cursor",
    "fetch": "uses a cursor",
    "move": "uses a cursor",
    "close": "uses a cursor",
    "checkpoint": "maintenance command",
    "vacuum": "maintenance command",
    "analyze": "maintenance command",
    "analyse": "maintenance command",
    "cluster": "maintenance command",
    "reindex": "maintenance command",
    "load": "loads a library",
    "lock": "takes an explicit lock",
    "grant": "changes privileges",
    "revoke": "changes privileges",
    "comment": "changes a comment",
    "security": "changes a security label",
    "reassign": "changes ownership",
}

_DDL_WORDS = {"create", "alter", "drop", "import"}

# --- volatility ------------------------------------------------------------------------

_VOLATILE_NAMES = frozenset(
    {
        "now",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timeofday",
        "current_timestamp",
        "current_time",
        "current_date",
        "localtime",
        "localtimestamp",
        "random",
        "random_normal",
        "setseed",
        "nextval",
        "currval",
        "lastval",
        "setval",
        "txid_current",
        "txid_current_if_assigned",
        "txid_current_snapshot",
        "pg_current_snapshot",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "pg_notify",
        "set_config",
        "pg_backend_pid",
        "pg_cancel_backend",
        "pg_terminate_backend",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "inet_client_addr",
        "inet_client_port",
        "pg_postmaster_start_time",
        "pg_conf_load_time",
        # built-ins PostgreSQL marks volatile, or stable but reading server/session state
        "current_setting",
        "current_schema",
        "current_schemas",
        "current_query",
        "currtid2",
        "loread",
        "lowrite",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "pg_database_size",
        "pg_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_total_relation_size",
        "pg_tablespace_size",
        "pg_export_snapshot",
        "pg_is_in_recovery",
        "pg_is_wal_replay_paused",
        "pg_jit_available",
        "pg_lock_status",
        "pg_notification_queue_usage",
        "pg_sequence_last_value",
        "pg_get_backend_memory_contexts",
        "pg_get_shmem_allocations",
        "pg_get_multixact_members",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "ts_stat",
    }
)
_VOLATILE_PREFIXES = (
    "pg_advisory",
    "pg_try_advisory",
    "pg_sleep",
    "pg_stat_",
    "pg_current_",
    "pg_last_",
    "pg_logical_",
    "pg_replication_",
    "pg_control_",
    "pg_wal_",
    "pg_get_wal",
    # server actions
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_",
    "pg_drop_",
    "pg_promote",
    "pg_log_",
    "pg_backup_",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_import_system_collations",
    "pg_copy_",
    "pg_ls_",
    "pg_nextoid",
    "binary_upgrade_",
    "dblink",
    "lo_",
    "uuid_generate",
    "txid_",
)
# sqlglot turns some functions into typed nodes; their sql names as it reports them.
_VOLATILE_NODE_CLASSES = (
    "CurrentTimestamp",
    "CurrentTime",
    "CurrentDate",
    "CurrentDatetime",
    "Localtime",
    "Localtimestamp",
    "Rand",
    "Randn",
    "Uuid",
    "GenerateUuid",
    "CurrentSchema",
    "CurrentSchemas",
)
_NODE_NAMES = {
    "currenttimestamp": "now/current_timestamp",
    "currentdate": "current_date",
    "currenttime": "current_time",
    "currentdatetime": "current_timestamp",
    "generateuuid": "gen_random_uuid",
    "currentschema": "current_schema",
    "currentschemas": "current_schemas",
    "rand": "random",
    "randn": "random_normal",
    "uuid": "gen_random_uuid",
    "current_timestamp": "now/current_timestamp",
}
# Catalog views whose rows reflect live server state rather than stored data.
_VOLATILE_SCHEMAS_TABLES = (
    "pg_stat",
    "pg_locks",
    "pg_prepared_xacts",
    "pg_prepared_statements",
    "pg_replication",
    "pg_settings",
    "pg_file_settings",
    "pg_cursors",
    "pg_backend_memory_contexts",
    "pg_shmem_allocations",
    "pg_sequences",
)


def _is_volatile_name(name: str) -> bool:
    n = name.lower().rsplit(".", 1)[-1]
    return n in _VOLATILE_NAMES or n.startswith(_VOLATILE_PREFIXES)


def _first_words(sql: str, n: int = 3) -> list[str]:
    m = _LEADING_JUNK.match(sql)
    start = m.end() if m else 0
    return [w.lower() for w in _WORDS.findall(sql, start, start + 200)[:n]]


# --- the classifier --------------------------------------------------------------------

_UNPARSEABLE = StatementClass(kind="other", reason="could not be parsed")


def classify(sql: str) -> StatementClass:
    """Classify ``sql`` (one statement, or several separated by ``;``). Never raises."""
    return _classify_cached(sql)


# Statements longer than this are shrunk before sqlglot sees them (bulk VALUES lists and
# huge IN lists cost sqlglot about a second per 100 kB; their shape is all we need).
_LONG = 4000
_PARAM_LIST = re.compile(r"\(\s*\$\d+(?:\s*,\s*\$\d+)+\s*\)")
_PARAM_ROWS = re.compile(r"(\(\$\d+\))(?:\s*,\s*\(\$\d+\))+")


def _shrink(sql: str) -> str:
    from pglast import parser

    try:
        text = parser.normalize(sql)
    except Exception:  # unparseable: leave it to the keyword rules below
        return sql
    text = _PARAM_LIST.sub("($1)", text)
    return _PARAM_ROWS.sub(r"\1", text)


@lru_cache(maxsize=8192)
def _classify_cached(sql: str) -> StatementClass:
    if len(sql) > _LONG:
        sql = _shrink(sql)
    try:
        parts = _split(sql)
        if not parts:
            return StatementClass(kind="other", reason="empty statement")
        classes = [_classify_one(p) for p in parts]
    except Exception:  # a classifier must be total; unknown is uncacheable
        return _UNPARSEABLE
    return classes[0] if len(classes) == 1 else _combine(classes)


def _split(sql: str) -> list[str]:
    if ";" not in sql:
        return [sql] if sql.strip() else []
    from pglast import parser

    try:
        return [s for s in parser.split(sql) if s.strip()]
    except Exception:  # unparseable text: classify it whole
        stripped = sql.strip().rstrip(";")
        return [stripped] if stripped.strip() else []


_KIND_RANK = {"other": 0, "transaction": 1, "read": 2, "ddl": 3, "write": 4}


def _combine(classes: list[StatementClass]) -> StatementClass:
    kind = max((c.kind for c in classes), key=_KIND_RANK.__getitem__)
    reasons = [c.reason for c in classes if not c.cacheable and c.reason]
    cacheable = all(c.cacheable for c in classes)
    tx = [c.tx_action for c in classes if c.tx_action]
    return StatementClass(
        kind=kind,
        tables_read=frozenset().union(*(c.tables_read for c in classes)),
        tables_written=frozenset().union(*(c.tables_written for c in classes)),
        cacheable=cacheable,
        reason=None if cacheable else (reasons[0] if reasons else "several statements"),
        tx_action=tx[-1] if tx else None,
        temp_tables_created=frozenset().union(*(c.temp_tables_created for c in classes)),
    )


def _classify_one(sql: str) -> StatementClass:
    words = _first_words(sql)
    if not words:
        return _UNPARSEABLE
    w0 = words[0]
    if w0 in _TX_WORDS:
        action = _TX_WORDS[w0]
        if w0 == "rollback" and len(words) > 1 and words[1] in ("to", "prepared"):
            action = "savepoint" if words[1] == "to" else "rollback"
        if w0 == "start" and (len(words) < 2 or words[1] != "transaction"):
            return _UNPARSEABLE
        return StatementClass(kind="transaction", reason="transaction control", tx_action=action)
    if w0 == "prepare" and len(words) > 1 and words[1] == "transaction":
        return StatementClass(kind="transaction", reason="transaction control", tx_action="commit")
    if w0 in ("call", "do"):
        return StatementClass(
            kind="write",
            tables_written=frozenset({ALL_TABLES}),
            reason="procedure call: its effects are unknown",
        )
    if w0 == "explain":
        return _classify_explain(sql)
    if w0 == "refresh":
        m = _REFRESH.match(sql)
        name = _plain_name(m.group(1)) if m else ALL_TABLES
        return StatementClass(kind="write", tables_written=frozenset({name}), reason="write")
    if w0 in _SESSION_WORDS:
        return StatementClass(kind="other", reason=_SESSION_WORDS[w0])
    if w0 == "create" and (m := _CREATE_TEMP.match(sql)):
        name = _plain_name(m.group(1))
        return StatementClass(
            kind="ddl",
            tables_written=frozenset({name}),
            reason="DDL",
            temp_tables_created=frozenset({name}),
        )
    if w0 in _DDL_WORDS:
        return _parse_and_classify(sql, fallback_kind="ddl")
    return _parse_and_classify(sql, fallback_kind=None)


_CREATE_TEMP = re.compile(
    r"\s*create\s+(?:(?:global|local)\s+)?(?:temp|temporary)\s+(?:unlogged\s+)?table\s+"
    r"(?:if\s+not\s+exists\s+)?([\w.\"$]+)",
    re.I,
)
_REFRESH = re.compile(r"\s*refresh\s+materialized\s+view\s+(?:concurrently\s+)?([\w.\"$]+)", re.I)


def _plain_name(name: str) -> str:
    parts = []
    for p in name.split("."):
        parts.append(p[1:-1] if p.startswith('"') and p.endswith('"') else p.lower())
    return ".".join(parts)


_EXPLAIN_HEAD = re.compile(
    r"^\s*explain\s*(?:\((?P<opts>[^)]*)\)|(?P<words>(?:(?:analy[sz]e|verbose)\s+)*))",
    re.I,
)


def _classify_explain(sql: str) -> StatementClass:
    m = _EXPLAIN_HEAD.match(sql)
    if not m:
        return StatementClass(kind="other", reason="EXPLAIN")
    head = (m.group("opts") or m.group("words") or "").lower()
    inner = _classify_one(sql[m.end() :])
    analyze = "analy" in head and not re.search(r"analy[sz]e\s+(?:false|off|0)", head)
    if analyze and inner.is_write:
        # EXPLAIN ANALYZE executes the statement.
        return StatementClass(
            kind=inner.kind,
            tables_read=inner.tables_read,
            tables_written=inner.tables_written,
            reason="EXPLAIN ANALYZE of a write",
        )
    return StatementClass(kind="other", tables_read=inner.tables_read, reason="EXPLAIN")


_sqlglot_quiet = False


def _parse(sql: str) -> Any:
    global _sqlglot_quiet
    import sqlglot

    if not _sqlglot_quiet:
        # sqlglot logs a warning for each statement it falls back to an opaque Command.
        logging.getLogger("sqlglot").setLevel(logging.ERROR)
        _sqlglot_quiet = True
    return sqlglot.parse_one(sql, read="postgres")


def _parse_and_classify(sql: str, fallback_kind: Kind | None) -> StatementClass:
    from sqlglot import exp

    try:
        tree = _parse(sql)
    except Exception:  # sqlglot raises several error types
        tree = None
    if tree is None or isinstance(tree, exp.Command):
        if fallback_kind in ("ddl", "write"):
            # Schema change we cannot model: invalidate everything that may depend on it.
            return StatementClass(
                kind=fallback_kind,
                tables_written=frozenset({ALL_TABLES}),
                reason="DDL" if fallback_kind == "ddl" else "write",
            )
        return _UNPARSEABLE
    return _from_tree(tree, exp)


def _ident(node: Any) -> str | None:
    if node is None:
        return None
    name = getattr(node, "name", None)
    if not isinstance(name, str) or not name:
        return None
    quoted = bool(getattr(node, "args", {}).get("quoted"))
    return name if quoted else name.lower()


def _table_name(table: Any, exp: Any) -> str | None:
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        return None
    parts = [_ident(table.args.get(k)) for k in ("catalog", "db", "this")]
    return ".".join(p for p in parts if p)


def _targets(node: Any, exp: Any) -> list[str]:
    """Names of the tables ``node`` (a DML/DDL expression) writes."""
    target = node.this if not isinstance(node, exp.TruncateTable) else None
    found: list[Any] = []
    if isinstance(node, exp.TruncateTable):
        found = list(node.expressions)
    elif isinstance(target, exp.Schema):
        found = [target.this]
    elif target is not None:
        found = [target]
    names = [_table_name(t, exp) for t in found]
    return [n for n in names if n]


def _from_tree(tree: Any, exp: Any) -> StatementClass:
    cte_names = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    written: set[str] = set()
    read: set[str] = set()
    temp_created: set[str] = set()
    reason: str | None = None
    kind: Kind = "read"

    write_nodes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.TruncateTable)
    for node in tree.find_all(*write_nodes):
        kind = "write"
        written.update(_targets(node, exp))
    if isinstance(tree, exp.Copy):
        if tree.args.get("kind"):  # COPY ... FROM
            kind = "write"
            written.update(_targets(tree, exp))
        else:
            reason = reason or "COPY TO (bulk export)"
    ddl_nodes = tuple(
        getattr(exp, n) for n in ("Create", "Drop", "Alter", "AlterTable") if hasattr(exp, n)
    )
    if isinstance(tree, ddl_nodes):
        kind = "ddl"
        names = _targets(tree, exp)
        if isinstance(tree, getattr(exp, "Create", ())) and _is_temp(tree, exp):
            temp_created.update(names)
        kind_arg = str(tree.args.get("kind") or "").upper()
        if kind_arg == "INDEX" or isinstance(tree, exp.Drop):
            # CREATE INDEX names the index; the table is in the index definition.
            names = [n for t in tree.find_all(exp.Table) if (n := _table_name(t, exp))]
        written.update(names or [ALL_TABLES])
    if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
        kind = "write"
        reason = "SELECT ... INTO creates a table"
        into = tree.args["into"]
        written.update(n for t in into.find_all(exp.Table) if (n := _table_name(t, exp)))
        into.pop()

    for t in tree.find_all(exp.Table):
        name = _table_name(t, exp)
        if name and not (name.lower() in cte_names and "." not in name):
            read.add(name)
    read -= written if kind == "ddl" else set()

    if kind == "read" and not isinstance(tree, (exp.Query, exp.Values, exp.Copy)):
        kind = "other"
        reason = reason or "not a recognised query"

    if kind == "read" and reason is None:
        reason = _read_blocker(tree, read, exp)
    if kind in ("write", "ddl") and reason is None:
        reason = "DDL" if kind == "ddl" else "write"
    return StatementClass(
        kind=kind,
        tables_read=frozenset(read),
        tables_written=frozenset(written),
        cacheable=reason is None,
        reason=reason,
        temp_tables_created=frozenset(temp_created),
    )


def _is_temp(create: Any, exp: Any) -> bool:
    props = create.args.get("properties")
    if props is None:
        return False
    return any(isinstance(p, getattr(exp, "TemporaryProperty", ())) for p in props.expressions)


_VOLATILE_CLASSES: tuple[type, ...] | None = None


def _volatile_classes(exp: Any) -> tuple[type, ...]:
    global _VOLATILE_CLASSES
    if _VOLATILE_CLASSES is None:
        _VOLATILE_CLASSES = tuple(
            getattr(exp, n) for n in _VOLATILE_NODE_CLASSES if hasattr(exp, n)
        )
    return _VOLATILE_CLASSES


def _read_blocker(tree: Any, tables: set[str], exp: Any) -> str | None:
    """Why a read must not be cached, or None."""
    for sel in tree.find_all(exp.Select):
        for lock in sel.args.get("locks") or ():
            return (
                "locks rows (FOR UPDATE)" if lock.args.get("update") else "locks rows (FOR SHARE)"
            )
    vclasses = _volatile_classes(exp)
    for fn in tree.find_all(exp.Func):
        if isinstance(fn, vclasses):
            name = type(fn).__name__.lower()
            return f"calls a volatile function ({_NODE_NAMES.get(name, name)})"
        if isinstance(fn, exp.Anonymous) and _is_volatile_name(str(fn.name)):
            return f"calls a volatile function ({str(fn.name).lower()})"
    for name in tables:
        low = name.lower()
        if low.startswith("pg_temp") or ".pg_temp" in low:
            return "reads a temporary table"
        bare = table_key(low)
        if bare.startswith(_VOLATILE_SCHEMAS_TABLES):
            return f"reads live server state ({bare})"
    return None


# --- per-session rules -----------------------------------------------------------------


class _Session:
    __slots__ = ("in_tx", "temp", "written", "wrote")

    def __init__(self) -> None:
        self.in_tx = False
        self.wrote = False
        self.written: frozenset[str] = frozenset()
        self.temp: frozenset[str] = frozenset()


class SessionTracker:
    """Per-session facts that decide whether a cacheable read may use the cache.

    ``observe(session, cls)`` is called for every statement of a session, in order, and
    returns the reason this statement must bypass the cache, or None:

    * "inside a transaction that already wrote" (BEGIN ... a write ... this read);
    * "reads a temporary table" (a table the session created with CREATE TEMP TABLE).

    After a COMMIT of a transaction that wrote, ``committed_tables`` holds the tables it
    wrote (else it is empty): callers invalidate them again, because another session may
    have read (and cached) the old rows between the write and the commit.

    Only sessions that are inside a transaction or own temp tables are kept, at most
    ``max_sessions`` of them (the longest-tracked dropped), so memory does not grow with the log.
    """

    __slots__ = ("_max", "_sessions", "committed_tables")

    def __init__(self, max_sessions: int = 100_000) -> None:
        self._sessions: dict[object, _Session] = {}
        self._max = max_sessions
        self.committed_tables: frozenset[str] = frozenset()

    def observe(self, session: object, cls: StatementClass) -> str | None:
        if self.committed_tables:
            self.committed_tables = frozenset()
        sessions = self._sessions
        st = sessions.get(session)
        if st is None:
            if cls.kind == "read":
                return None
            st = _Session()
            known = False
        else:
            known = True
        blocked: str | None = None
        action = cls.tx_action
        if action == "begin":
            st.in_tx, st.wrote, st.written = True, False, frozenset()
        elif action in ("commit", "rollback"):
            if action == "commit" and st.written:
                self.committed_tables = st.written
            st.in_tx, st.wrote, st.written = False, False, frozenset()
        if cls.kind == "read":
            if st.in_tx and st.wrote:
                blocked = "inside a transaction that already wrote"
            elif st.temp and any(table_key(t) in st.temp for t in cls.tables_read):
                blocked = "reads a temporary table"
        elif cls.tables_written and action is None and st.in_tx:
            st.wrote = True
            st.written = st.written | cls.tables_written
        if cls.temp_tables_created:
            st.temp = st.temp | {table_key(t) for t in cls.temp_tables_created}
        if st.in_tx or st.temp:
            if not known:
                sessions[session] = st
                if len(sessions) > self._max:
                    # Sessions that never ended (crash, log cut): forget the oldest.
                    del sessions[next(iter(sessions))]
        elif known:
            del sessions[session]
        return blocked

    def in_written_tx(self, session: object) -> bool:
        st = self._sessions.get(session)
        return bool(st and st.in_tx and st.wrote)

    def __len__(self) -> int:
        return len(self._sessions)
