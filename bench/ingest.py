"""Live-data ingestion throughput through a real Mosquitto, against a bare paho ceiling.

Method (the same for every consumer, so the ratio is fair): a persistent MQTT session is
created for the consumer's client id and subscribed at QoS 1; N messages are then published
at QoS 1 while the consumer is away, so the broker queues them; finally the consumer
connects and drains the queue. The figure is messages (or values) per second from its first
message to its Nth — what the consumer can sustain, not what the publisher can send.

The load (``--load``):

* ``virtual`` (default): the 100-machine factory's virtual devices (``bench/plant.py``,
  ``scenarios/factory``) publish N messages through Twinsight's MQTT publisher — what a
  plant sends: 100 devices on their own topics, one to five fields per JSON message in the
  devices' own units, with sensor noise. The ceiling, bulk-reader and end-to-end consumers
  each have a session on ``factory/#`` before the plant starts, so all three drain the very
  same messages; the end-to-end consumer reads them with the factory's ``mapping.yaml``
  into the factory's twins.
* ``raw``: N single-value JSON messages (``{"t": <µs>, "v": <number>}`` on
  ``bench/s<k>/json``, 10 twins) from ``mosquitto_pub -l`` (C, one process per topic),
  published again for each consumer — the load of the figures recorded before virtual
  devices existed, kept to compare with them.

The SenML run and the latency run always use ``mosquitto_pub``: the devices send no SenML
packs, and the latency run needs a steady publish rate with wall-clock stamps, where a
virtual device stamps simulated time.

Consumers:

* **ceiling**: a bare paho-mqtt subscriber that only parses each payload as JSON (auto ack);
* **twinsight**: ``MqttConnector`` → ``IngestPipeline`` with an on-disk hub: every message
  mapped by a mapping file, validated against the DTDL model, twin state updated by source
  time, history durably appended, and only then acknowledged to the broker. Zero loss is
  checked: after the run every value the messages carried is in history, and there is no
  dead letter;
* **senml**: the same pipeline fed SenML packs of 100 values (one sensor, 100 samples):
  N/20 packs (a million values for the default N), so the figure is a sustained rate, not a
  fraction of a second in which starting up weighs as much as the work;
* **ceiling_bulk** (a second peer, since Twinsight no longer uses paho to receive): a bare
  subscriber on Twinsight's own bulk MQTT reader (``mqtt_wire``) that only parses each
  payload as JSON and acknowledges it — the fastest any consumer of this codec can go here.

Latency (``latency``): ``twinsight serve`` runs as a separate process subscribed to this
Mosquitto; a WebSocket client (another process) subscribes to telemetry on
``/streams/ws?batch=true``; single-value JSON messages are published at QoS 1 by
``mosquitto_pub -l`` at ``--rate`` (10,000/s) messages/s, each stamped with the wall-clock
time (µs) it is handed to ``mosquitto_pub``, which the mapping takes as its source time. The
publisher may have 1,000 messages awaiting the broker's PUBACK (``-M 1000``; its default of
20 would make one client stand in for a whole fleet through a 20-message window, so any
pause of the broker would queue messages in the publisher, counted as platform latency). A
latency is the client's wall-clock receive time minus that stamp: publish → broker →
connector → mapping, validation, durable history → live stream → WebSocket frame → client.
The first seconds are warm-up and not counted.

Usage: ``python bench/ingest.py`` (200,000 messages) or ``--quick`` (20,000; under a minute).
The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import plant  # noqa: E402
from broker import INFLIGHT, Broker, free_port  # noqa: E402
from twinsight.core.clock import WallClock  # noqa: E402
from twinsight.core.messages import RawMessage  # noqa: E402
from twinsight.hub import Hub  # noqa: E402
from twinsight.ingest.connectors import mqtt_wire as wire  # noqa: E402
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings  # noqa: E402
from twinsight.ingest.mapping import parse_mapping  # noqa: E402
from twinsight.models.diagnostics import Document  # noqa: E402

TWINS = 10
VIRTUAL_TOPIC = "factory/#"
VIRTUAL_CONSUMERS = ("ceiling", "ceiling-bulk", "twinsight-plant")
"""Client ids of the three consumers that drain the virtual plant's load (each has its own
persistent session, so the broker queues every message for each)."""
MODEL = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:twinsight:bench:Sensor;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "value", "schema": "double"},
        {"@type": "Telemetry", "name": "reading", "schema": "double"},
    ],
}
MAPPING = """
mappings:
  - name: json
    topic: "bench/{twin}/json"
    twin: "{twin}"
    format: json
    time: {field: t, format: epoch_us}
    values: [{field: v, property: value}]
  - name: senml
    topic: "bench/{twin}/senml"
    twin: "{twin}"
    format: senml
    values: [{record: sensor, telemetry: reading}]
