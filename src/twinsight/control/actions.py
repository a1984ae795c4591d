"""What the control layer acts on: an action, who asked for it, and what a guard says.

Why one small vocabulary: commands invoked by a person through the API, property writes
decided by a rule and set-points recommended by an optimiser must all meet the same
guards, the same approval step and the same audit log. Each producer builds an
:class:`Action`; the command service (:mod:`twinsight.control.commands`) runs it past every
:class:`Guard` and delivers it, holds it for approval, or refuses it with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ActionKind = Literal["command", "property"]
"""``command``: invoke a DTDL command on the device; ``property``: set a desired value."""

Mode = Literal["auto", "approve", "recommend"]
"""How far an allowed action goes: ``auto`` is delivered at once, ``approve`` waits for an
operator's approval, ``recommend`` is only shown (an operator may still apply it)."""

MODE_ORDER: dict[Mode, int] = {"auto": 0, "approve": 1, "recommend": 2}
"""Stricter modes win when guards disagree."""


@dataclass(frozen=True, slots=True)
class Action:
    """One change asked of a device through its twin.

    ``name`` is the command name or the property path (``component.property`` inside a
    component); ``value`` the command's request payload or the property's desired value.
    ``requested_by`` says who or what asked (``user:alice``, ``rule:cool-down``,
    ``optimizer:line-mpc``) and ``reason`` why, for the audit log.
    """

    kind: ActionKind
    twin_id: str
    name: str
    value: Any = None
    requested_by: str = "api"
    reason: str = ""
    component: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A guard's answer about one action.

    ``allowed`` False refuses the action with ``reason``; an allowed action goes as far as
    ``mode`` lets it. ``prediction`` carries what a simulate-before-actuating guard
    foresaw (e.g. ``{"windingTemperature": {"max": 131.2, "limit": 120}}``) so the refusal
    or the recommendation can show it.
    """

    allowed: bool
    mode: Mode = "auto"
    reason: str = ""
    guard: str = ""
    prediction: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def allow(guard: str = "", mode: Mode = "auto", reason: str = "") -> Verdict:
        return Verdict(True, mode, reason, guard)

    @staticmethod
    def refuse(guard: str, reason: str, prediction: Mapping[str, Any] | None = None) -> Verdict:
        return Verdict(False, "auto", reason, guard, dict(prediction or {}))


class Guard(Protocol):
    """Something that may forbid an action or ask for approval before it is delivered."""

    name: str

    def check(self, action: Action) -> Verdict: ...


def combine(verdicts: list[Verdict]) -> Verdict:
    """One verdict from many: the first refusal wins; otherwise the strictest mode, with
    every reason kept and every prediction merged."""
    for verdict in verdicts:
        if not verdict.allowed:
            return verdict
    if not verdicts:
        return Verdict.allow()
    strictest = max(verdicts, key=lambda v: MODE_ORDER[v.mode])
    reasons = "; ".join(v.reason for v in verdicts if v.reason)
    prediction: dict[str, Any] = {}
    for verdict in verdicts:
        prediction.update(verdict.prediction)
    return Verdict(True, strictest.mode, reasons, strictest.guard, prediction)
