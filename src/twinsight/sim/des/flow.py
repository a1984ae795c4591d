r"""A mean-value (fluid) model of the belt conveyor line for bulk runs.

:class:`~twinsight.sim.des.conveyor.ConveyorLine` moves every lot of parts as SimPy
events: right for watching one line (a breakdown, a buffer filling), but about 0.13 s of
CPU per line and simulated day, which no vectorised plant or Monte-Carlo sweep can carry.
This model answers the same questions on average, as an
:class:`~twinsight.sim.ode.OdeSystem`, so every conveyor of a plant runs as one numpy
system (a fleet) and a sweep lays them side by side as replicas. It declares the same
parameters, inputs and outputs as ``ConveyorLine`` (names, units, bounds), so it binds to
the same twin properties and telemetry; its state is only four numbers.

**The belt** ramps to ``running · min(setpoint, max_speed)`` at ``acceleration``, solved
exactly over a step (as in ``ConveyorLine``), and the line runs with the speed factor
:math:`f = \min(\bar v / v_\text{nom}, 1.5)` of the belt's mean speed :math:`\bar v`.

**Flow.** Per second the belt brings :math:`c_0 = f\,v_\text{nom}/\text{pitch}` parts;
machine :math:`i` processes :math:`r_i = f\,\text{rate}_i/60` while up, and is up a
fraction :math:`A_i = \text{MTBF}_i/(\text{MTBF}_i + \text{MTTR}_i)` of the time it would
work (MTBF counts operating time, so a machine that never starves fails on this cycle).
A machine sees the parts the machines before it did not scrap,
:math:`y_i = \prod_{j<i}(1 - s_j)`, so its capacity counted in parts entering the line is
:math:`c_i = r_i A_i / y_i`. The line takes in what its bottleneck allows,
:math:`\lambda_0 = \min_k c_k` (``k = 0`` the belt).

**Blocking losses.** Buffers soak up a breakdown only for a while: when machine
:math:`i` (not the bottleneck :math:`k`) breaks down, the buffers between it and the
bottleneck fill (or drain) in :math:`T_i = |C_i - C_k| / \lambda_0`, with :math:`C_i`
the buffer room plus one lot per machine from the belt up to machine :math:`i`. A repair
longer than that stops the bottleneck; with exponential repairs the time lost per
breakdown is :math:`\text{MTTR}_i\, e^{-T_i/\text{MTTR}_i}`, and breakdowns come
:math:`\phi_i = u_i / \text{MTBF}_i` per second, :math:`u_i = \lambda_0 y_i / r_i` the
machine's busy fraction. The line takes in
:math:`\lambda = \lambda_0 (1 - \sum_{i \ne k} \phi_i\,\text{MTTR}_i\, e^{-T_i/\text{MTTR}_i})`.

**Shifts.** Nothing moves outside the shift calendar: each step counts only its on-shift
seconds :math:`h_\text{on}` (exactly, from the calendar), and the line picks up where it
left off.

**Parts.** ``entered`` grows by :math:`\lambda h_\text{on}`. Parts on the line (``wip``)
follow a first-order lag towards Little's law, :math:`W^* = \sum_i u_i\,\text{lot}` (the
lots in process) plus, for a machine after the bottleneck, the mean queue its exponential
repairs build up (within the room :math:`|C_i - C_k|`) and its spare rate drains
afterwards; before a bottleneck machine the buffers stand full and every machine holds a
lot (the formulas in ``docs/simulation-des.md``, *Flow model for bulk runs*). The lag's
time constant is the flow time :math:`W^*/\lambda`. What entered and
is no longer on the line has left it, good or scrapped: ``produced`` :math:`= y (E - W)`,
``scrap`` :math:`= (1 - y)(E - W)` with :math:`y = \prod_i (1 - s_i)`; so a line starts
with the delay of its first parts' way through, and a stopped belt makes nothing.

**Throughput** is the same moving average as ``ConveyorLine`` reports (an exponential
filter over ``throughput_window`` on the good parts per step). **Status** is 4 (off)
when the belt stands, the line is switched off or off shift, else 1 (working): the model
knows no single breakdown, so it never reports 3 (down), 2 (blocked) or 0 (starved).

``lot_size`` enters only through the lots in process and the buffers; ``seed`` and the
machines' ``cv`` are accepted (the same binding serves both models) and change nothing:
the model is deterministic.

>>> line = conveyor_flow_system("demo").model()
>>> line.set_parameters({"shift_hours": 24.0})
>>> line.set_inputs({"belt_speed_setpoint": 0.8})
>>> for _ in range(96):
...     line.advance(900.0)  # a day
>>> out = line.outputs()
>>> round(out["throughput"]), round(out["produced"]), out["status"]
(699, 16732, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twinsight.sim.des.conveyor import (
    BELT_INPUTS,
    BELT_PARAMETERS,
    MAX_SPEED_FACTOR,
    OFF,
    OUTPUTS,
    WORKING,
)
from twinsight.sim.des.line import line_description
from twinsight.sim.des.shifts import DAY
from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import FloatArray, OdeSystem

STATES = (
    Variable("belt_speed", 0.0, "m/s", "belt speed"),
    Variable("rate", 0.0, "parts/h", "moving average of the good parts completed"),
    Variable("entered", 0.0, "parts", "parts taken into the line so far"),
    Variable("wip", 0.0, "parts", "parts on the line (buffers and stations)"),
)
_AT_REST = 1e-6  # m/s, as ConveyorLine: a belt slower than this is standing
_EDGE = 1e-6  # s, as ShiftCalendar: a time this close to a shift's end counts as off
_AT_ONCE = 1e30  # 1/s: how fast parts on a line that holds none when settled leave it


def conveyor_flow_system(name: str = "conveyor", stations: int = 2) -> OdeSystem:
    """The flow model of a belt conveyor feeding ``stations`` machines in series, with
    the parameters, inputs and outputs of ``ConveyorLine(name, stations)``.

    Its step remembers the flow of the last parameter array it saw (by identity: models
    and fleets replace that array when a value is set, never write into it)."""
    line = line_description(name, stations)
    parameters = BELT_PARAMETERS + tuple(v for v in line.parameters if v.name != "line_speed")
    description = ModelDescription(
        name,
        parameters=parameters,
        states=STATES,
        inputs=BELT_INPUTS,
        outputs=OUTPUTS,
        description=f"mean-value flow model of a belt conveyor feeding {stations} station(s)",
    )
    equations = _Equations({v.name: i for i, v in enumerate(parameters)}, stations)
    return OdeSystem(description, equations.rhs, equations.outputs, exact=equations.exact)


class _Equations:
    """The model's arithmetic on numpy rows (a member axis or none), see the module
    docstring; parameter rows are looked up by name once."""

    def __init__(self, rows: dict[str, int], stations: int) -> None:
        self.row = rows
        self.stations = stations
        self._flow_cache: tuple[Any, FloatArray, tuple[Any, Any, Any, Any]] | None = None
        self._step_cache: tuple[FloatArray, float, Any, Any, Any] | None = None
        self._target_cache: tuple[FloatArray, FloatArray, Any] | None = None
        self._follow_cache: tuple[Any, float, tuple[Any, Any]] | None = None

    def p(self, p: FloatArray, name: str) -> Any:
        return p[self.row[name]]

    # -- the shift calendar, vectorised ----------------------------------------------------
    def _calendar(self, p: FloatArray) -> tuple[Any, Any]:
        offset = (self.p(p, "start_hour") - self.p(p, "shift_start_hour")) * 3600.0
        length = np.clip(self.p(p, "shift_hours") * 3600.0, 0.0, DAY)
        return offset, length

    def on_shift(self, t: float, p: FloatArray) -> Any:
        """1 while the calendar says work at ``t`` (as ``ShiftCalendar.at``), else 0."""
        offset, length = self._calendar(p)
        x = np.mod(t + offset, DAY)
        x = np.where(x >= DAY - _EDGE, 0.0, x)
        on = (length >= DAY) | ((length > 0.0) & (x < length - _EDGE))
        return on.astype(np.float64)

    def on_seconds(self, t: float, dt: float, p: FloatArray) -> Any:
        """The seconds of ``[t, t + dt]`` the calendar says work."""
        offset, length = self._calendar(p)

        def worked(y: Any) -> Any:  # on-shift seconds from the epoch to y
            return np.floor(y / DAY) * length + np.minimum(np.mod(y, DAY), length)

        return np.clip(worked(t + dt + offset) - worked(t + offset), 0.0, dt)

    # -- the flow through the line ---------------------------------------------------------
    def flow(self, factor: Any, p: FloatArray) -> tuple[Any, Any, Any]:
        """Parts per second taken in (with blocking losses), the parts on the line that
        Little's law gives for it, and the line's yield; ``factor`` the speed factor."""
        lot = self.p(p, "lot_size")
        feed = factor * self.p(p, "nominal_speed") / self.p(p, "pitch")
        seen = [np.ones_like(feed)]  # y_i: share of entering parts machine i sees
        full, capacity, mtbf, mttr, buffers = [], [feed], [], [], []
        room = [np.zeros_like(feed)]
        for i in range(1, self.stations + 1):
            rate = factor * self.p(p, f"m{i}.rate") / 60.0
            mtbf.append(self.p(p, f"m{i}.mtbf"))
            mttr.append(self.p(p, f"m{i}.mttr"))
            available = 1.0 / (1.0 + mttr[-1] / mtbf[-1])
            full.append(rate / seen[-1])  # machine i flat out, in parts entering the line
            capacity.append(full[-1] * available)
            buffers.append(np.floor(self.p(p, f"b{i}.capacity") / lot) * lot)  # whole lots
            room.append(room[-1] + buffers[-1] + lot)
            seen.append(seen[-1] * (1.0 - self.p(p, f"m{i}.scrap_rate")))
        stacked = np.stack(np.broadcast_arrays(*capacity))
        bottleneck = np.argmin(stacked, axis=0)
        intake = np.min(stacked, axis=0)
        flowing = intake > 0.0
        safe = np.where(flowing, intake, 1.0)
        loss = np.zeros_like(intake)
        wip = np.zeros_like(intake)
        rooms = np.stack(np.broadcast_arrays(*room))
        bottleneck_room = np.take_along_axis(rooms, bottleneck[None, ...], axis=0)[0]
        for i in range(1, self.stations + 1):
            busy = np.where(flowing, intake / np.where(full[i - 1] > 0, full[i - 1], 1.0), 0.0)
            breakdowns = busy / mtbf[i - 1]  # per second (0 for an MTBF of inf)
            repair = np.maximum(mttr[i - 1], 1e-9)
            absorbed = np.abs(room[i] - bottleneck_room) / safe
            is_bottleneck = bottleneck == i
            lost = breakdowns * mttr[i - 1] * np.exp(-absorbed / repair)
            loss = loss + np.where(is_bottleneck, 0.0, lost)
            # The queue a breakdown builds before the machine (capped by the room up to
            # the bottleneck) and its spare rate drains afterwards, averaged over time.
            spare = np.maximum(full[i - 1] - intake, 1e-9 * safe)
            soaked = -np.expm1(-absorbed / repair)
            building = intake * repair**2 * soaked
            draining = (intake * repair) ** 2 * (soaked - absorbed / repair * (1.0 - soaked))
            queue = breakdowns * (building + draining / spare)
            # Before a bottleneck machine the buffers stand full and every machine holds
            # a lot (processing or blocked).
            own = np.where(
                is_bottleneck,
                buffers[i - 1],
                np.where(bottleneck < i, queue, buffers[i - 1] + lot * (1.0 - busy)),
            )
            wip = wip + busy * lot + own
        taken = np.where(flowing, intake * np.clip(1.0 - loss, 0.0, 1.0), 0.0)
        return taken, np.where(flowing, wip, 0.0), seen[-1]

    def good_share(self, p: FloatArray) -> Any:
        """The share of entering parts no machine scraps."""
        good = 1.0
        for i in range(1, self.stations + 1):
            good = good * (1.0 - self.p(p, f"m{i}.scrap_rate"))
        return good

    def speed_factor(self, mean_speed: Any, p: FloatArray) -> Any:
        factor = np.minimum(mean_speed / self.p(p, "nominal_speed"), MAX_SPEED_FACTOR)
        return np.where(mean_speed > _AT_REST, factor, 0.0)

    def target_speed(self, u: FloatArray, p: FloatArray) -> Any:
        return u[1] * np.minimum(u[0], self.p(p, "max_speed"))

    # -- the three functions of the OdeSystem ----------------------------------------------
    def exact(self, t: float, dt: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
        """One step in closed form with the inputs held (see the module docstring).

        A bulk run calls this once a step for every conveyor of the plant, mostly with the
        belts at their set-points: so the flow through the line (a function of the belt's
        mean speed and the parameters only), how far the parts on the line follow it in a
        step, the belt's target speed and the constants of the calendar and the filter are
        kept from the last step while those stay the same."""
        speed, rate, entered, wip = x
        target = self._target(u, p)
        if (speed == target).all():
            end = mean = speed
        else:
            end, mean = self._ramp(speed, target, self.p(p, "acceleration"), dt)
        flow = self._flow(mean, p)
        taken, settled, good, follow_rate = flow
        worked, keep, fresh = self._step_constants(t, dt, p)
        follow, taken_in_step = self._follow(taken, follow_rate, worked)
        new_entered = entered + taken_in_step
        new_wip = wip + (settled - wip) * follow
        completed = good * ((new_entered - new_wip) - (entered - wip))
        new_rate = keep * rate + fresh * completed
        return [end, new_rate, new_entered, new_wip]

    def _target(self, u: FloatArray, p: FloatArray) -> Any:
        """The belt's target speed, kept while the input and parameter arrays are the same
        objects (models and fleets replace them when a value is set)."""
        cached = self._target_cache
        if cached is not None and cached[0] is u and cached[1] is p:
            return cached[2]
        target = self.target_speed(u, p)
        self._target_cache = (u, p, target)
        return target

    def _follow(self, taken: Any, follow_rate: Any, worked: Any) -> tuple[Any, Any]:
        """The share of the way to their settled number the parts on the line go in a
        step, and the parts taken in; kept for the last flow and on-shift seconds when
        those are a whole step."""
        if not isinstance(worked, float):  # on-shift seconds that differ by member
            return -np.expm1(-worked * follow_rate), taken * worked
        cached = self._follow_cache
        if cached is not None and cached[0] is follow_rate and cached[1] == worked:
            return cached[2]
        result = (-np.expm1(-worked * follow_rate), taken * worked)
        self._follow_cache = (follow_rate, worked, result)
        return result

    @staticmethod
    def _ramp(speed: Any, target: Any, acceleration: Any, dt: float) -> tuple[Any, Any]:
        """The belt's speed at the end of a linear ramp over ``dt``, and its mean (as
        ``conveyor.ramp``, for every member at once)."""
        gap = target - speed
        needed = np.abs(gap) / acceleration
        ramping = needed >= dt
        end = np.where(ramping, speed + np.sign(gap) * acceleration * dt, target)
        mean = np.where(
            ramping,
            (speed + end) / 2.0,
            ((speed + target) / 2.0 * np.minimum(needed, dt) + target * (dt - needed)) / dt,
        )
        return end, mean

    def _flow(self, mean_speed: Any, p: FloatArray) -> tuple[Any, Any, Any, Any]:
        """:meth:`flow` at the belt's mean speed, plus the rate at which the parts on the
        line follow their settled number (intake over settled parts: one over the flow
        time), remembered for the last mean speed and parameter array."""
        cached = self._flow_cache
        if cached is not None and cached[1] is p and (cached[0] == mean_speed).all():
            return cached[2]
        taken, settled, good = self.flow(self.speed_factor(mean_speed, p), p)
        follow_rate = np.where(
            settled > 0.0,
            taken / np.where(settled > 0.0, settled, 1.0),
            np.where(taken > 0.0, _AT_ONCE, 0.0),
        )
        result = (taken, settled, good, follow_rate)
        self._flow_cache = (np.array(mean_speed, copy=True), p, result)
        return result

    def _step_constants(self, t: float, dt: float, p: FloatArray) -> tuple[Any, Any, Any]:
        """The on-shift seconds of the step, and the throughput filter's factors for the
        last rate and for the parts completed in the step (a line that never stops works
        every second of every step)."""
        cached = self._step_cache
        if cached is not None and cached[0] is p and cached[1] == dt and cached[2] is not None:
            return cached[2], cached[3], cached[4]
        always = bool(np.all(self.p(p, "shift_hours") >= 24.0))
        worked = dt if always else self.on_seconds(t, dt, p)
        keep = np.exp(-dt / self.p(p, "throughput_window"))
        fresh = (1.0 - keep) * (3600.0 / dt)  # per part completed in the step, parts/h
        self._step_cache = (p, dt, dt if always else None, keep, fresh)
        return worked, keep, fresh

    def rhs(self, t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
        """The same dynamics as derivatives (for estimators and Jacobians; every solver
        steps with :meth:`exact`)."""
        speed, rate, _, wip = x
        gap = self.target_speed(u, p) - speed
        ramp = np.where(np.abs(gap) > 1e-9, np.sign(gap) * self.p(p, "acceleration"), 0.0)
        taken, settled, good = self.flow(self.speed_factor(speed, p), p)
        on = self.on_shift(t, p)
        flow_time = settled / np.where(taken > 0.0, taken, 1.0)
        towards = np.where(
            (taken > 0.0) & (flow_time > 0.0),
            (settled - wip) / np.where(flow_time > 0.0, flow_time, 1.0),
            0.0,
        )
        d_entered = taken * on
        d_wip = towards * on
        completed = good * (d_entered - d_wip) * 3600.0
        return [
            ramp,
            (completed - rate) / self.p(p, "throughput_window"),
            d_entered,
            d_wip,
        ]

    def outputs(self, t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
        speed, rate, entered, wip = x
        good = self.good_share(p)
        left = np.maximum(entered - wip, 0.0)
        on = self.on_shift(t, p)
        off = (speed <= _AT_REST) | (on < 0.5) | (u[1] < 0.5)
        status = np.where(off, OFF, WORKING)
        return speed, good * left, (1.0 - good) * left, rate, wip, status, on
