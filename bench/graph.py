"""Twin graph at scale: load a building-like RealEstateCore graph through the public twin
service, restart it from disk, serve it over HTTP and measure reads, patches and queries.

Why through the service (``hub.twins.upsert_twin`` / ``upsert_relationship``) and not
straight into SQLite: the figure that matters is what a real import costs, with every
document validated against its DTDL model and committed before it is acknowledged.

Graph (RealEstateCore 3.3 interfaces and their own relationship names)::

    Campus -includes-> Building -hasPart-> Level -hasPart-> Room
    HVACEquipment -locatedIn-> Room,  HVACEquipment -hasCapability-> TemperatureSensor (x2)

Per room: the room, one piece of equipment and two sensors (4 twins, 4 relationships);
20 rooms per level, 10 levels per building, 50 buildings per campus.

Measured:

* load: wall time, twins/s and relationships/s, RSS of the loading process (VmRSS);
* restart: ``twinsight serve`` on the same data dir, time until ``/health`` answers, and the
  server's RSS;
* HTTP (``wrk``, several connections, fixed duration, random twin ids): GET twin and PATCH
  twin (JSON Patch of a sensor's ``lastValue``) requests/s and p50/p99 latency, and GET with
  bearer-token authentication on;
* queries through ``hub.twins.query`` on the loaded graph, median of N runs (first page):
  model + property filter, and a 3-hop MATCH from one level to its sensors.

Usage (repo root): ``python bench/graph.py`` (1,000,000 twins) or ``--quick`` (20,000
twins, short HTTP runs, under a minute). Human-readable progress goes to stdout; the LAST
stdout line is one JSON object with every figure. ``wrk`` must be installed
(``scripts/setup.sh`` does it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twinsight.hub import Hub  # noqa: E402
from twinsight.models.loader import load_paths  # noqa: E402

REC = Path(os.environ.get("TWINSIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))
REC_MODELS = REC / "dtdl" / "realestatecore"

CORE = "dtmi:digitaltwins:rec_3_3:core:"
CAMPUS, BUILDING = CORE + "Campus;1", CORE + "Building;1"
LEVEL, ROOM = CORE + "Level;1", CORE + "Room;1"
EQUIPMENT = "dtmi:digitaltwins:rec_3_3:asset:HVACEquipment;1"
SENSOR = "dtmi:digitaltwins:rec_3_3:device:TemperatureSensor;1"

ROOMS_PER_LEVEL, LEVELS_PER_BUILDING, BUILDINGS_PER_CAMPUS = 20, 10, 50
SENSORS_PER_ROOM = 2
TWINS_PER_ROOM = 2 + SENSORS_PER_ROOM

Item = tuple[str, str, str, dict[str, Any]]
"""``("twin", id, "", body)`` or ``("rel", source, relationship id, body)``."""


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def level_id(b: int, lv: int) -> str:
    return f"level-{b}-{lv}"


def graph(twins: int, components: dict[str, list[str]]) -> Iterator[Item]:
    """Twins and relationships in dependency order (targets exist before links to them).

    ``components`` lists each model's components: ADT requires every component to be present
    on a new twin (empty, ``{"$metadata": {}}``), and REC's spaces have several.
    """
    rooms = max(1, twins // TWINS_PER_ROOM)
    levels = -(-rooms // ROOMS_PER_LEVEL)
    buildings = -(-levels // LEVELS_PER_BUILDING)
    campuses = -(-buildings // BUILDINGS_PER_CAMPUS)
    rng = random.Random(7)

    def rel(source: str, name: str, target: str) -> Item:
        return ("rel", source, f"{name}-{target}", {"$relationshipName": name, "$targetId": target})

    def twin(twin_id: str, body: dict[str, Any]) -> Item:
        for name in components[body["$metadata"]["$model"]]:
            body[name] = {"$metadata": {}}
        return ("twin", twin_id, "", body)

    for c in range(campuses):
        yield twin(f"campus-{c}", {"$metadata": {"$model": CAMPUS}, "name": f"C{c}"})
    room = 0
    for b in range(buildings):
        building = f"building-{b}"
        yield twin(building, {"$metadata": {"$model": BUILDING}, "name": f"B{b}"})
        yield rel(f"campus-{b // BUILDINGS_PER_CAMPUS}", "includes", building)
        for lv in range(LEVELS_PER_BUILDING):
            if room >= rooms:
                break
            level = level_id(b, lv)
            body = {"$metadata": {"$model": LEVEL}, "name": f"B{b} L{lv}", "levelNumber": lv}
            yield twin(level, body)
            yield rel(building, "hasPart", level)
            for r in range(ROOMS_PER_LEVEL):
                if room >= rooms:
                    break
                room_id = f"room-{b}-{lv}-{r}"
                yield twin(
                    room_id,
                    {
                        "$metadata": {"$model": ROOM},
                        "name": f"B{b} L{lv} R{r}",
                        "personCapacity": rng.randint(1, 60),
                    },
                )
                yield rel(level, "hasPart", room_id)
                equipment = f"ahu-{room}"
                yield twin(
                    equipment,
                    {"$metadata": {"$model": EQUIPMENT}, "serialNumber": f"SN{room:08d}"},
                )
                yield rel(equipment, "locatedIn", room_id)
                for s in range(SENSORS_PER_ROOM):
                    sensor = f"temp-{room}-{s}"
                    yield twin(
                        sensor,
                        {
                            "$metadata": {"$model": SENSOR},
                            "name": f"T{room}.{s}",
                            "lastValue": round(rng.uniform(18, 26), 2),
                        },
                    )
                    yield rel(equipment, "hasCapability", sensor)
                room += 1


def load(data_dir: Path, twins: int) -> dict[str, Any]:
    """Models then graph, through the public service; progress every ~10 %."""
    figures: dict[str, Any] = {}
    t0 = time.perf_counter()
    hub = Hub(data_dir)
    documents, errors = load_paths([REC_MODELS])
    if errors:
        raise SystemExit(f"cannot load RealEstateCore: {errors[:3]}")
    hub.models.add(documents)
    figures["models"] = len(hub.models)
    figures["model_import_s"] = round(time.perf_counter() - t0, 2)
    print(f"imported {len(hub.models)} RealEstateCore models in {figures['model_import_s']} s")
    n_twins = n_rels = 0
    step = max(1, twins // 10)
    t0 = time.perf_counter()
    model_set = hub.models.model_set
    components = {
        m: sorted(model_set.interface(m).components)
        for m in (CAMPUS, BUILDING, LEVEL, ROOM, EQUIPMENT, SENSOR)
    }
    for kind, a, b, body in graph(twins, components):
        if kind == "twin":
            hub.twins.upsert_twin(a, body)
            n_twins += 1
            if n_twins % step == 0:
                elapsed = time.perf_counter() - t0
                print(
                    f"  {n_twins:>9,} twins {n_rels:>9,} relationships  {elapsed:7.1f} s  "
                    f"{n_twins / elapsed:8,.0f} twins/s  RSS {rss_mb():,.0f} MB",
                    flush=True,
                )
        else:
            hub.twins.upsert_relationship(a, b, body)
            n_rels += 1
    load_s = time.perf_counter() - t0
    figures.update(
        twins=n_twins,
        target_twins=twins,
        relationships=n_rels,
        load_s=round(load_s, 1),
        load_twins_per_s=round(n_twins / load_s),
        load_writes_per_s=round((n_twins + n_rels) / load_s),
        load_rss_mb=round(rss_mb()),
        db_mb=round(sum(f.stat().st_size for f in data_dir.iterdir()) / 2**20),
    )
    print(
        f"loaded {n_twins:,} twins and {n_rels:,} relationships in {load_s:.1f} s "
        f"({figures['load_writes_per_s']:,} writes/s); RSS {figures['load_rss_mb']:,} MB, "
        f"database {figures['db_mb']:,} MB"
    )
    figures.update(queries(hub, runs=25))
    hub.close()
    return figures


def reopen(data_dir: Path) -> dict[str, Any]:
    """Open an already loaded graph (``--reuse``): restart time in process, then queries."""
    t0 = time.perf_counter()
    hub = Hub(data_dir)
    figures: dict[str, Any] = {
        "reopen_s": round(time.perf_counter() - t0, 2),
        "twins": hub.twins.index.twin_count,
        "relationships": hub.twins.index.relationship_count,
        "reopen_rss_mb": round(rss_mb()),
    }
    print(
        f"reopened {figures['twins']:,} twins, {figures['relationships']:,} relationships in "
        f"{figures['reopen_s']} s; RSS {figures['reopen_rss_mb']:,} MB"
    )
    figures.update(queries(hub, runs=25))
    hub.close()
    return figures


def timed(fn: Any, runs: int) -> float:
    """Median of ``runs`` runs, in milliseconds."""
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def queries(hub: Hub, runs: int) -> dict[str, Any]:
    model_prop = (
        f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ROOM}') AND T.personCapacity = 42"
    )
    anchor = level_id(0, 3)
    match3 = (
        "SELECT sensor FROM DIGITALTWINS MATCH (level)-[:hasPart]->(room)"
        "<-[:locatedIn]-(equipment)-[:hasCapability]->(sensor) "
        f"WHERE level.$dtId = '{anchor}'"
    )
    out: dict[str, Any] = {}
    for name, text in (("query_model_prop", model_prop), ("query_match3", match3)):
        t0 = time.perf_counter()
        page = hub.twins.query(text)  # the first run builds any property index it needs
        first = (time.perf_counter() - t0) * 1000
        median = timed(lambda t=text: hub.twins.query(t), runs)
        out[f"{name}_first_ms"] = round(first, 2)
        out[f"{name}_median_ms"] = round(median, 2)
        out[f"{name}_rows_first_page"] = len(page.items)
        print(
            f"{name}: median {median:.2f} ms over {runs} runs (first {first:.2f} ms), "
            f"{len(page.items)} row(s) on the first page\n    {text}"
        )
    return out


# --------------------------------------------------------------------- HTTP


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``twinsight serve`` in a subprocess, as an operator would start it."""

    def __init__(self, data_dir: Path, *, require_auth: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("twinsight")
        args = [
            str(exe),
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            "--embedded-broker-port",
            "0",
        ]  # measure the HTTP API alone
        args += ["--no-access-log", "--log-level", "warning"]
        if require_auth:
            args.append("--require-auth")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(args)
        deadline = time.monotonic() + 1800
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    self.health = json.loads(r.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.start_s = time.perf_counter() - t0

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


LUA = r"""
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local mode = "%(mode)s"
local token = "%(token)s"
math.randomseed(%(seed)d)
local headers = {["Content-Type"] = "application/json"}
if token ~= "" then headers["Authorization"] = "Bearer " .. token end
request = function()
  local id = ids[math.random(#ids)]
  if mode == "patch" then
    local body = string.format('[{"op":"replace","path":"/lastValue","value":%%.2f}]',
                               18 + math.random() * 8)
    return wrk.format("PATCH", "/digitaltwins/" .. id, headers, body)
  end
  return wrk.format("GET", "/digitaltwins/" .. id, headers)
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
              + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "mean_us": %%d}\n', summary.requests, summary.duration, bad,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def run_wrk(
    url: str, ids_file: Path, mode: str, *, seconds: int, connections: int, token: str = ""
) -> dict[str, Any]:
    script = ids_file.with_name(f"{mode}.lua")
    script.write_text(LUA % {"ids": ids_file, "mode": mode, "token": token, "seed": 11})
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    result = {
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6)),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": raw["errors"],
        "requests": raw["requests"],
    }
    print(
        f"  {mode.upper():5} {connections} connections {seconds} s: {result['rps']:,} req/s  "
        f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  errors {result['errors']}",
        flush=True,
    )
    return result


def http(data_dir: Path, twins: int, *, seconds: int, connections: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run scripts/setup.sh (apt-get install wrk)")
    rng = random.Random(3)
    rooms = max(1, twins // TWINS_PER_ROOM)
    sample = 10_000
    # Room ids follow graph(): room r is on level r // 20 of building r // 200.
    ids_file = data_dir.parent / "bench-ids.txt"
    get_ids = [
        rng.choice([f"room-{r // 200}-{r // 20 % 10}-{r % 20}", f"ahu-{r}", f"temp-{r}-0"])
        for r in (rng.randrange(rooms) for _ in range(sample))
    ]
    ids_file.write_text("\n".join(get_ids) + "\n")
    patch_file = data_dir.parent / "bench-sensors.txt"
    patch_file.write_text(
        "\n".join(f"temp-{rng.randrange(rooms)}-{rng.randrange(2)}" for _ in range(sample)) + "\n"
    )
    figures: dict[str, Any] = {}
    server = Server(data_dir)
    try:
        figures["restart_s"] = round(server.start_s, 2)
        figures["server_twins"] = server.health["twins"]
        figures["server_rss_mb"] = round(server.rss_mb())
        print(
            f"restart: server answered /health after {server.start_s:.2f} s with "
            f"{server.health['twins']:,} twins; RSS {figures['server_rss_mb']:,} MB"
        )
        run_wrk(server.url, ids_file, "get", seconds=2, connections=connections)  # warm-up
        figures["get"] = run_wrk(
            server.url, ids_file, "get", seconds=seconds, connections=connections
        )
        figures["patch"] = run_wrk(
            server.url, patch_file, "patch", seconds=seconds, connections=connections
        )
    finally:
        server.stop()
    exe = Path(sys.executable).with_name("twinsight")
    name = f"bench-{time.time_ns()}"
    create = [str(exe), "tokens", "create", name, "--scope", "read", "--data-dir", str(data_dir)]
    token = subprocess.run(create, capture_output=True, text=True, check=True).stdout.strip()
    server = Server(data_dir, require_auth=True)
    try:
        run_wrk(server.url, ids_file, "get", seconds=2, connections=connections, token=token)
        figures["get_auth"] = run_wrk(
            server.url, ids_file, "get", seconds=seconds, connections=connections, token=token
        )
    finally:
        server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k twins, short HTTP runs")
    parser.add_argument("--twins", type=int, help="number of twins (default 1,000,000)")
    parser.add_argument("--seconds", type=int, help="duration of each HTTP run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, help="keep the database here (default: temp)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="skip the load: reopen the graph already in --data-dir, then queries and HTTP",
    )
    args = parser.parse_args()
    if args.reuse and args.data_dir is None:
        parser.error("--reuse needs --data-dir")
    twins = args.twins or (20_000 if args.quick else 1_000_000)
    seconds = args.seconds or (5 if args.quick else 20)
    work = Path(tempfile.mkdtemp(prefix="twinsight-bench-"))
    data_dir = args.data_dir or work / "data"
    if not args.reuse and data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty")
    print(
        f"bench/graph.py: {twins:,} twins, HTTP {seconds} s x {args.connections} connections, "
        f"{os.cpu_count()} CPU(s), Python {platform.python_version()}"
    )
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "target_twins": twins,
        "connections": args.connections,
        "http_seconds": seconds,
    }
    try:
        figures.update(reopen(data_dir) if args.reuse else load(data_dir, twins))
        figures.update(http(data_dir, twins, seconds=seconds, connections=args.connections))
    finally:
        if args.data_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    goals = {
        "get_rps>=3000": figures["get"]["rps"] >= 3000,
        "patch_rps>=2000": figures["patch"]["rps"] >= 2000,
        "query_model_prop<=50ms": figures["query_model_prop_median_ms"] <= 50,
        "query_match3<=20ms": figures["query_match3_median_ms"] <= 20,
    }
    figures["goals_met"] = goals
    print("goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in goals.items()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
