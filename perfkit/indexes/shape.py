"""Which columns a query filters, joins, sorts and groups on, per base table, read from
PostgreSQL's own parse tree (pglast, libpg_query): whatever PostgreSQL parses is read
(typed literals such as ``box '(0,0),(1,1)'``, every operator), and expression keys are
written back by pglast's deparser in PostgreSQL's own syntax.

Views are replaced by their definitions and columns of CTEs and derived tables are
traced to the base table they come from, so candidates always name real tables (a
MATERIALIZED CTE is a fence: filters outside it do not reach its table). Partitions are
reported as their partitioned parent, where indexes are created.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from perfkit.indexes.catalog import Catalog

UseKind = Literal["eq", "range", "sort", "join", "group", "like", "contains"]


class ParseFailed(Exception):
    """PostgreSQL's parser refused the statement; ``str()`` says where."""


@dataclass(frozen=True)
class Key:
    """One index key: a column name, or an expression such as ``lower(email)``."""

    text: str
    is_expr: bool = False
    desc: bool = False
    column: str = ""  # the underlying column (for statistics)
    opclass: str = ""  # e.g. text_pattern_ops for LIKE 'abc%' under a non-C collation


@dataclass
class TableAccess:
    """How one scope of a query uses one base table."""

    table: str  # schema.name
    eq: list[Key] = field(default_factory=list)
    range: list[Key] = field(default_factory=list)
    sort: list[Key] = field(default_factory=list)
    join: list[Key] = field(default_factory=list)
    group: list[Key] = field(default_factory=list)
    constants: list[tuple[str, str, str]] = field(default_factory=list)  # column, value, sql
    params: dict[int, str] = field(default_factory=dict)  # $n -> column compared with it
    referenced: set[str] = field(default_factory=set)
    advice: list[tuple[str, str]] = field(default_factory=list)  # (kind, column)
    limit: bool = False
    #: OR across columns: the keys of each disjunct (BitmapOr needs an index per disjunct)
    or_groups: list[list[Key]] = field(default_factory=list)
    write: str | None = None  # insert | update | delete: this statement writes the table
    updated: set[str] = field(default_factory=set)  # columns an UPDATE sets
    contains: list[Key] = field(default_factory=list)  # jsonb @> (GIN jsonb_path_ops)
    array_params: set[int] = field(default_factory=set)  # $n compared with = ANY($n)


@dataclass(frozen=True)
class QueryShape:
    tables: tuple[str, ...]
    unknown_tables: tuple[str, ...]
    accesses: tuple[TableAccess, ...]
    is_query: bool


#: statements whose tables and predicates are read (anything else is "not a query")
_QUERY_ROOTS = ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt")
#: operators whose result an expression index can key on (jsonb and hstore fields)
_FIELD_OPS = frozenset(("->", "->>", "#>", "#>>"))
_RANGE_OPS = frozenset(("<", ">", "<=", ">="))
#: nodes that open a scope of their own (their columns are not this scope's)
_SCOPE_NODES = frozenset(("SelectStmt", "RangeSubselect", "SubLink", "WithClause"))


def _add(keys: list[Key], key: Key) -> None:
    if all(k.text != key.text for k in keys):
        keys.append(key)


def _kind(node: Any) -> str:
    return type(node).__name__


def _enum(value: Any) -> str:
    return str(getattr(value, "name", value) or "")


def _children(node: Any) -> Iterator[Any]:
    """The direct child nodes of a pglast node (through lists)."""
    from pglast import ast

    stack: list[Any] = [getattr(node, a, None) for a in node if a != "location"]
    while stack:
        v = stack.pop(0)
        if isinstance(v, ast.Node):
            yield v
        elif isinstance(v, tuple | list):
            stack[:0] = list(v)


def _walk(node: Any, stop: frozenset[str] = frozenset()) -> Iterator[Any]:
    """``node`` and its descendants, in text order, not entering nodes of a ``stop`` kind
    (they are yielded themselves)."""
    yield node
    kind = _kind(node)
    if kind in stop:
        if kind == "SubLink" and node.testexpr is not None:
            yield from _walk(node.testexpr, stop)  # x IN (SELECT ...): x is of this scope
        return
    for child in _children(node):
        yield from _walk(child, stop)


