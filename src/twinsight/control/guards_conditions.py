"""Conditions on a twin's state, written as small expressions in guard and rule files.

Why a tiny language of our own rather than ``eval``: a guard or rule file comes from an
operator, so it may only read values, compare and combine them — never call arbitrary
code. The syntax is Python's expression syntax, checked against a short whitelist when
the file is loaded, so a condition that cannot parse is refused with its text:

>>> c = Condition.parse("windingTemperature > 110 and state == 'running'")
>>> sorted(c.names)
['state', 'windingTemperature']
>>> c.evaluate({"windingTemperature": 115.0, "state": "running"}.get)
True
>>> c.evaluate({"state": "running"}.get)   # a value not known yet: the condition is false
False

Names are a twin's property or telemetry paths (``bearing.wear``, ``alarmLimits.high``);
``alarm('anomaly:vibration')`` is true while the twin has that active alarm (``alarm()``:
any). A comparison with a missing value is false, never an error.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Lookup = Callable[[str], Any]
"""A twin's value at a path (``None`` when unknown)."""
AlarmLookup = Callable[[str | None], bool]
"""Whether the twin has an active alarm of a condition (any, for ``None``)."""

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
MAX_CONDITION = 500


class ConditionError(ValueError):
    """A condition that cannot be used, with the reason."""


def _path(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed, checked condition; ``names`` are the twin values it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]
    alarms: frozenset[str | None]

    @classmethod
    def parse(cls, text: str, *, extra_names: frozenset[str] = frozenset()) -> Condition:
        """Parse ``text``; :class:`ConditionError` says what is not allowed and where.
        ``extra_names`` are names the caller provides itself (``value``, ``current``),
        kept out of :attr:`names`. Parsed once per text (conditions are immutable), as
        rules evaluate theirs on every event."""
        if not isinstance(text, str):
            raise ConditionError("a condition must be a non-empty text")
        return _parse(text, extra_names)

    @classmethod
    def _parse_uncached(cls, text: str, extra_names: frozenset[str]) -> Condition:
        if not text.strip():
            raise ConditionError("a condition must be a non-empty text")
        if len(text) > MAX_CONDITION:
            raise ConditionError(f"a condition is at most {MAX_CONDITION} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            where = f" at column {exc.offset}" if exc.offset else ""
            raise ConditionError(f"cannot parse {text!r}: {exc.msg}{where}") from None
        names: set[str] = set()
        alarms: set[str | None] = set()
        cls._check(tree, text, names, alarms)
        return cls(text, tree, frozenset(names - extra_names), frozenset(alarms))

    @classmethod
    def _check(cls, node: ast.expr, text: str, names: set[str], alarms: set[str | None]) -> None:
        path = _path(node)
        if path is not None:
            names.add(path)
            return
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool | int | float | str) or node.value is None:
                return
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                cls._check(value, text, names, alarms)
            return
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            cls._check(node.operand, text, names, alarms)
            return
        elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            for part in (node.left, *node.comparators):
                cls._check(part, text, names, alarms)
            return
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            cls._check(node.left, text, names, alarms)
            cls._check(node.right, text, names, alarms)
            return
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "alarm"
            and not node.keywords
            and len(node.args) <= 1
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            arg = node.args[0] if node.args else None
            alarms.add(str(arg.value) if isinstance(arg, ast.Constant) else None)
            return
        snippet = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise ConditionError(
            f"{snippet!r} is not allowed in a condition (use values, numbers, texts, "
            "comparisons, and/or/not, + - * /, and alarm('condition'))"
        )

    def evaluate(self, lookup: Lookup, alarm: AlarmLookup | None = None) -> bool:
        """True when the condition holds on the values ``lookup`` gives."""
        return bool(_eval(self.tree, lookup, alarm))


@lru_cache(maxsize=4096)
def _parse(text: str, extra_names: frozenset[str]) -> Condition:
    return Condition._parse_uncached(text, extra_names)


def _eval(node: ast.expr, lookup: Lookup, alarm: AlarmLookup | None) -> Any:
    path = _path(node)
    if path is not None:
        return lookup(path)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(bool(_eval(v, lookup, alarm)) for v in node.values)
        return any(bool(_eval(v, lookup, alarm)) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, lookup, alarm)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(operand, int | float) else None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, lookup, alarm)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, lookup, alarm)
            if left is None or right is None:
                return False
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:  # a text compared with a number: not true
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, lookup, alarm), _eval(node.right, lookup, alarm)
        if not (isinstance(left, int | float) and isinstance(right, int | float)):
            return None
        try:
            return _ARITHMETIC[type(node.op)](left, right)
        except ZeroDivisionError:
            return None
    if isinstance(node, ast.Call):
        if alarm is None:
            return False
        arg = node.args[0] if node.args else None
        return alarm(str(arg.value) if isinstance(arg, ast.Constant) else None)
    return None
