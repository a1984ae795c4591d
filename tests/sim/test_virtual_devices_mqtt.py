"""Virtual devices over a real broker: a simulation publishes to Mosquitto, the MQTT
connector and the factory's own payload mapping bring the values back onto the twins —
the path a real plant's messages take."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from brokers import mosquitto, needs_mosquitto, wait_until
from sim.test_binding import BINDINGS, COUPLINGS, MOTOR_DEVICE, _builder
from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher
from twinsight.ingest.mapping import load_mapping_file
from twinsight.scenarios.factory import MAPPING_FILE
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, Route, SimulationBuilder
from twinsight.sim.devices import DeviceField, DeviceProfile, VirtualDevices
from twinsight.sim.live import LiveSimulation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PUMP_DEVICE = DeviceProfile(
    model="pump",
    twin="{line}-pump",
    topic="factory/{line}/pump/telemetry",
    fields=(DeviceField("flow", "flow", noise=0.01),),
)


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0), mapping=load_mapping_file(MAPPING_FILE)) as hub:
        build_factory(hub)
        yield hub


@needs_mosquitto
def test_simulated_devices_feed_the_twins_through_broker_connector_and_mapping(
    hub: Hub, tmp_path: Path
) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    with mosquitto(tmp_path / "broker") as broker:
        connector = MqttConnector(
            hub.ingest, MqttSettings(broker.url, topics=("factory/#",), qos=1), clock
        )
        connector.start()
        publisher = MqttPublisher(broker.url, client_id="virtual-plant")
        publisher.start()
        try:
            sim = _builder(hub).build(BINDINGS, COUPLINGS)
            # The factory mapping reads the motor's temperature in °C.
            motor = DeviceProfile(
                "motor",
                MOTOR_DEVICE.topic,
                (DeviceField("temperature", "temperature", unit="degreeCelsius"),),
                twin=MOTOR_DEVICE.twin,
                every=5.0,
            )
            devices = VirtualDevices(sim, [motor, PUMP_DEVICE], publisher, seed=3)
            live = LiveSimulation(sim, hub.twins, clock, step=1.0, writers=[devices])
            clock.advance(30.0)
            assert live.catch_up() == 30
            # 2 motors every 5 s (6 each) + 2 pumps every second (30 each)
            assert devices.sent == 2 * 6 + 2 * 30

            def arrived() -> bool:
                hub.recorder.flush()
                points = hub.history.range("line-2-pump/flow", limit=100) if _has(hub) else []
                return len(points) == 30

            wait_until(arrived, timeout=20, what="30 pump readings in history")
            flows = hub.history.range("line-2-pump/flow", limit=100)
            # Source times are the simulated measurement times, one per simulated second.
            assert [p.time for p in flows] == [T0 + timedelta(seconds=s) for s in range(1, 31)]
            assert all(abs(p.value - 0.02 * 1480.0) < 0.1 for p in flows)
            temps = hub.history.range("line-1-motor/windingTemperature", limit=100)
            assert len(temps) == 6
            assert temps[-1].value > temps[0].value  # the motor warms up
            assert hub.dead_letters.count() == 0
        finally:
            publisher.stop()
            connector.stop()


def _has(hub: Hub) -> bool:
    return any(s.name == "flow" for s in hub.history.series(twin="line-2-pump"))


class BatchRecorder:
    """A publisher that, like ``MqttPublisher``, also takes many messages at once."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, bytes, int]]] = []
        self.single = 0

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        self.single += 1

    def publish_many(self, messages: Sequence[tuple[str, bytes, int]]) -> None:
        self.batches.append(list(messages))


