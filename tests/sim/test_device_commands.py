"""The demo's virtual devices obey, over a real Mosquitto: a desired motor speed is
acknowledged with its correlation id, reported with the device's next message, written
onto the twin by ingest and taken by the simulation as its input; ``stop`` stops the
motor; an offline device stays silent and the command times out after its retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brokers import mosquitto, needs_mosquitto, wait_until
from support import build_factory
from twinsight.control.actions import Action
from twinsight.control.delivery import DeliverySettings, DeviceTopics
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher
from twinsight.ingest.mapping import load_mapping_file
from twinsight.live_sim import obey_commands
from twinsight.scenarios.factory import MAPPING_FILE
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.devices import VirtualDevices
from twinsight.sim.live import LiveSimulation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[tuple[Hub, VirtualDevices, LiveSimulation]]:
    clock = ManualClock(T0)
    with (
        mosquitto(tmp_path / "broker") as broker,
        Hub(clock=clock, mapping=load_mapping_file(MAPPING_FILE)) as hub,
    ):
        build_factory(hub)
        spec = simulation_spec(fleet=False)
        sim = SimulationBuilder(hub.twins, spec.catalog, GraphValues(hub.twins)).build(
            spec.bindings, spec.couplings
        )
        connector = MqttConnector(
            hub.ingest, MqttSettings(broker.url, topics=("factory/#",), qos=1), clock
        )
        publisher = MqttPublisher(broker.url, client_id="virtual-plant")
        hub.start_connectors([connector, publisher])
        hub.start_command_delivery(
            broker.url, DeviceTopics(), DeliverySettings(timeout=0.4, retries=1, completion=10)
        )
        devices = VirtualDevices(sim, spec.devices, publisher, seed=1)
        endpoint = obey_commands(hub, devices, broker.url)
        hub.start_connectors([endpoint])
        live = LiveSimulation(sim, hub.twins, clock, step=1.0, writers=[devices])
        yield hub, devices, live


def _step_until(hub: Hub, live: LiveSimulation, action_id: str, state: str) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)

    def reached() -> bool:
        clock.advance(1.0)
        live.catch_up()
        return hub.actions.get(action_id).state == state

    wait_until(reached, 15, f"action {state}")


def _stepped(hub: Hub, live: LiveSimulation) -> dict[str, object]:
    """One more simulated second; the motor twin after it."""
    hub.clock.advance(1.0)  # type: ignore[attr-defined]
    live.catch_up()
    return hub.twins.get_twin("line-1-motor")


@needs_mosquitto
def test_a_desired_speed_reaches_the_simulated_motor_and_is_reported_back(
    plant: tuple[Hub, VirtualDevices, LiveSimulation],
) -> None:
    hub, _, live = plant
    record = hub.actions.submit(
        Action("property", "line-1-motor", "speedSetpoint", 1200.0, "user:ana")
    )
    assert record.topic == "twinsight/factory/line-1/motor/desired"
    _step_until(hub, live, record.id, "done")
    assert hub.twins.get_twin("line-1-motor")["speedSetpoint"] == 1200.0
    assert hub.actions.get(record.id).response == {"reported": 1200.0}
    live.catch_up()
    model, prefix = live.simulation.locate("line-1-motor")
    hub.clock.advance(1.0)  # type: ignore[attr-defined]
    live.catch_up()
    assert model.inputs()[prefix + "speed_setpoint"] == 1200.0
    assert hub.twins.get_twin("line-2-motor")["speedSetpoint"] == 1480.0  # others unmoved


@needs_mosquitto
def test_stop_stops_the_motor_and_an_offline_pump_times_out(
    plant: tuple[Hub, VirtualDevices, LiveSimulation],
) -> None:
    hub, devices, live = plant
    stop = hub.actions.submit(Action("command", "line-1-motor", "stop", None, "user:ana"))
    wait_until(lambda: hub.actions.get(stop.id).state == "done", 10, "stop done")
    assert hub.actions.get(stop.id).response is True
    wait_until(lambda: _stepped(hub, live).get("state") == "stopped", 15, "motor reported stopped")
    model, prefix = live.simulation.locate("line-1-motor")
    hub.clock.advance(1.0)  # type: ignore[attr-defined]
    live.catch_up()
    assert model.inputs()[prefix + "running"] == 0.0

    devices.set_offline("line-1-pump")
    sent = dict(devices.sent_by)
    offline = hub.actions.submit(Action("command", "line-1-pump", "stop", None, "user:ana"))
    wait_until(lambda: hub.actions.get(offline.id).state == "timed_out", 10, "timed out")
    assert hub.actions.get(offline.id).attempts == 2
    assert hub.twins.get_twin("line-1-pump")["state"] == "running"  # nothing done
    hub.clock.advance(20.0)  # type: ignore[attr-defined]
    live.catch_up()
    assert devices.sent_by["line-1-pump"] == sent["line-1-pump"]  # silent while offline
    assert devices.sent_by["line-2-pump"] == sent["line-2-pump"] + 4  # one every 5 s
    devices.set_offline("line-1-pump", False)
    hub.clock.advance(5.0)  # type: ignore[attr-defined]
    live.catch_up()
    assert devices.sent_by["line-1-pump"] == sent["line-1-pump"] + 1  # back
