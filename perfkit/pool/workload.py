"""What each benchmark request runs: one SQL query, or a pgbench-style script.

The script subset understood here (the part of pgbench's language that matters for
connection benchmarks):

* SQL commands, one or more lines each, ending with ``;`` at the end of a line;
  ``:name`` is replaced by the value of a variable (``::casts`` are left alone).
* ``\\set name expression`` with integers and decimals, ``+ - * / %``, parentheses,
  ``:other`` variables and the functions ``random(lo, hi)``,
  ``random_gaussian(lo, hi, param)``, ``random_exponential(lo, hi, param)``,
  ``abs``, ``least``, ``greatest``, ``int``, ``double``, ``sqrt``, ``pi()``.
* ``\\sleep n [us|ms|s]`` (``n`` may be a ``:variable``).
* ``--`` comments and blank lines.

Other meta-commands (``\\if``, ``\\gset``, ``\\shell`` ...) are rejected with the line
number rather than silently ignored.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perfkit.errors import InputError

if TYPE_CHECKING:
    from perfkit.db.guard import Guard, Verdict

Number = int | float


# --- expressions -----------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    value: Number


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg:
    operand: Expr


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]


Expr = Const | Var | BinOp | Neg | Call

_FUNCS_ARITY = {
    "random": (2, 2),
    "random_gaussian": (3, 3),
    "random_exponential": (3, 3),
    "abs": (1, 1),
    "int": (1, 1),
    "double": (1, 1),
    "sqrt": (1, 1),
    "pi": (0, 0),
    "least": (1, 99),
    "greatest": (1, 99),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<var>:[A-Za-z_][A-Za-z0-9_]*)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/%(),]))"
)


class ExprError(ValueError):
    pass


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected {text[pos:].strip()[:10]!r} in expression")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExprError("expression ends too early")
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok != ("op", op):
            raise ExprError(f"expected {op!r}, found {tok[1]!r}")

    def parse(self) -> Expr:
        if not self.tokens:
            raise ExprError("missing expression")
        expr = self.additive()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()[1]!r} after expression")  # type: ignore[index]
        return expr

    def additive(self) -> Expr:
        left = self.multiplicative()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            left = BinOp(tok[1], left, self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in "*/%":
            self.i += 1
            left = BinOp(tok[1], left, self.unary())
        return left

    def unary(self) -> Expr:
        tok = self.peek()
        if tok == ("op", "-"):
            self.i += 1
            return Neg(self.unary())
        if tok == ("op", "+"):
            self.i += 1
            return self.unary()
        return self.primary()

    def primary(self) -> Expr:
        kind, text = self.take()
        if kind == "num":
            is_float = any(c in text for c in ".eE")
            return Const(float(text) if is_float else int(text))
        if kind == "var":
            return Var(text[1:])
        if kind == "name":
            func = text.lower()
            if func not in _FUNCS_ARITY:
                raise ExprError(f"unknown function {text!r}")
            self.expect("(")
            args: list[Expr] = []
            if self.peek() != ("op", ")"):
                args.append(self.additive())
                while self.peek() == ("op", ","):
                    self.i += 1
                    args.append(self.additive())
            self.expect(")")
            lo, hi = _FUNCS_ARITY[func]
            if not lo <= len(args) <= hi:
                raise ExprError(f"{func}() takes {lo if lo == hi else f'{lo}+'} arguments")
            return Call(func, tuple(args))
        if (kind, text) == ("op", "("):
            inner = self.additive()
            self.expect(")")
            return inner
        raise ExprError(f"unexpected {text!r}")


def parse_expr(text: str) -> Expr:
    """Parse a pgbench ``\\set`` expression."""
    return _Parser(text).parse()


def _int_div(a: int, b: int) -> int:
    # C semantics (pgbench): truncate toward zero
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int_mod(a: int, b: int) -> int:
    return a - _int_div(a, b) * b


def evaluate(expr: Expr, env: dict[str, Number], rng: random.Random) -> Number:
    """Evaluate with pgbench semantics: integer arithmetic stays integer (C division)."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        if expr.name not in env:
            raise ExprError(f"undefined variable :{expr.name}")
        return env[expr.name]
    if isinstance(expr, Neg):
        return -evaluate(expr.operand, env, rng)
    if isinstance(expr, BinOp):
        a = evaluate(expr.left, env, rng)
        b = evaluate(expr.right, env, rng)
        if expr.op == "+":
            return a + b
        if expr.op == "-":
            return a - b
        if expr.op == "*":
            return a * b
        if expr.op in "/%":
            if b == 0:
                raise ExprError("division by zero")
            if isinstance(a, int) and isinstance(b, int):
                return _int_div(a, b) if expr.op == "/" else _int_mod(a, b)
            if expr.op == "%":
                raise ExprError("% needs integers")
            return a / b
        raise ExprError(f"unknown operator {expr.op}")
    args = [evaluate(a, env, rng) for a in expr.args]
    return _call(expr.func, args, rng)


