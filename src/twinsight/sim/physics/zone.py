r"""A building zone as a thermal RC network (2R2C): indoor air and building mass.

Two capacities, because a building has two speeds: the air (and furniture) follows the
heating within the hour, the walls and floors take days. The air node :math:`T_i`
(capacity :math:`C_i`) exchanges heat with the mass node :math:`T_m` (:math:`C_m`) through
:math:`R_{im}`; the mass loses it to outdoors :math:`T_o` through :math:`R_{mo}`. HVAC heat
and internal gains (people, appliances) go to the air; solar gains land on floors and
walls, so they go to the mass:

.. math::
    C_i \dot T_i = \Phi_\text{hvac} + \Phi_\text{int} - (T_i - T_m)/R_{im} \qquad
    C_m \dot T_m = \Phi_\text{sol} + (T_i - T_m)/R_{im} - (T_m - T_o)/R_{mo}

In steady state all heat leaves through :math:`R_{mo}`:
:math:`T_m = T_o + R_{mo}\,\Phi_\text{total}` and :math:`T_i = T_m + R_{im}(\Phi_\text{hvac} +
\Phi_\text{int})`.

The HVAC input is the thermal power delivered (positive heating, negative cooling, kW);
the electric power it costs is that divided by the coefficient of performance of the mode,
because the twin's question is usually the energy bill: :math:`P = \Phi_\text{hvac}/COP_h`
when heating, :math:`-\Phi_\text{hvac}/COP_c` when cooling.

>>> zone = zone_system().model()
>>> zone.set_inputs({"outdoor_temperature": 0.0, "hvac_heat": 1.5})
>>> zone.advance(30 * 24 * 3600.0)  # a month: the mass (tau ~ 2 days) has settled
>>> {k: round(v, 2) for k, v in zone.outputs().items()}
{'temperature': 18.0, 'mass_temperature': 15.0, 'hvac_power': 0.43}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import FloatArray, OdeSystem

PARAMETERS = (
    Variable("air_capacity", 2.0e6, "J/K", "indoor air and furniture", min=1.0, max=1e12),
    Variable("mass_capacity", 1.5e7, "J/K", "walls, floors and ceilings", min=1.0, max=1e13),
    Variable("air_mass_resistance", 0.002, "K/W", "indoor air to building mass",
             min=1e-7, max=10.0),
    Variable("mass_outdoor_resistance", 0.01, "K/W", "building mass to outdoors",
             min=1e-7, max=10.0),
    Variable("cop_heating", 3.5, "1", "heat delivered per electric energy, heating",
             min=0.1, max=10.0),
    Variable("cop_cooling", 3.0, "1", "heat removed per electric energy, cooling",
             min=0.1, max=10.0),
)  # fmt: skip

STATES = (
    Variable("temperature", 20.0, "°C", "indoor air temperature"),
    Variable("mass_temperature", 20.0, "°C", "building mass temperature"),
)

INPUTS = (
    Variable("outdoor_temperature", 10.0, "°C", "outdoor air", min=-60.0, max=60.0),
    Variable(
        "hvac_heat",
        0.0,
        "kW",
        "thermal power delivered: > 0 heating, < 0 cooling",
        min=-1000.0,
        max=1000.0,
    ),
    Variable("solar_gain", 0.0, "kW", "solar heat through the windows", min=0.0, max=1000.0),
    Variable("internal_gain", 0.0, "kW", "people, lights, appliances", min=0.0, max=1000.0),
)

OUTPUTS = (
    Variable("temperature", unit="°C", description="indoor air temperature"),
    Variable("mass_temperature", unit="°C", description="building mass temperature"),
    Variable("hvac_power", unit="kW", description="electric power of the HVAC"),
)


def _rhs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    air, mass = x
    outdoor, hvac, solar, internal = u
    c_i, c_m, r_im, r_mo = p[0], p[1], p[2], p[3]
    to_mass = (air - mass) / r_im
    return [
        (1000.0 * (hvac + internal) - to_mass) / c_i,
        (1000.0 * solar + to_mass - (mass - outdoor) / r_mo) / c_m,
    ]


def _outputs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    hvac = u[1]
    electric = np.where(hvac >= 0.0, hvac / p[4], -hvac / p[5])
    return x[0], x[1], electric


def zone_system(name: str = "zone") -> OdeSystem:
    """The zone model (see the module docstring for the equations)."""
    return OdeSystem(
        ModelDescription(
            name,
            parameters=PARAMETERS,
            states=STATES,
            inputs=INPUTS,
            outputs=OUTPUTS,
            description="building zone: 2R2C thermal network with HVAC and gains",
        ),
        rhs=_rhs,
        outputs=_outputs,
    )
