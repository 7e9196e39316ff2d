"""Static look at a project's own modules: which top-level imports could be deferred.

A top-level import is a *candidate* when every name it binds is used only where
code runs later (inside function bodies that are not called while the module is
imported). It is *not* a candidate when a name is used at import time: at module
level, in a class body, a decorator, a default argument, an annotation that is
evaluated at runtime (module/class variable annotations always, because
dataclasses/pydantic read them; function annotations unless
``from __future__ import annotations``/PEP 649 applies and the function has no
decorator), in a function called at import time, when re-exported via ``__all__``
or imported by another project module, when never used (imported for its side
effects), when rebound, or when the import sits in a ``try``/``with`` block.

Only the standard library is used (``ast``); nothing is imported or executed.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

FUNCTION_LOCAL = "function-local"
LAZY_IMPORT = "lazy-import"
TYPE_CHECKING_ONLY = "type-checking"
ANNOTATIONS = "<annotations>"  # marks uses in annotations that are never evaluated
LAMBDA = "<lambda"  # starts the name of a lambda outside any function: `<lambda f, line 7>`


@dataclass(frozen=True)
class Fix:
    """How to defer one import on the target's Python version."""

    kind: str  # FUNCTION_LOCAL or LAZY_IMPORT
    text: str
    alternative: str


@dataclass(frozen=True)
class ImportSite:
    """One top-level import unit: a module imported by a statement of a project module.

    ``import a, b`` gives two sites (one per module); ``from m import x, y`` gives one.
    """

    file: str
    importer: str
    line: int
    statement: str
    module: str  # absolute name of the module the statement imports
    touched: tuple[str, ...]  # modules this statement may load (parents, submodules)
    strip_key: str  # identifies the unit to the probe's rewriter
    names: tuple[str, ...]  # names it binds in the importer
    candidate: bool
    reason: str
    used_in: tuple[str, ...] = ()  # functions that use the names
    fix: Fix | None = None


@dataclass
class _Use:
    deferred: bool
    owner: str | None  # top-level function/class containing the use
    func: str | None  # qualified name of the innermost function
    line: int
    annotation: bool = False  # in an annotation that is never evaluated at import time
    chain: str = ""  # dotted access, e.g. "os.path.join" for a use of `os`


@dataclass
class _ModuleScan:
    uses: dict[str, list[_Use]] = field(default_factory=dict)
    rebound: set[str] = field(default_factory=set)
    eager_calls: dict[str, int] = field(default_factory=dict)  # owner -> line of first call
    owner_calls: dict[str, set[str]] = field(default_factory=dict)
    all_names: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    classes: set[str] = field(default_factory=set)
    # names read by a module-level `if TYPE_CHECKING:` -> (line, the test as written)
    guards: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class _RawSite:
    node: ast.Import | ast.ImportFrom
    module: str
    touched: tuple[str, ...]
    strip_key: str
    names: tuple[str, ...]
    blocked: str  # non-empty: why it cannot be a candidate regardless of use


@dataclass(frozen=True)
class ModuleAnalysis:
    name: str
    file: str
    sites: tuple[ImportSite, ...]
    imported_names: tuple[tuple[str, str], ...]  # (module, name) pairs of `from m import name`
    error: str | None = None


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """Absolute module name of ``from <level dots><module> import ...`` in ``importer``."""
    if level == 0:
        return module or ""
    package = importer if is_package else importer.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    base = ".".join(parts)
    if module:
        return f"{base}.{module}" if base else module
    return base


def _parents(name: str) -> tuple[str, ...]:
    parts = name.split(".")
    return tuple(".".join(parts[:i]) for i in range(1, len(parts) + 1))


