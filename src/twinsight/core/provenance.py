"""Which model version produced a derived value.

Derived telemetry (an anomaly score, a remaining-useful-life prediction, a forecast, a
state estimate) is published like any sensor's, through
:meth:`TwinGraph.publish_telemetry <twinsight.graph.service.TwinGraph.publish_telemetry>`;
the model that computed it is named in the message's application properties, so history,
live streams and the model registry can say where each value came from without every
producer knowing about them.
"""

from __future__ import annotations

from collections.abc import Mapping

MODEL = "twinsight-model"
"""Application property: the registered name of the model that produced the values."""

MODEL_VERSION = "twinsight-model-version"
"""Application property: that model's version (a positive integer, as text)."""


def produced_by(model: str, version: int) -> dict[str, str]:
    """The message properties that say ``model`` version ``version`` produced the values."""
    if not model:
        raise ValueError("a producing model needs a name")
    if version < 1:
        raise ValueError(f"model versions start at 1, not {version}")
    return {MODEL: model, MODEL_VERSION: str(version)}


def producer(properties: Mapping[str, str]) -> tuple[str, int] | None:
    """``(model, version)`` named by a message's properties, or ``None`` when the message
    names none (a sensor's reading) or names it badly."""
    model = properties.get(MODEL)
    version = properties.get(MODEL_VERSION, "")
    if not model or not version.isdigit() or int(version) < 1:
        return None
    return model, int(version)
