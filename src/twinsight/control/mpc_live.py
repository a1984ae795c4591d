"""The line's MPC against a live motor twin: read its state, plan, submit the first move.

Each control interval the caller runs :meth:`LiveLineMpc.step` for a motor twin: it
reads the twin's winding temperature and speed, solves the line's problem
(:func:`twinsight.control.mpc_line.plan`) from there over the ambient forecast, and
submits the first move as an :class:`~twinsight.control.actions.Action` — a desired
``speedSetpoint`` asked by ``optimizer:<name>`` with the plan's reason — through
``submit`` (the command service's :meth:`~twinsight.control.commands.CommandService.submit`
in a hub, so the guards, the approval step and the audit log see it like any other
action), asking for ``recommend`` by default: an operator sees the move and applies it
or not. A problem that is not solved submits nothing: the result
says why.

What the twin does not report is filled in from the model: the housing temperature is
taken at the quasi-steady split of the winding's rise over ambient between the two
thermal resistances, and wear is counted from zero (the limits are on wear *per hour*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from twinsight.control.actions import Action, Mode
from twinsight.control.mpc import FloatArray, MpcResult
from twinsight.control.mpc_line import LineCase, plan
from twinsight.sim.physics.motor import PARAMETERS

_R_WH = next(v.start for v in PARAMETERS if v.name == "winding_resistance")
_R_HA = next(v.start for v in PARAMETERS if v.name == "housing_resistance")


class Submit(Protocol):
    """How an action is handed on: :meth:`CommandService.submit`'s signature."""

    def __call__(self, action: Action, *, mode: Mode = "auto") -> Any: ...


@dataclass
class LiveLineMpc:
    """Receding-horizon speed set-points for motor twins (see the module docstring).

    ``read(twin_id, name)`` returns a twin's current property or latest telemetry value
    (e.g. :meth:`twinsight.control.guards_state.TwinState.value`); ``ambient(hours)``
    the forecast hall temperature at the given hours from now. ``mode`` is what the
    optimiser asks for: ``recommend`` (the default) shows the move to an operator, who
    applies it or not; the guards may still ask for more caution, never for less.
    """

    case: LineCase
    read: Callable[[str, str], Any]
    submit: Submit
    ambient: Callable[[FloatArray], FloatArray]
    name: str = "line-mpc"
    mode: Mode = "recommend"

    def state_of(self, twin_id: str, ambient_now: float) -> dict[str, float]:
        winding = float(self.read(twin_id, "windingTemperature"))
        speed = float(self.read(twin_id, "speed") or self.read(twin_id, "speedSetpoint"))
        housing = ambient_now + (winding - ambient_now) * _R_HA / (_R_WH + _R_HA)
        return {"winding_temperature": winding, "housing_temperature": housing,
                "wear": 0.0, "drive_speed": speed}  # fmt: skip

    def step(self, twin_id: str) -> tuple[MpcResult, Any]:
        """One control interval: the solve's result, and what ``submit`` returned (``None``
        when nothing was submitted)."""
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
            return MpcResult("invalid", reason, ("speed_setpoint",), constraint=reason), None
        result = plan(self.case, state, forecast)
        move = result.first_move()
        if move is None:
            return result, None
        peak = float(np.max(result.predicted["temperature"]))
        action = Action(
            kind="property",
            twin_id=twin_id,
            name="speedSetpoint",
            value=round(move["speed_setpoint"], 1),
            requested_by=f"optimizer:{self.name}",
            reason=(
                f"MPC ({result.status}): most throughput over the next {self.case.horizon} h "
                f"with the winding at most {self.case.temperature_limit - self.case.back_off:g}"
                f" °C (predicted peak {peak:.1f} °C) and wear within plan"
            ),
        )
        return result, self.submit(action, mode=self.mode)
