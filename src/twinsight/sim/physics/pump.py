r"""A centrifugal pump on a pipe system: what flow and head a given shaft speed gives.

The pump curve at rated speed :math:`n_0` is a parabola through the shut-off head
:math:`H_0` and the best-efficiency point :math:`(Q_b, H_b)`; the affinity laws carry it to
speed :math:`n` (flow scales with :math:`s = n/n_0`, head with :math:`s^2`):

.. math:: H_p(Q, n) = s^2 H_0 - k_p Q^2, \qquad k_p = (H_0 - H_b)/Q_b^2

The pipes ask for a static lift :math:`H_s` plus friction growing with the square of the
flow, :math:`H_\text{sys}(Q) = H_s + k_s Q^2`. The operating point is where the curves
cross, :math:`Q^* = \sqrt{\max(s^2 H_0 - H_s, 0)/(k_p + k_s)}`.

The flow does not jump there: the water column and the drive take time to follow, modelled
as a first-order lag with the response time :math:`\tau` (a second or two). One state keeps
the model forkable and the step size a bulk run can afford, where the water column's own
inertia (a fraction of a second) would make the system stiff for nothing a twin can see:

.. math:: \tau \dot Q = Q^* - Q

With the speed held over a step this has a closed form,
:math:`Q(t + h) = Q^* + (Q(t) - Q^*)\,e^{-h/\tau}`, which every solver takes
(``OdeSystem.exact``): exact at any step, where a fixed-step integrator would need
sub-steps under :math:`\tau`.

The **head** reported is the pump curve at the current flow, :math:`H_p(Q, n)` (what a
differential pressure gauge reads); once settled it equals the system head. Efficiency
follows the affinity laws too, a parabola peaking at :math:`\eta_b` at the best-efficiency
flow :math:`s Q_b`, so the **shaft power** :math:`\rho g Q H/\eta` keeps a realistic
shut-off power and scales with :math:`s^3`:

.. math:: \eta = \eta_b\,q(2 - q),\; q = \frac{Q}{s Q_b}; \qquad
    P = \frac{\rho g H\,s Q_b}{\eta_b (2 - q)}

With no static head, half speed gives exactly half the flow and a quarter of the head.

**Cavitation.** When the suction cannot keep the liquid above its vapour pressure (a
clogged strainer, a low suction tank), vapour bubbles form and collapse in the impeller
and the head breaks down. The ``cavitation`` input :math:`c` (0 none … 1 fully
developed) is how that fault is injected: it scales the pump curve and the efficiency by
:math:`k = 1 - \lambda c`, with :math:`\lambda` the head lost at full cavitation, so the
flow settles lower and the pump turns more of its power into noise and heat:
:math:`H_p = k (s^2 H_0 - k_p Q^2)` and
:math:`Q^* = \sqrt{\max(k s^2 H_0 - H_s, 0)/(k k_p + k_s)}`. The **pressure** reported is
the head as a discharge gauge reads it, :math:`\rho g H_p`.

>>> pump = pump_system().model()
>>> pump.set_inputs({"speed": 1450.0})
>>> pump.advance(30.0)
>>> {k: round(v, 2) for k, v in pump.outputs().items()}
{'flow': 100.0, 'head': 32.0, 'shaft_power': 11.16, 'efficiency': 0.78, 'pressure': 313.29}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import FloatArray, OdeSystem

GRAVITY = 9.81  # m/s²

PARAMETERS = (
    Variable("rated_speed", 1450.0, "rpm", "speed the pump curve is given at",
             min=1.0, max=10000.0),
    Variable("shutoff_head", 40.0, "m", "head at zero flow, rated speed", min=0.1, max=2000.0),
    Variable("bep_flow", 100.0, "m³/h", "flow at the best-efficiency point, rated speed",
             min=0.01, max=1e5),
    Variable("bep_head", 32.0, "m", "head at the best-efficiency point, rated speed",
             min=0.0, max=2000.0),
    Variable("bep_efficiency", 0.78, "1", "efficiency at the best-efficiency point",
             min=0.05, max=0.95),
    Variable("static_head", 10.0, "m", "lift the system needs at zero flow",
             min=0.0, max=2000.0),
    Variable("system_coefficient", 0.0022, "m/(m³/h)²", "friction head per flow squared",
             min=0.0, max=1e3),
    Variable("density", 998.0, "kg/m³", "density of the liquid", min=500.0, max=2000.0),
    Variable("response_time", 2.0, "s", "time the flow takes to follow (water column, "
             "drive)", min=0.01, max=600.0),
    Variable("cavitation_head_loss", 0.35, "1", "share of the head and efficiency lost at "
             "full cavitation", min=0.0, max=0.95),
)  # fmt: skip

STATES = (Variable("flow", 0.0, "m³/h", "volume flow"),)

INPUTS = (
    Variable("speed", 0.0, "rpm", "shaft speed", min=0.0, max=10000.0),
    Variable("cavitation", 0.0, "1", "severity of cavitation, 0 none to 1 fully developed",
             min=0.0, max=1.0),
)  # fmt: skip

OUTPUTS = (
    Variable("flow", unit="m³/h", description="volume flow"),
    Variable("head", unit="m", description="head across the pump"),
    Variable("shaft_power", unit="kW", description="mechanical power at the shaft"),
    Variable("efficiency", unit="1", description="hydraulic efficiency"),
    Variable("pressure", unit="kPa", description="discharge pressure above suction"),
)


def _curve(p: FloatArray) -> tuple[Any, Any]:
    """Shut-off head and the pump-curve coefficient k_p, at rated speed."""
    return p[1], (p[1] - p[3]) / (p[2] * p[2])


def operating_flow(speed: Any, p: FloatArray, cavitation: Any = 0.0) -> Any:
    """Where pump and system curves cross at ``speed`` (m³/h), or 0 below the static
    head."""
    shutoff = p[1]  # the curve written out, not taken from _curve: 12 calls an rk4 step
    s = speed / p[0]
    k = 1.0 - p[9] * cavitation
    lift = np.maximum(k * s * s * shutoff - p[5], 0.0)
    return np.sqrt(lift / (k * (shutoff - p[3]) / (p[2] * p[2]) + p[6]))


class _Fixed:
    """What the parameters alone fix, kept while the parameter array is the same object."""

    def __init__(self, p: FloatArray) -> None:
        self.p = p
        self.shutoff, self.k_pump = _curve(p)
        self.rho_g = p[7] * GRAVITY  # Pa per m of head
        # Constants as arrays: numpy takes about half the time for two small arrays as
        # for an array and a Python float.
        shape = np.shape(p[0])
        self.zero, self.two, self.kilo = np.zeros(shape), np.full(shape, 2.0), np.full(shape, 1e3)
        self.q_max = np.full(shape, 1.9)  # q below 2, where the efficiency parabola ends
        self.tiny, self.hour = np.full(shape, 1e-12), np.full(shape, 3600.0)
        self.decay: tuple[float, Any] = (math.nan, None)  # (step, e^(−step/τ))

    def decay_over(self, dt: float) -> Any:
        held_dt, decay = self.decay
        if held_dt != dt:
            decay = np.exp(-dt / self.p[8])
            self.decay = (dt, decay)
        return decay


class _Cavitating:
    """What the cavitation input fixes (with the parameters): the share :math:`k` of the
    curve it leaves and the curves' quadratic coefficient :math:`k k_p + k_s`. A
    co-simulation feeds the pump a new speed every step and leaves the cavitation as it
    was, so these are kept while its values are the same."""

    def __init__(self, u: FloatArray, fixed: _Fixed) -> None:
        p = fixed.p
        self.u, self.fixed = u, fixed
        self.k = 1.0 - p[9] * u[1]
        self.k_efficiency = self.k * p[4]  # k·η_b
        self.quadratic = self.k * (fixed.shutoff - p[3]) / (p[2] * p[2]) + p[6]


class _Held:
    """What the held inputs and parameters fix: the operating flow the pump's flow ramps
    towards (rk4 would call the right-hand side 12 times a step) and the outputs' parts
    that do not depend on the flow. The equations are the module docstring's, regrouped
    only so these parts are computed once while the inputs are held (a fleet's outputs
    are some twenty numpy calls on small arrays, each costing about a microsecond); what
    the speed does not change comes from :class:`_Cavitating` and :class:`_Fixed`."""

    def __init__(self, u: FloatArray, p: FloatArray, cavitating: _Cavitating) -> None:
        fixed = cavitating.fixed
        self.u, self.p, self.cavitating, self.fixed = u, p, cavitating, fixed
        k = self.k = cavitating.k
        s = u[0] / p[0]
        # operating_flow, written out with the cavitation's part kept
        lift = np.maximum(k * s * s * fixed.shutoff - p[5], fixed.zero)
        self.target = np.sqrt(lift / cavitating.quadratic)
        self.shutoff_head = s * s * fixed.shutoff  # s²·H_0
        bep_flow = s * p[2]
        self.bep_flow = np.maximum(bep_flow, fixed.tiny)
        self.bep_per_second = bep_flow / fixed.hour
        self.k_efficiency = cavitating.k_efficiency
        self.turning = bep_flow > fixed.zero


_HELD: list[_Held | None] = [None]
"""The last inputs' and parameters' :class:`_Held`. The model replaces its input and
parameter arrays on every change rather than writing into them, so the same objects mean
the same values; swapped in whole, which keeps this safe between threads."""


def _held(u: FloatArray, p: FloatArray) -> _Held:
    held = _HELD[0]
    if held is not None and held.u is u and held.p is p:
        return held
    if held is None or held.p is not p:
        cavitating = _Cavitating(u, _Fixed(p))
    else:
        cavitating = held.cavitating
        if cavitating.u is not u and not (u[1] == cavitating.u[1]).all():
            cavitating = _Cavitating(u, cavitating.fixed)
    held = _HELD[0] = _Held(u, p, cavitating)
    return held


def _rhs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    return [(_held(u, p).target - x[0]) / p[8]]


def _exact(t: float, dt: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    """The lag's closed form over a step with the speed held: every solver takes this
    (see ``OdeSystem.exact``), so a 60 s step needs no sub-steps under the 20 s ramp."""
    held = _held(u, p)
    target = held.target
    return [target + (x[0] - target) * held.fixed.decay_over(dt)]


def _outputs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    c = _held(u, p)
    fixed = c.fixed
    zero = fixed.zero
    flow = np.maximum(x[0], zero)
    head = c.k * (c.shutoff_head - fixed.k_pump * flow * flow)
    q = np.minimum(flow / c.bep_flow, fixed.q_max)
    falling = fixed.two - q
    efficiency = c.k_efficiency * q * falling
    pressure = fixed.rho_g * np.maximum(head, zero)  # Pa
    power = pressure * c.bep_per_second / (c.k_efficiency * falling)
    efficiency = np.where(c.turning, np.maximum(efficiency, zero), zero)
    return flow, head, power / fixed.kilo, efficiency, pressure / fixed.kilo


def pump_system(name: str = "pump") -> OdeSystem:
    """The pump model (see the module docstring for the equations)."""
    return OdeSystem(
        ModelDescription(
            name,
            parameters=PARAMETERS,
            states=STATES,
            inputs=INPUTS,
            outputs=OUTPUTS,
            description="centrifugal pump: affinity laws, pump curve against system curve",
        ),
        rhs=_rhs,
        outputs=_outputs,
        exact=_exact,
    )
