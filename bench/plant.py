"""Virtual plant: the factory simulated faster than real time, its devices publishing real
MQTT messages through Mosquitto into the platform's own ingest path.

What runs, in one process as in ``twinsight demo``: the 100-machine factory
(``scenarios/factory``, 25 lines) in an on-disk hub; its simulation
(``scenarios/factory/sim.py`` with the conveyors' discrete-event lines, as the demo runs
it; ``--no-conveyors`` leaves them out) advanced by the live loop
(:class:`~twinsight.sim.live.LiveSimulation`, a 5 s communication step as the demo's) as fast
as it will go; its :class:`~twinsight.sim.devices.VirtualDevices` publishing every device's
JSON message at QoS 1 through :class:`~twinsight.ingest.connectors.mqtt_publisher.MqttPublisher`
to a Mosquitto this benchmark starts on a free port; and the platform's
:class:`~twinsight.ingest.connectors.mqtt.MqttConnector` subscribed to ``factory/#``, feeding
the factory's ``mapping.yaml`` → unit conversion and DTDL validation → twins → durable
history, acknowledging each message only once it is stored.

Figures (medians over ``--repeats`` runs, each in a fresh hub):

* ``published_per_s``: messages the virtual devices published per wall-clock second, from
  the first step until the broker acknowledged the last one;
* ``ingested_per_s``: messages stored per second end to end, from the first step until the
  connector acknowledged the last one (stored in history and on the twins);
* ``speedup``: simulated time over the live loop's wall time (simulating and publishing,
  while the ingest runs beside it on the same cores);
* ``zero_loss``: every published message arrived: the connector received and stored as
  many as were published, history holds every value they carried, and there is no dead
  letter;
* ``plant_only_published_per_s``, ``plant_only_speedup``: the same plant publishing the
  same simulated time with no platform in the process (nobody subscribed): what the
  simulation and its devices cost on their own;
* ``cpu_us_per_message``, ``plant_only_cpu_us_per_message``: the process's CPU time per
  published message (both threads of all parts), which a machine shared with other work
  disturbs much less than the wall-clock rates.

``--publisher paho`` runs the plant on the paho-based publisher Twinsight used before
(``bench/paho_publisher.py``), to compare on the same machine in the same state.

Why a separate benchmark from ``bench/sim.py``: that one measures the simulation's compute
alone (no I/O, a 60 s step); this one measures the whole loop a real plant's data takes,
with the simulation only as its source, and needs a broker.

Usage (from the repository root): ``python bench/plant.py`` (2 simulated hours, 3 repeats)
or ``--quick`` (15 simulated minutes, one run; under a minute). The last line of stdout
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.core.clock import Clock, ManualClock
from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher
from twinsight.ingest.mapping import load_mapping_file
from twinsight.live_sim import LIVE_STEP
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MAPPING_FILE, MODELS_DIR, world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.devices import VirtualDevices
from twinsight.sim.live import LiveSimulation

LINES = 25  # x 4 machines = 100
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class Publisher(Protocol):
    """What the plant publishes through: Twinsight's ``MqttPublisher``, or for comparison
    the paho-based one it replaced (``bench/paho_publisher.py``)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None: ...


def make_publisher(kind: str, url: str, max_inflight: int) -> Publisher:
    if kind == "paho":
        from paho_publisher import PahoPublisher

        return PahoPublisher(url, client_id="virtual-plant")  # its window, as it was
    return MqttPublisher(url, client_id="virtual-plant", max_inflight=max_inflight)


class CountingPublisher:
    """Counts what the devices publish per topic (so the values expected in history are
    known exactly) and passes every message on unchanged, a step's messages as one batch
    when the publisher takes batches."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.sent: Counter[str] = Counter()

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        self.publisher.publish(topic, payload, qos=qos)
        self.sent[topic] += 1

    def publish_many(self, messages: Sequence[tuple[str, bytes, int]]) -> None:
        if isinstance(self.publisher, MqttPublisher):
            self.publisher.publish_many(messages)
        else:
            for topic, payload, qos in messages:
                self.publisher.publish(topic, payload, qos=qos)
        self.sent.update(topic for topic, _, _ in messages)


def stored_values(hub: Hub, start: datetime, end: datetime) -> int:
    """How many values history holds from ``start`` to ``end`` (counted in the database,
    one bucket a day)."""
    total = 0
    for info in hub.history.series():
        counts = hub.history.aggregate(
            (info.twin_id, info.name), start, end, bucket=DAY, functions=("count",)
        )
        total += sum(int(b.values["count"] or 0) for buckets in counts.values() for b in buckets)
    return total


def factory_hub(folder: Path | None, clock: Clock, lines: int) -> Hub:
    """A hub (on disk in ``folder``, or in memory) holding the factory of ``lines`` lines and
    reading MQTT with the factory's own payload mapping."""
    hub = Hub(folder, clock=clock, mapping=load_mapping_file(MAPPING_FILE))
    docs, errors = load_paths([MODELS_DIR])
    assert errors == [], errors
    hub.models.add(docs)
    world.build(hub.twins, lines=lines)
    return hub