def _collect_sites(
    tree: ast.Module, importer: str, is_package: bool
) -> tuple[list[_RawSite], list[tuple[str, str]]]:
    sites: list[_RawSite] = []
    from_names: list[tuple[str, str]] = []

    def add(stmt: ast.stmt, blocked: str) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                sites.append(
                    _RawSite(stmt, alias.name, _parents(alias.name), alias.name, (bound,), blocked)
                )
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.module == "__future__":
                return
            module = resolve_relative(importer, is_package, stmt.level, stmt.module)
            if not module:
                return
            names = tuple(a.asname or a.name for a in stmt.names)
            for a in stmt.names:
                from_names.append((module, a.name))
            star = any(a.name == "*" for a in stmt.names)
            touched = _parents(module) + tuple(f"{module}.{a.name}" for a in stmt.names)
            sites.append(
                _RawSite(
                    stmt,
                    module,
                    touched,
                    stmt.module or "",
                    names,
                    "star import" if star else blocked,
                )
            )

    def visit(body: Sequence[ast.stmt], blocked: str) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                add(stmt, blocked)
            elif isinstance(stmt, ast.If):
                if _is_type_checking(stmt.test):
                    visit(stmt.orelse, blocked)
                elif _is_main_guard(stmt.test):
                    continue
                else:
                    visit(stmt.body, blocked)
                    visit(stmt.orelse, blocked)
            elif isinstance(stmt, ast.Try):
                inner = blocked or "inside try/except (a fallback import)"
                for part in (stmt.body, stmt.orelse, stmt.finalbody):
                    visit(part, inner)
                for handler in stmt.handlers:
                    visit(handler.body, inner)
            elif isinstance(stmt, (ast.With, ast.For, ast.While)):
                visit(stmt.body, blocked or "inside a with/loop block")

    visit(tree.body, "")
    return sites, from_names


