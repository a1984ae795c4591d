"""Compiles WHERE conditions and operands into Python closures over a row.

A row (``Env``) maps alias keys to the bound twin or relationship document. Conditions use
ADT's (Cosmos-style) three-valued logic: a comparison with an undefined property is
*undefined* (``None``), ``NOT undefined`` stays undefined, and only rows whose condition is
exactly ``True`` are returned. Values of different JSON types are never equal and never
ordered (``1 = '1'`` is false, ``1 < 'a'`` undefined, ``true = 1`` false).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from twinsight.graph.index import MISSING, GraphIndex, resolve_path
from twinsight.graph.query import ast

Env = Mapping[str, Mapping[str, Any]]
Value = Callable[[Env], Any]
Cond = Callable[[Env], bool | None]


def kind(value: Any) -> str:
    """JSON type tag: n(umber) s(tring) b(ool) z(null) o(bject) a(rray) u(ndefined)."""
    if value is MISSING:
        return "u"
    if value is None:
        return "z"
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    if isinstance(value, str):
        return "s"
    if isinstance(value, Mapping):
        return "o"
    return "a"


def compare(op: str, a: Any, b: Any) -> bool | None:
    """ADT comparison of two JSON values (``None`` means undefined)."""
    ka, kb = kind(a), kind(b)
    if ka == "u" or kb == "u":
        return None
    if op == "=":
        return ka == kb and a == b
    if op == "!=":
        return not (ka == kb and a == b)
    if ka != kb or ka not in "nsb":
        return None
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_SAME_KIND: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: type(v) is int or type(v) is float,
    "s": lambda v: type(v) is str,
    "b": lambda v: type(v) is bool,
    "z": lambda v: v is None,
}


def _compare_to_literal(op: str, operand: Value, literal: Any) -> Cond:
    """``operand op literal`` specialised on the literal's type (the common, hot case)."""
    same = _SAME_KIND.get(kind(literal))
    if same is None or (type(literal) not in (int, float, str, bool) and literal is not None):
        return lambda env: compare(op, operand(env), literal)
    if op == "=":

        def equal(env: Env) -> bool | None:
            v = operand(env)
            return None if v is MISSING else (same(v) and v == literal)

        return equal
    if op == "!=":

        def unequal(env: Env) -> bool | None:
            v = operand(env)
            return None if v is MISSING else not (same(v) and v == literal)

        return unequal
    if literal is None:
        return lambda env: None
    order = _ORDER[op]

    def ordered(env: Env) -> bool | None:
        v = operand(env)
        return bool(order(v, literal)) if v is not MISSING and same(v) else None

    return ordered


def _path(p: ast.Path) -> Value:
    alias, parts = p.alias, p.parts
    if not parts:
        return lambda env: env.get(alias, MISSING)
    if len(parts) == 1:
        key = parts[0]

        def one(env: Env) -> Any:
            doc = env.get(alias)
            return MISSING if doc is None else doc.get(key, MISSING)

        return one

    def many(env: Env) -> Any:
        doc = env.get(alias)
        return MISSING if doc is None else resolve_path(doc, parts)

    return many


def _string_fn(name: str, a: Value, b: Value) -> Value:
    def run(env: Env) -> Any:
        x, y = a(env), b(env)
        if not isinstance(x, str) or not isinstance(y, str):
            return MISSING
        if name == "STARTSWITH":
            return x.startswith(y)
        if name == "ENDSWITH":
            return x.endswith(y)
        return y in x

    return run


def _array_contains(a: Value, b: Value) -> Value:
    def run(env: Env) -> Any:
        arr, needle = a(env), b(env)
        if not isinstance(arr, list) or kind(needle) not in "nsbz":
            return MISSING
        return any(compare("=", item, needle) is True for item in arr)

    return run


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "IS_DEFINED": lambda v: v is not MISSING,
    "IS_NULL": lambda v: v is None,
    "IS_BOOL": lambda v: isinstance(v, bool),
    "IS_NUMBER": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "IS_STRING": lambda v: isinstance(v, str),
    "IS_PRIMITIVE": lambda v: kind(v) in "nsbz",
    "IS_OBJECT": lambda v: isinstance(v, Mapping),
}


