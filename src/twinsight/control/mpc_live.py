"""The line's MPC against a live motor twin: read its state, plan, submit the first move.

Each control interval the caller runs :meth:`LiveLineMpc.step` for a motor twin: it
reads the twin's winding temperature and speed, solves the line's problem
(:func:`twinsight.control.mpc_line.plan`) from there over the ambient forecast, and
submits the first move as an :class:`~twinsight.control.actions.Action` — a desired
``speedSetpoint`` asked by ``optimizer:<name>`` with the plan's reason — through
``submit`` (the command service's :meth:`~twinsight.control.commands.CommandService.submit`
in a hub, so the guards, the approval step and the audit log see it like any other
action), asking for ``recommend`` by default: an operator sees the move and applies it
or not. The action carries the predicted effect (peak winding temperature and mean belt
speed over the horizon, with the planned moves and with the speed held where it is), for
the operator to weigh. A problem that is not solved submits nothing: the result says why,
and ``note`` (the command service's
:meth:`~twinsight.control.commands.CommandService.note_decision`) records it in the audit
log with the solver's status and reason.

What the twin does not report is filled in from the model: the housing temperature is
taken at the quasi-steady split of the winding's rise over ambient between the two
thermal resistances, and wear is counted from zero (the limits are on wear *per hour*).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from twinsight.control.actions import Action, Mode
from twinsight.control.mpc import FloatArray, MpcResult
from twinsight.control.mpc_line import SYNC, LineCase, _motor, _surrogate_run, plan
from twinsight.sim.physics.motor import PARAMETERS

_R_WH = next(v.start for v in PARAMETERS if v.name == "winding_resistance")
_R_HA = next(v.start for v in PARAMETERS if v.name == "housing_resistance")


class Submit(Protocol):
    """How an action is handed on: :meth:`CommandService.submit`'s signature."""

    def __call__(
        self, action: Action, *, mode: Mode = "auto", prediction: Mapping[str, Any] | None = None
    ) -> Any: ...


class Note(Protocol):
    """How a decision without an action is recorded: :meth:`CommandService.note_decision`."""

    def __call__(self, twin_id: str, actor: str, event: str, detail: str) -> Any: ...


@dataclass
class LiveLineMpc:
    """Receding-horizon speed set-points for motor twins (see the module docstring).

    ``read(twin_id, name)`` returns a twin's current property or latest telemetry value
    (e.g. :meth:`twinsight.control.guards_state.TwinState.value`); ``ambient(hours)``
    the forecast hall temperature at the given hours from now. ``mode`` is what the
    optimiser asks for: ``recommend`` (the default) shows the move to an operator, who
    applies it or not; the guards may still ask for more caution, never for less.
    ``note``, when given, records a solve that yields no move in the audit log.
    ``max_rise`` (rpm), when given, keeps the plan within that rise above today's speed
    (a rate guard's largest step up: a plan past it would only be refused).
    """

    case: LineCase
    read: Callable[[str, str], Any]
    submit: Submit
    ambient: Callable[[FloatArray], FloatArray]
    name: str = "line-mpc"
    mode: Mode = "recommend"
    note: Note | None = None
    max_rise: float | None = None

    @property
    def requested_by(self) -> str:
        return f"optimizer:{self.name}"

    def state_of(self, twin_id: str, ambient_now: float) -> dict[str, float]:
        winding = float(self.read(twin_id, "windingTemperature"))
        speed = float(self.read(twin_id, "speed") or self.read(twin_id, "speedSetpoint"))
        housing = ambient_now + (winding - ambient_now) * _R_HA / (_R_WH + _R_HA)
        return {"winding_temperature": winding, "housing_temperature": housing,
                "wear": 0.0, "drive_speed": speed}  # fmt: skip

    def step(self, twin_id: str) -> tuple[MpcResult, Any]:
        """One control interval: the solve's result, and what ``submit`` returned (``None``
        when nothing was submitted, noted in the audit log when ``note`` is given)."""
        hours: FloatArray = (
            (np.arange(self.case.horizon, dtype=np.float64) + 0.5)
            * self.case.control_interval
            / 3600.0
        )
        forecast: FloatArray = np.asarray(self.ambient(hours), dtype=np.float64)
        try:
            state = self.state_of(twin_id, float(forecast[0]))
        except (TypeError, ValueError) as error:
            reason = f"twin {twin_id!r} has no usable windingTemperature/speed: {error}"
            result = MpcResult("invalid", reason, ("speed_setpoint",), constraint=reason)
            self._note_unsolved(twin_id, result)
            return result, None
        case = self.case
        if self.max_rise is not None:
            ceiling = max(case.speed_min, state["drive_speed"] + self.max_rise)
            case = replace(case, speed_max=min(case.speed_max, ceiling))
        result = plan(case, state, forecast)
        move = result.first_move()
        if move is None:
            self._note_unsolved(twin_id, result)
            return result, None
        effect = self.effect(state, forecast, result)
        peak = effect["peakWindingTemperature"]["withMoves"]
        action = Action(
            kind="property",
            twin_id=twin_id,
            name="speedSetpoint",
            value=round(move["speed_setpoint"], 1),
            requested_by=self.requested_by,
            reason=(
                f"MPC ({result.status}): most throughput over the next "
                f"{self._horizon_text()} with the winding at most "
                f"{self.case.temperature_limit - self.case.back_off:g}"
                f" °C (predicted peak {peak:.1f} °C) and wear within plan"
            ),
        )
        return result, self.submit(action, mode=self.mode, prediction=effect)

    def _horizon_text(self) -> str:
        hours = self.case.horizon * self.case.control_interval / 3600.0
        return f"{hours:g} h"

    def effect(
        self, state: Mapping[str, float], forecast: FloatArray, result: MpcResult
    ) -> dict[str, Any]:
        """The move's predicted effect over the horizon, against holding today's speed:
        peak winding temperature (°C) and mean belt speed (m/s, what parts follow)."""
        assert result.moves is not None
        held = np.full(self.case.horizon, state["drive_speed"], dtype=np.float64)
        held_temperatures, _, _ = _surrogate_run(
            self.case, dict(state), held, forecast, _motor("rk4", 300.0)
        )
        belt = self.case.nominal_belt / SYNC
        return {
            "peakWindingTemperature": {
                "withMoves": round(float(np.max(result.predicted["temperature"])), 1),
                "held": round(float(np.max(held_temperatures)), 1),
                "limit": self.case.temperature_limit - self.case.back_off,
            },
            "meanBeltSpeed": {
                "withMoves": round(float(np.mean(result.moves[:, 0])) * belt, 3),
                "held": round(float(state["drive_speed"]) * belt, 3),
            },
            "horizonHours": self.case.horizon * self.case.control_interval / 3600.0,
            "solver": result.status,
        }

    def _note_unsolved(self, twin_id: str, result: MpcResult) -> None:
        if self.note is None:
            return
        why = result.constraint or result.message
        detail = f"no action: the solver's status is {result.status}: {why}"
        if result.constraint and result.message and result.message != result.constraint:
            detail += f" (solver: {result.message})"
        self.note(twin_id, self.requested_by, result.status, detail)
