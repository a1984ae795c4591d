"""A Mosquitto for a benchmark: started on a free loopback port, with unlimited queues.

Shared by the ingest and virtual-plant benchmarks. Unlimited queues (``max_queued_messages
0``) let a whole run wait at the broker for a consumer that is away or slower than the
publisher, so a figure never depends on the broker dropping or throttling messages.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

INFLIGHT = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A Mosquitto with unlimited queues, so a whole run can wait for its consumer."""

    def __init__(self, folder: Path) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = free_port()
        config = folder / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"max_inflight_messages {INFLIGHT}",
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "persistence false",
        ]
        if os.geteuid() == 0:
            lines.insert(0, "user root")
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen([exe, "-c", str(config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit("mosquitto did not start")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