def _walk_all(nodes: Any, stop: frozenset[str] = _SCOPE_NODES) -> Iterator[Any]:
    from pglast import ast

    for n in nodes if isinstance(nodes, tuple | list) else (nodes,):
        if isinstance(n, ast.Node):
            yield from _walk(n, stop)


def _colref(node: Any) -> tuple[str | None, str] | None:
    """(qualifier, column) of a ColumnRef; None for ``*`` and ``t.*``."""
    fields = node.fields or ()
    if not fields or _kind(fields[-1]) != "String":
        return None
    qual = fields[-2].sval if len(fields) >= 2 and _kind(fields[-2]) == "String" else None
    return qual, fields[-1].sval


def _op(node: Any) -> str:
    names = node.name or ()
    return str(names[-1].sval) if names and _kind(names[-1]) == "String" else ""


def _deparse(node: Any) -> str:
    """``node`` in PostgreSQL syntax, its columns without table qualifiers (index DDL)."""
    from pglast import ast
    from pglast.stream import RawStream

    data = node(skip_none=True)
    stack: list[Any] = [data]
    while stack:
        d = stack.pop()
        if isinstance(d, dict):
            if d.get("@") == "ColumnRef" and d.get("fields"):
                d["fields"] = tuple(d["fields"])[-1:]
            stack.extend(d.values())
        elif isinstance(d, tuple | list):
            stack.extend(d)
    return str(RawStream()(getattr(ast, data["@"])(data)))


def _column_sql(node: Any, rest: str) -> str | None:
    """``column rest`` (``state = 'pending'``, ``deleted_at IS NULL``) for a plain column
    reference, written without the deparser; None for anything else."""
    from perfkit.db.ident import quote_ident

    ref = _colref(node) if _kind(node) == "ColumnRef" else None
    return f"{quote_ident(ref[1])} {rest}" if ref else None


def _literal_sql(node: Any) -> str:
    """A number or string constant as SQL (``42``, ``'it''s'``)."""
    value = _constant(node)
    assert value is not None
    if _kind(node.val) == "String":
        return "'" + value.replace("'", "''") + "'"
    return value


def _has(node: Any, kinds: tuple[str, ...]) -> bool:
    return any(_kind(n) in kinds for n in _walk(node))


def _is_value(node: Any) -> bool:
    """A constant, a parameter, or an expression of them (no column, no subquery)."""
    return not _has(node, ("ColumnRef", "SubLink", "SelectStmt"))


def _param_number(node: Any) -> int | None:
    while _kind(node) == "TypeCast":
        node = node.arg
    return int(node.number) if _kind(node) == "ParamRef" else None


def _constant(node: Any) -> str | None:
    """The value of a plain number or string constant, as the statement's text has it."""
    if _kind(node) != "A_Const" or node.isnull:
        return None
    val = node.val
    kind = _kind(val)
    if kind == "Integer":
        return str(val.ival)
    if kind == "Float":
        return str(val.fval)
    if kind == "String":
        return str(val.sval)
    return None


