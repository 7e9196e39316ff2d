"""Which columns a query filters, joins, sorts and groups on, per base table (sqlglot).

Views are replaced by their definitions and columns of CTEs and derived tables are
traced to the base table they come from, so candidates always name real tables.
Partitions are reported as their partitioned parent, where indexes are created.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from perfkit.indexes.catalog import Catalog

UseKind = Literal["eq", "range", "sort", "join", "group", "like", "contains"]


class ParseFailed(Exception):
    """sqlglot could not parse the statement; ``str()`` says where."""


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


_QUERY_ROOTS = ("Select", "Union", "Intersect", "Except", "Insert", "Update", "Delete", "Merge")


def _add(keys: list[Key], key: Key) -> None:
    if all(k.text != key.text for k in keys):
        keys.append(key)


class _Resolver:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.unknown: set[str] = set()
        self.tables: set[str] = set()

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

    def base(self, table: Any) -> str | None:
        rel = self.catalog.resolve(table.name, table.db or None)
        if rel is None:
            return None
        return self.catalog.root(rel).qualified

    def column(self, col: Any, scope: Any, depth: int = 0) -> tuple[str, str] | None:
        """(schema.table, column) of a column reference in ``scope``, traced through
        CTEs and derived tables; None when it is not a plain base-table column."""
        from sqlglot import exp

        if depth > 8 or scope is None:
            return None
        alias = col.table
        if not alias:
            names = list(scope.selected_sources) or list(scope.sources)
            if len(names) != 1:
                for name in names:
                    src = scope.sources.get(name)
                    if isinstance(src, exp.Table):
                        q = self.base(src)
                        if q and col.name in self.catalog.columns.get(q, {}):
                            return q, col.name
                return None
            alias = names[0]
        src = scope.sources.get(alias)
        if isinstance(src, exp.Table):
            q = self.base(src)
            if q is None or col.name not in self.catalog.columns.get(q, {}):
                return None
            return q, col.name
        inner = getattr(src, "expression", None)
        cte = inner.parent if inner is not None else None
        if isinstance(cte, exp.CTE) and cte.args.get("materialized"):
            return None  # a MATERIALIZED CTE is a fence: outer filters do not reach it
        if isinstance(inner, exp.Select):
            for proj in inner.selects:
                if proj.alias_or_name == col.name:
                    target = proj.unalias() if isinstance(proj, exp.Alias) else proj
                    if isinstance(target, exp.Column):
                        return self.column(target, src, depth + 1)
                    return None
            if any(isinstance(p, exp.Star) for p in inner.selects):
                # SELECT * of the CTE or subquery: the column of its own source
                return self.column(exp.column(col.name), src, depth + 1)
        return None


def _strip_tables(node: Any) -> Any:
    """A copy of ``node`` whose columns carry no table qualifier (for index DDL)."""
    from sqlglot import exp

    node = node.copy()
    for c in node.find_all(exp.Column):
        c.set("table", None)
        c.set("db", None)
        c.set("catalog", None)
    return node


def _single_column(node: Any) -> Any:
    from sqlglot import exp

    cols = list(node.find_all(exp.Column))
    if len(cols) == 1 and not node.find(exp.Select):
        return cols[0]
    return None


def _is_value(node: Any) -> bool:
    """A constant, a parameter, or a cast of one (no column of this scope)."""
    from sqlglot import exp

    if isinstance(node, (exp.Literal, exp.Placeholder, exp.Parameter, exp.Null, exp.Boolean)):
        return True
    if isinstance(node, (exp.Cast, exp.Paren, exp.Neg, exp.Any)):
        return _is_value(node.this)
    if isinstance(node, exp.Array):
        return all(_is_value(e) for e in node.expressions)
    return node.find(exp.Column) is None and node.find(exp.Select) is None


def _param_number(node: Any) -> int | None:
    from sqlglot import exp

    while isinstance(node, (exp.Cast, exp.Paren, exp.Any)):
        node = node.this
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal):
        try:
            return int(node.this.this)
        except ValueError:
            return None
    return None


class _Collector:
    def __init__(self, resolver: _Resolver) -> None:
        self.r = resolver
        self.accesses: dict[tuple[int, str], TableAccess] = {}

    def acc(self, scope_id: int, table: str) -> TableAccess:
        key = (scope_id, table)
        if key not in self.accesses:
            self.accesses[key] = TableAccess(table)
        return self.accesses[key]

    def side(self, node: Any, scope: Any) -> tuple[str, Key] | None:
        """The (table, key) a comparison side indexes: a column or a function of one."""
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            res = self.r.column(node, scope)
            if res:
                return res[0], Key(res[1], column=res[1])
            return None
        col = _single_column(node)
        if col is None or isinstance(node, (exp.Cast,)):
            if isinstance(node, exp.Cast) and isinstance(node.this, exp.Column):
                return self.side(node.this, scope)
            return None
        res = self.r.column(col, scope)
        json_path = isinstance(node, (exp.JSONExtract, exp.JSONExtractScalar))
        if res is None or (isinstance(node, exp.Binary) and not json_path):
            return None
        text = _strip_tables(node).sql(dialect="postgres")
        return res[0], Key(text, is_expr=True, column=res[1])

    def conditions(self, cond: Any, scope: Any, sid: int) -> None:
        from sqlglot import exp

        if cond is None:
            return
        parts = list(cond.flatten()) if isinstance(cond, exp.And) else [cond]
        for p in parts:
            if isinstance(p, exp.Paren):
                self.conditions(p.this, scope, sid)
                continue
            self.condition(p, scope, sid)

    def condition(self, p: Any, scope: Any, sid: int) -> None:
        from sqlglot import exp

        if isinstance(p, exp.EQ):
            left, right = p.this, p.expression
            ls, rs = self.side(left, scope), self.side(right, scope)
            # a join of two tables, or of two aliases of one (a correlated self-join)
            self_join = (
                isinstance(left, exp.Column)
                and isinstance(right, exp.Column)
                and left.table != right.table
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
                    if n is not None:
                        a.params[n] = s[1].column
                        if isinstance(other, exp.Any):
                            a.array_params.add(n)
                    elif isinstance(other, exp.Literal) and not s[1].is_expr:
                        sql = _strip_tables(p).sql(dialect="postgres")
                        a.constants.append((s[1].column, str(other.this), sql))
                    return
                if s and other.find(exp.Column) is not None and rs is None and s is ls:
                    # correlated: col = outer.col acts like a join key for this table
                    _add(self.acc(sid, s[0]).join, s[1])
                    return
        elif isinstance(p, (exp.GT, exp.GTE, exp.LT, exp.LTE)):
            for node, other in ((p.this, p.expression), (p.expression, p.this)):
                s = self.side(node, scope)
                if s and _is_value(other):
                    a = self.acc(sid, s[0])
                    _add(a.range, s[1])
                    n = _param_number(other)
                    if n is not None:
                        a.params[n] = s[1].column
                    return
        elif isinstance(p, exp.Between):
            s = self.side(p.this, scope)
            if s:
                a = self.acc(sid, s[0])
                _add(a.range, s[1])
                for bound in (p.args.get("low"), p.args.get("high")):
                    n = _param_number(bound)
                    if n is not None:
                        a.params[n] = s[1].column
        elif isinstance(p, exp.In):
            s = self.side(p.this, scope)
            if s and p.args.get("query"):
                # col IN (SELECT ...): a semi-join, the column is looked up per row
                _add(self.acc(sid, s[0]).join, s[1])
            elif s:
                a = self.acc(sid, s[0])
                _add(a.eq, s[1])
                for v in p.expressions:
                    n = _param_number(v)
                    if n is not None:
                        a.params[n] = s[1].column
        elif isinstance(p, exp.Is):
            s = self.side(p.this, scope)
            if s and not s[1].is_expr:
                a = self.acc(sid, s[0])
                _add(a.eq, s[1])
                a.constants.append((s[1].column, "NULL", _strip_tables(p).sql(dialect="postgres")))
        elif isinstance(p, (exp.Like, exp.ILike)):
            s = self.side(p.this, scope)
            pat = p.expression
            if s and isinstance(pat, exp.Literal) and str(pat.this).startswith(("%", "_")):
                self.acc(sid, s[0]).advice.append(("trigram", s[1].column))
            elif s and isinstance(p, exp.Like) and not s[1].is_expr:
                # a fixed prefix: a btree range scan, with the pattern operator class
                # unless the column's collation is C
                k = s[1]
                opclass = self.r.pattern_opclass(s[0], k.column)
                a = self.acc(sid, s[0])
                _add(a.range, Key(k.text, k.is_expr, False, k.column, opclass))
                n = _param_number(pat)
                if n is not None:
                    a.params[n] = k.column
            elif s:
                self.acc(sid, s[0]).advice.append(("trigram", s[1].column))
        elif type(p).__name__ in ("ArrayContainsAll", "JSONBContains", "ArrayOverlaps"):
            s = self.side(p.this, scope)
            if s:
                a = self.acc(sid, s[0])
                typ = self.r.catalog.columns.get(s[0], {}).get(s[1].column, "")
                if type(p).__name__ != "ArrayOverlaps" and typ == "jsonb" and not s[1].is_expr:
                    _add(a.contains, s[1])
                else:
                    a.advice.append(("gin", s[1].column))
        elif isinstance(p, exp.Or):
            self.disjunction(p, scope, sid)
        elif isinstance(p, exp.Not):
            return

    def disjunction(self, p: Any, scope: Any, sid: int) -> None:
        """``a = 1 OR b = 2``: each disjunct's keys, when all are on one table."""
        from sqlglot import exp

        groups: list[tuple[str, list[Key]]] = []
        params: dict[int, str] = {}
        for d in p.flatten():
            sub = _Collector(self.r)
            sub.conditions(d.this if isinstance(d, exp.Paren) else d, scope, 0)
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

    def ordering(self, node: Any, scope: Any, sid: int) -> None:
        from sqlglot import exp

        order = node.args.get("order")
        if order is not None:
            keys: list[tuple[str, Key]] = []
            aliases = {
                sel.alias: sel.unalias() for sel in node.selects if isinstance(sel, exp.Alias)
            }
            for o in order.expressions:
                target = o.this if isinstance(o, exp.Ordered) else o
                if isinstance(target, exp.Literal) and not target.is_string:
                    # ORDER BY 1: the first output column
                    try:
                        pos = int(str(target.this))
                    except ValueError:
                        pos = 0
                    if 1 <= pos <= len(node.selects):
                        target = node.selects[pos - 1].unalias()
                elif (
                    isinstance(target, exp.Column)
                    and not target.table
                    and target.name in aliases
                    and self.r.column(target, scope) is None
                ):
                    target = aliases[target.name]  # ORDER BY an output alias
                s = self.side(target, scope)
                if s is None:
                    keys = []
                    break
                desc = bool(o.args.get("desc")) if isinstance(o, exp.Ordered) else False
                k = s[1]
                keys.append((s[0], Key(k.text, k.is_expr, desc, k.column)))
            if keys and len({t for t, _ in keys}) == 1:
                a = self.acc(sid, keys[0][0])
                for _, k in keys:
                    _add(a.sort, k)
                a.limit = node.args.get("limit") is not None
        group = node.args.get("group")
        if group is not None:
            for g in group.expressions:
                s = self.side(g, scope)
                if s:
                    _add(self.acc(sid, s[0]).group, s[1])

    def referenced(self, scope: Any, sid: int) -> None:
        for col in scope.columns:
            res = self.r.column(col, scope)
            if res:
                self.acc(sid, res[0]).referenced.add(res[1])


