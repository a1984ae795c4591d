"""Running a world's simulation live beside the platform (the demo's virtual plant).

The world's :class:`~twinsight.sim.spec.SimulationSpec` is bound to the twins in the graph
and advanced on the hub's clock. With a broker, its virtual devices publish over MQTT, so
the simulated plant's data comes in exactly as a real plant's would (broker, connector,
mapping, twin, history); without one, the outputs are written onto the twins directly.
"""

from __future__ import annotations

import logging

from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher
from twinsight.live_estimation import start_estimators
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.devices import VirtualDevices
from twinsight.sim.live import LiveSimulation, OutputWriter, SimulationRunner, TwinWriter
from twinsight.sim.spec import SimulationSpec

log = logging.getLogger(__name__)

LIVE_STEP = 5.0
"""Seconds between two live communication steps (and device messages): finer than a
what-if's step so values move visibly on a dashboard."""


def start_simulation(
    hub: Hub, spec: SimulationSpec, broker_url: str | None, *, step: float = LIVE_STEP
) -> LiveSimulation:
    """Bind ``spec`` to the hub's twins and keep it running (the hub owns and stops it)."""
    hub.simulation = spec
    builder = SimulationBuilder(
        hub.twins,
        spec.catalog,
        GraphValues(hub.twins, hub.history),
        fleets=spec.fleets,
        calibrated=hub.parameters,
    )
    simulation = builder.build(spec.bindings, spec.couplings, algorithm=spec.algorithm)
    for note in simulation.notes[:5]:
        log.info("simulation: %s", note)
    parts: list[object] = []
    writers: list[OutputWriter] = []
    if broker_url is not None and spec.devices:
        publisher = MqttPublisher(broker_url, client_id="twinsight-virtual-plant")
        devices = VirtualDevices(simulation, spec.devices, publisher)
        writers.append(devices)
        parts.append(publisher)
        log.info(
            "virtual plant: %d simulated device(s) publishing to %s",
            len(devices.devices),
            broker_url,
        )
    else:
        writers.append(TwinWriter(hub.twins))
        log.info("simulation writes straight onto %d twin(s) (no broker)", len(simulation.models))
    live = LiveSimulation(simulation, hub.twins, hub.clock, step=step, writers=writers)
    runner = SimulationRunner(live)
    hub.start_connectors([*parts, runner])  # type: ignore[list-item]
    log.info(
        "simulating %d twin(s) with %d model(s), one step every %g s",
        len(simulation.models),
        len(simulation.members),
        step,
    )
    start_estimators(hub, spec)  # the world's virtual sensors, beside its simulation
    return live