class _Resolver:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.unknown: set[str] = set()
        self.tables: set[str] = set()
        self.scopes: dict[int, _Scope] = {}
        self.views: dict[str, Any] = {}

    def pattern_opclass(self, table: str, column: str) -> str:
        """The operator class a btree needs for ``LIKE 'abc%'`` on ``column`` ('' when the
        column's collation is C or POSIX, where the default class serves it)."""
        typ = self.catalog.columns.get(table, {}).get(column, "")
        coll = self.catalog.collations.get((table, column), "")
        if coll in ("C", "POSIX", "ucs_basic"):
            return ""
        if typ.startswith(("character varying", "varchar")):
            return "varchar_pattern_ops"
        if typ.startswith(("character", "bpchar")):
            return "bpchar_pattern_ops"
        return "text_pattern_ops"

    def scope(self, stmt: Any, ctes: dict[str, tuple[Any, bool]], depth: int = 0) -> _Scope:
        got = self.scopes.get(id(stmt))
        if got is None:
            got = self.scopes[id(stmt)] = _Scope(stmt, ctes, self, depth)
        return got

    def relation(self, name: str, schema: str | None) -> str | None:
        """schema.name of the table (its partitioned root), recorded; None if unknown."""
        rel = self.catalog.resolve(name, schema)
        if rel is None:
            self.unknown.add(f"{schema}.{name}" if schema else name)
            return None
        q = self.catalog.root(rel).qualified
        self.tables.add(q)
        return q

    def view_body(self, name: str, schema: str | None) -> Any:
        """The SELECT of a view (parsed once), or None for a table or an unreadable view."""
        rel = self.catalog.resolve(name, schema)
        if rel is None or rel.relkind != "v" or not rel.viewdef:
            return None
        if rel.qualified not in self.views:
            try:
                body = _parse_one(rel.viewdef.rstrip().rstrip(";"))
            except ParseFailed:
                body = None
            self.views[rel.qualified] = body if _kind(body) == "SelectStmt" else None
        return self.views[rel.qualified]

    def column(
        self, qual: str | None, name: str, scope: _Scope | None, depth: int = 0
    ) -> tuple[str, str, str] | None:
        """(schema.table, column, source alias) of a column reference in ``scope``, traced
        through CTEs and derived tables; None when it is not a plain base-table column."""
        if depth > 8 or scope is None:
            return None
        if qual is None:
            names = list(scope.sources)
            if len(names) != 1:
                for alias in names:
                    cand = scope.sources[alias]
                    if cand[0] == "table" and name in self.catalog.columns.get(cand[1], {}):
                        return cand[1], name, alias
                for alias in names:
                    cand = scope.sources[alias]
                    if cand[0] == "query" and self._projects(cand[1], name):
                        got = self.through(cand, name, depth)
                        return (got[0], got[1], alias) if got else None
                return None
            qual = names[0]
        src = scope.sources.get(qual)
        if src is None:
            return None
        if src[0] == "table":
            if name not in self.catalog.columns.get(src[1], {}):
                return None
            return src[1], name, qual
        if src[0] == "query":
            got = self.through(src, name, depth)
            return (got[0], got[1], qual) if got else None
        return None

    @staticmethod
    def _projects(body: Any, name: str) -> bool:
        for rt in body.targetList or ():
            ref = _colref(rt.val) if _kind(rt.val) == "ColumnRef" else None
            if rt.name == name or (ref is not None and rt.name is None and ref[1] == name):
                return True
        return False

    def through(self, src: tuple[Any, ...], name: str, depth: int) -> tuple[str, str, str] | None:
        """The base column behind output column ``name`` of a CTE or derived table."""
        _, body, materialized, ctes = src
        if materialized or _kind(body) != "SelectStmt" or _enum(body.op) != "SETOP_NONE":
            return None  # a MATERIALIZED CTE is a fence; a UNION has no single source
        inner = self.scope(body, ctes, depth + 1)
        star = False
        star_qual: str | None = None
        for rt in body.targetList or ():
            val = rt.val
            if _kind(val) != "ColumnRef":
                if rt.name == name:
                    return None
                continue
            ref = _colref(val)
            if ref is None:  # * or t.*
                fields: tuple[Any, ...] = tuple(val.fields or ())
                qual = (
                    fields[-2].sval if len(fields) >= 2 and _kind(fields[-2]) == "String" else None
                )
                if not star:
                    star, star_qual = True, qual
                continue
            if (rt.name or ref[1]) == name:
                return self.column(ref[0], ref[1], inner, depth + 1)
        if star:
            return self.column(star_qual, name, inner, depth + 1)
        return None


def _cte_bodies(stmt: Any) -> list[Any]:
    with_clause = getattr(stmt, "withClause", None)
    return [cte.ctequery for cte in with_clause.ctes or ()] if with_clause is not None else []


