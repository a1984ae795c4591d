"""The rule file: conditions on twins (state, telemetry, alarms, predictions) held for a
duration, with hysteresis, and what to do when they fire (YAML; format in docs/rules.md).

>>> spec = parse_rules('''
... rules:
...   - name: hot-motor-slows-down
...     model: dtmi:twinsight:factory:Motor;1
...     when: windingTemperature > 100
...     clear: windingTemperature < 95
...     for: 2 min
...     then: {property: speedSetpoint, value: 1400}
... ''', "rules.yaml")
>>> spec.rules[0].for_seconds, spec.rules[0].then.property_name
(120.0, 'speedSetpoint')

Shape mistakes are refused with their line and field; :func:`check_rules` checks names
against the models (unknown model, twin, property, command) and reports contradictory
rules as warnings naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from twinsight.control.guards_conditions import Condition, ConditionError
from twinsight.control.guards_config import GuardSpec
from twinsight.control.guards_state import TwinState
from twinsight.control.guards_yaml import (
    ControlFileError,
    Strict,
    entry_name,
    parse_yaml,
    read_text,
    seconds,
    unique_names,
)
from twinsight.core.errors import TwinsightError
from twinsight.core.locations import line_of


def _condition(text: str) -> str:
    try:
        Condition.parse(text)
    except ConditionError as exc:
        raise ValueError(str(exc)) from None
    return text


class Notify(Strict):
    """A notification: an event on the bus (and the firing record) with this message."""

    message: str = Field(min_length=1, max_length=1000)
    severity: Literal["critical", "major", "minor", "warning", "info"] = "warning"


class Then(Strict):
    """What a rule does: set a property (``property`` + ``value``), invoke a command
    (``command`` + optional ``value`` as its request), or ``notify``."""

    property_name: str | None = Field(default=None, alias="property")
    command: str | None = None
    value: Any = None
    notify: Notify | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _one(self) -> Then:
        chosen = [x for x in (self.property_name, self.command, self.notify) if x is not None]
        if len(chosen) != 1:
            raise ValueError("then names exactly one of property, command or notify")
        if self.property_name is not None and self.value is None:
            raise ValueError("a property write needs a value")
        return self

    @property
    def kind(self) -> str:
        if self.property_name is not None:
            return "property"
        return "command" if self.command is not None else "notify"

    @property
    def name(self) -> str:
        return self.property_name or self.command or "notification"


class Rule(Strict):
    """One rule on a model's twins or on listed twins."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    model: str | None = None
    twins: list[str] | None = None
    when: str
    clear: str | None = None
    """The off condition (hysteresis): the rule re-arms only once this holds (default:
    once ``when`` no longer holds)."""
    for_seconds: float = Field(default=0.0, alias="for")
    """How long ``when`` must hold before the rule fires."""
    cooldown: float = 0.0
    """At least this long between two firings on one twin."""
    enabled: bool = True
    then: Then

    _when = field_validator("when", "clear")(lambda v: v if v is None else _condition(v))
    _durations = field_validator("for_seconds", "cooldown", mode="before")(seconds)

    _name = field_validator("name")(entry_name)

    @model_validator(mode="after")
    def _target(self) -> Rule:
        if (self.model is None) == (self.twins is None):
            raise ValueError("name either a model or twins, not both and not neither")
        if self.twins is not None and not self.twins:
            raise ValueError("twins must name at least one twin")
        return self

    @property
    def on(self) -> Condition:
        return Condition.parse(self.when)

    @property
    def off(self) -> Condition | None:
        return Condition.parse(self.clear) if self.clear is not None else None


class RuleSpec(Strict):
    """A whole rule file; ``conflict_window`` is how long an action set by one rule
    blocks a contradicting one by another."""

    conflict_window: float = 60.0
    rules: list[Rule] = Field(default_factory=list)

    _window = field_validator("conflict_window", mode="before")(seconds)

    @model_validator(mode="after")
    def _unique(self) -> RuleSpec:
        unique_names((rule.name for rule in self.rules), "rule")
        return self


def parse_rules(text: str, name: str) -> RuleSpec:
    spec, _ = parse_yaml(text, name, RuleSpec)
    return spec


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """A checked rule file and the warnings found while loading it."""

    spec: RuleSpec
    warnings: tuple[str, ...] = ()


def load_rules_file(path: Path | str, state: TwinState | None = None) -> LoadedRules:
    """Read a rule file, check its shape and, given ``state``, its names; contradictory
    rules come back as warnings."""
    text = read_text(path)
    spec, root = parse_yaml(text, str(path), RuleSpec)
    warnings: list[str] = []
    if state is not None:
        warnings += check_rules(spec, state, str(path), root)
    return LoadedRules(spec, tuple(warnings + contradictions(spec)))


