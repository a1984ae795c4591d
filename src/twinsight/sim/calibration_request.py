"""A calibration request for a twin, read from JSON and checked before anything runs.

What to fit (model parameter names), on which stretch of history, and optionally where the
model's outputs, inputs and start state are recorded when the twin's binding does not say
(or says otherwise). Every problem is a 400 ``InvalidArgument`` naming the field, so the
HTTP API and the command line refuse a request with the same words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinsight.core.errors import BadRequest
from twinsight.history.service import parse_time

MAX_EVALUATIONS = 200
_FIELDS = frozenset(
    {"parameters", "from", "to", "step", "outputs", "inputs", "states", "initial", "apply",
     "maxEvaluations"}
)  # fmt: skip


def invalid(message: str) -> BadRequest:
    return BadRequest(message, code="InvalidArgument")


def _names(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid(f'{what} must be a non-empty list of names, e.g. ["housing_resistance"]')
    return tuple(value)


def _values(value: Any, what: str, *, text: bool) -> dict[str, str | float]:
    """``{name: number}``, or also ``{name: "twin value"}`` when ``text`` is allowed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{what} must be an object of name: value")
    checked: dict[str, str | float] = {}
    for name, item in value.items():
        if isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            checked[name] = float(item)
        elif text and isinstance(item, str) and item.strip():
            checked[name] = item.strip()
        else:
            kinds = "a number or a twin value such as 'telemetry:name'" if text else "a number"
            raise invalid(f"{what}.{name} must be {kinds}, got {item!r}")
    return checked


def _places(value: Any, what: str) -> dict[str, str]:
    """``{model name: "twin value"}``."""
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a list of names or an object of name: twin value")
    for name, item in value.items():
        if not isinstance(item, str) or not item.strip():
            raise invalid(
                f"{what}.{name} must be a twin value such as 'telemetry:name', got {item!r}"
            )
    return {name: item.strip() for name, item in value.items()}


@dataclass(frozen=True)
class CalibrationRequest:
    """What to fit, on which stretch of history. Mappings go from model names to twin
    values (``"name"``/``"component.name"`` for a property, ``"telemetry:name"``); an input
    or state given as a number is held at that value. Left out, they come from the twin's
    binding in the world's spec."""

    parameters: tuple[str, ...]
    start: datetime
    end: datetime
    step: float | None = None
    """Resampling step in seconds (default: the measured outputs' own sampling interval)."""
    outputs: Mapping[str, str] | None = None
    """Model output -> twin value to compare with (default: every bound output recorded in
    the window)."""
    inputs: Mapping[str, str | float] = field(default_factory=dict)
    states: Mapping[str, str | float] = field(default_factory=dict)
    initial: Mapping[str, float] = field(default_factory=dict)
    """Where the search starts (default: the values the twin's model runs with now)."""
    apply: bool = True
    """Store the result as the twin's next parameter version (``False``: a dry run)."""
    max_evaluations: int = MAX_EVALUATIONS

    @classmethod
    def from_dict(cls, body: Any) -> CalibrationRequest:
        """A request from JSON: ``{"parameters": [...], "from": ISO, "to": ISO, "step"?,
        "outputs"?: [...] or {...}, "inputs"?, "states"?, "initial"?, "apply"?,
        "maxEvaluations"?}``; every problem is a 400 ``InvalidArgument`` naming the field."""
        if not isinstance(body, dict):
            raise invalid("the calibration request must be a JSON object")
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise invalid(
                f"unknown field(s) {', '.join(unknown)} in the calibration request "
                f"(known: {', '.join(sorted(_FIELDS))})"
            )
        parameters = _names(body.get("parameters"), "parameters")
        for key in ("from", "to"):
            if not isinstance(body.get(key), str):
                raise invalid(f'give the history window as ISO 8601 times: "{key}" is missing')
        start, end = parse_time(body["from"], "from"), parse_time(body["to"], "to")
        assert start is not None and end is not None
        step = body.get("step")
        if step is not None and (
            isinstance(step, bool) or not isinstance(step, int | float) or not step > 0
        ):
            raise invalid(f"step must be a number of seconds > 0, got {step!r}")
        outputs = body.get("outputs")
        if isinstance(outputs, list):
            outputs = {name: "" for name in _names(outputs, "outputs")}
        elif outputs is not None:
            outputs = _places(outputs, "outputs")
        apply = body.get("apply", True)
        if not isinstance(apply, bool):
            raise invalid(f"apply must be true or false, got {apply!r}")
        evaluations = body.get("maxEvaluations", MAX_EVALUATIONS)
        if isinstance(evaluations, bool) or not isinstance(evaluations, int) or evaluations < 1:
            raise invalid(f"maxEvaluations must be a whole number >= 1, got {evaluations!r}")
        request = cls(
            parameters,
            start,
            end,
            None if step is None else float(step),
            outputs,
            _values(body.get("inputs"), "inputs", text=True),
            _values(body.get("states"), "states", text=True),
            {k: float(v) for k, v in _values(body.get("initial"), "initial", text=False).items()},
            apply,
            evaluations,
        )
        request.check_window()
        return request

    def check_window(self) -> None:
        if self.start >= self.end:
            raise invalid(
                f"the history window is empty: from {self.start.isoformat()} is not before "
                f"to {self.end.isoformat()}"
            )