def _with(stmt: Any, ctes: dict[str, tuple[Any, bool]]) -> dict[str, tuple[Any, bool]]:
    """The CTEs visible in ``stmt``: the enclosing ones and its own WITH (name -> (body,
    MATERIALIZED))."""
    out = dict(ctes)
    with_clause = getattr(stmt, "withClause", None)
    for cte in with_clause.ctes or () if with_clause is not None else ():
        out[cte.ctename] = (cte.ctequery, _enum(cte.ctematerialized) == "CTEMaterializeAlways")
    return out


class _Scope:
    """One SELECT (or the target and FROM of an UPDATE/DELETE): its sources by alias."""

    def __init__(
        self, stmt: Any, ctes: dict[str, tuple[Any, bool]], r: _Resolver, depth: int = 0
    ) -> None:
        self.stmt = stmt
        self.r = r
        self.depth = depth
        self.ctes = _with(stmt, ctes)
        #: (body, ctes) of every CTE, derived table and view body: scopes of their own
        self.children: list[tuple[Any, dict[str, tuple[Any, bool]]]] = [
            (body, self.ctes) for body in _cte_bodies(stmt)
        ]
        #: alias -> ("table", schema.name) | ("query", body, materialized, ctes) | ("other",)
        self.sources: dict[str, tuple[Any, ...]] = {}
        self.quals: list[Any] = []  # JOIN ... ON conditions
        items = list(getattr(stmt, "fromClause", None) or ())
        items += list(getattr(stmt, "usingClause", None) or ())
        for item in items:
            self.source(item)

    def source(self, item: Any) -> None:
        kind = _kind(item)
        alias = item.alias.aliasname if getattr(item, "alias", None) is not None else None
        if kind == "RangeVar":
            name, schema = item.relname, item.schemaname
            alias = alias or name
            if not schema and name in self.ctes:
                body, materialized = self.ctes[name]
                self.sources[alias] = ("query", body, materialized, self.ctes)
                return
            view = self.r.view_body(name, schema) if self.depth < 4 else None
            if view is not None:
                self.sources[alias] = ("query", view, False, {})
                self.children.append((view, {}))
                return
            q = self.r.relation(name, schema)
            self.sources[alias] = ("table", q) if q else ("other",)
        elif kind == "JoinExpr":
            self.source(item.larg)
            self.source(item.rarg)
            if item.quals is not None:
                self.quals.append(item.quals)
            if item.alias is not None:
                self.sources.setdefault(item.alias.aliasname, ("other",))
        elif kind == "RangeSubselect":
            body = item.subquery
            self.sources[alias or f"?{len(self.sources)}"] = ("query", body, False, self.ctes)
            self.children.append((body, self.ctes))
        elif alias:
            self.sources[alias] = ("other",)  # generate_series(...) and other functions

    def expressions(self) -> list[Any]:
        """The expressions of this scope (where its own columns are)."""
        s = self.stmt
        out: list[Any] = [*self.quals]
        for attr in ("targetList", "whereClause", "groupClause", "havingClause", "sortClause"):
            v = getattr(s, attr, None)
            if v is not None:
                out.extend(v if isinstance(v, tuple | list) else (v,))
        out.extend(getattr(s, "returningList", None) or ())
        return out

    def sublinks(self) -> list[Any]:
        """The subqueries in this scope's expressions."""
        return [
            n.subselect
            for n in _walk_all(self.expressions())
            if _kind(n) == "SubLink" and n.subselect is not None
        ]