def _call(func: str, args: list[Number], rng: random.Random) -> Number:
    if func.startswith("random"):
        lo, hi = int(args[0]), int(args[1])
        if lo > hi:
            raise ExprError(f"{func}: lower bound {lo} above upper bound {hi}")
        if func == "random":
            return rng.randint(lo, hi)
        param = float(args[2])
        if func == "random_gaussian":
            if param < 2.0:
                raise ExprError("random_gaussian: parameter must be at least 2.0")
            mid, half = (lo + hi) / 2.0, (hi - lo + 1) / 2.0
            while True:  # pgbench: a normal draw truncated to [-param, param)
                z = rng.gauss(0.0, 1.0)
                if -param <= z < param:
                    break
            return min(hi, max(lo, int(mid + z * half / param)))
        if param <= 0:
            raise ExprError("random_exponential: parameter must be above 0")
        cut = math.exp(-param)
        u = 1.0 - rng.random() * (1.0 - cut)
        return lo + min(hi - lo, int(-math.log(u) / param * (hi - lo + 1)))
    if func == "abs":
        return abs(args[0])
    if func == "int":
        return int(args[0])
    if func == "double":
        return float(args[0])
    if func == "sqrt":
        return math.sqrt(args[0])
    if func == "pi":
        return math.pi
    if func == "least":
        return min(args)
    return max(args)


# --- scripts ---------------------------------------------------------------------


@dataclass(frozen=True)
class SetStep:
    name: str
    expr: Expr
    line: int


@dataclass(frozen=True)
class SleepStep:
    amount: Expr
    factor: float  # seconds per unit
    line: int


@dataclass(frozen=True)
class SqlStep:
    """SQL text split around variables: ``parts[0] var[0] parts[1] ...``."""

    parts: tuple[str, ...]
    variables: tuple[str, ...]
    line: int

    def render(self, env: dict[str, Number]) -> str:
        out = [self.parts[0]]
        for name, part in zip(self.variables, self.parts[1:], strict=True):
            out.append(_sql_literal(env[name]))
            out.append(part)
        return "".join(out)


Step = SetStep | SleepStep | SqlStep

_VAR_IN_SQL = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_SLEEP = re.compile(r"^(?P<amount>:?[A-Za-z0-9_.]+)\s*(?P<unit>us|ms|s)?$")
_SLEEP_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _sql_literal(value: Number) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(int(value))


@dataclass(frozen=True)
class Workload:
    """A parsed workload. ``source`` says where it came from (``SELECT 1``, a file)."""

    steps: tuple[Step, ...]
    source: str

    @property
    def statements(self) -> int:
        return sum(1 for s in self.steps if isinstance(s, SqlStep))

    @property
    def description(self) -> str:
        return self.source

    @functools.cached_property
    def static_sql(self) -> tuple[bytes, ...] | None:
        """The encoded statements when the script has no variables or sleeps (fast path)."""
        if all(isinstance(s, SqlStep) and not s.variables for s in self.steps):
            return tuple(s.parts[0].encode() for s in self.steps if isinstance(s, SqlStep))
        return None

    def transaction(self, rng: random.Random) -> Iterator[str | float]:
        """One run of the script: SQL strings to execute, floats are seconds to sleep."""
        env: dict[str, Number] = {}
        for step in self.steps:
            if isinstance(step, SqlStep):
                yield step.render(env) if step.variables else step.parts[0]
            elif isinstance(step, SetStep):
                env[step.name] = evaluate(step.expr, env, rng)
            else:
                yield float(evaluate(step.amount, env, rng)) * step.factor


def select_one() -> Workload:
    return query_workload("SELECT 1")


