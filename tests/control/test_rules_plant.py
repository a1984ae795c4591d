"""The factory's rule and guard files on the factory's simulated plant (manual clock, the
real ingest path): a motor driven hard heats over 100 °C, its rule fires two minutes
later and submits a lower set-point, which the guards (simulate-first included) let
through to the command service; the other motors' rules stay quiet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from support import add_factory_models
from twinsight.control.guards_config import load_guards_file
from twinsight.control.rules_config import load_rules_file
from twinsight.core.clock import ManualClock
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.ingest.mapping import load_mapping_file
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.devices import VirtualDevices
from twinsight.sim.live import LiveSimulation

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


class IngestPublisher:
    """The virtual devices' messages straight into the hub's ingest pipeline, as the MQTT
    connector would hand them over."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        message = RawMessage("mqtt", topic, payload, self._hub.clock.now(), "virtual-plant")
        assert self._hub.ingest.submit([message]).dead_letters == 0


@pytest.fixture
def plant() -> Iterator[tuple[Hub, LiveSimulation]]:
    clock = ManualClock(T0)
    with Hub(clock=clock, mapping=load_mapping_file(factory.MAPPING_FILE)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        spec = simulation_spec()
        hub.simulation = spec
        state = hub.control_state()
        hub.start_guards(load_guards_file(factory.GUARDS_FILE, state))
        hub.start_rules(load_rules_file(factory.RULES_FILE, state))
        sim = SimulationBuilder(
            hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
        ).build(spec.bindings, spec.couplings)
        devices = VirtualDevices(sim, spec.devices, IngestPublisher(hub), seed=2)
        live = LiveSimulation(sim, hub.twins, clock, step=5.0, writers=[devices])
        yield hub, live


def test_a_motor_driven_hard_is_slowed_by_its_rule(plant: tuple[Hub, LiveSimulation]) -> None:
    hub, live = plant
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    hub.twins.patch_twin(
        "line-1-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 1690.0}]
    )
    crossed = None
    for _ in range(3 * 60):  # up to 3 h of plant time, a minute at a time
        clock.advance(60)
        live.catch_up()
        assert live.error is None
        temperature = hub.rules and hub.control_state().value("line-1-motor", "windingTemperature")
        if crossed is None and isinstance(temperature, float) and temperature > 100:
            crossed = clock.now()
        if hub.rules is not None and hub.rules.firings("hot-motor-slows-down"):
            break
    assert hub.rules is not None
    firings = hub.rules.firings("hot-motor-slows-down")
    assert [f.twin_id for f in firings] == ["line-1-motor"]
    assert crossed is not None
    held = (firings[0].time - crossed).total_seconds()
    assert 60 <= held <= 180, held  # two minutes over 100 °C, give or take a reading
    actions = hub.actions.list_actions(twin_id="line-1-motor")
    assert [(a.requested_by, a.value, a.guard) for a in actions] == [
        ("rule:hot-motor-slows-down", 1350, actions[0].guard)
    ]
    assert actions[0].state != "refused", actions[0].verdict  # the guards let it through
    assert hub.actions.list_actions(twin_id="line-2-motor") == []
