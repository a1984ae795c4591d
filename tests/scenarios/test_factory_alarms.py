"""The factory's monitoring file on the factory's simulated plant: each injected fault
raises its alarm on the faulty twin and on no healthy twin over the same span.

The plant runs on a manual clock as fast as it computes; its virtual devices (with their
sensor noise) publish through the real ingest path (mapping, units, validation) and the
motors' state estimators publish their predicted winding temperature, so the detectors
see what they would see in the demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from support import add_factory_models
from twinsight.analytics.monitoring import load_monitoring_file
from twinsight.core.clock import ManualClock
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.ingest.mapping import load_mapping_file
from twinsight.live_estimation import start_estimators
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.faults import FAULTS
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.devices import VirtualDevices
from twinsight.sim.faults import FaultInjector
from twinsight.sim.live import LiveSimulation

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


class IngestPublisher:
    """The virtual devices' messages straight into the hub's ingest pipeline, as the MQTT
    connector would hand them over (no broker needed to test the analytics)."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        message = RawMessage("mqtt", topic, payload, self._hub.clock.now(), "virtual-plant")
        result = self._hub.ingest.submit([message])
        assert result.dead_letters == 0, result


@pytest.fixture
def plant() -> Iterator[tuple[Hub, LiveSimulation, FaultInjector]]:
    clock = ManualClock(T0)
    with Hub(clock=clock, mapping=load_mapping_file(factory.MAPPING_FILE)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=3)
        hub.start_monitoring(load_monitoring_file(factory.MONITORING_FILE))
        spec = simulation_spec()
        sim = SimulationBuilder(
            hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
        ).build(spec.bindings, spec.couplings)
        hub.simulation = spec
        start_estimators(hub, spec, strict=True)  # the motors' predicted winding temperature
        injector = FaultInjector(sim, FAULTS, seed=1, mean_interval=1e9, first_after=1e9)
        devices = VirtualDevices(sim, spec.devices, IngestPublisher(hub), seed=2)
        live = LiveSimulation(sim, hub.twins, clock, step=5.0, writers=[devices, injector])
        yield hub, live, injector


def _run(hub: Hub, live: LiveSimulation, seconds: float) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    clock.advance(seconds)
    live.catch_up()
    assert live.error is None


@pytest.mark.slow
def test_each_injected_fault_raises_its_alarm_on_its_twin_only(
    plant: tuple[Hub, LiveSimulation, FaultInjector],
) -> None:
    hub, live, injector = plant
    _run(hub, live, 3600.0)  # start-up and an hour of work: a healthy plant raises nothing
    assert hub.alarms.list() == []
    start = live.time
    # The mildest of each kind the demo injects, on three different lines.
    injector.inject("line-2-motor", "bearing wear", start, value=0.35, duration=3600.0)
    injector.inject("line-1-pump", "cavitation", start, value=0.5, duration=1800.0)
    injector.inject("line-3-tank", "stuck valve", start, value=0.6, duration=2700.0)
    _run(hub, live, 40 * 60.0)
    raised = {(a.twin_id, a.condition) for a in hub.alarms.list()}
    assert ("line-2-motor", "anomaly:vibration") in raised
    # The motor's readings taken together (a multi-stream monitor) flag it too.
    assert ("line-2-motor", "anomaly:speed+windingTemperature+vibration") in raised
    first = {}
    for alarm in sorted(hub.alarms.list(), key=lambda a: a.raised, reverse=True):
        first[alarm.twin_id, alarm.condition] = alarm.raised
    together = first["line-2-motor", "anomaly:speed+windingTemperature+vibration"]
    assert together < first["line-2-motor", "anomaly:vibration"]  # the combination is earlier
    # The bearing's heat, which the motor's model does not know, shows in its residual.
    assert ("line-2-motor", "anomaly:windingTemperature-residual") in raised
    assert ("line-1-pump", "anomaly:flow") in raised or (
        "line-1-pump",
        "anomaly:dischargePressure",
    ) in raised
    assert ("line-3-tank", "limit:level:high") in raised
    faulty = {"line-2-motor", "line-1-pump", "line-3-tank"}
    assert {twin for twin, _ in raised} == faulty  # no healthy twin alarmed
    for alarm in hub.alarms.list():
        assert alarm.raised >= start
        assert alarm.source.startswith(
            ("detector robust_z", "detector residual", "detector mahalanobis", "limit")
        )
    tank = hub.alarms.active("line-3-tank", "limit:level:high")
    assert tank is not None and tank.value is not None and tank.value > 3.5
    assert tank.severity == "critical"
    # The per-stream scores are there for the API.
    vibration = {s.monitor: s for s in hub.monitoring.scores("line-2-motor")}  # type: ignore[union-attr]
    # 100 min of 5-s samples, the first 10 min held back (settle): neither scored nor learnt
    assert (vibration["motor-vibration"].samples, vibration["motor-vibration"].skipped) == (
        1080,
        120,
    )
