"""Paths the tests share: the repository, the demo models and the shared data sets."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACTORY_MODELS = REPO / "src" / "twinsight" / "scenarios" / "factory" / "models"


def shared_data() -> Path:
    """The shared data sets (DTDL specs, ontologies, NAB, C-MAPSS), next to the repository
    unless ``TWINSIGHT_SHARED_DATA`` says otherwise."""
    return Path(os.environ.get("TWINSIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))