class _Scanner:
    """Records where each tracked name is read, and whether that runs at import time."""

    def __init__(self, tracked: set[str], lazy_annotations: bool) -> None:
        self.tracked = tracked
        self.lazy_annotations = lazy_annotations
        self.out = _ModuleScan()
        self._annotation = False
        self._lambda_names: dict[int, str] = {}  # id(lambda node) -> the name it is bound to

    def scan_module(self, tree: ast.Module) -> _ModuleScan:
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self.out.functions.add(stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                self.out.classes.add(stmt.name)
            self._all(stmt)
        self._body(tree.body, deferred=False, owner=None, func=None, top=True)
        return self.out

    def _all(self, stmt: ast.stmt) -> None:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AugAssign | ast.AnnAssign):
            targets, value = [stmt.target], stmt.value
        if value is None or not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return
        if isinstance(value, ast.List | ast.Tuple | ast.Set):
            for elt in value.elts:
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    self.out.all_names.add(elt.value)

    def _use(
        self,
        name: str,
        deferred: bool,
        owner: str | None,
        func: str | None,
        line: int,
        chain: str = "",
    ) -> None:
        if name in self.tracked:
            self.out.uses.setdefault(name, []).append(
                _Use(deferred, owner, func, line, self._annotation, chain or name)
            )

    def _body(
        self,
        body: Iterable[ast.stmt],
        *,
        deferred: bool,
        owner: str | None,
        func: str | None,
        top: bool = False,
        prefix: str = "",
    ) -> None:
        for stmt in body:
            self._stmt(stmt, deferred=deferred, owner=owner, func=func, top=top, prefix=prefix)

    def _stmt(
        self,
        stmt: ast.stmt,
        *,
        deferred: bool,
        owner: str | None,
        func: str | None,
        top: bool,
        prefix: str,
    ) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self._function(stmt, deferred=deferred, owner=owner, func=func, top=top, prefix=prefix)
            return
        if isinstance(stmt, ast.ClassDef):
            new_owner = stmt.name if top else owner
            self._decorators(stmt.decorator_list, deferred=deferred, owner=owner, func=func)
            for expr in [*stmt.bases, *(k.value for k in stmt.keywords)]:
                self._expr(expr, deferred=deferred, owner=owner, func=func)
            # The class body runs when the class statement runs.
            self._body(
                stmt.body,
                deferred=deferred,
                owner=new_owner,
                func=func,
                prefix=f"{prefix}{stmt.name}.",
            )
            return
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            return
        if isinstance(stmt, ast.If) and top:
            if _is_type_checking(stmt.test):
                # the test itself runs at import time: `TYPE_CHECKING` (or `typing`) is needed
                root = stmt.test
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in self.tracked:
                    guard = (stmt.lineno, ast.unparse(stmt.test))
                    self.out.guards.setdefault(root.id, guard)
                self._body(stmt.orelse, deferred=deferred, owner=owner, func=func, top=top)
                return
            if _is_main_guard(stmt.test):
                return  # not run on import
        if (
            isinstance(stmt, ast.Assign | ast.AnnAssign)
            and isinstance(stmt.value, ast.Lambda)
            and isinstance(
                stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target, ast.Name
            )
        ):
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            assert isinstance(target, ast.Name)
            self._lambda_names[id(stmt.value)] = target.id
        if isinstance(stmt, ast.AnnAssign):
            # Variable annotations at module/class level are read by dataclasses, pydantic, etc.
            self._expr(stmt.annotation, deferred=deferred, owner=owner, func=func)
            if stmt.value is not None:
                self._expr(stmt.value, deferred=deferred, owner=owner, func=func)
            self._target(stmt.target, deferred=deferred, owner=owner, func=func)
            return
        if isinstance(stmt, ast.Global | ast.Nonlocal):
            self.out.rebound.update(n for n in stmt.names if n in self.tracked)
            return
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                self._stmt(child, deferred=deferred, owner=owner, func=func, top=top, prefix=prefix)
            elif isinstance(child, ast.expr):
                if isinstance(stmt, ast.Assign | ast.AugAssign | ast.For | ast.AsyncFor) and (
                    child in getattr(stmt, "targets", ()) or child is getattr(stmt, "target", None)
                ):
                    self._target(child, deferred=deferred, owner=owner, func=func)
                    continue
                self._expr(child, deferred=deferred, owner=owner, func=func)
            elif isinstance(child, ast.excepthandler | ast.withitem | ast.match_case):
                for sub in ast.iter_child_nodes(child):
                    if isinstance(sub, ast.stmt):
                        self._stmt(
                            sub, deferred=deferred, owner=owner, func=func, top=top, prefix=prefix
                        )
                    elif isinstance(sub, ast.expr):
                        self._expr(sub, deferred=deferred, owner=owner, func=func)
                if isinstance(child, ast.ExceptHandler) and child.name in self.tracked and not func:
                    self.out.rebound.add(child.name)

    def _target(
        self, target: ast.expr, *, deferred: bool, owner: str | None, func: str | None
    ) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            # `np.x = 1` / `d[k] = v` read their base names.
            self._expr(target, deferred=deferred, owner=owner, func=func)
            return
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                if func is None and node.id in self.tracked:
                    self.out.rebound.add(node.id)
            elif isinstance(node, ast.Attribute | ast.Subscript):
                self._expr(node, deferred=deferred, owner=owner, func=func)

    def _decorators(
        self, decorators: list[ast.expr], *, deferred: bool, owner: str | None, func: str | None
    ) -> None:
        for expr in decorators:
            # A decorator named directly is called when the decorated statement runs.
            if isinstance(expr, ast.Name):
                if not deferred:
                    self.out.eager_calls.setdefault(expr.id, expr.lineno)
                elif owner is not None:
                    self.out.owner_calls.setdefault(owner, set()).add(expr.id)
            self._expr(expr, deferred=deferred, owner=owner, func=func)

    def _function(
        self,
        fn: ast.FunctionDef | ast.AsyncFunctionDef,
        *,
        deferred: bool,
        owner: str | None,
        func: str | None,
        top: bool,
        prefix: str,
    ) -> None:
        self._decorators(fn.decorator_list, deferred=deferred, owner=owner, func=func)
        args = fn.args
        for expr in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self._expr(expr, deferred=deferred, owner=owner, func=func)
        annotations = [
            a.annotation
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            if a is not None and a.annotation is not None
        ]
        if fn.returns is not None:
            annotations.append(fn.returns)
        evaluated = not self.lazy_annotations or bool(fn.decorator_list)
        self._annotation = not evaluated
        for expr in annotations:
            self._expr(
                expr,
                deferred=deferred if evaluated else True,
                owner=owner,
                func=func if evaluated else f"{prefix}{fn.name}",
            )
        self._annotation = False
        new_owner = fn.name if top else owner
        self._body(fn.body, deferred=True, owner=new_owner, func=f"{prefix}{fn.name}")

    def _expr(self, expr: ast.expr, *, deferred: bool, owner: str | None, func: str | None) -> None:
        if isinstance(expr, ast.Lambda):
            for d in [*expr.args.defaults, *(d for d in expr.args.kw_defaults if d is not None)]:
                self._expr(d, deferred=deferred, owner=owner, func=func)
            if func is None:  # not inside a function: the lambda itself must become one
                name = self._lambda_names.get(id(expr))
                where = f"line {expr.lineno}"
                func = f"{LAMBDA} {name}, {where}>" if name else f"{LAMBDA}, {where}>"
            self._expr(expr.body, deferred=True, owner=owner, func=func)
            return
        if isinstance(expr, ast.Name):
            if isinstance(expr.ctx, ast.Load):
                self._use(expr.id, deferred, owner, func, expr.lineno)
            return
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name | ast.Attribute):
            callee = expr.func
            while isinstance(callee, ast.Attribute):
                callee = callee.value  # type: ignore[assignment]
            if isinstance(callee, ast.Name):
                called = callee.id
                if not deferred:
                    self.out.eager_calls.setdefault(called, expr.lineno)
                elif owner is not None:
                    self.out.owner_calls.setdefault(owner, set()).add(called)
        if isinstance(expr, ast.Attribute):
            dotted = _dotted(expr)
            if dotted is not None:
                root = dotted.split(".", 1)[0]
                self._use(root, deferred, owner, func, expr.lineno, dotted)
                return
        if isinstance(expr, ast.NamedExpr):
            self._target(expr.target, deferred=deferred, owner=owner, func=func)
            self._expr(expr.value, deferred=deferred, owner=owner, func=func)
            return
        for child in ast.iter_child_nodes(expr):
            if isinstance(child, ast.expr):
                self._expr(child, deferred=deferred, owner=owner, func=func)
            elif isinstance(child, ast.comprehension):
                for part in (child.iter, *child.ifs):
                    self._expr(part, deferred=deferred, owner=owner, func=func)
            elif isinstance(child, ast.keyword | ast.arguments):
                for node in ast.iter_child_nodes(child):
                    if isinstance(node, ast.expr):
                        self._expr(node, deferred=deferred, owner=owner, func=func)


