"""How the factory is simulated: which model stands for which machine, how the machines
are coupled through the graph, and how their simulated devices publish.

Each line is a conveyor and a motor driving a pump that fills a tank:

* the **conveyor** (``sim.des.ConveyorLine``, with ``conveyors=True`` or ``"des"``) is a
  discrete-event line of two stations fed by a belt that runs at its twin's ``beltSpeed``
  while its ``state`` is ``running``: what it makes follows the belt, less breakdowns and
  scrap; with ``conveyors="flow"`` the same line as a mean-value flow model
  (``sim.des.flow``), all conveyors one vectorised fleet, for bulk runs;
* the **motor** (``sim.physics.motor``) runs while its twin's ``state`` is ``running``, its
  drive ramping to the twin's ``speedSetpoint``; it is loaded by the pump's shaft power,
  and heats, wears and shakes;
* the **pump** (``sim.physics.pump``) turns at the motor's speed (relationship
  ``drivenBy``) and delivers the flow its curve and the pipes allow;
* the **tank** (``sim.physics.tank``) fills from the pump (relationship ``feeds``) and
  drains through its outlet valve.

All motors, pumps and tanks of the plant are simulated as one vectorised fleet per DTDL
model, so a plant of hundreds of machines steps in microseconds per machine. The conveyors
are left out unless asked for: ``simulation_spec(conveyors=True)`` gives each one its
discrete-event line (one SimPy model per twin, what the demo runs live: individual
breakdowns, blocked and starved stations), ``conveyors="flow"`` the flow model as a fleet
(average throughput, parts and scrap; the whole plant then runs as fleets, so a
Monte-Carlo sweep can lay it side by side as replicas).

The devices publish the way the factory's payload mapping (``mapping.yaml``) reads them,
so simulated data travels the real path: MQTT broker, connector, mapping, validation,
twin, history. Faults the demo injects now and then are declared in ``faults.py``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from twinsight.core.errors import SimulationError
from twinsight.scenarios.factory.estimation import estimators
from twinsight.sim.binding import Coupling, ModelBinding
from twinsight.sim.des.conveyor import ConveyorLine
from twinsight.sim.des.flow import conveyor_flow_system
from twinsight.sim.devices import DeviceField, DeviceProfile
from twinsight.sim.model import SimulationModel
from twinsight.sim.physics.motor import motor_system
from twinsight.sim.physics.pump import pump_system
from twinsight.sim.physics.tank import tank_system
from twinsight.sim.spec import SimulationSpec

NS = "dtmi:twinsight:factory"
STEP = 60.0
"""Communication step, s: under the motor winding's (~150 s) time constant (the pumps'
flow, 10 s, is solved in closed form; see the solver settings for the drives' 25-s speed
loops), and coarse enough to run a day in under a second."""
DEVICE_PERIOD = 5.0
"""s between two messages of one simulated device (when run live)."""
RATED_POWER = 15.0
"""kW of the factory's motors: the pump's shaft power divided by it is the motor's load."""

# Solver settings: fixed-step RK4 with sub-steps short enough for each model's fastest time
# constant (RK4 is stable up to 2.8 time constants a step): the motor drive's speed loop
# (25 s) and winding (~150 s) → 60 s; the tank (~30 min) → 60 s. The pump's flow (a 10-s
# lag towards the operating point its held speed fixes) has a closed form that every solver
# takes (``OdeSystem.exact``), so it needs no sub-steps at all. At 60 s a step the speed
# loop is integrated stably and without overshoot, but slower than it is: a 60-s what-if
# run sees a stopped motor coast to 0 rpm in about ten minutes rather than two (its pump
# stops delivering within two either way). Live steps (5 s) are accurate; a 30-s sub-step
# would be too, at twice the motors' cost in bulk runs.
MOTOR_STEP, PUMP_STEP, TANK_STEP = 60.0, 60.0, 60.0
PUMP_RESPONSE = 10.0
"""s: how fast a pump's flow follows its speed. The water column answers in a second or
two; no device that reports every 5 s can tell 10 s from that (the motor's drive ramps the
speed itself), and the value is kept from when the flow was sub-stepped by RK4."""
CONVEYOR_STATIONS = 2
"""Stations along each conveyor (say, a filler and a packer)."""


def motor(twin_id: str) -> SimulationModel:
    return motor_system().model(twin_id, solver="rk4", max_step=MOTOR_STEP)


def pump(twin_id: str) -> SimulationModel:
    return pump_system().model(twin_id, solver="rk4", max_step=PUMP_STEP)


def tank(twin_id: str) -> SimulationModel:
    return tank_system().model(twin_id, solver="rk4", max_step=TANK_STEP)


