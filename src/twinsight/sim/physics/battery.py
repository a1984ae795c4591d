r"""A battery pack as an equivalent circuit (Thevenin, one RC pair) with a thermal node.

The circuit is the smallest one a state-of-charge estimator can work with: an open-circuit
voltage that depends on the state of charge, a series resistance :math:`R_0` for the
instant voltage drop, and one :math:`R_1 C_1` pair for the slow relaxation after a current
step (diffusion and charge transfer, lumped). Current :math:`I` is positive when
discharging; charging stores only the coulombic efficiency :math:`\eta_c` of the charge:

.. math::
    \dot s = -\frac{I_\text{eff}}{3600\,Q}, \quad
    I_\text{eff} = I \text{ if } I > 0 \text{ else } \eta_c I; \qquad
    \dot v_1 = \frac{I}{C_1} - \frac{v_1}{R_1 C_1}

.. math:: V = N\,\text{OCV}(s) - v_1 - R_0 I

:math:`Q` is the capacity in Ah and :math:`N` the number of cells in series. The cell
curve :data:`OCV_SOC`/:data:`OCV_VOLTS` is a typical NMC curve (3.0 V empty, 4.2 V full),
interpolated linearly (and held flat beyond its ends, so an over-driven state of charge
does not produce nonsense voltages).

The pack's temperature is one thermal node heated by the resistive losses and cooled to
the ambient, because temperature is what limits a battery in service:

.. math:: C_\text{th} \dot T = R_0 I^2 + v_1^2 / R_1 - (T - T_a)/R_\text{th}

>>> battery = battery_system().model()
>>> battery.set_state({"soc": 0.8})
>>> battery.set_inputs({"current": 50.0})  # 0.5 C discharge for one hour
>>> battery.advance(3600.0)
>>> out = battery.outputs()
>>> round(out["soc"], 3), round(out["voltage"], 2), round(out["power"], 2)
(0.3, 48.93, 2.45)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import FloatArray, OdeSystem

OCV_SOC = np.linspace(0.0, 1.0, 11)
"""State-of-charge points of the cell open-circuit voltage curve."""

OCV_VOLTS = np.array([3.00, 3.45, 3.55, 3.62, 3.68, 3.74, 3.82, 3.92, 4.00, 4.08, 4.20])
"""Cell open-circuit voltage (V) at :data:`OCV_SOC` (a typical NMC cell)."""

PARAMETERS = (
    Variable("capacity", 100.0, "Ah", "charge the pack holds from empty to full",
             min=0.01, max=1e6),
    Variable("series_cells", 14.0, "1", "cells in series (14 NMC cells: a 48 V pack)",
             min=1.0, max=1000.0),
    Variable("r0", 0.02, "Ω", "series resistance of the pack", min=0.0, max=100.0),
    Variable("r1", 0.015, "Ω", "resistance of the RC pair", min=1e-6, max=100.0),
    Variable("c1", 2000.0, "F", "capacitance of the RC pair", min=1e-3, max=1e8),
    Variable("coulombic_efficiency", 0.99, "1", "share of the charging charge stored",
             min=0.5, max=1.0),
    Variable("thermal_capacity", 40000.0, "J/K", "heat capacity of the pack",
             min=1.0, max=1e9),
    Variable("thermal_resistance", 0.5, "K/W", "pack to ambient", min=1e-4, max=100.0),
)  # fmt: skip

STATES = (
    Variable("soc", 0.5, "1", "state of charge, 0 empty to 1 full"),
    Variable("v1", 0.0, "V", "voltage across the RC pair"),
    Variable("temperature", 25.0, "°C", "pack temperature"),
)

INPUTS = (
    Variable(
        "current", 0.0, "A", "pack current, positive when discharging", min=-10000.0, max=10000.0
    ),
    Variable("ambient_temperature", 25.0, "°C", "air around the pack", min=-50.0, max=80.0),
)

OUTPUTS = (
    Variable("soc", unit="1", description="state of charge"),
    Variable("voltage", unit="V", description="terminal voltage"),
    Variable("ocv", unit="V", description="open-circuit voltage of the pack"),
    Variable("power", unit="kW", description="power delivered, positive when discharging"),
    Variable("temperature", unit="°C", description="pack temperature"),
)


def open_circuit_voltage(soc: Any, series_cells: Any = 1.0) -> Any:
    """The pack's open-circuit voltage (V) at state of charge ``soc``."""
    return series_cells * np.interp(soc, OCV_SOC, OCV_VOLTS)


def _rhs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    _, v1, temperature = x
    current, ambient = u
    capacity, _, r0, r1, c1, eta, c_th, r_th = p
    stored = np.where(current > 0.0, current, eta * current)
    return [
        -stored / (3600.0 * capacity),
        current / c1 - v1 / (r1 * c1),
        (r0 * current * current + v1 * v1 / r1 - (temperature - ambient) / r_th) / c_th,
    ]


def _outputs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    soc, v1, temperature = x
    current = u[0]
    ocv = open_circuit_voltage(soc, p[1])
    voltage = ocv - v1 - p[2] * current
    return soc, voltage, ocv, voltage * current / 1000.0, temperature


def battery_system(name: str = "battery") -> OdeSystem:
    """The battery model (see the module docstring for the equations)."""
    return OdeSystem(
        ModelDescription(
            name,
            parameters=PARAMETERS,
            states=STATES,
            inputs=INPUTS,
            outputs=OUTPUTS,
            description="battery pack: Thevenin equivalent circuit with one RC pair",
        ),
        rhs=_rhs,
        outputs=_outputs,
    )
