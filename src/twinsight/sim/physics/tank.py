r"""An open tank: its level is the running balance of what flows in and what flows out.

The outflow leaves through a valve at the bottom, driven by the level's own pressure
(Torricelli: velocity grows with the square root of the head), so the tank settles by
itself at the level where outflow meets inflow; the valve opening :math:`o` scales it.
At the rim the liquid spills over a weir, which is what keeps a full tank from rising
further without a discontinuity in the equations:

.. math::
    A \dot h = Q_\text{in} - o\,k_v \sqrt{\max(h, 0)} - k_w \max(h - h_\text{max}, 0)^{3/2}

Flows are in m³/h (as a pump reports them), so the derivative is divided by 3600. In
steady state below the rim :math:`h = (Q_\text{in} / (o k_v))^2`; with the valve shut the
level rises at exactly :math:`Q_\text{in}/A`.

>>> tank = tank_system().model()
>>> tank.set_inputs({"inflow": 100.0, "valve_opening": 1.0})
>>> tank.advance(24 * 3600.0)
>>> {k: round(v, 2) for k, v in tank.outputs().items()}
{'level': 4.0, 'outflow': 100.0, 'overflow': 0.0, 'volume': 40.0}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import FloatArray, OdeSystem

PARAMETERS = (
    Variable("area", 10.0, "m²", "cross-section of the tank", min=1e-3, max=1e6),
    Variable("max_level", 5.0, "m", "height of the rim (overflow weir)", min=0.01, max=100.0),
    Variable("valve_coefficient", 50.0, "m³/h/√m", "outflow of the open valve per square "
             "root of level", min=0.0, max=1e6),
    Variable("overflow_coefficient", 6000.0, "m³/h/m^1.5", "weir discharge coefficient "
             "(about 6000 for a 1 m wide crest)", min=1.0, max=1e7),
)  # fmt: skip

STATES = (Variable("level", 1.0, "m", "liquid level above the outlet"),)

INPUTS = (
    Variable("inflow", 0.0, "m³/h", "flow into the tank", min=0.0, max=1e6),
    Variable("valve_opening", 1.0, "1", "outlet valve, 0 shut to 1 open", min=0.0, max=1.0),
)

OUTPUTS = (
    Variable("level", unit="m", description="liquid level"),
    Variable("outflow", unit="m³/h", description="flow through the outlet valve"),
    Variable("overflow", unit="m³/h", description="flow spilling over the rim"),
    Variable("volume", unit="m³", description="liquid volume"),
)


class _Fixed:
    """What the parameters fix: the factor turning m³/h into a level rate and the lowest
    rim, below which no member spills (kept while the parameter array is the same)."""

    def __init__(self, p: FloatArray) -> None:
        self.p = p
        self.per_hour_area = 3600.0 * p[0]
        self.rim = p[1]
        self.lowest_rim = float(np.min(p[1]))
        self.zero = np.zeros(np.shape(p[0]))  # faster in numpy than the Python float 0.0


class _Held:
    """What the held inputs and parameters fix, worked out once: the open valve's
    coefficient :math:`o k_v` (rk4 evaluates the flows four times a step, and each is a
    handful of numpy calls on small arrays costing about a microsecond each)."""

    def __init__(self, u: FloatArray, p: FloatArray, fixed: _Fixed) -> None:
        self.u, self.p, self.fixed = u, p, fixed
        self.valve = u[1] * p[2]
        self.per_hour_area, self.rim = fixed.per_hour_area, fixed.rim
        self.lowest_rim, self.zero = fixed.lowest_rim, fixed.zero


_HELD: list[_Held | None] = [None]
"""The last inputs' and parameters' :class:`_Held`. The model replaces its input and
parameter arrays on every change rather than writing into them, so the same objects mean
the same values; swapped in whole, which keeps this safe between threads."""


def _held(u: FloatArray, p: FloatArray) -> _Held:
    held = _HELD[0]
    if held is None or held.u is not u or held.p is not p:
        fixed = held.fixed if held is not None and held.p is p else _Fixed(p)
        held = _HELD[0] = _Held(u, p, fixed)
    return held


def _flows(x: FloatArray, c: _Held) -> tuple[Any, Any]:
    """Outflow through the valve and over the rim, m³/h; the weir's is ``None`` while no
    level is above the lowest rim (the usual case, where it would be 0 for every member:
    a NaN level takes the full path)."""
    level = x[0]
    outflow = c.valve * np.sqrt(np.maximum(level, c.zero))
    if np.maximum.reduce(level, axis=None) <= c.lowest_rim:
        return outflow, None
    spill = np.maximum(level - c.rim, c.zero)
    return outflow, c.p[3] * spill * np.sqrt(spill)


def _rhs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    c = _held(u, p)
    outflow, overflow = _flows(x, c)
    net = u[0] - outflow
    if overflow is not None:
        net = net - overflow
    return [net / c.per_hour_area]


def _outputs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    outflow, overflow = _flows(x, _held(u, p))
    level = np.maximum(x[0], 0.0)
    return level, outflow, 0.0 if overflow is None else overflow, level * p[0]


def tank_system(name: str = "tank") -> OdeSystem:
    """The tank model (see the module docstring for the equations)."""
    return OdeSystem(
        ModelDescription(
            name,
            parameters=PARAMETERS,
            states=STATES,
            inputs=INPUTS,
            outputs=OUTPUTS,
            description="open tank: mass balance, valve outflow, overflow weir",
        ),
        rhs=_rhs,
        outputs=_outputs,
    )