@dataclass
class VirtualPlant:
    """The factory's simulation bound to a hub's twins, its devices publishing through an
    MQTT publisher (counted), advanced by the live loop on a manual clock."""

    publisher: Publisher
    counter: CountingPublisher
    devices: VirtualDevices
    live: LiveSimulation
    fields: dict[str, int]
    """Values each message on a topic carries (its device profile's fields)."""
    seconds: float
    """The communication step."""

    @classmethod
    def build(
        cls,
        hub: Hub,
        clock: ManualClock,
        broker_url: str,
        *,
        step: float = LIVE_STEP,
        conveyors: bool = True,
        max_inflight: int = 1000,
        publisher: str = "twinsight",
    ) -> VirtualPlant:
        spec = simulation_spec(conveyors=conveyors)
        builder = SimulationBuilder(
            hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
        )
        simulation = builder.build(spec.bindings, spec.couplings, algorithm=spec.algorithm)
        sender = make_publisher(publisher, broker_url, max_inflight)
        counter = CountingPublisher(sender)
        devices = VirtualDevices(simulation, spec.devices, counter, seed=7)
        live = LiveSimulation(simulation, hub.twins, clock, step=step, writers=[devices])
        per_model = {p.model: len(p.fields) for p in spec.devices}
        fields = {}
        for device in devices.devices:
            twin, topic = device.split(" → ")
            fields[topic] = per_model[simulation.models[twin]]
        return cls(sender, counter, devices, live, fields, step)

    def step(self, clock: ManualClock) -> None:
        """One communication step: the devices publish what is due."""
        clock.advance(self.seconds)
        self.live.catch_up()
        if self.live.error is not None:
            raise SystemExit(f"the simulation stopped: {self.live.error.message}")

    @property
    def values_published(self) -> int:
        return sum(n * self.fields[topic] for topic, n in self.counter.sent.items())


def publish_load(
    broker_url: str,
    messages: int,
    *,
    lines: int = LINES,
    conveyors: bool = True,
    publisher: str = "twinsight",
) -> dict[str, Any]:
    """Run the factory's virtual devices alone (no ingest in this process) until they have
    published at least ``messages`` messages (whole steps) and the broker has acknowledged
    them all: the load other benchmarks' consumers then drain from their queued sessions,
    and the plant's own pace without the platform beside it."""
    clock = ManualClock(T0)
    with factory_hub(None, clock, lines) as hub:
        plant = VirtualPlant.build(hub, clock, broker_url, conveyors=conveyors, publisher=publisher)
        plant.publisher.start()
        try:
            start, cpu = time.perf_counter(), time.process_time()
            steps = 0
            while plant.devices.sent < messages:
                plant.step(clock)
                steps += 1
            looped = time.perf_counter()
            if not plant.publisher.flush(600):
                raise SystemExit("the broker did not acknowledge every published message")
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
        finally:
            plant.publisher.stop()
    return {
        "published": plant.devices.sent,
        "values": plant.values_published,
        "devices": len(plant.devices.devices),
        "seconds": round(seconds, 3),
        "published_per_s": round(plant.devices.sent / seconds),
        "speedup": round(steps * plant.seconds / (looped - start), 1),
        "cpu_us_per_message": round(cpu / plant.devices.sent * 1e6, 1),
    }


