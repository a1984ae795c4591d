"""Models bound to twins: built from the factory graph, coupled through relationships, fed
from twin values (now or in the past), run live on a controlled clock, and publishing as
virtual devices."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.core.errors import SimulationError
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.sim.binding import (
    Coupling,
    GraphValues,
    ModelBinding,
    SimulationBuilder,
    TwinValue,
)
from twinsight.sim.devices import DeviceField, DeviceProfile, VirtualDevices
from twinsight.sim.functions import FunctionModel
from twinsight.sim.live import LiveSimulation, TwinWriter
from twinsight.sim.model import ModelDescription, SimulationModel, Variable

MOTOR = "dtmi:twinsight:factory:Motor;1"
PUMP = "dtmi:twinsight:factory:Pump;1"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _motor(name: str) -> SimulationModel:
    """Speed follows the setpoint at once; temperature (kelvin!) relaxes towards
    ambient + 2 K per kW of rated power, with a 100 s time constant (explicit Euler)."""
    description = ModelDescription(
        name,
        parameters=(Variable("ratedPower", 10.0, unit="kilowatt", min=0.1, max=1000.0),),
        states=(Variable("temperature", 300.0, unit="kelvin"),),
        inputs=(Variable("setpoint", 0.0, unit="revolutionPerMinute"),),
        outputs=(
            Variable("temperature", unit="kelvin"),
            Variable("speed", unit="revolutionPerMinute"),
        ),
    )

    def step(
        t: float, dt: float, x: Mapping[str, float], u: Mapping[str, float], p: Mapping[str, float]
    ) -> dict[str, float]:
        target = 293.15 + 2.0 * p["ratedPower"] * (u["setpoint"] > 0)
        return {"temperature": x["temperature"] + dt / 100.0 * (target - x["temperature"])}

    return FunctionModel(
        description,
        lambda t, u, v: {"temperature": v["temperature"], "speed": u["setpoint"]},
        step,
    )


def _pump(name: str) -> SimulationModel:
    """Flow proportional to speed: 0.02 m³/h per rpm."""
    return FunctionModel.from_function(
        name, lambda t, u, v: {"flow": 0.02 * u["speed"]}, inputs={"speed": 0.0}, outputs=("flow",)
    )


CATALOG = {"motor": _motor, "pump": _pump}
BINDINGS = [
    ModelBinding(
        "motor",
        dtdl_model=MOTOR,
        parameters={"ratedPower": "ratedPower"},
        states={"temperature": "telemetry:windingTemperature"},
        inputs={"setpoint": "speedSetpoint"},
        outputs={"temperature": "telemetry:windingTemperature", "speed": "telemetry:speed"},
    ),
    ModelBinding("pump", dtdl_model=PUMP, outputs={"flow": "telemetry:flow"}),
]
COUPLINGS = [Coupling("drivenBy", "pump", "motor", output="speed", input="speed", reverse=True)]


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        yield hub


def _builder(hub: Hub) -> SimulationBuilder:
    return SimulationBuilder(hub.twins, CATALOG, GraphValues(hub.twins, hub.history))


def test_a_dtdl_model_binding_simulates_every_twin_of_that_model_coupled_through_the_graph(
    hub: Hub,
) -> None:
    sim = _builder(hub).build(BINDINGS, COUPLINGS)
    assert set(sim.members) == {"line-1-motor", "line-2-motor", "line-1-pump", "line-2-pump"}
    wires = {str(c) for c in sim.cosim.connections}
    assert wires == {
        "line-1-motor.speed → line-1-pump.speed",
        "line-2-motor.speed → line-2-pump.speed",
    }
    # The motor advances before the pump it drives.
    order = sim.cosim.order
    assert order.index("line-1-motor") < order.index("line-1-pump")
    # Parameters come from the twins: the factory's motors are rated 15 kW.
    assert sim.members["line-1-motor"].parameters()["ratedPower"] == 15.0
    # The pump's speed comes from its motor, not from a twin value.
    assert [(r.member, r.variable) for r in sim.inputs] == [
        ("line-1-motor", "setpoint"),
        ("line-2-motor", "setpoint"),
    ]


def test_a_twin_binding_beats_a_model_binding_and_a_subgraph_can_be_chosen(hub: Hub) -> None:
    special = ModelBinding("motor", twin="line-2-motor", values={"ratedPower": 50.0})
    sim = _builder(hub).build(
        [*BINDINGS, special], COUPLINGS, twins=["line-2-motor", "line-2-pump"]
    )
    assert set(sim.members) == {"line-2-motor", "line-2-pump"}
    assert sim.members["line-2-motor"].parameters()["ratedPower"] == 50.0


def test_states_start_from_the_live_value_converted_into_the_models_unit(hub: Hub) -> None:
    hub.history.append(
        [
            HistoryPoint("line-1-motor", "windingTemperature", "telemetry", T0, 40.0),
            HistoryPoint(
                "line-1-motor", "windingTemperature", "telemetry", T0 + timedelta(hours=1), 60.0
            ),
        ]
    )
    builder = _builder(hub)
    now = builder.build(BINDINGS, COUPLINGS)
    assert now.members["line-1-motor"].state()["temperature"] == pytest.approx(333.15)
    # Forked at a past time, the state is the value recorded then.
    past = builder.build(BINDINGS, COUPLINGS, at=T0 + timedelta(minutes=30))
    assert past.members["line-1-motor"].state()["temperature"] == pytest.approx(313.15)
    # Where nothing was recorded, the model's default stays and a note says so.
    assert now.members["line-2-motor"].state()["temperature"] == 300.0
    assert any("line-2-motor: no value for state temperature" in n for n in now.notes)


def test_live_simulation_reads_inputs_writes_telemetry_and_follows_the_clock(hub: Hub) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    sim = _builder(hub).build(BINDINGS, COUPLINGS)
    live = LiveSimulation(sim, hub.twins, clock, step=1.0, writers=[TwinWriter(hub.twins)])
    clock.advance(10.0)
    assert live.catch_up() == 10
    assert live.time == T0 + timedelta(seconds=10)
    hub.recorder.flush()
    flows = hub.history.range("line-1-pump/flow", limit=100)
    assert len(flows) == 10
    assert flows[0].value == pytest.approx(0.02 * 1480.0)  # the motor's speedSetpoint
    temps = hub.history.range("line-1-motor/windingTemperature", limit=100)
    assert temps[-1].time == T0 + timedelta(seconds=10)
    assert 26.85 < temps[-1].value < 293.15 - 273.15 + 30.0  # heating, in °C on the twin
    # An operator stops the motor: the next steps see it.
    hub.twins.patch_twin(
        "line-1-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 0.0}]
    )
    clock.advance(2.0)
    live.catch_up()
    hub.recorder.flush()
    assert hub.history.range("line-1-pump/flow", limit=100)[-1].value == 0.0


def test_a_failing_model_stops_its_simulation_only(hub: Hub) -> None:
    def broken(name: str) -> SimulationModel:
        def step(t: float, dt: float, x: object, u: object, p: object) -> dict[str, float]:
            raise OverflowError("bearing seized")

        return FunctionModel.from_function(
            name, lambda t, u, v: {"flow": 1.0}, inputs={"speed": 0.0}, outputs=("flow",), step=step
        )

    clock = hub.clock
    assert isinstance(clock, ManualClock)
    sim = SimulationBuilder(hub.twins, {**CATALOG, "pump": broken}).build(BINDINGS, COUPLINGS)
    live = LiveSimulation(sim, hub.twins, clock, step=1.0, writers=[TwinWriter(hub.twins)])
    clock.advance(5.0)
    assert live.catch_up() == 0
    assert live.error is not None
    assert "bearing seized" in live.error.message
    assert "line-1-pump" in live.error.message
    assert live.catch_up() == 0  # stays stopped
    # The twins carry on.
    hub.twins.patch_twin("line-1-pump", [{"op": "replace", "path": "/maxPressure", "value": 500}])
    assert hub.twins.get_twin("line-1-pump")["maxPressure"] == 500


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        (ModelBinding("turbine", dtdl_model=MOTOR), "no model 'turbine' in the catalogue"),
        (ModelBinding("motor", twin="nobody"), "there is no twin 'nobody'"),
        (
            ModelBinding("motor", dtdl_model=MOTOR, inputs={"torque": "speedSetpoint"}),
            "names input 'torque', which the model does not have",
        ),
        (
            ModelBinding("motor", dtdl_model=MOTOR, outputs={"speed": "telemetry:rpm"}),
            "cannot hold speed at telemetry 'rpm'",
        ),
        (
            ModelBinding("motor", dtdl_model=MOTOR, outputs={"speed": "telemetry:current"}),
            "speed is in revolutionPerMinute but twin 'line-1-motor' declares current in ampere",
        ),
        (
            ModelBinding("motor", dtdl_model=MOTOR, values={"ratedPower": -5.0}),
            "outside its bounds",
        ),
    ],
)
def test_bad_bindings_are_refused_with_the_reason(
    hub: Hub, binding: ModelBinding, message: str
) -> None:
    with pytest.raises(SimulationError, match=message):
        _builder(hub).build([binding])


def test_a_binding_names_a_twin_or_a_model_not_both() -> None:
    with pytest.raises(SimulationError, match="either a twin or a DTDL model"):
        ModelBinding("motor", twin="a", dtdl_model=MOTOR)
    with pytest.raises(SimulationError, match="either a twin or a DTDL model"):
        ModelBinding("motor")


def test_twin_values_parse() -> None:
    assert TwinValue.parse("bearing.wear") == TwinValue("bearing.wear", "property")
    assert TwinValue.parse("telemetry:flow") == TwinValue("flow", "telemetry")
    with pytest.raises(SimulationError, match="bad twin value"):
        TwinValue.parse("events:flow")


class RecordingPublisher:
    """A stand-in for the broker (named as such): keeps what would have been published.
    The real path over Mosquitto is tested in test_virtual_devices_mqtt.py."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        self.messages.append((topic, payload, qos))