class _Collector:
    def __init__(self, resolver: _Resolver) -> None:
        self.r = resolver
        self.accesses: dict[tuple[int, str], TableAccess] = {}

    def acc(self, scope_id: int, table: str) -> TableAccess:
        key = (scope_id, table)
        if key not in self.accesses:
            self.accesses[key] = TableAccess(table)
        return self.accesses[key]

    def side(self, node: Any, scope: _Scope) -> tuple[str, Key, str] | None:
        """(table, key, source alias) a comparison side indexes: a column or a function
        of one (``lower(email)``, ``meta ->> 'kind'``)."""
        kind = _kind(node)
        if kind == "ColumnRef":
            ref = _colref(node)
            res = self.r.column(ref[0], ref[1], scope) if ref else None
            return (res[0], Key(res[1], column=res[1]), res[2]) if res else None
        if kind == "TypeCast" and _kind(node.arg) == "ColumnRef":
            return self.side(node.arg, scope)  # col::type is read as col
        if kind == "TypeCast" and self.side(node.arg, scope) is None:
            return None  # ((meta ->> 'n')::int) is a key when meta ->> 'n' is one
        if kind == "BoolExpr" or (kind == "A_Expr" and _op(node) not in _FIELD_OPS):
            return None  # arithmetic, comparisons: not worth an expression index
        cols = [n for n in _walk(node) if _kind(n) == "ColumnRef"]
        if len(cols) != 1 or _has(node, ("SubLink", "SelectStmt")):
            return None
        ref = _colref(cols[0])
        res = self.r.column(ref[0], ref[1], scope) if ref else None
        if res is None:
            return None
        return res[0], Key(_deparse(node), is_expr=True, column=res[1]), res[2]

    def conditions(self, cond: Any, scope: _Scope, sid: int) -> None:
        if cond is None:
            return
        if _kind(cond) == "BoolExpr" and _enum(cond.boolop) == "AND_EXPR":
            for p in cond.args or ():
                self.conditions(p, scope, sid)
            return
        self.condition(cond, scope, sid)

    def condition(self, p: Any, scope: _Scope, sid: int) -> None:
        kind = _kind(p)
        if kind == "BoolExpr":
            if _enum(p.boolop) == "OR_EXPR":
                self.disjunction(p, scope, sid)
            return  # NOT ...: no index key
        if kind == "NullTest":
            s = self.side(p.arg, scope)
            if s and _enum(p.nulltesttype) == "IS_NULL" and not s[1].is_expr:
                a = self.acc(sid, s[0])
                _add(a.eq, s[1])
                sql = _column_sql(p.arg, "IS NULL") or _deparse(p)
                a.constants.append((s[1].column, "NULL", sql))
            return
        if kind == "SubLink":
            if _enum(p.subLinkType) == "ANY_SUBLINK" and p.testexpr is not None:
                # col IN (SELECT ...): a semi-join, the column is looked up per row
                s = self.side(p.testexpr, scope)
                if s:
                    _add(self.acc(sid, s[0]).join, s[1])
            return
        if kind != "A_Expr":
            return
        how, op = _enum(p.kind), _op(p)
        if how == "AEXPR_OP" and op == "=":
            self.equality(p, scope, sid)
        elif how == "AEXPR_OP" and op in _RANGE_OPS:
            for node, other in ((p.lexpr, p.rexpr), (p.rexpr, p.lexpr)):
                s = self.side(node, scope) if node is not None else None
                if s and _is_value(other):
                    a = self.acc(sid, s[0])
                    _add(a.range, s[1])
                    n = _param_number(other)
                    if n is not None:
                        a.params[n] = s[1].column
                    return
        elif how in ("AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM"):
            s = self.side(p.lexpr, scope)
            if s:
                a = self.acc(sid, s[0])
                _add(a.range, s[1])
                for bound in p.rexpr or ():
                    n = _param_number(bound)
                    if n is not None:
                        a.params[n] = s[1].column
        elif how == "AEXPR_IN" and op == "=":
            s = self.side(p.lexpr, scope)
            if s:
                a = self.acc(sid, s[0])
                _add(a.eq, s[1])
                for v in p.rexpr or ():
                    n = _param_number(v)
                    if n is not None:
                        a.params[n] = s[1].column
        elif how == "AEXPR_OP_ANY" and op == "=":
            s = self.side(p.lexpr, scope)
            if s and _is_value(p.rexpr):
                a = self.acc(sid, s[0])
                _add(a.eq, s[1])
                n = _param_number(p.rexpr)
                if n is not None:
                    a.params[n] = s[1].column
                    a.array_params.add(n)
        elif how in ("AEXPR_LIKE", "AEXPR_ILIKE") and op in ("~~", "~~*"):
            self.like(p, scope, sid, how == "AEXPR_LIKE")
        elif how == "AEXPR_OP" and op in ("@>", "&&"):
            s = self.side(p.lexpr, scope)
            if s:
                a = self.acc(sid, s[0])
                typ = self.r.catalog.columns.get(s[0], {}).get(s[1].column, "")
                if op == "@>" and typ == "jsonb" and not s[1].is_expr:
                    _add(a.contains, s[1])
                else:
                    a.advice.append(("gin", s[1].column))

    def equality(self, p: Any, scope: _Scope, sid: int) -> None:
        left, right = p.lexpr, p.rexpr
        if _kind(left) == "RowExpr" and _kind(right) == "RowExpr":
            # (a, b) = (1, 2) is a = 1 AND b = 2
            if len(left.args or ()) == len(right.args or ()):
                for x, y in zip(left.args or (), right.args or (), strict=True):
                    self.equality(_Pair(x, y), scope, sid)
            return
        ls, rs = self.side(left, scope), self.side(right, scope)
        # a join of two tables, or of two aliases of one (a correlated self-join)
        self_join = (
            _kind(left) == "ColumnRef"
            and _kind(right) == "ColumnRef"
            and ls is not None
            and rs is not None
            and ls[2] != rs[2]
        )
        if ls and rs and (ls[0] != rs[0] or self_join):
            _add(self.acc(sid, ls[0]).join, ls[1])
            _add(self.acc(sid, rs[0]).join, rs[1])
            return
        for s, other in ((ls, right), (rs, left)):
            if s and _is_value(other):
                a = self.acc(sid, s[0])
                _add(a.eq, s[1])
                n = _param_number(other)
                value = _constant(other)
                if n is not None:
                    a.params[n] = s[1].column
                elif value is not None and not s[1].is_expr:
                    col_node = left if s is ls else right
                    sql = _column_sql(col_node, "= " + _literal_sql(other)) or (
                        p.deparsed() if isinstance(p, _Pair) else _deparse(p)
                    )
                    a.constants.append((s[1].column, value, sql))
                return
            if s and s is ls and rs is None and _has(other, ("ColumnRef",)):
                # correlated: col = outer.col acts like a join key for this table
                _add(self.acc(sid, s[0]).join, s[1])
                return

    def like(self, p: Any, scope: _Scope, sid: int, case_sensitive: bool) -> None:
        s = self.side(p.lexpr, scope)
        if not s:
            return
        pat = _constant(p.rexpr)
        if pat is not None and pat.startswith(("%", "_")):
            self.acc(sid, s[0]).advice.append(("trigram", s[1].column))
        elif case_sensitive and not s[1].is_expr:
            # a fixed prefix: a btree range scan, with the pattern operator class unless
            # the column's collation is C
            k = s[1]
            a = self.acc(sid, s[0])
            opclass = self.r.pattern_opclass(s[0], k.column)
            _add(a.range, Key(k.text, k.is_expr, False, k.column, opclass))
            n = _param_number(p.rexpr)
            if n is not None:
                a.params[n] = k.column
        else:
            self.acc(sid, s[0]).advice.append(("trigram", s[1].column))

    def disjunction(self, p: Any, scope: _Scope, sid: int) -> None:
        """``a = 1 OR b = 2``: each disjunct's keys, when all are on one table."""
        groups: list[tuple[str, list[Key]]] = []
        params: dict[int, str] = {}
        for d in _disjuncts(p):
            sub = _Collector(self.r)
            sub.conditions(d, scope, 0)
            found = [a for a in sub.accesses.values() if a.eq or a.range]
            if len(found) != 1:
                return
            a = found[0]
            groups.append((a.table, [*a.eq, *a.range]))
            params.update(a.params)
        if len({t for t, _ in groups}) != 1 or len(groups) < 2:
            return
        a = self.acc(sid, groups[0][0])
        a.or_groups.append([k for _, keys in groups for k in keys[:1]])
        a.params.update(params)

    def ordering(self, scope: _Scope, sid: int) -> None:
        node = scope.stmt
        targets = [rt for rt in node.targetList or () if _kind(rt) == "ResTarget"]
        if node.sortClause:
            keys: list[tuple[str, Key]] = []
            aliases = {rt.name: rt.val for rt in targets if rt.name}
            for o in node.sortClause:
                target = o.node
                if _kind(target) == "A_Const" and _kind(target.val) == "Integer":
                    pos = int(target.val.ival)  # ORDER BY 1: the first output column
                    outputs = self.outputs(scope, targets)
                    if outputs is not None and 1 <= pos <= len(outputs):
                        target = outputs[pos - 1]
                elif _kind(target) == "ColumnRef":
                    ref = _colref(target)
                    if ref is not None and ref[0] is None and ref[1] in aliases:
                        # a bare name in ORDER BY is an output column first, as in
                        # PostgreSQL (SELECT score AS created_at ... ORDER BY created_at)
                        target = aliases[ref[1]]
                s = self.side(target, scope)
                if s is None:
                    keys = []
                    break
                desc = _enum(o.sortby_dir) == "SORTBY_DESC"
                k = s[1]
                keys.append((s[0], Key(k.text, k.is_expr, desc, k.column)))
            if keys and len({t for t, _ in keys}) == 1:
                a = self.acc(sid, keys[0][0])
                for _, k in keys:
                    _add(a.sort, k)
                a.limit = node.limitCount is not None
        for g in node.groupClause or ():
            s = self.side(g, scope)
            if s:
                _add(self.acc(sid, s[0]).group, s[1])

    def outputs(self, scope: _Scope, targets: list[Any]) -> list[Any] | None:
        """The output columns of a SELECT, ``*`` and ``t.*`` spelt out as ``alias.column``
        of their tables; None when a ``*`` covers a source whose columns are not known."""
        from pglast import ast

        out: list[Any] = []
        for rt in targets:
            val = rt.val
            fields = tuple(val.fields or ()) if _kind(val) == "ColumnRef" else ()
            if not fields or _kind(fields[-1]) != "A_Star":
                out.append(val)
                continue
            qual = fields[-2].sval if len(fields) >= 2 and _kind(fields[-2]) == "String" else None
            for alias, src in scope.sources.items():
                if qual is not None and alias != qual:
                    continue
                if src[0] != "table":
                    return None
                for column in self.r.catalog.columns.get(src[1], {}):
                    out.append(
                        ast.ColumnRef(fields=(ast.String(sval=alias), ast.String(sval=column)))
                    )
        return out

    def referenced(self, scope: _Scope, sid: int) -> None:
        for n in _walk_all(scope.expressions()):
            if _kind(n) != "ColumnRef":
                continue
            ref = _colref(n)
            res = self.r.column(ref[0], ref[1], scope) if ref else None
            if res:
                self.acc(sid, res[0]).referenced.add(res[1])


