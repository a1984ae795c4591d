"""An acknowledged write survives ``kill -9`` of the server at any moment.

The server runs as a real ``twinsight serve`` subprocess. Two client threads stream
PUT twin, PATCH twin and PUT relationship requests, each thread on its own twins so every
twin's writes are ordered; each write carries a number that only grows (``targetRate`` for
twins, a fresh relationship id for relationships). When a seeded random number of writes
has been acknowledged the server gets SIGKILL, mid-stream; it is restarted on the same data
directory and every twin must hold its last acknowledged value, or the one write that was
in flight when the server died (sent but never answered, so either outcome is correct), and
every acknowledged relationship must exist. Three kill/restart rounds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from adt import free_port
from support import FACTORY_MODELS
from twinsight.hub import Hub
from twinsight.models.loader import load_paths

pytestmark = pytest.mark.slow

LINE = "dtmi:twinsight:factory:ProductionLine;1"
MACHINE = "dtmi:twinsight:factory:Machine;1"
THREADS = 2
TWINS_PER_THREAD = 4
ROUNDS = 3


class Server:
    """``twinsight serve`` as a subprocess, killable with SIGKILL."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("twinsight")
        self.log = data_dir.parent / f"server-{self.port}.log"
        args = [str(exe), "serve", "--port", str(self.port), "--data-dir", str(data_dir)]
        args += ["--log-level", "warning", "--no-access-log"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:  # poll /health: the only waiting this test does
            if self.proc.poll() is not None:
                output = self.log.read_text()
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {output}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("the server did not answer /health within 30 s")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@dataclass
class TwinLog:
    """What one client knows about one twin: acknowledged and in-flight values."""

    acked: float | None = None
    acked_etag: str | None = None
    in_flight: float | None = None


@dataclass
class Ledger:
    twins: dict[str, TwinLog] = field(default_factory=dict)
    acked_relationships: set[tuple[str, str]] = field(default_factory=set)
    maybe_relationships: set[tuple[str, str]] = field(default_factory=set)
    acks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def setup_data(data_dir: Path) -> None:
    documents, errors = load_paths([FACTORY_MODELS])
    assert not errors
    with Hub(data_dir) as hub:
        hub.models.add(documents)
        for t in range(THREADS):
            for i in range(TWINS_PER_THREAD):
                hub.twins.upsert_twin(
                    f"line-{t}-{i}", {"$metadata": {"$model": LINE}, "name": "start"}
                )
            hub.twins.upsert_twin(f"machine-{t}", {"$metadata": {"$model": MACHINE}})


def writer(
    url: str,
    thread: int,
    seq: Iterator[int],
    rng: random.Random,
    ledger: Ledger,
    kill_at: int,
    kill_now: threading.Event,
) -> None:
    """Write until the server goes away; record every answer as it comes."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            n = float(next(seq))
            twin_id = f"line-{thread}-{rng.randrange(TWINS_PER_THREAD)}"
            op = rng.choice(("put", "patch", "relationship"))
            log = ledger.twins.setdefault(twin_id, TwinLog())
            rel_key = (twin_id, f"r-{thread}-{int(n)}")
            if op == "relationship":
                ledger.maybe_relationships.add(rel_key)
            else:
                log.in_flight = n
            try:
                if op == "put":
                    body = {"$metadata": {"$model": LINE}, "name": f"v{n}", "targetRate": n}
                    r = client.put(f"/digitaltwins/{twin_id}", json=body)
                elif op == "patch":
                    ops = [{"op": "add", "path": "/targetRate", "value": n}]
                    r = client.patch(f"/digitaltwins/{twin_id}", json=ops)
                else:
                    body = {"$relationshipName": "hasMachine", "$targetId": f"machine-{thread}"}
                    r = client.put(f"/digitaltwins/{twin_id}/relationships/{rel_key[1]}", json=body)
            except httpx.TransportError:
                return  # the server was killed; what was in flight stays "maybe"
            assert r.status_code in (200, 204), r.text
            if op == "relationship":
                ledger.maybe_relationships.discard(rel_key)
                ledger.acked_relationships.add(rel_key)
            else:
                log.acked, log.acked_etag, log.in_flight = n, r.headers["ETag"], None
            with ledger.lock:
                ledger.acks += 1
                if ledger.acks >= kill_at:
                    kill_now.set()


def check(url: str, ledger: Ledger) -> int:
    """Every acknowledged write is there after the restart; returns how many were checked."""
    checked = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        for twin_id, log in ledger.twins.items():
            twin = client.get(f"/digitaltwins/{twin_id}").json()
            stored = twin.get("targetRate")  # None: never written (the starting state)
            allowed = {log.acked} if log.in_flight is None else {log.acked, log.in_flight}
            assert stored in allowed, (
                f"{twin_id}: stored targetRate {stored}, acknowledged {log.acked}, "
                f"in flight {log.in_flight}"
            )
            if stored == log.acked and log.acked_etag is not None:
                assert twin["$etag"] == log.acked_etag
            # What is stored is now the baseline for the next round.
            log.acked = stored
            log.acked_etag = twin["$etag"]
            log.in_flight = None
            checked += 1
        for source, rel_id in ledger.acked_relationships:
            r = client.get(f"/digitaltwins/{source}/relationships/{rel_id}")
            assert r.status_code == 200, f"acknowledged relationship {source}/{rel_id} is lost"
            assert r.json()["$targetId"].startswith("machine-")
            checked += 1
        for source, rel_id in ledger.maybe_relationships:  # either outcome is fine
            r = client.get(f"/digitaltwins/{source}/relationships/{rel_id}")
            assert r.status_code in (200, 404)
            if r.status_code == 200:
                ledger.acked_relationships.add((source, rel_id))
        ledger.maybe_relationships.clear()
    return checked


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    setup_data(data_dir)
    rng = random.Random(20261122)
    ledger = Ledger()
    counters = [iter(range(t * 10**9 + 1, (t + 1) * 10**9)) for t in range(THREADS)]
    thread_rngs = [random.Random(rng.random()) for _ in range(THREADS)]
    total_acks = 0
    server = Server(data_dir)
    try:
        for _round in range(ROUNDS):
            ledger.acks = 0
            kill_now = threading.Event()
            kill_at = rng.randint(20, 250)
            threads = [
                threading.Thread(
                    target=writer,
                    args=(server.url, t, counters[t], thread_rngs[t], ledger, kill_at, kill_now),
                    daemon=True,
                )
                for t in range(THREADS)
            ]
            for th in threads:
                th.start()
            assert kill_now.wait(timeout=30), "the writers never reached the kill point"
            os.kill(server.proc.pid, signal.SIGKILL)  # mid-stream, writes in flight
            for th in threads:
                th.join(timeout=15)
                assert not th.is_alive()
            total_acks += ledger.acks
            server.kill()
            server = Server(data_dir)  # restart on the same data dir, then check
            assert check(server.url, ledger) > 0
    finally:
        server.kill()
    assert total_acks >= ROUNDS * 20
    assert ledger.acked_relationships, "the stream should have created relationships"
    # And the data is intact for the embedded API too (not just over HTTP).
    with Hub(data_dir) as hub:
        for source, rel_id in ledger.acked_relationships:
            assert hub.twins.get_relationship(source, rel_id)["$relationshipName"] == "hasMachine"
        for twin_id, log in ledger.twins.items():
            if log.acked is not None:
                assert hub.twins.get_twin(twin_id).get("targetRate") == log.acked