MOTOR_DEVICE = DeviceProfile(
    model="motor",
    twin="{line}-motor",
    topic="factory/{line}/motor/telemetry",
    fields=(
        DeviceField("temperature", "temperature", unit="degreeFahrenheit", digits=1),
        DeviceField("speed", "speed"),
    ),
    every=5.0,
)


def test_virtual_devices_publish_in_their_own_units_on_their_own_period(hub: Hub) -> None:
    import orjson

    clock = hub.clock
    assert isinstance(clock, ManualClock)
    sim = _builder(hub).build(BINDINGS, COUPLINGS)
    publisher = RecordingPublisher()
    devices = VirtualDevices(sim, [MOTOR_DEVICE], publisher, seed=1)
    assert sorted(devices.devices) == [
        "line-1-motor → factory/line-1/motor/telemetry",
        "line-2-motor → factory/line-2/motor/telemetry",
    ]
    live = LiveSimulation(sim, hub.twins, clock, step=1.0, writers=[devices])
    clock.advance(10.0)
    live.catch_up()
    # every 5 simulated seconds: at t = 1 and t = 6, for two motors
    assert len(publisher.messages) == 4
    topic, payload, qos = publisher.messages[0]
    body = orjson.loads(payload)
    assert (topic, qos) == ("factory/line-1/motor/telemetry", 1)
    assert body["ts"] == int((T0 + timedelta(seconds=1)).timestamp() * 1000)
    kelvin = sim.members["line-1-motor"].snapshot()  # model is at t=10 now; recompute t=1:
    assert kelvin.time == 10.0
    assert 80.0 < body["temperature"] < 90.0  # ~300 K in °F, one decimal
    assert body["speed"] == 1480.0


def test_a_device_profile_that_does_not_fit_is_refused(hub: Hub) -> None:
    sim = _builder(hub).build(BINDINGS, COUPLINGS)
    bad_topic = DeviceProfile("motor", "plant/{area}/x", (DeviceField("t", "temperature"),))
    with pytest.raises(SimulationError, match="uses 'area'"):
        VirtualDevices(sim, [bad_topic], RecordingPublisher())
    bad_output = DeviceProfile("motor", "x/{twin}", (DeviceField("t", "torque"),))
    with pytest.raises(SimulationError, match="no output 'torque'"):
        VirtualDevices(sim, [bad_output], RecordingPublisher())
    bad_unit = DeviceProfile("motor", "x/{twin}", (DeviceField("t", "temperature", unit="metre"),))
    with pytest.raises(SimulationError, match="cannot convert"):
        VirtualDevices(sim, [bad_unit], RecordingPublisher())
