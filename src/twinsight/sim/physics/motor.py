r"""An induction motor as a twin needs it: how hot, how worn, how much it shakes and draws.

Not an electromagnetic model (a twin never sees the currents' phase), but the slow physics
that maintenance cares about, each part the simplest that still behaves right:

**Losses.** At load fraction :math:`L` the motor loses a constant part (iron, friction) and a
part growing with the square of the current (copper), scaled so rated load gives the rated
efficiency :math:`\eta`:

.. math:: P_\text{loss} = r\,P_\text{rated}\,(1/\eta - 1)\,(a f + (1 - a) L^2) + r P_f d

where :math:`r` is 1 when running and 0 when stopped, :math:`a` the no-load loss fraction,
:math:`f` the speed fraction and :math:`P_f d` a bearing fault's friction (see below).

**Two-node thermal network.** All losses heat the winding (capacity :math:`C_w`), which
passes heat to the housing through :math:`R_{wh}`; the housing (capacity :math:`C_h`) loses it
to the ambient :math:`T_a` through :math:`R_{ha}`. Two nodes, because the winding reacts in
minutes and the housing in an hour, and a single node cannot show both:

.. math::
    C_w \dot T_w = P_\text{loss} - (T_w - T_h)/R_{wh} \qquad
    C_h \dot T_h = (T_w - T_h)/R_{wh} - (T_h - T_a)/R_{ha}

so in steady state :math:`T_w = T_a + P_\text{loss}(R_{wh} + R_{ha})`.

**Wear** is the fraction of rated life consumed (Miner's rule). Bearings wear with the cube
of the load (the L10 life law) and insulation ages twice as fast per 10 K (an Arrhenius-like
rule of thumb), so a hot, loaded motor wears faster:

.. math:: \dot w = \frac{r f}{3600\,\text{life}}\,(b + (1 - b) L^3)\,2^{(T_w - T_\text{ref})/10}
    \,(1 + k_f d)

It may pass 1 (the motor outlives its rated life); the ``wear`` output is clipped to 0..1.

**Vibration** (RMS velocity, mm/s, as ISO 10816 grades it) rises with the square of wear,
slowly at first and then fast, from :math:`v_0` new to :math:`v_1` worn out:
:math:`v = f\,(v_0 + (v_1 - v_0)\,\min(w, 1)^2 + v_f d)` while the shaft turns.

**Speed.** The motor sits on a variable-speed drive. The drive's output speed :math:`n_d`
(the field's synchronous speed) follows the set-point :math:`n_s` while the motor runs, and
0 when it is stopped, limited to :math:`n_\text{max}`: it ramps at most at the drive's
acceleration :math:`\alpha` (rpm/s) and settles with the speed loop's time constant
:math:`\tau_n`:

.. math:: \dot n_d = \operatorname{clip}\bigl((r \min(n_s, n_\text{max}) - n_d)/\tau_n,
    -\alpha, \alpha\bigr)

The shaft turns slower than the field by the slip, which grows with the load:
:math:`n = n_d (1 - \sigma L)` with :math:`\sigma = 1 - n_\text{rated}/n_\text{sync}`;
below 1 rpm the shaft reads 0. The no-load losses and the wear scale with the speed
fraction :math:`f = n_d/n_\text{sync}` (friction and iron losses grow with speed; bearing
life is counted in revolutions), vibration too. At the default set-point (the synchronous
speed) :math:`f = 1` and the equations above hold as written.

**Bearing fault.** The ``bearing_fault`` input (0 healthy … 1 fully developed spalling)
is how a fault is injected: it adds vibration :math:`v_f` and friction heat :math:`P_f` in
proportion to its severity :math:`d`, and makes the bearing wear :math:`1 + k_f d` times
faster, which is what a vibration and temperature monitor sees of a failing bearing.

The **power** drawn is the shaft power plus the losses.

>>> model = motor_system().model()
>>> model.set_inputs({"load": 1.0, "running": 1.0, "ambient_temperature": 25.0})
>>> model.advance(20 * 3600.0)  # long enough for the housing (tau ~ 35 min) to settle
>>> outputs = model.outputs()
>>> round(outputs["temperature"], 1), round(outputs["speed"]), round(outputs["power"], 2)
(103.3, 1460, 16.3)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import FloatArray, OdeSystem

PARAMETERS = (
    Variable("rated_power", 15.0, "kW", "shaft power at rated load", min=0.1, max=10000.0),
    Variable("efficiency", 0.92, "1", "efficiency at rated load", min=0.5, max=0.995),
    Variable("no_load_loss_fraction", 0.3, "1", "share of rated losses that do not depend on "
             "load (iron, friction)", min=0.0, max=1.0),
    Variable("synchronous_speed", 1500.0, "rpm", "speed at no load", min=1.0, max=10000.0),
    Variable("rated_speed", 1460.0, "rpm", "speed at rated load", min=1.0, max=10000.0),
    Variable("winding_capacity", 6000.0, "J/K", "heat capacity of the winding",
             min=1.0, max=1e8),
    Variable("housing_capacity", 60000.0, "J/K", "heat capacity of the housing",
             min=1.0, max=1e9),
    Variable("winding_resistance", 0.025, "K/W", "thermal resistance winding to housing",
             min=1e-6, max=10.0),
    Variable("housing_resistance", 0.035, "K/W", "thermal resistance housing to ambient",
             min=1e-6, max=10.0),
    Variable("rated_life", 40000.0, "h", "life at rated load and reference temperature",
             min=1e-3, max=1e7),
    Variable("reference_temperature", 100.0, "°C", "winding temperature at which life is "
             "the rated life", min=-50.0, max=250.0),
    Variable("idle_wear_fraction", 0.1, "1", "wear rate running unloaded, as a share of "
             "the rated-load rate", min=0.0, max=1.0),
    Variable("vibration_new", 0.8, "mm/s", "vibration RMS of a new motor", min=0.0,
             max=100.0),
    Variable("vibration_worn", 7.1, "mm/s", "vibration RMS at the end of life", min=0.0,
             max=100.0),
    Variable("max_speed", 1800.0, "rpm", "highest drive speed (field weakening above the "
             "synchronous speed)", min=1.0, max=20000.0),
    Variable("acceleration", 30.0, "rpm/s", "fastest the drive ramps its speed",
             min=0.01, max=1e5),
    Variable("speed_response", 25.0, "s", "time constant of the drive's speed loop near the "
             "set-point", min=0.1, max=3600.0),
    Variable("fault_vibration", 8.0, "mm/s", "extra vibration RMS of a fully developed "
             "bearing fault", min=0.0, max=100.0),
    Variable("fault_loss", 400.0, "W", "extra friction heat of a fully developed bearing "
             "fault", min=0.0, max=1e6),
    Variable("fault_wear_factor", 10.0, "1", "extra wear rate of a fully developed bearing "
             "fault, as a multiple of the healthy rate", min=0.0, max=1000.0),
)  # fmt: skip

STATES = (
    Variable("winding_temperature", 25.0, "°C", "winding temperature"),
    Variable("housing_temperature", 25.0, "°C", "housing temperature"),
    Variable("wear", 0.0, "1", "fraction of rated life consumed (may exceed 1)", min=0.0),
    Variable("drive_speed", 1500.0, "rpm", "speed the drive turns the field at"),
)

INPUTS = (
    Variable("load", 0.0, "1", "shaft load as a fraction of rated power", min=0.0, max=1.2),
    Variable("running", 1.0, "1", "1 when switched on, 0 when off", min=0.0, max=1.0),
    Variable("ambient_temperature", 25.0, "°C", "air around the motor", min=-50.0, max=80.0),
    Variable("speed_setpoint", 1500.0, "rpm", "speed the drive is told to run at",
             min=0.0, max=20000.0),
    Variable("bearing_fault", 0.0, "1", "severity of a bearing fault, 0 healthy to 1 fully "
             "developed", min=0.0, max=1.0),
)  # fmt: skip

OUTPUTS = (
    Variable("temperature", unit="°C", description="winding temperature"),
    Variable("housing_temperature", unit="°C", description="housing temperature"),
    Variable("vibration", unit="mm/s", description="vibration velocity RMS"),
    Variable("speed", unit="rpm", description="shaft speed"),
    Variable("power", unit="kW", description="electric power drawn"),
    Variable("wear", unit="1", description="fraction of rated life consumed, 0..1"),
)

_LN2_PER_10K = math.log(2.0) / 10.0


def _losses(load: Any, running: Any, fraction: Any, fault: Any, p: FloatArray) -> Any:
    """Heat lost inside the motor, in W."""
    rated_power, efficiency, fixed = p[0], p[1], p[2]
    return running * (
        1000.0
        * rated_power
        * (1.0 / efficiency - 1.0)
        * (fixed * fraction + (1.0 - fixed) * load * load)
        + p[18] * fault * fraction
    )


_HELD: list[tuple[object, object, tuple[Any, ...]]] = [(None, None, ())]
"""The last (inputs, parameters, step constants). Over a step the integrator holds the
inputs and parameters, so everything built from them alone is worked out once and the
right-hand side (four calls an rk4 step) is left with what the state changes. The model
replaces its input and parameter arrays on every change rather than writing into them, so
the same objects mean the same values; one tuple swapped in whole keeps this thread-safe."""


def _step_constants(u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    held_u, held_p, constants = _HELD[0]
    if held_u is u and held_p is p:
        return constants
    load, running, ambient, setpoint, fault = u
    (rated, efficiency, fixed, n_sync, _, c_w, c_h, r_wh, r_ha, life, t_ref, idle, _, _,
     n_max, acceleration, response, _, fault_loss, fault_wear) = p  # fmt: skip
    # losses = running·(P_loss·(f·n/n_s + (1 − f)·L²) + F·c·n/n_s) = n·per_rpm + base
    full_losses = running * 1000.0 * rated * (1.0 / efficiency - 1.0)
    per_rpm = (full_losses * fixed + running * fault_loss * fault) / n_sync
    base = full_losses * (1.0 - fixed) * load * load
    wear_per_rpm = (
        running
        * (idle + (1.0 - idle) * load * load * load)
        * (1.0 + fault_wear * fault)
        / (3600.0 * life * n_sync)
    )
    constants = (
        per_rpm, base, 1.0 / r_wh, 1.0 / c_w, 1.0 / c_h, 1.0 / r_ha, ambient,
        wear_per_rpm, _LN2_PER_10K * t_ref, running * np.minimum(setpoint, n_max),
        1.0 / response, acceleration,
    )  # fmt: skip
    _HELD[0] = (u, p, constants)
    return constants


def _rhs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    winding, housing, _, drive = x
    (per_rpm, base, g_wh, inv_cw, inv_ch, g_ha, ambient, wear_per_rpm, age_ref, target,
     inv_response, acceleration) = _step_constants(u, p)  # fmt: skip
    to_housing = (winding - housing) * g_wh
    ramp = (target - drive) * inv_response
    return [
        (drive * per_rpm + base - to_housing) * inv_cw,
        (to_housing - (housing - ambient) * g_ha) * inv_ch,
        drive * wear_per_rpm * np.exp(_LN2_PER_10K * winding - age_ref),
        np.minimum(np.maximum(ramp, -acceleration), acceleration),
    ]


def _outputs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    winding, housing, wear, drive = x
    load, running, _, _, fault = u
    rated_power, n_sync, n_rated, v_new, v_worn, v_fault = p[0], p[3], p[4], p[12], p[13], p[17]
    worn = np.clip(wear, 0.0, 1.0)
    fraction = drive / n_sync
    turning = drive >= 1.0  # below 1 rpm a shaft encoder reads 0
    return (
        winding,
        housing,
        np.where(
            turning, fraction * (v_new + (v_worn - v_new) * worn * worn + v_fault * fault), 0.0
        ),
        np.where(turning, drive * (1.0 - (1.0 - n_rated / n_sync) * load), 0.0),
        running * load * rated_power + _losses(load, running, fraction, fault, p) / 1000.0,
        worn,
    )


def motor_system(name: str = "motor") -> OdeSystem:
    """The motor model (see the module docstring for the equations)."""
    return OdeSystem(
        ModelDescription(
            name,
            parameters=PARAMETERS,
            states=STATES,
            inputs=INPUTS,
            outputs=OUTPUTS,
            description="electric motor: two-node thermal network, wear and vibration",
        ),
        rhs=_rhs,
        outputs=_outputs,
    )
