"""A belt conveyor and the stations along it: a :class:`ProductionLine` driven by a belt.

A conveyor's twin knows a belt speed set-point (m/s) and an operating state; the
production line knows parts, lots, buffers and breakdowns. This model joins the two, so a
twin's set-point decides how much the line makes:

* **The belt** follows its set-point while the conveyor runs, and 0 when it is stopped,
  never faster than ``max_speed``: a linear ramp at the drive's ``acceleration`` (m/s²).
  The ramp is solved exactly over each step, so the step size changes nothing.
* **Parts** lie on the belt ``pitch`` metres apart, so the belt brings ``60 v / pitch``
  parts a minute into the line. The stations along it are indexed to the belt, so their
  pace scales with it too: over each step the line runs with the speed factor
  ``v̄ / nominal_speed`` (``v̄`` the belt's mean speed over the step, the factor capped at
  the line's 1.5), and its conveyor rate at factor 1 is ``60 nominal_speed / pitch``.
  Throughput therefore follows the belt speed until a station (or a breakdown) becomes
  the bottleneck.
* **Throughput** is reported as a moving average over ``throughput_window`` seconds (an
  exponential filter on the parts completed per step), as a line display shows it: parts
  move in lots, and parts per step would jump between 0 and a lot's worth.
* **Status** sums the line up in one code, as a stack light would: 4 off (stopped, belt
  at rest or off shift), 3 down (a station broke down), 1 working, 2 blocked, 0 starved.

The line's own parameters (lot size, seed, stations' rates, MTBF, MTTR, scrap, buffers,
shifts) keep their names; ``line_speed`` is derived from the belt and not set directly.

>>> conveyor = ConveyorLine("demo", parameters={"shift_hours": 24.0})
>>> conveyor.set_inputs({"belt_speed_setpoint": 0.8})
>>> for _ in range(4):
...     conveyor.advance(900.0)
>>> out = conveyor.outputs()  # 0.8 m/s, parts 4 m apart: 720 an hour, less the first lots'
>>> out["speed"], out["produced"], out["status"]  # way through the line and some scrap
(0.8, 671.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from twinsight.sim.des.line import ProductionLine
from twinsight.sim.model import BaseModel, ModelDescription, Snapshot, Variable

MAX_SPEED_FACTOR = 1.5
"""The production line's own cap on its speed factor."""

BELT_PARAMETERS = (
    Variable("nominal_speed", 0.8, "m/s", "belt speed at which the line runs at its rated "
             "pace", min=0.01, max=10.0),
    Variable("max_speed", 1.2, "m/s", "fastest the drive runs the belt (the line's pace "
             "caps at 1.5 times nominal)", min=0.0, max=15.0),
    Variable("acceleration", 0.05, "m/s²", "ramp of the belt drive", min=1e-4, max=100.0),
    Variable("pitch", 4.0, "m", "distance between two parts on the belt", min=0.01,
             max=1000.0),
    Variable("throughput_window", 900.0, "s", "time constant of the throughput's moving "
             "average", min=1.0, max=86400.0),
)  # fmt: skip
BELT_STATES = (
    Variable("belt_speed", 0.0, "m/s", "belt speed"),
    Variable("rate", 0.0, "parts/h", "moving average of the good parts completed"),
)
BELT_INPUTS = (
    Variable("belt_speed_setpoint", 0.8, "m/s", "belt speed the drive is told to run at",
             min=0.0, max=100.0),
    Variable("running", 1.0, "1", "1 when switched on, 0 when stopped", min=0.0, max=1.0),
)  # fmt: skip
OUTPUTS = (
    Variable("speed", unit="m/s", description="belt speed"),
    Variable("produced", unit="parts", description="good parts out of the line so far"),
    Variable("scrap", unit="parts", description="parts scrapped so far"),
    Variable("throughput", unit="parts/h", description="good parts per hour, moving average"),
    Variable("wip", unit="parts", description="parts on the line (buffers and stations)"),
    Variable("status", description="4 off, 3 down, 2 blocked, 1 working, 0 starved"),
    Variable("on_shift", description="1 while the shift calendar says work"),
)
OFF, DOWN, BLOCKED, WORKING, STARVED = 4.0, 3.0, 2.0, 1.0, 0.0
_AT_REST = 1e-6  # m/s: a belt slower than this is standing