def analyze_source(
    source: str,
    *,
    file: str,
    module: str,
    is_package: bool,
    version: tuple[int, int],
) -> ModuleAnalysis:
    """Classify every top-level import of one module's source."""
    try:
        tree = ast.parse(source, file)
    except SyntaxError as exc:
        return ModuleAnalysis(module, file, (), (), error=f"{exc.msg} (line {exc.lineno})")
    raw_sites, from_names = _collect_sites(tree, module, is_package)
    future_annotations = any(
        isinstance(s, ast.ImportFrom)
        and s.module == "__future__"
        and any(a.name == "annotations" for a in s.names)
        for s in tree.body
    )
    tracked = {n for s in raw_sites for n in s.names}
    scan = _Scanner(tracked, future_annotations or version >= (3, 14)).scan_module(tree)
    eager_owners = _eager_closure(scan)
    bound_count: dict[str, int] = {}
    for s in raw_sites:
        if _is_dotted_import(s):
            continue  # `import a.b` and `import a.c` both bind `a`; uses are told apart by chain
        for n in s.names:
            bound_count[n] = bound_count.get(n, 0) + 1
    lines = source.splitlines()
    sites: list[ImportSite] = []
    for s in raw_sites:
        candidate, reason, used_in = _classify(s, scan, eager_owners, bound_count)
        stmt_text = _statement_text(s, lines)
        site = ImportSite(
            file=file,
            importer=module,
            line=s.node.lineno,
            statement=stmt_text,
            module=s.module,
            touched=s.touched,
            strip_key=s.strip_key,
            names=s.names,
            candidate=candidate,
            reason=reason,
            used_in=used_in,
        )
        if candidate:
            site = _with_fix(site, version)
        sites.append(site)
    return ModuleAnalysis(module, file, tuple(sites), tuple(from_names))


