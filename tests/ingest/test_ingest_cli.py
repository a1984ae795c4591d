"""``twinsight mapping validate`` and ``twinsight deadletters ...`` on a real data folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from twinsight.cli import app
from twinsight.core.clock import WallClock
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world

runner = CliRunner()
GOOD = """
mappings:
  - name: power
    topic: "plant/{twin}/power"
    twin: "{twin}"
    format: number
    values: [{property: ratedPower}]
"""


def test_mapping_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = runner.invoke(app, ["mapping", "validate", str(good)])
    assert result.exit_code == 0 and "1 rule(s): power" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("number", "xml").replace('{twin}"\n', '{who}"\n'))
    result = runner.invoke(app, ["mapping", "validate", str(bad)])
    assert result.exit_code == 1
    assert "mappings[0].format" in result.output
    assert runner.invoke(app, ["mapping", "validate", str(tmp_path / "nope.yaml")]).exit_code == 2


def test_deadletters_list_show_replay_discard(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Hub(data) as hub:
        docs, _ = load_paths([MODELS_DIR])
        hub.models.add(docs)
        world.build(hub.twins)
        now = WallClock().now()
        hub.ingest.submit(
            [
                RawMessage("mqtt", "plant/line-1-motor/power", b"12.5", now),
                RawMessage("mqtt", "plant/line-2-motor/power", b"\x00\x01", now),
            ]
        )  # no mapping yet: both become dead letters
    args = ["--data-dir", str(data)]
    listed = json.loads(runner.invoke(app, ["deadletters", "list", "--json", *args]).stdout)
    assert [x["address"] for x in listed] == [
        "plant/line-1-motor/power",
        "plant/line-2-motor/power",
    ]
    assert "no mapping rule matches" in listed[0]["reason"]
    shown = runner.invoke(app, ["deadletters", "show", str(listed[1]["id"]), *args])
    assert shown.exit_code == 0 and "00 01" in shown.output
    mapping = tmp_path / "m.yaml"
    mapping.write_text(GOOD)
    replay = runner.invoke(app, ["deadletters", "replay", "--mapping", str(mapping), *args])
    assert replay.exit_code == 1  # the binary one still fails
    assert "replayed 1; still failing 1" in replay.output
    assert (
        runner.invoke(app, ["deadletters", "discard", str(listed[1]["id"]), *args]).exit_code == 0
    )
    assert json.loads(runner.invoke(app, ["deadletters", "list", "--json", *args]).stdout) == []
    with Hub(data) as hub:
        assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 12.5
    assert runner.invoke(app, ["deadletters", "show", "999", *args]).exit_code == 1
    assert runner.invoke(app, ["deadletters", "list", "--status", "x", *args]).exit_code == 1


def test_serve_refuses_a_broken_mapping_or_quality_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    from adt import free_port

    exe = Path(sys.executable).parent / "twinsight"
    bad_mapping = tmp_path / "bad.yaml"
    bad_mapping.write_text("mappings: [{name: x, topic: t, twin: y, format: xml}]")
    bad_quality = tmp_path / "quality.yaml"
    bad_quality.write_bytes(b"quality: {ranges: []}\n# \xff\n")
    for option, path, fragment in [
        ("--mapping", bad_mapping, "mappings[0].format"),
        ("--quality", bad_quality, "not valid UTF-8"),
    ]:
        result = subprocess.run(
            [
                str(exe),
                "serve",
                "--port",
                str(free_port()),
                "--data-dir",
                str(tmp_path / "d"),
                "--embedded-broker-port",
                "0",
                option,
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert fragment in result.stderr
        assert "Traceback" not in result.stderr