class _DmlScope:
    """Enough of sqlglot's Scope for UPDATE/DELETE: their target and FROM/USING tables."""

    def __init__(self, node: Any) -> None:
        from sqlglot import exp

        self.sources: dict[str, Any] = {}
        tables = [node.this] if isinstance(node.this, exp.Table) else []
        for key in ("from", "using"):
            arg = node.args.get(key)
            if isinstance(arg, exp.Expression):
                tables.extend(arg.find_all(exp.Table))
        for t in tables:
            self.sources[t.alias_or_name] = t
        self.selected_sources = list(self.sources)
        self.columns = list(node.find_all(exp.Column))


def _expand_views(tree: Any, catalog: Catalog, depth: int = 0) -> Any:
    import sqlglot
    from sqlglot import exp

    if depth > 4:
        return tree
    changed = False
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if not table.db and table.name in ctes:
            continue
        rel = catalog.resolve(table.name, table.db or None)
        if rel is None or rel.relkind != "v" or not rel.viewdef:
            continue
        if isinstance(table.parent, (exp.Update, exp.Delete, exp.Insert)):
            continue
        try:
            body = sqlglot.parse_one(rel.viewdef.rstrip().rstrip(";"), read="postgres")
        except Exception:
            continue
        sub = exp.Subquery(
            this=body, alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name))
        )
        table.replace(sub)
        changed = True
    return _expand_views(tree, catalog, depth + 1) if changed else tree