"""
T0_US = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)


def make_session(port: int, client_id: str, topic: str, protocol: str) -> None:
    """Create the consumer's persistent session and subscription, then leave."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    client.subscribe(topic, qos=1)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def publish(port: int, payloads: dict[str, list[bytes]]) -> float:
    """Publish each topic's payloads with ``mosquitto_pub -l`` (one process per topic)."""
    exe = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    start = time.perf_counter()
    procs = []
    for topic, lines in payloads.items():
        proc = subprocess.Popen(
            [exe, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-l", "-t", topic],
            stdin=subprocess.PIPE,
        )
        procs.append((proc, b"\n".join(lines) + b"\n"))
    for proc, data in procs:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.close()
    for proc, _ in procs:
        proc.wait(600)
    return time.perf_counter() - start


def json_payloads(n: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {f"bench/s{i}/json": [] for i in range(TWINS)}
    for k in range(n):
        out[f"bench/s{k % TWINS}/json"].append(
            orjson.dumps({"t": T0_US + k, "v": 20.0 + (k % 1000) / 100})
        )
    return out


def senml_payloads(packs: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {f"bench/s{i}/senml": [] for i in range(TWINS)}
    for p in range(packs):
        base = (T0_US / 1e6) + p
        records = [{"bn": "sensor", "bt": base, "v": 20.0, "t": 0.0}]
        records += [{"t": i / 100, "v": 20.0 + i / 10} for i in range(1, 100)]
        out[f"bench/s{p % TWINS}/senml"].append(orjson.dumps(records))
    return out


def run_ceiling(port: int, n: int, protocol: str, *, queued: bool = False) -> dict[str, Any]:
    """A bare paho subscriber (parse JSON, auto ack); ``queued``: its session already holds
    the load (the virtual plant's), else ``n`` raw messages are published for it."""
    client_id = "ceiling"
    if not queued:
        make_session(port, client_id, "bench/#", protocol)
        publish(port, json_payloads(n))
    done = threading.Event()
    state = {"count": 0, "first": 0.0, "last": 0.0}

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        orjson.loads(msg.payload)
        if state["count"] == 0:
            state["first"] = time.perf_counter()
        state["count"] += 1
        if state["count"] >= n:
            state["last"] = time.perf_counter()
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = INFLIGHT
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    done.wait(600)
    client.disconnect()
    client.loop_stop()
    seconds = state["last"] - state["first"]
    return {
        "messages": state["count"],
        "seconds": round(seconds, 3),
        "msgs_per_s": round(state["count"] / seconds) if seconds else None,
    }


def run_bulk_ceiling(port: int, n: int, *, queued: bool = False) -> dict[str, Any]:
    """A bare subscriber on Twinsight's bulk reader: parse JSON, acknowledge, nothing else
    (``queued`` as for :func:`run_ceiling`)."""
    client_id = "ceiling-bulk"
    if not queued:
        make_session(port, client_id, "bench/#", "5")
        publish(port, json_payloads(n))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(
        wire.connect(
            client_id,
            v5=True,
            clean=False,
            keepalive=60,
            receive_maximum=INFLIGHT,
            session_expiry=3600,
        )
    )
    buf = bytearray()
    packets: list[wire.Publish | wire.Control] = []
    count = 0
    first = last = 0.0
    loads = orjson.loads
    while count < n:
        data = sock.recv(1 << 18)
        if not data:
            break
        buf += data
        del packets[:]
        used = wire.parse(buf, True, packets)
        del buf[:used]
        mids = []
        for p in packets:
            if isinstance(p, wire.Publish):
                loads(p.payload)
                mids.append(p.mid)
        if mids:
            if not count:
                first = time.perf_counter()
            count += len(mids)
            sock.sendall(wire.pubacks(mids))
    last = time.perf_counter()
    sock.sendall(wire.DISCONNECT_PACKET)
    sock.close()
    seconds = last - first
    return {
        "messages": count,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(count / seconds) if seconds else None,
    }


CPU_SECONDS: list[float] = []
"""CPU time of this process (every thread) during each :func:`drain`: steadier than the
rate on a shared machine, since it leaves out the time other processes held the cores."""


def drain(connector: MqttConnector, n: int) -> float:
    """Start ``connector`` on its queued session; seconds from its first message until it
    has stored and acknowledged ``n`` (its CPU time is appended to :data:`CPU_SECONDS`)."""
    cpu = time.process_time()
    start = time.perf_counter()
    first = None
    connector.start()
    deadline = start + 900
    while time.perf_counter() < deadline:
        stats = connector.stats()
        if first is None and stats.received:
            first = time.perf_counter()
        if stats.acked >= n:
            break
        time.sleep(0.01)
    end = time.perf_counter()
    CPU_SECONDS.append(time.process_time() - cpu)
    connector.stop()
    return end - (first or start)


def consumer_settings(port: int, client_id: str, topic: str) -> MqttSettings:
    return MqttSettings(
        url=f"mqtt://127.0.0.1:{port}",
        topics=(topic,),
        qos=1,
        client_id=client_id,
        batch_size=INFLIGHT,
        inflight=INFLIGHT,
        queue_size=20 * INFLIGHT,
    )


def run_twinsight(port: int, n: int, folder: Path, senml: bool, protocol: str) -> dict[str, Any]:
    client_id = f"twinsight-{'senml' if senml else 'json'}"
    topic = "bench/+/senml" if senml else "bench/+/json"
    make_session(port, client_id, topic, protocol)
    payloads = senml_payloads(n) if senml else json_payloads(n)
    publish(port, payloads)
    hub = Hub(folder / client_id, mapping=parse_mapping(MAPPING, "bench"))
    hub.models.add([Document("bench", MODEL)])
    for i in range(TWINS):
        hub.twins.upsert_twin(f"s{i}", {"$metadata": {"$model": MODEL["@id"]}})
    connector = MqttConnector(hub.ingest, consumer_settings(port, client_id, topic), WallClock())
    seconds = drain(connector, n)
    values_expected = n * (100 if senml else 1)
    name = "reading" if senml else "value"
    stored = sum(len(hub.history.range(f"s{i}/{name}", limit=100_000)) for i in range(TWINS))
    dead = hub.dead_letters.count("pending")
    hub.close()
    figures = {
        "messages": n,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(n / seconds),
        "cpu_us_per_message": round(CPU_SECONDS[-1] / n * 1e6, 2),
        "values_stored": stored,
        "values_expected": values_expected,
        "dead_letters": dead,
        "zero_loss": stored == values_expected and dead == 0,
    }
    if senml:
        figures["values_per_s"] = round(values_expected / seconds)
    return figures


def run_senml_pipeline(folder: Path, packs: int, batch: int = 50) -> dict[str, Any]:
    """The SenML pipeline alone, no MQTT: ``hub.ingest.submit`` of ``batch`` packs of 100
    values at a time into an on-disk hub (mapped, validated, durable history, events, data
    quality), the figure the end-to-end ``senml`` run sits on. CPU time per value counts
    every thread of the process and is steadier than the rate on a shared machine."""
    hub = Hub(folder / "senml-pipeline", mapping=parse_mapping(MAPPING, "bench"))
    hub.models.add([Document("bench", MODEL)])
    for i in range(TWINS):
        hub.twins.upsert_twin(f"s{i}", {"$metadata": {"$model": MODEL["@id"]}})
    received = WallClock().now()
    payloads = senml_payloads(packs)
    messages = [
        RawMessage(
            "mqtt",
            f"bench/s{p % TWINS}/senml",
            payloads[f"bench/s{p % TWINS}/senml"][p // TWINS],
            received,
        )
        for p in range(packs)
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    for k in range(0, len(messages), batch):
        result = hub.ingest.submit(messages[k : k + batch])
        assert result.dead_letters == 0, result
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    values = packs * 100
    stored = hub.history.store.count()
    hub.close()
    return {
        "values": values,
        "seconds": round(wall, 3),
        "values_per_s": round(values / wall),
        "cpu_us_per_value": round(cpu / values * 1e6, 3),
        "zero_loss": stored == values,
    }


def run_twinsight_plant(port: int, load: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Twinsight end to end on the virtual plant's queued messages: the factory's hub, its
    ``mapping.yaml`` and models, every value counted in history afterwards."""
    client_id = VIRTUAL_CONSUMERS[2]
    n = load["published"]
    hub = plant.factory_hub(folder / client_id, WallClock(), plant.LINES)
    window = (plant.T0 - timedelta(days=1), plant.T0 + timedelta(days=30))
    hub.recorder.flush()
    before = plant.stored_values(hub, *window)
    connector = MqttConnector(
        hub.ingest, consumer_settings(port, client_id, VIRTUAL_TOPIC), WallClock()
    )
    seconds = drain(connector, n)
    hub.recorder.flush()
    stored = plant.stored_values(hub, *window) - before
    dead = hub.dead_letters.count("pending")
    hub.close()
    return {
        "messages": n,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(n / seconds),
        "cpu_us_per_message": round(CPU_SECONDS[-1] / n * 1e6, 2),
        "values_stored": stored,
        "values_expected": load["values"],
        "dead_letters": dead,
        "zero_loss": stored == load["values"] and dead == 0,
    }


LATENCY_MAPPING = """
mappings:
  - name: latency
    topic: "lat/{twin}/json"
    twin: "{twin}"
    format: json
    time: {field: t, format: epoch_us}
    values: [{field: v, telemetry: reading}]
"""


def ws_client(url: str, ready: Any, results: Any, expected: int, timeout: float) -> None:
    """Child process: subscribe to telemetry, record (receive time - source time) in µs for
    every counted message (v >= 0; warm-up messages carry v = -1)."""
    import asyncio

    from websockets.asyncio.client import connect

    async def run() -> dict[str, Any]:
        latencies: list[int] = []
        dropped = 0
        async with connect(url, max_size=None, max_queue=None) as ws:
            await ws.send(json.dumps({"subscribe": {"types": ["telemetry"]}}))
            ack = orjson.loads(await ws.recv())
            assert ack["type"] == "subscribed", ack
            ready.set()
            deadline = time.monotonic() + timeout
            while len(latencies) < expected and time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                except TimeoutError:
                    break
                now_us = time.time_ns() // 1000
                frame = orjson.loads(raw)
                if frame["type"] == "overflow":
                    dropped += frame["dropped"]
                    continue
                for one in frame["events"] if frame["type"] == "batch" else (frame,):
                    event = one["event"]
                    # messages read together arrive as one event with every sample
                    samples = event.get("samples")
                    if samples is None:
                        pairs = [(event["sourceTime"], event["telemetry"]["reading"])]
                    else:
                        pairs = zip(
                            samples["sourceTime"], samples["telemetry"]["reading"], strict=True
                        )
                    for stamp, reading in pairs:
                        if reading is None or reading < 0:
                            continue
                        sent = datetime.fromisoformat(stamp)
                        latencies.append(now_us - (sent - EPOCH) // ONE_US)
        return {"latencies_us": latencies, "dropped": dropped}

    results.put(asyncio.run(run()))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


def run_latency(
    broker_port: int, folder: Path, rate: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """Publish at ``rate`` through Mosquitto to a running ``twinsight serve``; latency to a
    WebSocket client (see the module docstring)."""
    import httpx

    home = folder / "latency"
    home.mkdir()
    (home / "model.json").write_text(json.dumps(MODEL))
    (home / "mapping.yaml").write_text(LATENCY_MAPPING)
    http_port = free_port()
    exe = Path(sys.executable).parent / "twinsight"
    server = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--port",
            str(http_port),
            "--data-dir",
            str(home / "data"),
            "--models",
            str(home / "model.json"),
            "--mqtt",
            f"mqtt://127.0.0.1:{broker_port}",
            "--mqtt-topic",
            "lat/#",
            "--mapping",
            str(home / "mapping.yaml"),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{base}/models", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("twinsight serve did not start") from None
                time.sleep(0.2)
        body = {"$metadata": {"$model": MODEL["@id"]}}
        httpx.put(f"{base}/digitaltwins/s0", json=body, timeout=10).raise_for_status()
        expected = int(rate * seconds)
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        results = ctx.Queue()
        client = ctx.Process(
            target=ws_client,
            args=(
                f"ws://127.0.0.1:{http_port}/streams/ws?batch=true",
                ready,
                results,
                expected,
                warmup + seconds + 30,
            ),
        )
        client.start()
        if not ready.wait(180):
            raise SystemExit("the WebSocket client did not subscribe")
        exe_pub = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
        topic = "lat/s0/json"
        command = [exe_pub, "-h", "127.0.0.1", "-p", str(broker_port), "-t", topic]
        command += ["-q", "1", "-M", "1000", "-l"]  # see the module docstring for -M
        pub = subprocess.Popen(command, stdin=subprocess.PIPE)
        assert pub.stdin is not None
        total = int(rate * (warmup + seconds))
        counted_from = total - expected
        start = time.perf_counter()
        sent = last = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            lines = []
            while sent < due:
                stamp = max(time.time_ns() // 1000, last + 1)
                last = stamp
                value = -1 if sent < counted_from else sent
                lines.append(b'{"t":%d,"v":%d}' % (stamp, value))
                sent += 1
            if lines:
                pub.stdin.write(b"\n".join(lines) + b"\n")
                pub.stdin.flush()
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
        pub.stdin.close()
        pub.wait(60)
        got = results.get(timeout=warmup + seconds + 60)
        client.join(10)
    finally:
        server.terminate()
        server.wait(30)
    lat = sorted(got["latencies_us"])

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] / 1000, 2) if lat else None

    return {
        "rate": rate,
        "publish_rate": round(sent / elapsed),
        "seconds": seconds,
        "received": len(lat),
        "expected": expected,
        "dropped": got["dropped"],
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1] / 1000, 2) if lat else None,
    }


def measure_latency(port: int, folder: Path, rate: int, quick: bool) -> dict[str, Any]:
    seconds, warmup = (5.0, 2.0) if quick else (10.0, 3.0)
    print(
        f"latency: publish -> twinsight serve -> WebSocket at {rate:,} msg/s for {seconds:g} s ...",
        flush=True,
    )
    latency = run_latency(port, folder, rate, seconds, warmup)
    print(
        f"  p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, "
        f"{latency['received']:,}/{latency['expected']:,} received",
        flush=True,
    )
    return latency


def latency_met(latency: dict[str, Any] | None) -> bool:
    return bool(
        latency
        and latency["p99_ms"] is not None
        and latency["p99_ms"] <= 25
        and latency["received"] == latency["expected"]
    )


def latency_only(rate: int, quick: bool) -> None:
    """``--latency-only``: the latency run alone, its figures as the last line."""
    with tempfile.TemporaryDirectory(prefix="twinsight-ingest-bench-") as tmp:
        broker = Broker(Path(tmp))
        try:
            latency = measure_latency(broker.port, Path(tmp), rate, quick)
        finally:
            broker.stop()
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).date().isoformat(),
                "cpus": os.cpu_count(),
                "latency": latency,
                "goals_met": {"latency_p99_ms<=25": latency_met(latency)},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 messages, < 1 minute")
    parser.add_argument("--messages", type=int, help="messages per run (default 200,000)")
    parser.add_argument(
        "--protocol", choices=["5", "3.1.1"], default="5", help="MQTT version of both consumers"
    )
    parser.add_argument("--rate", type=int, default=10_000, help="latency run: messages/s")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument(
        "--latency-only", action="store_true", help="only the latency run (no throughput runs)"
    )
    parser.add_argument(
        "--load",
        choices=["virtual", "raw"],
        default="virtual",
        help="what the ceiling and end-to-end consumers drain: the factory's virtual devices "
        "(default) or single-value JSON from mosquitto_pub (the figures before virtual devices)",
    )
    args = parser.parse_args()
    if args.latency_only:
        latency_only(args.rate, args.quick)
        return
    n = args.messages or (20_000 if args.quick else 200_000)
    packs = max(TWINS, n // 20)
    with tempfile.TemporaryDirectory(prefix="twinsight-ingest-bench-") as tmp:
        folder = Path(tmp)
        broker = Broker(folder)
        try:
            load: dict[str, Any] | None = None
            if args.load == "virtual":
                # One load for the three consumers: each has a persistent session on the
                # factory's topics, so the broker queues every message for each of them.
                for client_id in VIRTUAL_CONSUMERS:
                    make_session(broker.port, client_id, VIRTUAL_TOPIC, args.protocol)
                print(
                    f"load: the {plant.LINES * 4}-machine factory's virtual devices publish "
                    f"{n:,} messages ...",
                    flush=True,
                )
                load = plant.publish_load(broker.url, n)
                n = load["published"]
                print(
                    f"  {n:,} messages ({load['values']:,} values) at "
                    f"{load['published_per_s']:,} msg/s",
                    flush=True,
                )
            queued = load is not None
            print(f"ceiling: bare paho subscriber, {n:,} JSON messages ...", flush=True)
            ceiling = run_ceiling(broker.port, n, args.protocol, queued=queued)
            print(f"  {ceiling['msgs_per_s']:,} msg/s", flush=True)
            print(f"ceiling_bulk: bare bulk-reader subscriber, {n:,} messages ...", flush=True)
            bulk = run_bulk_ceiling(broker.port, n, queued=queued)
            print(f"  {bulk['msgs_per_s']:,} msg/s", flush=True)
            print("twinsight: MQTT -> mapping -> validation -> state -> history ...", flush=True)
            if load is not None:
                twinsight = run_twinsight_plant(broker.port, load, folder)
            else:
                twinsight = run_twinsight(broker.port, n, folder, False, args.protocol)
            print(
                f"  {twinsight['msgs_per_s']:,} msg/s, zero loss: {twinsight['zero_loss']}",
                flush=True,
            )
            print(f"senml_pipeline: {packs:,} packs of 100 values, no MQTT ...", flush=True)
            senml_pipeline = run_senml_pipeline(folder, packs)
            print(
                f"  {senml_pipeline['values_per_s']:,} values/s, "
                f"{senml_pipeline['cpu_us_per_value']} µs CPU/value",
                flush=True,
            )
            print(f"senml: {packs:,} packs of 100 values ...", flush=True)
            senml = run_twinsight(broker.port, packs, folder, True, args.protocol)
            print(
                f"  {senml['values_per_s']:,} values/s, zero loss: {senml['zero_loss']}", flush=True
            )
            latency: dict[str, Any] | None = None
            if not args.no_latency:
                latency = measure_latency(broker.port, folder, args.rate, args.quick)
        finally:
            broker.stop()
    ratio = (twinsight["msgs_per_s"] / ceiling["msgs_per_s"]) if ceiling["msgs_per_s"] else None
    ratio_bulk = (twinsight["msgs_per_s"] / bulk["msgs_per_s"]) if bulk["msgs_per_s"] else None
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "messages": n,
        "protocol": args.protocol,
        "load": args.load,
        "virtual_load": load,
        "ceiling": ceiling,
        "twinsight": twinsight,
        "senml": senml,
        "senml_pipeline": senml_pipeline,
        "ceiling_bulk": bulk,
        "latency": latency,
        "ratio_to_ceiling": round(ratio, 3) if ratio else None,
        "ratio_to_ceiling_bulk": round(ratio_bulk, 3) if ratio_bulk else None,
        "goals_met": {
            "msgs_per_s>=50000": twinsight["msgs_per_s"] >= 50_000,
            "ratio>=0.7": bool(ratio and ratio >= 0.7),
            "senml_values_per_s>=1000000": senml.get("values_per_s", 0) >= 1_000_000,
            "zero_loss": twinsight["zero_loss"] and senml["zero_loss"],
            "latency_p99_ms<=25": latency_met(latency),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
