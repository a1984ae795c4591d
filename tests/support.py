"""What the tests share: the repository, the demo models, the shared data sets, and a check
of an API refusal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twinsight.hub import Hub
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import world

REPO = Path(__file__).resolve().parents[1]
FACTORY_MODELS = REPO / "src" / "twinsight" / "scenarios" / "factory" / "models"


def shared_data() -> Path:
    """The shared data sets (DTDL specs, ontologies, NAB, C-MAPSS), next to the repository
    unless ``TWINSIGHT_SHARED_DATA`` says otherwise."""
    return Path(os.environ.get("TWINSIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))


MOTOR = "dtmi:twinsight:factory:Motor;1"


def add_factory_models(hub: Hub) -> Hub:
    """Upload the factory demo's DTDL models into ``hub``."""
    docs, errors = load_paths([FACTORY_MODELS])
    assert errors == []
    hub.models.add(docs)
    return hub


def build_factory(hub: Hub) -> Hub:
    """The factory's models and its twin graph (site, lines, machines) in ``hub``."""
    add_factory_models(hub)
    world.build(hub.twins)
    return hub


def motor_body(**values: Any) -> dict[str, Any]:
    """A valid motor twin (its required component included) with ``values``."""
    return {"$metadata": {"$model": MOTOR}, "bearing": {"$metadata": {}}, **values}


def api_error(response: object, status: int, code: str) -> str:
    """Check an API refusal's status and error code; return its message for the caller to
    check what it says."""
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["x-ms-error-code"] == code  # type: ignore[attr-defined]
    message: str = response.json()["error"]["message"]  # type: ignore[attr-defined]
    return message
