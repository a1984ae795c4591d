"""``twinsight rules list|enable|disable|test`` on a data folder holding the factory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from support import add_factory_models
from twinsight.cli import app
from twinsight.hub import Hub
from twinsight.scenarios.factory import world

runner = CliRunner()


def _factory(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=1)
        start = datetime.now(UTC) - timedelta(minutes=10)
        for i in range(30):  # 101 °C for 5 minutes, recorded
            hub.twins.publish_telemetry(
                "line-1-motor",
                {"windingTemperature": 101.0},
                message_id=f"m{i}",
                source_time=start + timedelta(seconds=10 * i),
            )
        hub.recorder.flush()


def test_list_disable_enable_and_test(tmp_path: Path) -> None:
    _factory(tmp_path)
    listed = runner.invoke(app, ["rules", "list", "--data-dir", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    rules = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rules["hot-motor-slows-down"]["enabled"] is True
    off = runner.invoke(
        app, ["rules", "disable", "hot-motor-slows-down", "--data-dir", str(tmp_path)]
    )
    assert off.exit_code == 0, off.output
    listed = runner.invoke(app, ["rules", "list", "--data-dir", str(tmp_path), "--json"])
    assert {r["name"]: r for r in json.loads(listed.stdout)}["hot-motor-slows-down"][
        "enabled"
    ] is False
    on = runner.invoke(
        app, ["rules", "enable", "hot-motor-slows-down", "--data-dir", str(tmp_path)]
    )
    assert on.exit_code == 0
    tested = runner.invoke(
        app,
        ["rules", "test", "hot-motor-slows-down", "--since", "1 h", "--data-dir", str(tmp_path)],
    )
    assert tested.exit_code == 0, tested.output
    report = json.loads(tested.stdout)
    assert [f["twin"] for f in report["firings"]] == ["line-1-motor"]


def test_bad_input(tmp_path: Path) -> None:
    _factory(tmp_path)
    unknown = runner.invoke(app, ["rules", "test", "nope", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 1 and "no rule 'nope'" in unknown.output
    negative = runner.invoke(
        app, ["rules", "test", "rul-maintenance", "--since", "-5 min", "--data-dir", str(tmp_path)]
    )
    assert negative.exit_code == 2 and "cannot be negative" in negative.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    model: 'dtmi:x:Nope;1'\n    when: 'a >'\n")
    refused = runner.invoke(
        app, ["rules", "list", "--rules", str(bad), "--data-dir", str(tmp_path)]
    )
    assert refused.exit_code == 2
    assert "line 4" in refused.output and "cannot parse" in refused.output


def test_serve_with_rules_and_guards(tmp_path: Path) -> None:
    """``twinsight serve --guards --rules``: the files are checked against the server's
    models; a bad one stops it before it listens, naming the problem; good ones run."""
    import subprocess
    import sys

    import httpx

    from adt import free_port
    from brokers import wait_until
    from support import FACTORY_MODELS
    from twinsight.scenarios import factory

    twinsight = str(Path(sys.executable).parent / "twinsight")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - {name: r, model: 'dtmi:twinsight:factory:Motor;1', when: 'colour > 1',"
        " then: {command: stop}}\n"
    )
    common = ["serve", "--models", str(FACTORY_MODELS), "--data-dir", str(tmp_path / "d")]
    refused = subprocess.run(
        [twinsight, *common, "--port", str(free_port()), "--rules", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "declares no property or telemetry 'colour'" in refused.stderr
    port = free_port()
    process = subprocess.Popen(
        [twinsight, *common, "--port", str(port), "--rules", str(factory.RULES_FILE),
         "--guards", str(factory.GUARDS_FILE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/rules").status_code == 200
            except httpx.HTTPError:
                return process.poll() is not None

        wait_until(up, timeout=60, what="the server's rules")
        assert process.poll() is None
        listed = httpx.get(f"http://127.0.0.1:{port}/rules").json()
        assert {r["name"] for r in listed["value"]} == {"hot-motor-slows-down", "rul-maintenance"}
    finally:
        process.terminate()
        process.wait(20)
