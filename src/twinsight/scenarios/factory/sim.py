"""How the factory is simulated: which physics model stands for which machine, how the
machines are coupled through the graph, and how their simulated devices publish.

Each line is a motor driving a pump that fills a tank (the conveyor is not simulated yet):

* the **motor** (``sim.physics.motor``) runs while its twin's ``state`` is ``running``,
  is loaded by the pump's shaft power, and heats, wears and shakes;
* the **pump** (``sim.physics.pump``) turns at the motor's speed (relationship
  ``drivenBy``) and delivers the flow its curve and the pipes allow;
* the **tank** (``sim.physics.tank``) fills from the pump (relationship ``feeds``) and
  drains through its outlet valve.

All twins of one DTDL model are simulated as one vectorised fleet, so a plant of hundreds
of machines steps in microseconds per machine. The devices publish the way the factory's
payload mapping (``mapping.yaml``) reads them, so simulated data travels the real path:
MQTT broker, connector, mapping, validation, twin, history.
"""

from __future__ import annotations

from collections.abc import Sequence

from twinsight.scenarios.factory.estimation import estimators
from twinsight.sim.binding import Coupling, ModelBinding
from twinsight.sim.devices import DeviceField, DeviceProfile
from twinsight.sim.model import SimulationModel
from twinsight.sim.physics.motor import motor_system
from twinsight.sim.physics.pump import pump_system
from twinsight.sim.physics.tank import tank_system
from twinsight.sim.spec import SimulationSpec

NS = "dtmi:twinsight:factory"
STEP = 60.0
"""Communication step, s: under the motor winding's (~150 s) and the pumps' drive ramp
(20 s, sub-stepped) time constants, and coarse enough to run a day in under a second."""
DEVICE_PERIOD = 5.0
"""s between two messages of one simulated device (when run live)."""
RATED_POWER = 15.0
"""kW of the factory's motors: the pump's shaft power divided by it is the motor's load."""

# Solver settings: fixed-step RK4 with sub-steps at or below each model's fastest time
# constant (pump drive ramp 20 s → 20 s; motor winding ~150 s → 60 s; tank ~30 min → 60 s).
MOTOR_STEP, PUMP_STEP, TANK_STEP = 60.0, 20.0, 60.0
PUMP_RAMP = 20.0
"""s: the factory's pumps sit on variable-speed drives that ramp over ~20 s, which is what
the flow follows (the water column itself answers in about a second)."""


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


CATALOG = {"motor": motor, "pump": pump, "tank": tank}
FLEETS = {"motor": motor_fleet, "pump": pump_fleet, "tank": tank_fleet}


def bindings(*, fleet: bool = True) -> tuple[ModelBinding, ...]:
    """The factory's bindings: every Motor, Pump and Tank twin gets its physics model."""
    return (
        ModelBinding(
            "motor",
            dtdl_model=f"{NS}:Motor;1",
            fleet=fleet,
            parameters={"rated_power": "ratedPower"},
            states={
                "winding_temperature": "telemetry:windingTemperature",
                "wear": "bearing.wear",
            },
            inputs={"running": "state"},
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
            values={"response_time": PUMP_RAMP},
            outputs={"flow": "telemetry:flow"},
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


COUPLINGS = (
    # A pump is driven by its motor: the motor's speed turns the pump ...
    Coupling("drivenBy", "pump", "motor", output="speed", input="speed", reverse=True),
    # ... and the pump's shaft power loads the motor (as a fraction of its rating).
    Coupling("drivenBy", "pump", "motor", output="shaft_power", input="load", gain=1 / RATED_POWER),
    # A pump feeds its tank.
    Coupling("feeds", "pump", "tank", output="flow", input="inflow"),
)

DEVICES = (
    DeviceProfile(
        model="motor",
        twin="{line}-motor",
        topic="factory/{line}/motor/telemetry",
        fields=(
            DeviceField("temperature", "temperature", unit="degreeCelsius", noise=0.3, digits=2),
            DeviceField("speed", "speed", unit="revolutionPerMinute", noise=2.0, digits=1),
            DeviceField("vibration", "vibration", unit="mm/s", noise=0.05, digits=3),
        ),
        every=DEVICE_PERIOD,
    ),
    DeviceProfile(
        model="pump",
        twin="{line}-pump",
        topic="factory/{line}/pump/telemetry",
        fields=(DeviceField("flow", "flow", unit="cubicMetrePerHour", noise=0.5, digits=2),),
        every=DEVICE_PERIOD,
    ),
    DeviceProfile(
        model="tank",
        twin="{line}-tank",
        topic="factory/{line}/tank/telemetry",
        fields=(DeviceField("level", "level", unit="metre", noise=0.005, digits=3),),
        every=DEVICE_PERIOD,
    ),
)


def simulation_spec(*, fleet: bool = True, step: float = STEP) -> SimulationSpec:
    """The factory's :class:`SimulationSpec` (fleets by default; ``fleet=False`` gives one
    model per twin, the same physics, for checking one against the other)."""
    return SimulationSpec(
        catalog=CATALOG,
        fleets=FLEETS,
        bindings=bindings(fleet=fleet),
        couplings=COUPLINGS,
        step=step,
        devices=DEVICES,
        estimators=estimators(),  # virtual sensors: see estimation.py
        description="factory lines: motor → pump → tank, physics models, MQTT devices",
        record=("temperature", "speed", "wear", "flow", "level"),
    )
