"""The command line: help everywhere, exit codes 0/1/2, JSON output, imports that persist."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import FACTORY_MODELS
from twinsight.cli import app

runner = CliRunner()

BROKEN = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:x:Broken;1",
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "speed", "schema": "furlongs"},
        {"@type": "Telemetry", "name": "9lives", "schema": "double"},
    ],
}


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["models"],
        ["models", "validate"],
        ["models", "import"],
        ["models", "list"],
        ["models", "delete"],
        ["models", "decommission"],
        ["serve"],
        ["demo"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert "--help" in result.output


def test_validate_valid_folder_exits_0() -> None:
    result = runner.invoke(app, ["models", "validate", str(FACTORY_MODELS)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert "8 interface(s)" in result.output


def test_validate_prints_every_error_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(BROKEN))
    result = runner.invoke(app, ["models", "validate", str(bad)])
    assert result.exit_code == 1
    assert result.output.count("error ") >= 2
    assert "broken.json" in result.output
    assert "/contents/0" in result.output and "/contents/1" in result.output


def test_validate_json_report(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text(json.dumps(BROKEN))
    (tmp_path / "garbage.json").write_bytes(b"\x00\xff{")
    result = runner.invoke(app, ["models", "validate", "--json", str(tmp_path)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    rules = {e["rule"] for e in report["errors"]}
    assert "InvalidUtf8" in rules
    assert len(report["errors"]) >= 3
    for e in report["errors"]:
        assert {"document", "pointer", "element", "rule", "message", "fix"} <= e.keys()


def test_validate_bad_usage_exits_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["models", "validate"]).exit_code == 2
    assert runner.invoke(app, ["models", "validate", str(tmp_path / "nope.json")]).exit_code == 2
    assert runner.invoke(app, ["models", "validate", "--bogus", str(FACTORY_MODELS)]).exit_code == 2


def test_import_list_decommission_delete(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(app, ["models", "import", str(FACTORY_MODELS), *data])
    assert result.exit_code == 0, result.output
    assert "imported 8 model(s)" in result.output
    again = runner.invoke(app, ["models", "import", str(FACTORY_MODELS / "Motor.json"), *data])
    assert again.exit_code == 1
    assert "ModelAlreadyExists" in again.output
    listing = runner.invoke(app, ["models", "list", "--json", *data])
    assert len(json.loads(listing.stdout)) == 8
    refused = runner.invoke(app, ["models", "delete", "dtmi:twinsight:factory:Machine;1", *data])
    assert refused.exit_code == 1
    assert "ModelReferencesNotDeleted" in refused.output
    assert (
        runner.invoke(
            app, ["models", "decommission", "dtmi:twinsight:factory:Motor;1", *data]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["models", "delete", "dtmi:twinsight:factory:Site;1", *data]).exit_code
        == 0
    )
    rows = json.loads(runner.invoke(app, ["models", "list", "--json", *data]).stdout)
    assert len(rows) == 7
    assert [r["decommissioned"] for r in rows if r["id"].endswith("Motor;1")] == [True]


def test_every_command_with_a_data_folder_takes_data_dir_or_data() -> None:
    """``--data`` is ``--data-dir`` on every command, so ``twinsight demo --data x`` and
    ``twinsight serve --data x`` read the same."""
    import click
    import typer.main

    def commands(group: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        yield path, group
        for name, sub in getattr(group, "commands", {}).items():
            yield from commands(sub, f"{path} {name}".strip())

    found = {
        path: set(param.opts)
        for path, command in commands(typer.main.get_command(app), "")
        for param in command.params
        if param.name == "data_dir"
    }
    assert {"serve", "demo", "models list"} <= found.keys()
    assert all({"--data-dir", "--data"} <= opts for opts in found.values()), found


def test_data_is_the_same_folder_as_data_dir(tmp_path: Path) -> None:
    imported = runner.invoke(
        app, ["models", "import", str(FACTORY_MODELS), "--data", str(tmp_path)]
    )
    assert imported.exit_code == 0, imported.output
    listing = runner.invoke(app, ["models", "list", "--json", "--data-dir", str(tmp_path)])
    assert len(json.loads(listing.stdout)) == 8


def test_import_of_invalid_file_imports_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(BROKEN))
    data = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(app, ["models", "import", str(FACTORY_MODELS), str(bad), *data])
    assert result.exit_code == 1
    assert "nothing imported" in result.output
    rows = json.loads(runner.invoke(app, ["models", "list", "--json", *data]).stdout)
    assert rows == []


def test_installed_entry_point_runs() -> None:
    exe = Path(sys.executable).parent / "twinsight"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "models" in result.stdout and "serve" in result.stdout