def _qualify_tables(tree: Any, catalog: Catalog, resolver: _Resolver) -> None:
    from sqlglot import exp

    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name in ctes):
            continue
        if isinstance(table.this, exp.Func) or table.find(exp.Func):
            continue  # generate_series(...) and other table functions
        rel = catalog.resolve(table.name, table.db or None)
        if rel is None:
            resolver.unknown.add(f"{table.db}.{table.name}" if table.db else table.name)
            continue
        if not table.db:
            table.set("db", exp.to_identifier(rel.schema))
        resolver.tables.add(catalog.root(rel).qualified)


def _pg_deparse(sql: str) -> str | None:
    """``sql`` parsed by PostgreSQL's parser (pglast) and written back; None when
    PostgreSQL would refuse it too."""
    try:
        from pglast import parse_sql
        from pglast.stream import RawStream

        stmts = parse_sql(sql)
        if len(stmts) != 1:
            return None
        return str(RawStream()(stmts[0]))
    except Exception:
        return None


def parse_statement(sql: str) -> Any:
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except (ParseError, Exception) as exc:
        lines = str(exc).strip().splitlines()
        msg = lines[0] if lines else type(exc).__name__
        msg = re.sub(r"<Token [^>]*?text: ([^,]*),[^>]*>", r"'\1'", msg)
        # PostgreSQL's own parser, then its deparsed text (typed literals such as
        # box '(0,0),(1,1)' become CASTs sqlglot reads)
        again = _pg_deparse(sql)
        if again is None:
            raise ParseFailed(msg) from None
        try:
            trees = [t for t in sqlglot.parse(again, read="postgres") if t is not None]
        except (ParseError, Exception):
            raise ParseFailed(msg) from None
    if len(trees) != 1:
        raise ParseFailed(f"expected one statement, found {len(trees)}")
    return trees[0]