class _Pair:
    """One ``x = y`` of a row comparison, shaped like the A_Expr that ``equality`` reads."""

    def __init__(self, lexpr: Any, rexpr: Any) -> None:
        self.lexpr, self.rexpr = lexpr, rexpr

    def deparsed(self) -> str:
        return f"{_deparse(self.lexpr)} = {_deparse(self.rexpr)}"


def _disjuncts(p: Any) -> Iterator[Any]:
    for d in p.args or ():
        if _kind(d) == "BoolExpr" and _enum(d.boolop) == "OR_EXPR":
            yield from _disjuncts(d)
        else:
            yield d


def _parse_one(sql: str) -> Any:
    """The one statement of ``sql`` parsed by PostgreSQL's parser; raises ParseFailed."""
    from pglast import parse_sql

    try:
        stmts = parse_sql(sql)
    except Exception as exc:  # pglast.parser.ParseError, and others on odd input
        lines = str(exc).strip().splitlines()
        raise ParseFailed(lines[0] if lines else type(exc).__name__) from None
    if len(stmts) != 1:
        raise ParseFailed(f"expected one statement, found {len(stmts)}")
    return stmts[0].stmt


def _select_scopes(
    stmt: Any, ctes: dict[str, tuple[Any, bool]], r: _Resolver, seen: set[int]
) -> Iterator[_Scope]:
    """Every SELECT scope under ``stmt``, inner ones (CTEs, derived tables, subqueries,
    UNION branches) before the scope that uses them."""
    if _kind(stmt) != "SelectStmt" or id(stmt) in seen:
        return
    seen.add(id(stmt))
    if _enum(stmt.op) != "SETOP_NONE":
        inner = _with(stmt, ctes)
        for body in _cte_bodies(stmt):
            yield from _select_scopes(body, inner, r, seen)
        yield from _select_scopes(stmt.larg, inner, r, seen)
        yield from _select_scopes(stmt.rarg, inner, r, seen)
        return
    scope = r.scope(stmt, ctes)
    for body, env in scope.children:
        yield from _select_scopes(body, env, r, seen)
    for sub in scope.sublinks():
        yield from _select_scopes(sub, scope.ctes, r, seen)
    yield scope


