"""The consistency rule language: a real parser and evaluator (never ``eval``/``exec``).

Grammar (lowest precedence first)::

    expr       := or ('implies' expr)?                  right-associative
    or         := and ('or' and)*
    and        := not ('and' not)*
    not        := 'not' not | comparison
    comparison := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum ('within' sum)?)?
    sum        := product (('+'|'-') product)*
    product    := unary (('*'|'/'|'%') unary)*
    unary      := '-' unary | primary
    primary    := NUMBER | STRING | true | false | null | NAME ('.' NAME)* | NAME '(' args ')' | '(' expr ')'

``True``/``False``/``None`` are accepted for ``true``/``false``/``null`` (upstream's conditions
are written in Python's words). Strings take single or double quotes. A name is a signal; a
dotted name is a path into nested values (``runs.by_status.running``), but a signal whose own
name contains the dots wins. ``a == b within t`` compares numbers with a tolerance (money,
floats). Functions: ``abs``, ``len``, ``sum``, ``min``, ``max``, ``round``, and ``exists(name)``
(whether a signal is there and not null).

Semantics: equality is strict about kinds: a boolean equals only a boolean (``1 == true`` is
false, as upstream's ``is True``), numbers compare by value, strings by text. Ordering
compares numbers (booleans count as 0 and 1, as in upstream's ``> 0``) or two strings. ``and``,
``or``, ``not`` and ``implies`` take truth values. A signal that is absent (or null, as upstream
skips such rules) makes the rule not applicable: :class:`MissingSignal`. Everything else that
goes wrong is a :class:`RuleError` with the column; nothing raises anything else, nothing runs
code, and work is bounded (text length, nesting, number size).

Pure: no I/O.
"""

from __future__ import annotations

import functools

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Expr",
    "MissingSignal",
    "RuleError",
    "RuleSyntaxError",
    "compile_rule",
    "evaluate",
    "names_in",
    "parse",
    "resolve",
]

#: Longest rule text accepted, and deepest nesting.
MAX_LENGTH = 10_000
MAX_DEPTH = 64
#: Integers longer than this (bits) are refused: ``a * a * a …`` cannot run away.
_MAX_BITS = 4096


class RuleError(Exception):
    """A rule that cannot be parsed or evaluated; ``column`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(f"column {column}: {message}" if column else message)
        self.message = message
        self.column = column


class RuleSyntaxError(RuleError):
    """The text is not a rule (the column points at the first character that does not fit)."""

    def pointer(self, text: str) -> str:
        """The text with a caret under the column, for messages."""
        return f"{text}\n{' ' * max(0, self.column - 1)}^"


class MissingSignal(Exception):
    """A signal the condition names is absent or null: the rule does not apply."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# -- tokens ---------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.\d*|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|,|\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)