def analyze_query(sql: str, catalog: Catalog) -> QueryShape:
    """The per-table column usage of ``sql``; raises :class:`ParseFailed`."""
    from sqlglot import exp
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    tree = parse_statement(sql)
    if type(tree).__name__ not in _QUERY_ROOTS:
        return QueryShape((), (), (), is_query=False)
    resolver = _Resolver(catalog)
    tree = _expand_views(tree, catalog)
    _qualify_tables(tree, catalog, resolver)
    col = _Collector(resolver)
    if isinstance(tree, (exp.Update, exp.Delete)):
        dml = _DmlScope(tree)
        where = tree.args.get("where")
        col.conditions(where.this if where is not None else None, dml, 0)
        col.referenced(dml, 0)
        target = tree.this if isinstance(tree.this, exp.Table) else None
        q = resolver.base(target) if target is not None else None
        if q is not None:
            a = col.acc(0, q)
            a.write = "update" if isinstance(tree, exp.Update) else "delete"
            for e in tree.expressions if isinstance(tree, exp.Update) else ():
                if isinstance(e, exp.EQ) and isinstance(e.this, exp.Column):
                    a.updated.add(e.this.name)
        roots: Iterable[Any] = [s for s in tree.find_all(exp.Select) if s.parent_select is None]
    elif isinstance(tree, exp.Insert):
        roots = [tree.expression] if isinstance(tree.expression, exp.Query) else []
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        q = resolver.base(target) if isinstance(target, exp.Table) else None
        if q is not None:
            col.acc(0, q).write = "insert"
    else:
        roots = [tree]
    schema: dict[str, object] = dict(catalog.sqlglot_schema())
    sid = 1
    for root in roots:
        try:
            q = qualify(
                root,
                schema=schema,
                dialect="postgres",
                validate_qualify_columns=False,
                quote_identifiers=False,
                expand_stars=False,
            )
            scopes = list(traverse_scope(q))
        except Exception:
            continue
        for scope in scopes:
            node = scope.expression
            if not isinstance(node, exp.Select):
                continue
            where = node.args.get("where")
            col.conditions(where.this if where is not None else None, scope, sid)
            for join in node.args.get("joins") or ():
                col.conditions(join.args.get("on"), scope, sid)
            col.ordering(node, scope, sid)
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
        tables=tuple(sorted(resolver.tables)),
        unknown_tables=tuple(sorted(resolver.unknown)),
        accesses=accesses,
        is_query=True,
    )
