"""The smart-factory demo world: a plant with production lines of motors, pumps, tanks and
conveyors — its DTDL models, its twin graph and how its devices publish. Simulated devices
follow with the simulation layer."""

from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
MAPPING_FILE = Path(__file__).parent / "mapping.yaml"
"""How the factory's devices publish (MQTT topics and payloads) → twins (docs/ingest.md)."""
"""Folder of the factory's DTDL v3 models (units via the QuantitativeTypes extension)."""
MONITORING_FILE = Path(__file__).parent / "monitoring.yaml"
"""What watches the factory's twins live: detectors and limits raising alarms
(docs/alarms.md); ``twinsight demo`` runs it."""
GUARDS_FILE = Path(__file__).parent / "guards.yaml"
"""Safety guards on the factory's commands and set-points (docs/guards.md)."""
RULES_FILE = Path(__file__).parent / "rules.yaml"
"""Rules that act on the factory's twins (docs/rules.md); ``twinsight demo`` runs them."""