def motor_fleet(twin_ids: Sequence[str]) -> SimulationModel:
    return motor_system().fleet(twin_ids, name="motors", solver="rk4", max_step=MOTOR_STEP)


def pump_fleet(twin_ids: Sequence[str]) -> SimulationModel:
    return pump_system().fleet(twin_ids, name="pumps", solver="rk4", max_step=PUMP_STEP)


def tank_fleet(twin_ids: Sequence[str]) -> SimulationModel:
    return tank_system().fleet(twin_ids, name="tanks", solver="rk4", max_step=TANK_STEP)


def conveyor(twin_id: str) -> SimulationModel:
    """A conveyor line whose random streams are its own: seeded from its twin id, so two
    lines do not break down at the same moments."""
    seed = float(zlib.crc32(twin_id.encode()))
    return ConveyorLine(twin_id, CONVEYOR_STATIONS, parameters={"seed": seed})


def conveyor_flow(twin_id: str) -> SimulationModel:
    """A conveyor's flow model on its own (the same equations as in a fleet)."""
    return conveyor_flow_system(twin_id, CONVEYOR_STATIONS).model(solver="rk4")


def conveyor_flow_fleet(twin_ids: Sequence[str]) -> SimulationModel:
    """Every conveyor's flow model as one numpy system (each step in closed form)."""
    system = conveyor_flow_system("conveyor", CONVEYOR_STATIONS)
    return system.fleet(twin_ids, name="conveyors", solver="rk4")


CATALOG = {
    "motor": motor,
    "pump": pump,
    "tank": tank,
    "conveyor": conveyor,
    "conveyor-flow": conveyor_flow,
}
FLEETS = {
    "motor": motor_fleet,
    "pump": pump_fleet,
    "tank": tank_fleet,
    "conveyor-flow": conveyor_flow_fleet,
}
ConveyorChoice = bool | Literal["des", "flow"]
"""How :func:`simulation_spec` simulates the conveyors: ``False`` not at all, ``True`` or
``"des"`` one discrete-event line per twin, ``"flow"`` the flow model as a fleet."""


CONVEYOR_BINDING = ModelBinding(
    "conveyor",
    dtdl_model=f"{NS}:Conveyor;1",
    inputs={"belt_speed_setpoint": "beltSpeed", "running": "state"},
    # Never stops for a shift (a process plant); parts move in lots of 5 to keep counters
    # smooth; the packer is a little slower than the belt brings parts at 1 m/s.
    values={"shift_hours": 24.0, "lot_size": 5.0, "m1.rate": 16.0, "m2.rate": 14.0},
    outputs={
        "speed": "telemetry:speed",
        "produced": "telemetry:partsProduced",
        "throughput": "telemetry:throughput",
        "wip": "telemetry:partsOnBelt",
        "status": "telemetry:status",
    },
)
"""Every Conveyor twin gets its discrete-event line (one model per twin)."""


def bindings(*, fleet: bool = True, conveyors: ConveyorChoice = False) -> tuple[ModelBinding, ...]:
    """The factory's bindings: every Motor, Pump and Tank twin gets its physics model (and
    every Conveyor its line, with ``conveyors``: see :data:`ConveyorChoice`)."""
    line = _conveyor_binding(conveyors, fleet)
    physics = (
        ModelBinding(
            "motor",
            dtdl_model=f"{NS}:Motor;1",
            fleet=fleet,
            parameters={"rated_power": "ratedPower"},
            states={
                "winding_temperature": "telemetry:windingTemperature",
                "wear": "bearing.wear",
            },
            inputs={"running": "state", "speed_setpoint": "speedSetpoint"},
            outputs={
                "temperature": "telemetry:windingTemperature",
                "speed": "telemetry:speed",
                "vibration": "telemetry:vibration",
            },
        ),
        ModelBinding(
            "pump",
            dtdl_model=f"{NS}:Pump;1",
            fleet=fleet,
            values={"response_time": PUMP_RESPONSE},
            # a fork (what-if) starts at the flow last reported, not from a standstill
            states={"flow": "telemetry:flow"},
            outputs={"flow": "telemetry:flow", "pressure": "telemetry:dischargePressure"},
        ),
        ModelBinding(
            "tank",
            dtdl_model=f"{NS}:Tank;1",
            fleet=fleet,
            states={"level": "telemetry:level"},
            # An outlet a little bigger than the default keeps the level (≈ 2.8 m at the
            # pump's ~100 m³/h) under the tanks' 3.5 m high alarm until something changes.
            values={"valve_coefficient": 60.0},
            outputs={"level": "telemetry:level"},
        ),
    )
    return physics if line is None else (*physics, line)