def query_workload(sql: str) -> Workload:
    """A single query, run as given (no variables)."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise InputError("--query", "the query is empty")
    return Workload((SqlStep((text,), (), 1),), text if len(text) <= 60 else text[:57] + "...")


def _sql_step(text: str, line: int, defined: set[str], path: str) -> SqlStep:
    parts: list[str] = []
    names: list[str] = []
    pos = 0
    for m in _VAR_IN_SQL.finditer(text):
        name = m.group(1)
        if name not in defined:
            raise InputError(path, f"variable :{name} is used before \\set", line=line)
        parts.append(text[pos : m.start()])
        names.append(name)
        pos = m.end()
    parts.append(text[pos:])
    return SqlStep(tuple(parts), tuple(names), line)


def parse_script(text: str, path: str = "<script>") -> Workload:
    """Parse a pgbench-style script (see the module docstring for the subset)."""
    steps: list[Step] = []
    defined: set[str] = set()
    pending: list[str] = []
    pending_line = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("--")):
            continue
        if not pending and stripped.startswith("\\"):
            steps.append(_meta(stripped, lineno, defined, path))
            continue
        if not pending:
            pending_line = lineno
        code = _strip_comment(raw)
        pending.append(code)
        if code.rstrip().endswith(";"):
            sql = "\n".join(pending).strip().rstrip(";").strip()
            pending = []
            if sql:
                steps.append(_sql_step(sql, pending_line, defined, path))
    if pending:
        sql = "\n".join(pending).strip()
        if sql:
            steps.append(_sql_step(sql, pending_line, defined, path))
    if not any(isinstance(s, SqlStep) for s in steps):
        raise InputError(path, "the script has no SQL command")
    return Workload(tuple(steps), path)


def _strip_comment(line: str) -> str:
    # drop a trailing -- comment unless it sits inside a quoted string
    in_quote = False
    for i, ch in enumerate(line):
        if ch == "'":
            in_quote = not in_quote
        elif not in_quote and line.startswith("--", i):
            return line[:i]
    return line


def _meta(line: str, lineno: int, defined: set[str], path: str) -> Step:
    cmd, _, rest = line[1:].partition(" ")
    cmd = cmd.lower()
    rest = rest.strip()
    try:
        if cmd == "set":
            name, _, expr_text = rest.partition(" ")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ExprError(f"bad variable name {name!r}")
            expr = parse_expr(expr_text)
            _check_defined(expr, defined)
            defined.add(name)
            return SetStep(name, expr, lineno)
        if cmd == "sleep":
            m = _SLEEP.match(rest)
            if not m:
                raise ExprError("use \\sleep N [us|ms|s]")
            amount = parse_expr(m.group("amount"))
            _check_defined(amount, defined)
            return SleepStep(amount, _SLEEP_UNITS[m.group("unit") or "s"], lineno)
    except ExprError as exc:
        raise InputError(path, f"\\{cmd}: {exc}", line=lineno) from None
    raise InputError(
        path,
        f"\\{cmd} is not supported (perfkit understands \\set and \\sleep)",
        line=lineno,
    )


def _check_defined(expr: Expr, defined: set[str]) -> None:
    if isinstance(expr, Var):
        if expr.name not in defined:
            raise ExprError(f"variable :{expr.name} is used before \\set")
    elif isinstance(expr, BinOp):
        _check_defined(expr.left, defined)
        _check_defined(expr.right, defined)
    elif isinstance(expr, Neg):
        _check_defined(expr.operand, defined)
    elif isinstance(expr, Call):
        for a in expr.args:
            _check_defined(a, defined)


def load_script(path: str | Path) -> Workload:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(p, "script not found") from None
    except UnicodeDecodeError:
        raise InputError(p, "script is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(p, f"cannot read script: {exc.strerror}") from None
    return parse_script(text, str(p))


# --- the statement guard ------------------------------------------------------------

# Variables are judged as numbers: each one renders as a distinct marker literal so the
# statement can be split and put back together around its variables.
_MARK = 7_318_264_950_000


def _marked(step: SqlStep) -> str:
    return step.render({name: _MARK + i for i, name in enumerate(step.variables)})


def _unmarked(text: str, step: SqlStep, line: int) -> SqlStep:
    parts: list[str] = []
    names: list[str] = []
    pos = 0
    marks = {str(_MARK + i): name for i, name in enumerate(step.variables)}
    for m in re.finditer(r"\d{13,}", text):
        name = marks.get(m.group(0))
        if name is None:
            continue
        parts.append(text[pos : m.start()])
        names.append(name)
        pos = m.end()
    parts.append(text[pos:])
    return SqlStep(tuple(parts), tuple(names), line)


def split_workload(workload: Workload) -> Workload:
    """One SqlStep per statement (PostgreSQL's parser splits ``SELECT 1; SELECT 2``), so
    that each statement is judged and sent alone. Unparsable SQL stays as it is: the
    guard refuses it."""
    from perfkit.db.guard import split_statements

    steps: list[Step] = []
    for step in workload.steps:
        if not isinstance(step, SqlStep):
            steps.append(step)
            continue
        raws, error = split_statements(_marked(step))
        if error is not None or len(raws) <= 1:
            steps.append(step)
            continue
        for raw in raws:
            steps.append(_unmarked(raw.text, step, step.line + raw.line - 1))
    return Workload(tuple(steps), workload.source)


def _show_step(step: SqlStep) -> str:
    out = [step.parts[0]]
    for name, part in zip(step.variables, step.parts[1:], strict=True):
        out.append(f":{name}")
        out.append(part)
    return "".join(out)


def guard_workload(workload: Workload, guard: Guard) -> tuple[Verdict, ...]:
    """The guard's verdict on every statement of ``workload``; raises
    :class:`~perfkit.errors.UnsafeOperation` naming each refused statement (file, line,
    class, reason) - none of the workload is sent then."""
    from perfkit.errors import UnsafeOperation

    verdicts: list[Verdict] = []
    refused: list[str] = []
    for step in workload.steps:
        if not isinstance(step, SqlStep):
            continue
        for v in guard.judge(_marked(step)) or (guard.judge_one(_marked(step)),):
            verdicts.append(v)
            if not v.allowed:
                shown = _show_step(step) if len(step.variables) else v.text
                refused.append(
                    f"line {step.line}: {v.kind}: {' '.join(shown.split())}: {v.message}"
                )
    if refused:
        raise UnsafeOperation(
            f"{workload.source}: {len(refused)} statement(s) refused by the statement guard: "
            + " | ".join(refused),
            hint="see docs/safety.md; nothing was sent",
        )
    return tuple(verdicts)