def compile_operand(op: ast.Operand) -> Value:
    """A closure computing an operand's JSON value (``MISSING`` when undefined)."""
    if isinstance(op, ast.Literal):
        value = op.value
        return lambda env: value
    if isinstance(op, ast.Path):
        return _path(op)
    args = [compile_operand(a) for a in op.args]
    if op.name in _TYPE_CHECKS:
        check, arg = _TYPE_CHECKS[op.name], args[0]
        return lambda env: check(arg(env))
    if op.name == "ARRAY_CONTAINS":
        return _array_contains(args[0], args[1])
    return _string_fn(op.name, args[0], args[1])


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return None


def compile_cond(expr: ast.Expr, index: GraphIndex) -> Cond:
    """A closure deciding a condition for a row: ``True``, ``False`` or ``None`` (undefined).

    ``index`` supplies the model hierarchy for ``IS_OF_MODEL`` (resolved once, here).
    """
    if isinstance(expr, ast.Compare):
        if isinstance(expr.right, ast.Literal):
            return _compare_to_literal(expr.op, compile_operand(expr.left), expr.right.value)
        if isinstance(expr.left, ast.Literal):
            return _compare_to_literal(_FLIP[expr.op], compile_operand(expr.right), expr.left.value)
        left, right, op = compile_operand(expr.left), compile_operand(expr.right), expr.op
        return lambda env: compare(op, left(env), right(env))
    if isinstance(expr, ast.InList):
        operand = compile_operand(expr.operand)
        values = [v.value for v in expr.values]
        negated = expr.negated

        def in_list(env: Env) -> bool | None:
            v = operand(env)
            if v is MISSING:
                return None
            found = any(compare("=", v, c) is True for c in values)
            return found != negated

        return in_list
    if isinstance(expr, ast.IsOfModel):
        models = frozenset((expr.model,)) if expr.exact else index.descendants(expr.model)
        alias = expr.alias

        def is_of_model(env: Env) -> bool | None:
            twin = env.get(alias)
            if twin is None:
                return None
            meta = twin.get("$metadata")
            return isinstance(meta, Mapping) and meta.get("$model") in models

        return is_of_model
    if isinstance(expr, ast.And):
        items = [compile_cond(i, index) for i in expr.items]

        def all_of(env: Env) -> bool | None:
            result: bool | None = True
            for item in items:
                r = item(env)
                if r is False:
                    return False
                if r is None:
                    result = None
            return result

        return all_of
    if isinstance(expr, ast.Or):
        items = [compile_cond(i, index) for i in expr.items]

        def any_of(env: Env) -> bool | None:
            result: bool | None = False
            for item in items:
                r = item(env)
                if r is True:
                    return True
                if r is None:
                    result = None
            return result

        return any_of
    if isinstance(expr, ast.Not):
        inner = compile_cond(expr.operand, index)

        def negate(env: Env) -> bool | None:
            r = inner(env)
            return None if r is None else not r

        return negate
    value = compile_operand(expr)
    return lambda env: _truth(value(env))


def aliases_of(expr: ast.Expr) -> frozenset[str]:
    """Every collection alias a condition reads."""
    if isinstance(expr, ast.Path):
        return frozenset((expr.alias,))
    if isinstance(expr, ast.IsOfModel):
        return frozenset((expr.alias,))
    if isinstance(expr, ast.Literal):
        return frozenset()
    if isinstance(expr, ast.Compare):
        return aliases_of(expr.left) | aliases_of(expr.right)
    if isinstance(expr, ast.InList):
        return aliases_of(expr.operand)
    if isinstance(expr, ast.Call):
        out: frozenset[str] = frozenset()
        for a in expr.args:
            out |= aliases_of(a)
        return out
    if isinstance(expr, ast.Not):
        return aliases_of(expr.operand)
    out = frozenset()
    for item in expr.items:
        out |= aliases_of(item)
    return out
