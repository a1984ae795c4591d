"""``twinsight demo`` starts the factory's guards and rules: /rules lists them, and a
set-point over the motors' bounds is refused through the actions API by the factory's
guard file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from adt import free_port
from brokers import wait_until

TWINSIGHT = Path(sys.executable).parent / "twinsight"


def test_the_demo_runs_the_factory_rules_and_guards(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(TWINSIGHT), "demo", "--port", str(port), "--broker-port", str(free_port()),
             "--data-dir", str(tmp_path / "demo"), "--lines", "1"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def rules_up() -> bool:
        try:
            return httpx.get(f"{url}/rules").status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(rules_up, timeout=90, what="the demo's rules")
        assert process.poll() is None, log.read_text()
        names = {r["name"] for r in httpx.get(f"{url}/rules").json()["value"]}
        assert names == {"hot-motor-slows-down", "rul-maintenance"}
        assert "guards and 2 rules" in log.read_text()
        refused = httpx.put(f"{url}/twins/line-1-motor/desired/speedSetpoint", json=1750.0)
        assert refused.status_code == 200, refused.text  # answered, refused, recorded
        action = refused.json()
        assert action["state"] == "refused" and action["guard"] == "bounds:motor-speed"
        assert "over its max 1700" in action["verdict"]
    finally:
        process.terminate()
        process.wait(20)
