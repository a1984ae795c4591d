"""The smart-factory demo world: a plant with production lines of motors, pumps, tanks and
conveyors. For now it contributes its DTDL models; simulation and live data follow."""

from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
"""Folder of the factory's DTDL v3 models (units via the QuantitativeTypes extension)."""