def _dotted(expr: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def _is_dotted_import(s: _RawSite) -> bool:
    return (
        isinstance(s.node, ast.Import) and "." in s.module and s.names[0] == s.module.split(".")[0]
    )


def _prefix_related(chain: str, module: str) -> bool:
    return chain == module or chain.startswith(module + ".")


def _eager_closure(scan: _ModuleScan) -> dict[str, str]:
    """Module-level functions/classes that run at import time -> why."""
    known = scan.functions | scan.classes
    out: dict[str, str] = {}
    todo = [(n, f"called at import time (line {line})") for n, line in scan.eager_calls.items()]
    while todo:
        name, why = todo.pop()
        if name not in known or name in out:
            continue
        out[name] = why
        for callee in scan.owner_calls.get(name, ()):
            todo.append((callee, f"called by {name}(), which runs at import time"))
    return out


def _classify(
    s: _RawSite, scan: _ModuleScan, eager_owners: dict[str, str], bound_count: dict[str, int]
) -> tuple[bool, str, tuple[str, ...]]:
    if s.blocked:
        return False, s.blocked, ()
    funcs: list[str] = []
    for name in s.names:
        if name in scan.all_names:
            return False, f"{name!r} is re-exported in __all__", ()
        if name in scan.rebound or bound_count.get(name, 0) > 1:
            return False, f"{name!r} is bound more than once", ()
    for name in s.names:
        if name in scan.guards:
            line, test = scan.guards[name]
            return False, f"needed at import time by `if {test}:` (line {line})", ()
    uses = [u for n in s.names for u in scan.uses.get(n, [])]
    if _is_dotted_import(s):
        # `import app.slow` serves `app.slow.X`; a bare `app` may need any of them
        uses = [u for u in uses if u.chain == s.names[0] or _prefix_related(u.chain, s.module)]
    if not uses:
        return False, "not used in this module (imported for side effects or re-export)", ()
    for u in uses:
        if u.annotation:
            if ANNOTATIONS not in funcs:
                funcs.append(ANNOTATIONS)
            continue
        if not u.deferred:
            return False, f"used at import time (line {u.line})", ()
        if u.owner is not None and u.owner in eager_owners:
            return False, f"used in {u.owner}, {eager_owners[u.owner]}", ()
        if u.func and u.func not in funcs:
            funcs.append(u.func)
    return True, "used only inside functions", tuple(funcs)


def _statement_text(s: _RawSite, lines: list[str]) -> str:
    node = s.node
    if isinstance(node, ast.Import):
        alias = next(a for a in node.names if a.name == s.module)
        return f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    end = node.end_lineno or node.lineno
    text = " ".join(line.strip() for line in lines[node.lineno - 1 : end])
    return " ".join(text.replace("(", " ").replace(")", " ").split()).rstrip(",").strip()


def _lambda_target(label: str) -> str:
    """Where an import used by a lambda outside any function can go: a ``def`` that
    replaces it (``<lambda handler, line 7>`` -> ``a `def handler(...)` in place of
    the lambda on line 7``)."""
    head, _, where = label.removesuffix(">").rpartition(", ")
    name = head.removeprefix(LAMBDA).strip()
    what = f"a `def {name}(...)`" if name else "a `def`"
    return f"{what} in place of the lambda on {where}"


def _with_fix(site: ImportSite, version: tuple[int, int]) -> ImportSite:
    targets = [
        _lambda_target(f) if f.startswith(LAMBDA) else f"{f}()"
        for f in site.used_in
        if f != ANNOTATIONS
    ]
    funcs = ", ".join(targets)
    if any(f.startswith(LAMBDA) for f in site.used_in):
        funcs += " (a lambda cannot hold an import statement)"
    local = f"line {site.line}: move `{site.statement}` into {funcs}"
    if ANNOTATIONS in site.used_in:
        keep = "under `if TYPE_CHECKING:` for the annotations"
        if not funcs:
            text = f"line {site.line}: move `{site.statement}` {keep}"
            return _replace_fix(site, Fix(TYPE_CHECKING_ONLY, text, ""))
        local += f", and keep it {keep}"
    compat = (
        f"add `__lazy_modules__ = [{site.module!r}]` above line {site.line} "
        "(lazy on Python 3.15+, a no-op before)"
    )
    if version >= (3, 15):
        text = f"line {site.line}: `lazy {site.statement}` (PEP 810)"
        return _replace_fix(site, Fix(LAZY_IMPORT, text, compat))
    return _replace_fix(site, Fix(FUNCTION_LOCAL, local, compat))


def _replace_fix(site: ImportSite, fix: Fix) -> ImportSite:
    return replace(site, fix=fix)


@functools.cache
def vendored_names(root: Path) -> frozenset[str]:
    """Top-level names installed into ``root`` by pip (``pip install -t .``, common in
    Lambda packages): dependencies, not the project's own code."""
    names: set[str] = set()
    try:
        infos = [p for p in root.iterdir() if p.suffix in (".dist-info", ".egg-info")]
    except OSError:
        return frozenset()
    for info in infos:
        top = info / "top_level.txt"
        record = info / "RECORD"
        try:
            if top.is_file():
                names.update(n.strip() for n in top.read_text().splitlines() if n.strip())
            elif record.is_file():
                for line in record.read_text().splitlines():
                    first = line.split(",", 1)[0].split("/", 1)[0]
                    names.add(first.removesuffix(".py"))
        except (OSError, UnicodeDecodeError):
            continue
    return frozenset(n for n in names if n.isidentifier())


def find_module_file(name: str, roots: Sequence[Path]) -> tuple[Path, bool] | None:
    """Find a module's source under the project roots, without importing anything."""
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for root in roots:
        if parts[0] in vendored_names(root):
            continue
        base = root.joinpath(*parts)
        init = base / "__init__.py"
        if init.is_file():
            return init, True
        py = base.with_name(base.name + ".py")
        if py.is_file():
            return py, False
    return None


@dataclass(frozen=True)
class ProjectAnalysis:
    modules: tuple[ModuleAnalysis, ...]

    @property
    def sites(self) -> tuple[ImportSite, ...]:
        return tuple(s for m in self.modules for s in m.sites)

    @property
    def candidates(self) -> tuple[ImportSite, ...]:
        return tuple(s for s in self.sites if s.candidate)


def analyze_project(
    entry: str,
    roots: Sequence[Path],
    version: tuple[int, int],
    *,
    extra: dict[str, Path] | None = None,
) -> ProjectAnalysis:
    """Analyse ``entry`` and every project module reachable through top-level imports.

    ``extra`` adds modules known to be loaded (name -> file), e.g. reported by a run.
    """
    found: dict[str, ModuleAnalysis] = {}
    queue: list[tuple[str, Path, bool]] = []

    def enqueue(name: str) -> None:
        for candidate in _parents(name):
            if candidate in found or any(q[0] == candidate for q in queue):
                continue
            hit = find_module_file(candidate, roots)
            if hit:
                queue.append((candidate, hit[0], hit[1]))

    enqueue(entry)
    for name, path in (extra or {}).items():
        if name not in found and not any(q[0] == name for q in queue):
            queue.append((name, path, path.name == "__init__.py"))
    while queue:
        name, path, is_pkg = queue.pop(0)
        if name in found:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            found[name] = ModuleAnalysis(name, str(path), (), (), error=str(exc))
            continue
        analysis = analyze_source(
            source, file=str(path), module=name, is_package=is_pkg, version=version
        )
        found[name] = analysis
        for site in analysis.sites:
            for touched in site.touched:
                enqueue(touched)
    return _cross_module(tuple(found.values()))


def _cross_module(modules: tuple[ModuleAnalysis, ...]) -> ProjectAnalysis:
    """A name another project module imports with ``from m import name`` must stay eager."""
    wanted = {pair for m in modules for pair in m.imported_names}
    out: list[ModuleAnalysis] = []
    for m in modules:
        sites = []
        for s in m.sites:
            hit = next((n for n in s.names if (m.name, n) in wanted), None)
            if s.candidate and hit:
                s = _unflag(s, f"{hit!r} is imported from {m.name} by another project module")
            sites.append(s)
        out.append(ModuleAnalysis(m.name, m.file, tuple(sites), m.imported_names, m.error))
    return ProjectAnalysis(tuple(out))


def demote(
    analysis: ProjectAnalysis, reasons: Mapping[tuple[str, int, str], str]
) -> ProjectAnalysis:
    """Unflag candidates by (file, line, strip_key), e.g. after the probe proved them needed."""
    out = []
    for m in analysis.modules:
        sites = tuple(
            _unflag(s, reasons[(s.file, s.line, s.strip_key)])
            if s.candidate and (s.file, s.line, s.strip_key) in reasons
            else s
            for s in m.sites
        )
        out.append(replace(m, sites=sites))
    return ProjectAnalysis(tuple(out))


def _unflag(site: ImportSite, reason: str) -> ImportSite:
    return replace(site, candidate=False, reason=reason, fix=None)