def check_rules(
    spec: RuleSpec, state: TwinState, name: str = "rules", root: yaml.Node | None = None
) -> list[str]:
    """Check names against the twin graph's models; raises :class:`ControlFileError`
    listing every problem with its line. Returns nothing to warn about yet (a list, so
    callers can add to it)."""
    problems: list[str] = []
    for i, rule in enumerate(spec.rules):

        def where(*loc: Any, i: int = i) -> str:
            line = line_of(root, ("rules", i, *loc)) if root is not None else None
            field = ".".join(str(p) for p in ("rules", i, *loc))
            return f"{name}: line {line}: {field}" if line is not None else f"{name}: {field}"

        targets: list[tuple[str | None, str | None]] = [(rule.model, None)]
        if rule.model is None:
            targets = [(None, t) for t in rule.twins or ()]
        for model, twin in targets:
            try:
                interface = state.interface(model=model, twin=twin)
            except TwinsightError as exc:
                problems.append(f"{where('model' if model else 'twins')}: {exc.message}")
                continue
            problems += state.check_names(interface, rule.on.names, where("when"))
            if rule.off is not None:
                problems += state.check_names(interface, rule.off.names, where("clear"))
            then = rule.then
            if then.kind != "notify":
                kinds = ("properties",) if then.kind == "property" else ("commands",)
                if state.declared(interface, then.name, kinds) is None:
                    problems.append(
                        f"{where('then', then.kind)}: {interface.id} declares no "
                        f"{then.kind} {then.name!r}"
                    )
    if problems:
        raise ControlFileError(problems)
    return []


# -------------------------------------------------------------- contradictions

Interval = tuple[float, float, bool, bool]
"""``(low, high, low_closed, high_closed)``"""


def _intervals(condition: Condition) -> dict[str, Interval] | None:
    """The condition as one interval per name, when it is a conjunction of comparisons of
    a name with a number (``a > 1 and a < 5 and b >= 2``); ``None`` otherwise."""
    import ast

    parts = (
        condition.tree.values
        if isinstance(condition.tree, ast.BoolOp) and isinstance(condition.tree.op, ast.And)
        else [condition.tree]
    )
    out: dict[str, Interval] = {}
    for part in parts:
        if not (isinstance(part, ast.Compare) and len(part.ops) == 1):
            return None
        left, right, op = part.left, part.comparators[0], part.ops[0]
        if isinstance(left, ast.Constant) and not isinstance(right, ast.Constant):
            left, right = right, left
            op = {ast.Gt: ast.Lt(), ast.Lt: ast.Gt(), ast.GtE: ast.LtE(), ast.LtE: ast.GtE()}.get(
                type(op), op
            )
        name = ast.unparse(left)
        if not (isinstance(right, ast.Constant) and isinstance(right.value, int | float)):
            return None
        v = float(right.value)
        inf = float("inf")
        new: Interval
        if isinstance(op, ast.Gt):
            new = (v, inf, False, False)
        elif isinstance(op, ast.GtE):
            new = (v, inf, True, False)
        elif isinstance(op, ast.Lt):
            new = (-inf, v, False, False)
        elif isinstance(op, ast.LtE):
            new = (-inf, v, False, True)
        elif isinstance(op, ast.Eq):
            new = (v, v, True, True)
        else:
            return None
        out[name] = _meet(out.get(name, (-inf, inf, False, False)), new)
    return out


def _meet(a: Interval, b: Interval) -> Interval:
    low, low_closed = max((a[0], not a[2]), (b[0], not b[2]))
    high, high_open = min((a[1], not a[3]), (b[1], not b[3]))
    return (low, high, not low_closed, not high_open)


def _empty(i: Interval) -> bool:
    return i[0] > i[1] or (i[0] == i[1] and not (i[2] and i[3]))


def may_overlap(a: Condition, b: Condition) -> bool:
    """False only when the two conditions provably never hold together."""
    ia, ib = _intervals(a), _intervals(b)
    if ia is None or ib is None:
        return True
    return not any(_empty(_meet(ia[n], ib[n])) for n in set(ia) & set(ib))


def _targets_overlap(a: Rule, b: Rule) -> bool:
    if a.twins is not None and b.twins is not None:
        return bool(set(a.twins) & set(b.twins))
    # a model against a model or twins: assume they can meet (subtypes, twins of it)
    return a.model == b.model or a.model is None or b.model is None


def contradictions(spec: RuleSpec) -> list[str]:
    """Pairs of rules that would set the same property (or invoke the same command) with
    different values on the same twins under conditions that can hold together."""
    warnings: list[str] = []
    rules = [r for r in spec.rules if r.then.kind != "notify"]
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            if (a.then.kind, a.then.name) != (b.then.kind, b.then.name):
                continue
            if a.then.value == b.then.value or not _targets_overlap(a, b):
                continue
            if may_overlap(a.on, b.on):
                warnings.append(
                    f"rules {a.name!r} and {b.name!r} contradict: both set {a.then.name} "
                    f"({a.then.value!r} vs {b.then.value!r}) and their conditions "
                    f"({a.when!r}, {b.when!r}) can hold together; at run time the second "
                    "in a window is not sent"
                )
    return warnings


def refused_by_guards(spec: RuleSpec, guards: GuardSpec) -> list[str]:
    """Rules whose constant action a guard's bounds always refuse."""
    warnings: list[str] = []
    for rule in spec.rules:
        then = rule.then
        if then.kind != "property" or isinstance(then.value, bool):
            continue
        if not isinstance(then.value, int | float):
            continue
        for entry in guards.guards:
            if entry.action_kind != "property" or entry.action_name != then.name:
                continue
            same = (
                entry.model == rule.model
                if entry.model is not None
                else bool(set(entry.twins or ()) & set(rule.twins or ()))
            )
            bounds = entry.bounds
            if not same or bounds is None:
                continue
            low = bounds.min if bounds.min is not None else float("-inf")
            high = bounds.max if bounds.max is not None else float("inf")
            if not low <= then.value <= high:
                warnings.append(
                    f"rule {rule.name!r} sets {then.name} = {then.value!r}, which guard "
                    f"{entry.name!r} always refuses (bounds {bounds.min}..{bounds.max})"
                )
    return warnings
