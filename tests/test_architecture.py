"""The layer dependency rule of the design, checked by a machine rather than by memory."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "twinsight"

# Libraries that talk to a storage engine or a protocol live only in their adapter package.
ADAPTER_ONLY = {
    "sqlite3": "twinsight/store",
    "psycopg": "twinsight/store",
    "uvicorn": "twinsight/server.py",
    "paho": "twinsight/ingest/connectors/mqtt",
    "amqtt": "twinsight/ingest/connectors/embedded_broker.py",
    "aiocoap": "twinsight/ingest/connectors/coap.py",
    "httpx": "twinsight/streams/http_sender.py",
    "fmpy": "twinsight/sim/fmu.py",
    "simpy": "twinsight/sim/des",
    "filterpy": "twinsight/sim/estimation",
    "river": "twinsight/analytics/detectors/river_hst.py",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_import_contracts_are_kept() -> None:
    """import-linter's contracts (pyproject.toml): core is pure, services never import a
    backend, backends never import services, routes never reach a backend."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], capture_output=True, text=True, check=False, cwd=SRC.parents[1]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].split("kept")[0]


def test_driver_libraries_are_imported_only_in_their_adapters() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).as_posix()
        for lib in _imports(path) & ADAPTER_ONLY.keys():
            if not rel.startswith(ADAPTER_ONLY[lib]):
                offenders.append(f"{rel} imports {lib}")
    assert offenders == []


def test_core_uses_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"twinsight"}
    for path in (SRC / "core").rglob("*.py"):
        extra = _imports(path) - allowed
        assert not extra, f"{path.name} imports {extra}"