def run_plant(
    broker_url: str,
    folder: Path,
    *,
    lines: int = LINES,
    seconds: float = 3600.0,
    step: float = LIVE_STEP,
    max_inflight: int = 1000,
    conveyors: bool = True,
    publisher: str = "twinsight",
    progress: Callable[[str], None] | None = None,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Simulate the factory of ``lines`` lines for ``seconds`` of simulated time as fast as
    the live loop goes, its devices publishing through ``broker_url`` into a hub on disk in
    ``folder``; return the figures (see the module docstring). ``conveyors``: the conveyors'
    discrete-event lines too, as the demo runs them."""
    clock = ManualClock(T0)
    hub = factory_hub(folder, clock, lines)
    try:
        connector = MqttConnector(
            hub.ingest, MqttSettings(broker_url, topics=("factory/#",), qos=1), clock
        )
        plant = VirtualPlant.build(
            hub,
            clock,
            broker_url,
            step=step,
            conveyors=conveyors,
            max_inflight=max_inflight,
            publisher=publisher,
        )
        # History already holds the twins' initial property values: count from there.
        hub.recorder.flush()
        before = stored_values(hub, T0 - DAY, T0 + timedelta(seconds=1))
        hub.start_connectors([connector, plant.publisher])

        steps = round(seconds / step)
        start, cpu = time.perf_counter(), time.process_time()
        report = start + 5.0
        for done in range(1, steps + 1):
            plant.step(clock)
            if progress is not None and time.perf_counter() > report:
                report += 5.0
                progress(
                    f"  {done}/{steps} steps, {plant.devices.sent:,} published, "
                    f"{connector.stats().acked:,} stored"
                )
        looped = time.perf_counter()
        if not plant.publisher.flush(timeout):
            raise SystemExit("the broker did not acknowledge every published message")
        published_at = time.perf_counter()
        sent = plant.devices.sent
        deadline = published_at + timeout
        while connector.stats().acked < sent and time.perf_counter() < deadline:
            time.sleep(0.005)
        ingested_at = time.perf_counter()
        cpu = time.process_time() - cpu
        stats = connector.stats()
        hub.recorder.flush()
        values = stored_values(hub, T0 - DAY, clock.now() + timedelta(seconds=1)) - before
        dead = hub.dead_letters.count("pending")
    finally:
        hub.close()
    loop_seconds = looped - start
    return {
        "lines": lines,
        "machines": lines * 4,
        "devices": len(plant.devices.devices),
        "simulated_seconds": steps * step,
        "step": step,
        "published": sent,
        "received": stats.received,
        "ingested": stats.acked,
        "values_expected": plant.values_published,
        "values_stored": values,
        "dead_letters": dead,
        "zero_loss": stats.received == sent == stats.acked
        and values == plant.values_published
        and dead == 0,
        "loop_seconds": round(loop_seconds, 3),
        "speedup": round(steps * step / loop_seconds, 1),
        "published_per_s": round(sent / (published_at - start)),
        "ingested_per_s": round(stats.acked / (ingested_at - start)),
        "ingest_lag_seconds": round(ingested_at - published_at, 3),
        "cpu_us_per_message": round(cpu / sent * 1e6, 1),
    }


def main() -> None:
    from broker import Broker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 simulated minutes, one run")
    parser.add_argument("--hours", type=float, help="simulated hours per run (2)")
    parser.add_argument("--repeats", type=int, help="runs, each in a fresh hub (3)")
    parser.add_argument("--lines", type=int, default=LINES, help="factory lines (25)")
    parser.add_argument(
        "--no-conveyors", action="store_true", help="motors, pumps and tanks only (no DES lines)"
    )
    parser.add_argument(
        "--publisher",
        choices=["twinsight", "paho"],
        default="twinsight",
        help="publish through Twinsight's MqttPublisher (default) or the paho-based one it "
        "replaced (bench/paho_publisher.py), for the before/after",
    )
    args = parser.parse_args()
    hours = args.hours or (0.25 if args.quick else 2.0)
    repeats = args.repeats or (1 if args.quick else 3)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="twinsight-plant-bench-") as tmp:
        folder = Path(tmp)
        broker = Broker(folder)
        try:
            for run in range(1, repeats + 1):
                print(
                    f"run {run}/{repeats}: {args.lines * 4} machines, {hours:g} h simulated ...",
                    file=sys.stderr,
                    flush=True,
                )
                figures = run_plant(
                    broker.url,
                    folder / f"run-{run}",
                    lines=args.lines,
                    seconds=hours * 3600.0,
                    conveyors=not args.no_conveyors,
                    publisher=args.publisher,
                    progress=lambda line: print(line, file=sys.stderr, flush=True),
                )
                # The same plant and simulated time with no platform beside it.
                alone = publish_load(
                    broker.url,
                    figures["published"],
                    lines=args.lines,
                    conveyors=not args.no_conveyors,
                    publisher=args.publisher,
                )
                figures["plant_only_published_per_s"] = alone["published_per_s"]
                figures["plant_only_speedup"] = alone["speedup"]
                figures["plant_only_cpu_us_per_message"] = alone["cpu_us_per_message"]
                print(
                    f"  published {figures['published_per_s']:,}/s, ingested "
                    f"{figures['ingested_per_s']:,}/s, speed-up {figures['speedup']:,}x, "
                    f"zero loss: {figures['zero_loss']}; the plant alone "
                    f"{alone['published_per_s']:,}/s, {alone['speedup']:,}x",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(figures)
        finally:
            broker.stop()

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    result = {
        "benchmark": "plant",
        "quick": args.quick,
        "date": datetime.now(UTC).date().isoformat(),
        "machines": args.lines * 4,
        "conveyors": not args.no_conveyors,
        "devices": runs[0]["devices"],
        "simulated_hours": hours,
        "messages_per_run": runs[0]["published"],
        "published_per_s": round(median("published_per_s")),
        "ingested_per_s": round(median("ingested_per_s")),
        "speedup": round(median("speedup"), 1),
        "zero_loss": all(r["zero_loss"] for r in runs),
        "plant_only_published_per_s": round(median("plant_only_published_per_s")),
        "plant_only_speedup": round(median("plant_only_speedup"), 1),
        "cpu_us_per_message": median("cpu_us_per_message"),
        "plant_only_cpu_us_per_message": median("plant_only_cpu_us_per_message"),
        "publisher": args.publisher,
        "runs": runs,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
