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

No sensor reports :math:`n_d`, so the model's ``steady_start`` says where it starts when a
fork or the live plant has read the inputs: :math:`n_d = r \min(n_s, n_\text{max})`.

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


class _Fixed:
    """What the parameters alone fix (kept while the parameter array is the same object),
    and the constants the equations use as arrays of a parameter row's shape: numpy
    multiplies two small arrays in about half the time it takes when one operand is a
    Python float, and a fleet's step is dozens of such operations."""

    def __init__(self, p: FloatArray) -> None:
        (rated, efficiency, fixed, n_sync, n_rated, c_w, c_h, r_wh, r_ha, life, t_ref, idle,
         v_new, v_worn, n_max, acceleration, response, v_fault, fault_loss,
         fault_wear) = p  # fmt: skip
        self.p = p
        self.rated_power = rated
        self.rated_losses = 1000.0 * rated * (1.0 / efficiency - 1.0)  # W at rated load
        self.fixed, self.free = fixed, 1.0 - fixed
        self.n_sync, self.slip = n_sync, 1.0 - n_rated / n_sync
        self.g_wh, self.g_ha = 1.0 / r_wh, 1.0 / r_ha  # thermal conductances, W/K
        self.inv_cw, self.inv_ch = 1.0 / c_w, 1.0 / c_h
        self.life_revolutions = 3600.0 * life * n_sync
        self.age_ref = _LN2_PER_10K * t_ref
        self.idle, self.busy = idle, 1.0 - idle
        self.v_new, self.v_span, self.v_fault = v_new, v_worn - v_new, v_fault
        self.n_max, self.inv_response = n_max, 1.0 / response
        self.acceleration, self.deceleration = acceleration, -acceleration
        self.fault_loss, self.fault_wear = fault_loss, fault_wear
        shape = np.shape(rated)
        self.zero, self.one = np.zeros(shape), np.ones(shape)
        self.kilo, self.ln2_per_10k = np.full(shape, 1000.0), np.full(shape, _LN2_PER_10K)


class _Operating:
    """What the inputs other than the load fix (running, ambient, set-point, fault): a
    co-simulation feeds the motor a new load every step and leaves these as they were, so
    they are kept while their values are the same."""

    def __init__(self, u: FloatArray, c: _Fixed) -> None:
        _, running, ambient, setpoint, fault = u
        self.u, self.fixed = u, c
        self.running, self.ambient = running, ambient
        # losses = running·(P_loss·(f·n/n_s + (1 − f)·L²) + F·c·n/n_s) = n·per_rpm + base
        full_losses = running * c.rated_losses
        self.per_rpm = (full_losses * c.fixed + running * c.fault_loss * fault) / c.n_sync
        self.full_free = full_losses * c.free
        self.fault_factor = 1.0 + c.fault_wear * fault  # a bearing fault's faster wear
        self.target = running * np.minimum(setpoint, c.n_max)
        self.fault_heat = c.fault_loss * fault
        self.fault_vibration = c.v_fault * fault


class _Held:
    """What the right-hand side and the outputs need of the held inputs and parameters,
    worked out once: an integrator holds both over a step (rk4 calls the right-hand side
    four times). The equations are the module docstring's, regrouped only so the held
    parts are computed once (a step of a fleet of motors is a few dozen numpy calls on
    small arrays, each costing about a microsecond whatever its size); what the load
    does not change comes from :class:`_Operating` and :class:`_Fixed`."""

    def __init__(self, u: FloatArray, p: FloatArray, operating: _Operating) -> None:
        c = operating.fixed
        load, running = u[0], operating.running
        self.u, self.p, self.operating, self.fixed = u, p, operating, c
        self.base = operating.full_free * load * load
        self.wear_per_rpm = (
            running
            * (c.idle + c.busy * load * load * load)
            * operating.fault_factor
            / c.life_revolutions
        )
        # for the outputs
        self.speed_factor = c.one - c.slip * load
        self.shaft_power = running * load * c.rated_power
        self.quadratic = c.free * load * load


_HELD: list[_Held | None] = [None]
"""The last inputs' and parameters' constants. The model replaces its input and parameter
arrays on every change rather than writing into them, so the same objects mean the same
values; swapped in whole, which keeps this safe between threads."""


def _held(u: FloatArray, p: FloatArray) -> _Held:
    held = _HELD[0]
    if held is not None and held.u is u and held.p is p:
        return held
    if held is None or held.p is not p:
        operating = _Operating(u, _Fixed(p))
    else:
        operating = held.operating
        if operating.u is not u and not (u[1:] == operating.u[1:]).all():
            operating = _Operating(u, operating.fixed)
    held = _HELD[0] = _Held(u, p, operating)
    return held


def _rhs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    winding, housing, drive = x[0], x[1], x[3]
    held = _held(u, p)
    c, operating = held.fixed, held.operating
    to_housing = (winding - housing) * c.g_wh
    ramp = (operating.target - drive) * c.inv_response
    return [
        (drive * operating.per_rpm + held.base - to_housing) * c.inv_cw,
        (to_housing - (housing - operating.ambient) * c.g_ha) * c.inv_ch,
        drive * held.wear_per_rpm * np.exp(c.ln2_per_10k * winding - c.age_ref),
        np.minimum(np.maximum(ramp, c.deceleration), c.acceleration),
    ]


def _outputs(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> tuple[Any, ...]:
    winding, housing, wear, drive = x
    held = _held(u, p)
    c, operating = held.fixed, held.operating
    zero = c.zero
    worn = np.minimum(np.maximum(wear, zero), c.one)
    fraction = drive / c.n_sync
    turning = drive >= c.one  # below 1 rpm a shaft encoder reads 0
    # P_loss = r·(P_rated(1/η − 1)·(a·f + (1 − a)·L²) + P_f·d·f), in W
    losses = operating.running * (
        c.rated_losses * (c.fixed * fraction + held.quadratic) + operating.fault_heat * fraction
    )
    vibration = fraction * (c.v_new + c.v_span * worn * worn + operating.fault_vibration)
    return (
        winding,
        housing,
        np.where(turning, vibration, zero),
        np.where(turning, drive * held.speed_factor, zero),
        held.shaft_power + losses / c.kilo,
        worn,
    )


def _steady_start(u: FloatArray, p: FloatArray) -> dict[str, Any]:
    """No sensor reports the drive's field speed, so a fork or the live plant starts it
    where the drive holds it for the inputs the twin reports: ``r·min(n_s, n_max)`` (0 for a
    stopped motor), not at 1500 rpm with a ramp reality never had."""
    return {"drive_speed": u[1] * np.minimum(u[3], p[14])}


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
        steady_start=_steady_start,
    )
