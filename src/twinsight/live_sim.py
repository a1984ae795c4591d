"""Running a world's simulation live beside the platform (the demo's virtual plant).

The world's :class:`~twinsight.sim.spec.SimulationSpec` is bound to the twins in the graph
and advanced on the hub's clock. With a broker, its virtual devices publish over MQTT, so
the simulated plant's data comes in exactly as a real plant's would (broker, connector,
mapping, twin, history); without one, the outputs are written onto the twins directly.
Further writers ride along each step (the demo's fault injector, ``twinsight.sim.faults``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from twinsight.control.delivery import DeviceTopics
from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt_commands import MqttDeviceEndpoint
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher
from twinsight.live_estimation import start_estimators
from twinsight.live_parameters import ParameterUpdates
from twinsight.sim.binding import GraphValues, SimulationBuilder, TwinSimulation
from twinsight.sim.device_commands import SimulatedDeviceResponder
from twinsight.sim.devices import VirtualDevices
from twinsight.sim.live import LiveSimulation, OutputWriter, SimulationRunner, TwinWriter
from twinsight.sim.spec import SimulationSpec

log = logging.getLogger(__name__)

LIVE_STEP = 5.0
"""Seconds between two live communication steps (and device messages): finer than a
what-if's step so values move visibly on a dashboard."""


WriterFactory = Callable[[TwinSimulation], OutputWriter]
"""Builds a writer for the simulation once it is bound (a fault injector needs its models)."""


def start_simulation(
    hub: Hub,
    spec: SimulationSpec,
    broker_url: str | None,
    *,
    step: float = LIVE_STEP,
    extra_writers: Sequence[WriterFactory] = (),
    seed: int = 0,
) -> LiveSimulation:
    """Bind ``spec`` to the hub's twins and keep it running on the hub's clock (the hub
    owns and stops it). ``extra_writers`` are handed the bound simulation and called after
    every step like the output writers; ``seed`` seeds the devices' sensor noise."""
    hub.simulation = spec
    builder = SimulationBuilder(
        hub.twins,
        spec.catalog,
        GraphValues(hub.twins, hub.history),
        fleets=spec.fleets,
        calibrated=hub.parameters,
    )
    simulation = builder.build(spec.bindings, spec.couplings, algorithm=spec.algorithm)
    # The build read the twins' inputs: states no twin value sets start settled for them
    # (a stopped motor's drive at 0 rpm, not ramping down from its declared 1500).
    simulation.start_unmeasured_states()
    for note in simulation.notes[:5]:
        log.info("simulation: %s", note)
    parts: list[object] = []
    writers: list[OutputWriter] = []
    if broker_url is not None and spec.devices:
        publisher = MqttPublisher(broker_url, client_id="twinsight-virtual-plant")
        devices = VirtualDevices(simulation, spec.devices, publisher, seed=seed)
        writers.append(devices)
        parts.append(publisher)
        parts.append(obey_commands(hub, devices, broker_url))
        log.info(
            "virtual plant: %d simulated device(s) publishing to %s",
            len(devices.devices),
            broker_url,
        )
    else:
        writers.append(TwinWriter(hub.twins))
        log.info("simulation writes straight onto %d twin(s) (no broker)", len(simulation.models))
    writers += [make(simulation) for make in extra_writers]
    writers.append(ParameterUpdates(simulation, hub.parameters))  # calibrations apply live
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


def obey_commands(hub: Hub, devices: VirtualDevices, broker_url: str) -> MqttDeviceEndpoint:
    """Have the virtual devices answer commands and desired values over MQTT
    (sim/device_commands.py) and the hub deliver them there: the twins' device topics
    join the hub's delivery table (delivery starts here if the hub had none). Returns the
    devices' endpoint, not started (the caller's connector list starts it)."""
    responder = SimulatedDeviceResponder(devices)
    delivery = hub.actions.delivery
    if delivery is None:
        hub.start_command_delivery(broker_url, DeviceTopics(table=responder.device_topics))
        prefix = DeviceTopics().prefix
    else:
        topics = delivery.topics
        delivery.topics = DeviceTopics(topics.prefix, {**topics.table, **responder.device_topics})
        prefix = topics.prefix
    return MqttDeviceEndpoint(
        broker_url,
        hub.clock,
        sorted(set(responder.device_topics.values())),
        responder,
        prefix=prefix,
    )