def test_a_steps_messages_go_to_a_batch_publisher_as_one_batch(hub: Hub) -> None:
    # One write per step instead of one per message is what lets a 100-machine plant run
    # hundreds of times faster than real time (docs/benchmarks.md, Virtual plant).
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    sim = _builder(hub).build(BINDINGS, COUPLINGS)
    publisher = BatchRecorder()
    devices = VirtualDevices(sim, [PUMP_DEVICE], publisher, seed=3)
    live = LiveSimulation(sim, hub.twins, clock, step=1.0, writers=[devices])
    clock.advance(3.0)
    assert live.catch_up() == 3
    assert publisher.single == 0
    assert [len(batch) for batch in publisher.batches] == [2, 2, 2]
    assert devices.sent == 6
    assert {(topic, qos) for batch in publisher.batches for topic, _, qos in batch} == {
        ("factory/line-1/pump/telemetry", 1),
        ("factory/line-2/pump/telemetry", 1),
    }


class _Truth:
    """Records the noise-free bound outputs of each step, in the twins' units."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, datetime], float] = {}

    def write(self, when: datetime, values: Sequence[tuple[Route, float]]) -> None:
        for route, value in values:
            self.values[route.twin, route.value.path, when] = value


@needs_mosquitto
def test_the_factory_plant_publishes_noisy_but_bounded_readings_through_mosquitto(
    hub: Hub, tmp_path: Path
) -> None:
    """Every device of the factory (conveyors too) publishes through a real broker into
    history with no dead letter; the readings differ from the simulation by the sensors'
    noise, no more than four standard deviations (plus rounding)."""
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    spec = simulation_spec(conveyors=True)
    with mosquitto(tmp_path / "broker") as broker:
        connector = MqttConnector(
            hub.ingest, MqttSettings(broker.url, topics=("factory/#",), qos=1), clock
        )
        connector.start()
        publisher = MqttPublisher(broker.url, client_id="factory-plant")
        publisher.start()
        try:
            builder = SimulationBuilder(
                hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
            )
            sim = builder.build(spec.bindings, spec.couplings)
            devices = VirtualDevices(sim, spec.devices, publisher, seed=11)
            truth = _Truth()
            live = LiveSimulation(sim, hub.twins, clock, step=5.0, writers=[devices, truth])
            clock.advance(600.0)
            assert live.catch_up() == 120
            assert devices.sent == 8 * 120  # 2 lines of 4 devices, one message a step each

            def arrived() -> bool:
                hub.recorder.flush()
                return _count(hub, "line-2-conveyor", "status") == 120

            wait_until(arrived, timeout=30, what="120 conveyor readings in history")
            assert hub.dead_letters.count() == 0  # integers, enums, units: all valid
            for series, sigma, digits in (
                ("windingTemperature", 0.3, 2),
                ("speed", 2.0, 1),
            ):
                errors = _errors(hub, truth, [f"line-{n}-motor" for n in (1, 2)], series)
                assert len(errors) == 240
                assert 0.7 * sigma < float(np.std(errors)) < 1.3 * sigma, series
                assert float(np.max(np.abs(errors))) <= 4 * sigma + 10.0**-digits, series
            levels = _errors(hub, truth, ["line-1-tank", "line-2-tank"], "level")
            assert 0.7 * 0.005 < float(np.std(levels)) < 1.3 * 0.005
            produced = hub.history.range("line-1-conveyor/partsProduced", limit=200)
            values = [p.value for p in produced]
            assert all(isinstance(v, int) for v in values) and values == sorted(values)
            assert values[-1] > 0  # exact counts, no noise on a counter
            statuses = {p.value for p in hub.history.range("line-1-conveyor/status", limit=200)}
            assert statuses <= {0, 1, 2, 3, 4} and 1 in statuses
        finally:
            publisher.stop()
            connector.stop()


def _count(hub: Hub, twin: str, name: str) -> int:
    if not any(s.name == name for s in hub.history.series(twin=twin)):
        return 0
    return len(hub.history.range(f"{twin}/{name}", limit=1000))


def _errors(hub: Hub, truth: _Truth, twins: list[str], name: str) -> list[float]:
    """Reading minus truth for every recorded reading of ``name`` on ``twins``."""
    return [
        p.value - truth.values[twin, name, p.time]
        for twin in twins
        for p in hub.history.range(f"{twin}/{name}", limit=1000)
    ]