def ramp(speed: float, target: float, acceleration: float, dt: float) -> tuple[float, float]:
    """A linear ramp from ``speed`` towards ``target`` over ``dt`` seconds: the speed at
    the end and the mean speed over the step.

    >>> end, mean = ramp(0.0, 0.8, 0.1, 10.0)  # 8 s of ramp, then 2 s at 0.8
    >>> end, round(mean, 6)
    (0.8, 0.48)
    """
    gap = target - speed
    needed = abs(gap) / acceleration
    if needed >= dt:
        end = speed + math.copysign(acceleration * dt, gap)
        return end, (speed + end) / 2.0
    mean = ((speed + target) / 2.0 * needed + target * (dt - needed)) / dt
    return target, mean


class ConveyorLine(BaseModel):
    """A belt conveyor feeding ``stations`` stations in series (see the module docstring)."""

    def __init__(
        self,
        name: str = "conveyor",
        stations: int = 2,
        *,
        parameters: Mapping[str, float] | None = None,
    ) -> None:
        self._line = ProductionLine(name, stations)
        line = self._line.description
        self._line_parameters = frozenset(v.name for v in line.parameters) - {"line_speed"}
        self._line_states = frozenset(v.name for v in line.states)
        super().__init__(
            ModelDescription(
                name,
                parameters=BELT_PARAMETERS
                + tuple(v for v in line.parameters if v.name in self._line_parameters),
                states=BELT_STATES + line.states,
                inputs=BELT_INPUTS,
                outputs=OUTPUTS,
                description=f"belt conveyor feeding {stations} station(s): {line.description}",
            )
        )
        # Only the belt's own values live here; the line keeps its own.
        self._parameters = {v.name: float(v.start) for v in BELT_PARAMETERS}
        self._state = {v.name: float(v.start) for v in BELT_STATES}
        self._sync_line_speed()
        if parameters:
            self.set_parameters(parameters)

    # -- values split between the belt (here) and the line (inside) ------------------------
    def parameters(self) -> dict[str, float]:
        inner = self._line.parameters()
        return {**self._parameters, **{k: inner[k] for k in self._line_parameters}}

    def set_parameters(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.parameters, "parameter")
        inner = {k: v for k, v in checked.items() if k in self._line_parameters}
        own = {k: v for k, v in checked.items() if k not in self._line_parameters}
        self._line.set_parameters(inner)  # refuses a fractional lot size or seed, unchanged
        self._parameters.update(own)
        self._sync_line_speed()

    def state(self) -> dict[str, float]:
        return {**self._state, **self._line.state()}

    def set_state(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.states, "state")
        self._line.set_state({k: v for k, v in checked.items() if k in self._line_states})
        self._state.update({k: v for k, v in checked.items() if k not in self._line_states})

    def restore(self, snapshot: Snapshot) -> None:
        super().restore(snapshot)
        line = self._line.snapshot()
        self._line.restore(
            Snapshot(
                line.model,
                snapshot.time,
                line.parameters,
                {k: v for k, v in snapshot.state.items() if k in self._line_states},
                line.inputs,
            )
        )

    def close(self) -> None:
        self._line.close()

    def _sync_line_speed(self) -> None:
        p = self._parameters
        self._line.set_parameters({"line_speed": 60.0 * p["nominal_speed"] / p["pitch"]})

    # -- the two verbs -------------------------------------------------------------------
    def _advance(self, dt: float) -> None:
        p, u, x = self._parameters, self._inputs, self._state
        target = u["running"] * min(u["belt_speed_setpoint"], p["max_speed"])
        speed, mean = ramp(x["belt_speed"], target, p["acceleration"], dt)
        factor = min(mean / p["nominal_speed"], MAX_SPEED_FACTOR)
        produced = self._line.state()["produced"]
        self._line.set_inputs({"speed_factor": factor if mean > _AT_REST else 0.0})
        self._line.advance(dt)
        completed = self._line.state()["produced"] - produced
        keep = math.exp(-dt / p["throughput_window"])
        x["rate"] = keep * x["rate"] + (1.0 - keep) * completed * 3600.0 / dt
        x["belt_speed"] = speed

    def _outputs(self) -> dict[str, float]:
        line = self._line.outputs()
        speed = self._state["belt_speed"]
        states = [line[f"m{i}.state"] for i in range(1, self._line.machines + 1)]
        if speed <= _AT_REST or not line["on_shift"] or self._inputs["running"] < 0.5:
            status = OFF
        elif DOWN in states:
            status = DOWN
        elif WORKING in states:
            status = WORKING
        elif BLOCKED in states:
            status = BLOCKED
        else:
            status = STARVED
        return {
            "speed": speed,
            "produced": line["produced"],
            "scrap": line["scrap"],
            "throughput": self._state["rate"],
            "wip": line["wip"],
            "status": status,
            "on_shift": line["on_shift"],
        }