_KEYWORDS = {"and", "or", "not", "implies", "within", "true", "false", "null", "True", "False", "None"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    col: int


def _tokens(text: str) -> list[_Tok]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise RuleSyntaxError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


def _unquote(raw: str, col: int) -> str:
    body = raw[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in _ESCAPES:
                raise RuleSyntaxError(f"unknown escape \\{nxt}", col + i + 1)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# -- the tree -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    """A node: ``op`` is ``lit``, ``ref``, ``call``, ``neg``, ``not``, ``and``, ``or``,
    ``implies``, a comparison (``==`` …) or arithmetic (``+`` …)."""

    op: str
    args: tuple[Any, ...]
    col: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, *texts: str) -> bool:
        t = self.tok
        return t.kind in ("op", "name") and t.text in texts

    def expect(self, text: str) -> _Tok:
        if not self.at(text):
            raise RuleSyntaxError(f"expected {text!r}, found {self._found()}", self.tok.col)
        return self.take()

    def _found(self) -> str:
        return "the end" if self.tok.kind == "end" else repr(self.tok.text)

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleSyntaxError(f"nested more than {MAX_DEPTH} levels deep", self.tok.col)

    def parse(self) -> Expr:
        e = self.expr()
        if self.tok.kind != "end":
            raise RuleSyntaxError(f"unexpected {self._found()}", self.tok.col)
        return e

    def expr(self) -> Expr:
        self.nest()
        left = self.or_()
        if self.at("implies"):
            t = self.take()
            left = Expr("implies", (left, self.expr()), t.col)
        self.depth -= 1
        return left

    def or_(self) -> Expr:
        left = self.and_()
        while self.at("or"):
            t = self.take()
            left = Expr("or", (left, self.and_()), t.col)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.at("and"):
            t = self.take()
            left = Expr("and", (left, self.not_()), t.col)
        return left

    def not_(self) -> Expr:
        if self.at("not"):
            t = self.take()
            self.nest()
            inner = self.not_()
            self.depth -= 1
            return Expr("not", (inner,), t.col)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.sum_()
        if self.at("==", "!=", "<", "<=", ">", ">="):
            t = self.take()
            right = self.sum_()
            tol = None
            if self.at("within"):
                w = self.take()
                if t.text not in ("==", "!="):
                    raise RuleSyntaxError("'within' follows == or != only", w.col)
                tol = self.sum_()
            if self.at("==", "!=", "<", "<=", ">", ">="):
                raise RuleSyntaxError("comparisons do not chain: use 'and'", self.tok.col)
            return Expr(t.text, (left, right, tol), t.col)
        return left

    def sum_(self) -> Expr:
        left = self.product()
        while self.at("+", "-"):
            t = self.take()
            left = Expr(t.text, (left, self.product()), t.col)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.at("*", "/", "%"):
            t = self.take()
            left = Expr(t.text, (left, self.unary()), t.col)
        return left

    def unary(self) -> Expr:
        if self.at("-"):
            t = self.take()
            self.nest()
            inner = self.unary()
            self.depth -= 1
            return Expr("neg", (inner,), t.col)
        return self.primary()

    def primary(self) -> Expr:
        t = self.tok
        if t.kind == "number":
            self.take()
            try:
                value: Any = float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
            except ValueError:
                raise RuleSyntaxError(f"not a number: {t.text[:20]}", t.col) from None
            if isinstance(value, int) and value.bit_length() > _MAX_BITS:
                raise RuleSyntaxError("number too large", t.col)
            return Expr("lit", (value,), t.col)
        if t.kind == "string":
            self.take()
            return Expr("lit", (_unquote(t.text, t.col),), t.col)
        if self.at("("):
            self.take()
            e = self.expr()
            self.expect(")")
            return e
        if t.kind == "name":
            if t.text in ("true", "True"):
                self.take()
                return Expr("lit", (True,), t.col)
            if t.text in ("false", "False"):
                self.take()
                return Expr("lit", (False,), t.col)
            if t.text in ("null", "None"):
                self.take()
                return Expr("lit", (None,), t.col)
            if t.text in _KEYWORDS:
                raise RuleSyntaxError(f"unexpected {t.text!r}", t.col)
            self.take()
            if self.at("("):
                return self.call(t)
            parts = [t.text]
            while self.at("."):
                self.take()
                n = self.tok
                if n.kind == "number" and re.fullmatch(r"\d+(?:\.\d+)*", n.text):
                    parts.extend(self.take().text.split("."))  # list indexes: items.1, rows.0.2
                    continue
                if n.kind != "name" or n.text in _KEYWORDS:
                    raise RuleSyntaxError(f"expected a name after '.', found {self._found()}", n.col)
                parts.append(self.take().text)
            return Expr("ref", (".".join(parts),), t.col)
        raise RuleSyntaxError(f"expected a value, found {self._found()}", t.col)

    def call(self, name: _Tok) -> Expr:
        if name.text not in _FUNCTIONS:
            raise RuleSyntaxError(f"unknown function {name.text!r} (known: {', '.join(sorted(_FUNCTIONS))})",
                                  name.col)
        self.expect("(")
        args = []
        if not self.at(")"):
            args.append(self.expr())
            while self.at(","):
                self.take()
                args.append(self.expr())
        self.expect(")")
        return Expr("call", (name.text, tuple(args)), name.col)


def parse(text: str) -> Expr:
    """The tree of a rule's text; :class:`RuleSyntaxError` with the column when it is not one."""
    if not isinstance(text, str):
        raise RuleSyntaxError("a condition is text")
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    if not text.strip():
        raise RuleSyntaxError("empty condition", 1)
    return _Parser(text).parse()


def names_in(e: Expr) -> list[str]:
    """The signal names a tree refers to, in order, once each."""
    out: list[str] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if node.op == "ref":
            if node.args[0] not in out:
                out.append(node.args[0])
            continue
        kids = node.args[1] if node.op == "call" else node.args
        stack.extend(reversed([k for k in kids if isinstance(k, Expr)]))
    return out


# -- evaluation -----------------------------------------------------------------------------------


_MISSING = object()
_ORDER = {"<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}


def _signal(name: str, signals: Mapping[str, Any]) -> Any:
    """A signal a rule names (a key first, then a path); MissingSignal when absent or null."""
    v = signals.get(name, _MISSING)
    if v is _MISSING:
        v = resolve(signals, name)
    if v is _MISSING or v is None:
        raise MissingSignal(name)
    return v


def resolve(signals: Mapping[str, Any], name: str) -> Any:
    """A signal by name: a key of that very name first (upstream's dotted ids), then a path into
    nested mappings (and list indexes). Absent: the module's missing marker, see ``evaluate``."""
    if name in signals:
        return signals[name]
    value: Any = signals
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _is_num(v: Any) -> bool:
    t = type(v)
    return t is int or t is float or (isinstance(v, int | float) and not isinstance(v, bool))


def _check_int(v: Any, col: int) -> Any:
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > _MAX_BITS:
        raise RuleError("number too large", col)
    return v


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if _is_num(v):
        return "number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, Mapping):
        return "object"
    if isinstance(v, list | tuple):
        return "list"
    return type(v).__name__


def _equal(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb and ta in (str, int, float):
        return a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _kind(a) != _kind(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError, RecursionError):
        return False


def _truth(v: Any, col: int) -> bool:
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    if _is_num(v):
        return v != 0
    if isinstance(v, str | list | tuple | Mapping):
        return len(v) > 0
    raise RuleError(f"{_kind(v)} has no truth value", col)


def _numeric(v: Any, col: int, what: str) -> float | int:
    t = type(v)
    if t is int or t is float:
        return v
    if isinstance(v, bool):
        return int(v)
    if _is_num(v):
        return v
    raise RuleError(f"{what} needs numbers, got {_kind(v)}", col)


def _fn_abs(col: int, x: Any) -> Any:
    return abs(_numeric(x, col, "abs"))


def _fn_len(col: int, x: Any) -> Any:
    if isinstance(x, str | list | tuple | Mapping):
        return len(x)
    raise RuleError(f"len needs text, a list or an object, got {_kind(x)}", col)


def _fn_sum(col: int, x: Any) -> Any:
    if isinstance(x, Mapping):
        x = list(x.values())
    if not isinstance(x, list | tuple):
        raise RuleError(f"sum needs a list or an object of numbers, got {_kind(x)}", col)
    total: Any = 0
    for v in x:
        total = _check_int(total + _numeric(v, col, "sum"), col)
    return total


def _fn_minmax(pick: Callable[..., Any]) -> Callable[..., Any]:
    def fn(col: int, *xs: Any) -> Any:
        items = list(xs[0].values() if isinstance(xs[0], Mapping) else xs[0]) if len(xs) == 1 and isinstance(
            xs[0], list | tuple | Mapping) else list(xs)
        if not items:
            raise RuleError("min/max of nothing", col)
        return pick(_numeric(v, col, "min/max") for v in items)
    return fn


def _fn_round(col: int, x: Any, digits: Any = 0) -> Any:
    n = _numeric(x, col, "round")
    d = digits if isinstance(digits, int) and not isinstance(digits, bool) else None
    if d is None or not -20 <= d <= 20:
        raise RuleError("round takes 0 to 20 digits", col)
    try:
        return round(n, d)
    except (OverflowError, ValueError) as exc:
        raise RuleError(f"round: {exc}", col) from None


_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "abs": (_fn_abs, 1, 1), "len": (_fn_len, 1, 1), "sum": (_fn_sum, 1, 1),
    "min": (_fn_minmax(min), 1, 64), "max": (_fn_minmax(max), 1, 64), "round": (_fn_round, 1, 2),
    "exists": (lambda col, x: x, 1, 1),  # evaluated in ``evaluate`` (its argument is not read)
}


def evaluate(e: Expr, signals: Mapping[str, Any], *, aliases: Mapping[str, str] | None = None) -> Any:
    """The value of a tree over ``signals``. ``aliases`` maps names in the text (``signal_a``)
    to signal ids. Raises :class:`MissingSignal` (rule not applicable) or :class:`RuleError`."""
    aliases = aliases or {}

    def ev(n: Expr) -> Any:
        op, args, col = n.op, n.args, n.col
        if op == "lit":
            return args[0]
        if op == "ref":
            name = aliases.get(args[0], args[0])
            v = resolve(signals, name)
            if v is _MISSING or v is None:
                raise MissingSignal(name)
            return v
        if op == "not":
            return not _truth(ev(args[0]), col)
        if op == "and":
            return _truth(ev(args[0]), col) and _truth(ev(args[1]), col)
        if op == "or":
            return _truth(ev(args[0]), col) or _truth(ev(args[1]), col)
        if op == "implies":
            return (not _truth(ev(args[0]), col)) or _truth(ev(args[1]), col)
        if op == "neg":
            return _check_int(-_numeric(ev(args[0]), col, "'-'"), col)
        if op in ("==", "!="):
            a, b = ev(args[0]), ev(args[1])
            if args[2] is not None:
                tol = _numeric(ev(args[2]), col, "'within'")
                x, y = _numeric(a, col, "'within'"), _numeric(b, col, "'within'")
                try:
                    same = abs(x - y) <= tol
                except OverflowError:
                    same = False
            else:
                same = _equal(a, b)
            return same if op == "==" else not same
        if op in ("<", "<=", ">", ">="):
            a, b = ev(args[0]), ev(args[1])
            if isinstance(a, str) and isinstance(b, str):
                x, y = a, b
            else:
                x, y = _numeric(a, col, f"{op!r}"), _numeric(b, col, f"{op!r}")
            return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        if op in ("+", "-", "*", "/", "%"):
            a, b = ev(args[0]), ev(args[1])
            x, y = _numeric(a, col, f"{op!r}"), _numeric(b, col, f"{op!r}")
            try:
                if op == "+":
                    r = x + y
                elif op == "-":
                    r = x - y
                elif op == "*":
                    if isinstance(x, int) and isinstance(y, int) and x.bit_length() + y.bit_length() > _MAX_BITS:
                        raise RuleError("number too large", col)
                    r = x * y
                elif op == "/":
                    r = x / y
                else:
                    r = x % y
            except ZeroDivisionError:
                raise RuleError("division by zero", col) from None
            except OverflowError:
                raise RuleError("number too large", col) from None
            return _check_int(r, col)
        if op == "call":
            name, call_args = args
            if name == "exists":
                # exists(x): whether a signal is there and not null (the one place an absent
                # signal is an answer, not "not applicable").
                if len(call_args) != 1 or call_args[0].op != "ref":
                    raise RuleError("exists takes one signal name", col)
                ref = aliases.get(call_args[0].args[0], call_args[0].args[0])
                return resolve(signals, ref) not in (_MISSING, None)
            fn, lo, hi = _FUNCTIONS[name]
            if not lo <= len(call_args) <= hi:
                raise RuleError(f"{name} takes {lo}{'' if lo == hi else f' to {hi}'} argument"
                                f"{'s' if hi != 1 else ''}", col)
            return fn(col, *(ev(a) for a in call_args))
        raise RuleError(f"unknown node {op}", col)

    try:
        return ev(e)
    except RecursionError:
        raise RuleError("nested too deeply to evaluate") from None


def compile_rule(e: Expr, *, aliases: Mapping[str, str] | None = None) -> Callable[[Mapping[str, Any]], Any]:
    """A tree turned once into nested closures: the same answers and errors as :func:`evaluate`,
    several times faster when one rule is applied to many runs."""
    aliases = dict(aliases or {})

    def c(n: Expr) -> Callable[[Mapping[str, Any]], Any]:
        op, args, col = n.op, n.args, n.col
        if op == "lit":
            value = args[0]
            return lambda s: value
        if op == "ref":
            name = aliases.get(args[0], args[0])

            return functools.partial(_signal, name)  # positional: a keyword makes each call 3x slower
        if op == "call" and args[0] == "exists":
            if len(args[1]) != 1 or args[1][0].op != "ref":
                raise RuleError("exists takes one signal name", col)
            name = aliases.get(args[1][0].args[0], args[1][0].args[0])
            return lambda s: resolve(s, name) not in (_MISSING, None)
        if op == "not":
            inner = c(args[0])
            return lambda s: not _truth(inner(s), col)
        if op in ("and", "or", "implies"):
            left, right = c(args[0]), c(args[1])
            if op == "and":
                return lambda s: _truth(left(s), col) and _truth(right(s), col)
            if op == "or":
                return lambda s: _truth(left(s), col) or _truth(right(s), col)
            return lambda s: (not _truth(left(s), col)) or _truth(right(s), col)
        if op in ("==", "!=") and args[2] is None and args[0].op == args[1].op == "ref":
            # signal_a == signal_b, the commonest rule: both lookups in one closure.
            na, nb = (aliases.get(x.args[0], x.args[0]) for x in (args[0], args[1]))
            want_equal = op == "=="

            def refs_equal(s: Mapping[str, Any]) -> bool:
                return bool(_equal(_signal(na, s), _signal(nb, s))) is want_equal
            return refs_equal
        if op in ("==", "!=") and args[2] is None:
            left, right = c(args[0]), c(args[1])
            if op == "==":
                return lambda s: _equal(left(s), right(s))
            return lambda s: not _equal(left(s), right(s))
        if op in ("==", "!=") and args[2] is not None:
            left, right, tol = c(args[0]), c(args[1]), c(args[2])
            want = op == "=="

            def within(s: Mapping[str, Any]) -> bool:
                a, b, t = left(s), right(s), tol(s)
                t = _numeric(t, col, "'within'")
                x, y = _numeric(a, col, "'within'"), _numeric(b, col, "'within'")
                try:
                    same = abs(x - y) <= t
                except OverflowError:
                    same = False
                return bool(same) is want
            return within
        if op in ("<", "<=", ">", ">="):
            left, right = c(args[0]), c(args[1])
            cmp = _ORDER[op]

            def order(s: Mapping[str, Any]) -> bool:
                a, b = left(s), right(s)
                if type(a) is str and type(b) is str:
                    return cmp(a, b)
                return cmp(_numeric(a, col, f"{op!r}"), _numeric(b, col, f"{op!r}"))
            return order
        # Everything else is rarer: the tree walker answers it, on the same node.
        return lambda s: evaluate(n, s, aliases=aliases)

    try:
        return c(e)
    except RecursionError:
        raise RuleError("nested too deeply to evaluate") from None