def _conveyor_binding(conveyors: ConveyorChoice, fleet: bool) -> ModelBinding | None:
    if conveyors is False:
        return None
    if conveyors is True or conveyors == "des":
        return CONVEYOR_BINDING
    if conveyors == "flow":
        return replace(CONVEYOR_BINDING, model="conveyor-flow", fleet=fleet)
    raise SimulationError(
        f"conveyors must be False, True, 'des' or 'flow', not {conveyors!r}",
        model="factory",
    )


COUPLINGS = (
    # A pump is driven by its motor: the motor's speed turns the pump ...
    Coupling("drivenBy", "pump", "motor", output="speed", input="speed", reverse=True),
    # ... and the pump's shaft power loads the motor (as a fraction of its rating).
    Coupling("drivenBy", "pump", "motor", output="shaft_power", input="load", gain=1 / RATED_POWER),
    # A pump feeds its tank.
    Coupling("feeds", "pump", "tank", output="flow", input="inflow"),
)

# Sensor noise (one standard deviation, clipped at four) as the transmitters of such a
# plant have it: a PT100 on the winding ±0.3 K, an encoder ±2 rpm, an accelerometer
# ±0.05 mm/s, a magnetic flow meter ±0.5 % of its 100 m³/h, a pressure transmitter ±1 kPa,
# a radar level gauge ±5 mm, a belt-speed encoder ±5 mm/s. Counters and status codes are
# exact. Readings stay inside each sensor's range (nothing reads below 0).
POSITIVE = (0.0, float("inf"))
DEVICES: tuple[DeviceProfile, ...] = (
    DeviceProfile(
        model="motor",
        twin="{line}-motor",
        topic="factory/{line}/motor/telemetry",
        fields=(
            DeviceField("temperature", "temperature", unit="degreeCelsius", noise=0.3, digits=2),
            DeviceField(
                "speed", "speed", unit="revolutionPerMinute", noise=2.0, digits=1, range=POSITIVE
            ),
            DeviceField(
                "vibration", "vibration", unit="mm/s", noise=0.05, digits=3, range=POSITIVE
            ),
        ),
        every=DEVICE_PERIOD,
    ),
    DeviceProfile(
        model="pump",
        twin="{line}-pump",
        topic="factory/{line}/pump/telemetry",
        fields=(
            DeviceField(
                "flow", "flow", unit="cubicMetrePerHour", noise=0.5, digits=2, range=POSITIVE
            ),
            DeviceField(
                "pressure", "pressure", unit="kilopascal", noise=1.0, digits=1, range=POSITIVE
            ),
        ),
        every=DEVICE_PERIOD,
    ),
    DeviceProfile(
        model="tank",
        twin="{line}-tank",
        topic="factory/{line}/tank/telemetry",
        fields=(
            DeviceField("level", "level", unit="metre", noise=0.005, digits=3, range=POSITIVE),
        ),
        every=DEVICE_PERIOD,
    ),
    DeviceProfile(
        model="conveyor",
        twin="{line}-conveyor",
        topic="factory/{line}/conveyor/telemetry",
        fields=(
            DeviceField("speed", "speed", unit="m/s", noise=0.005, digits=3, range=POSITIVE),
            DeviceField("parts", "wip", digits=0),
            DeviceField("produced", "produced", digits=0),
            DeviceField("throughput", "throughput", digits=1),
            DeviceField("status", "status", digits=0),
        ),
        every=DEVICE_PERIOD,
    ),
)
DEVICES += (replace(DEVICES[-1], model="conveyor-flow"),)
"""A flow-model conveyor reports like a discrete-event one (same outputs, same topic)."""


def simulation_spec(
    *, fleet: bool = True, step: float = STEP, conveyors: ConveyorChoice = False
) -> SimulationSpec:
    """The factory's :class:`SimulationSpec`: motors, pumps and tanks (fleets by default;
    ``fleet=False`` gives one model per twin, the same physics, for checking one against
    the other), and with ``conveyors`` the conveyors too: ``True``/``"des"`` their
    discrete-event lines (the live demo), ``"flow"`` their flow model (bulk runs)."""
    chosen = bindings(fleet=fleet, conveyors=conveyors)
    chain = "motor → pump → tank"
    if conveyors is not False:
        chain = ("conveyor flow; " if conveyors == "flow" else "conveyor line; ") + chain
    return SimulationSpec(
        catalog=CATALOG,
        fleets=FLEETS,
        bindings=chosen,
        couplings=COUPLINGS,
        step=step,
        devices=DEVICES,
        estimators=estimators(),  # virtual sensors: see estimation.py
        description=f"factory lines: {chain}, simulated models, MQTT devices",
        record=("temperature", "speed", "wear", "flow", "level", "throughput")
        if conveyors
        else ("temperature", "speed", "wear", "flow", "level"),
    )