def analyze_query(sql: str, catalog: Catalog) -> QueryShape:
    """The per-table column usage of ``sql``; raises :class:`ParseFailed`."""
    tree = _parse_one(sql)
    kind = _kind(tree)
    if kind not in _QUERY_ROOTS:
        return QueryShape((), (), (), is_query=False)
    r = _Resolver(catalog)
    col = _Collector(r)
    roots: list[tuple[Any, dict[str, tuple[Any, bool]]]] = []
    if kind in ("UpdateStmt", "DeleteStmt"):
        target = tree.relation
        q = r.relation(target.relname, target.schemaname)
        dml = _Scope(tree, {}, r)
        alias = target.alias.aliasname if target.alias is not None else target.relname
        dml.sources = {alias: ("table", q) if q else ("other",), **dml.sources}
        col.conditions(tree.whereClause, dml, 0)
        col.referenced(dml, 0)
        if q is not None:
            a = col.acc(0, q)
            a.write = "update" if kind == "UpdateStmt" else "delete"
            if kind == "UpdateStmt":
                a.updated.update(rt.name for rt in tree.targetList or () if rt.name)
        roots = [*dml.children, *((s, dml.ctes) for s in dml.sublinks())]
    elif kind == "InsertStmt":
        target = tree.relation
        q = r.relation(target.relname, target.schemaname)
        if q is not None:
            col.acc(0, q).write = "insert"
        body = tree.selectStmt
        if _kind(body) == "SelectStmt" and not body.valuesLists:
            roots = [(body, {})]
    elif kind == "MergeStmt":
        for rel in _walk_all((tree.relation, tree.sourceRelation), frozenset()):
            if _kind(rel) == "RangeVar":
                r.relation(rel.relname, rel.schemaname)
    else:
        roots = [(tree, {})]
    seen: set[int] = set()
    sid = 1
    for root, env in roots:
        for scope in _select_scopes(root, env, r, seen):
            node = scope.stmt
            col.conditions(node.whereClause, scope, sid)
            for qual in scope.quals:
                col.conditions(qual, scope, sid)
            col.ordering(scope, sid)
            col.referenced(scope, sid)
            sid += 1
    accesses = tuple(
        a
        for a in col.accesses.values()
        if a.eq
        or a.range
        or a.sort
        or a.join
        or a.group
        or a.advice
        or a.or_groups
        or a.contains
        or a.write
    )
    return QueryShape(
        tables=tuple(sorted(r.tables)),
        unknown_tables=tuple(sorted(r.unknown)),
        accesses=accesses,
        is_query=True,
    )
