"""The message properties that name the model version behind a derived value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twinsight.core.events import TelemetryReceived
from twinsight.core.provenance import MODEL, MODEL_VERSION, produced_by, producer
from twinsight.hub import Hub
from twinsight.models.diagnostics import Document


def test_a_producer_round_trips_through_message_properties() -> None:
    properties = produced_by("rul-motor", 3)
    assert properties == {MODEL: "rul-motor", MODEL_VERSION: "3"}
    assert producer(properties) == ("rul-motor", 3)


@pytest.mark.parametrize(
    "properties",
    [
        {},
        {MODEL: "rul"},
        {MODEL: "rul", MODEL_VERSION: "x"},
        {MODEL: "", MODEL_VERSION: "1"},
        {MODEL: "rul", MODEL_VERSION: "0"},
    ],
)
def test_a_message_naming_no_model_or_a_bad_version_has_no_producer(
    properties: dict[str, str],
) -> None:
    assert producer(properties) is None


def test_a_producer_needs_a_name_and_a_version_from_one() -> None:
    with pytest.raises(ValueError, match="name"):
        produced_by("", 1)
    with pytest.raises(ValueError, match="start at 1"):
        produced_by("rul", 0)


def test_published_telemetry_carries_its_producer_on_the_bus() -> None:
    with Hub() as hub:
        interface = {
            "@context": "dtmi:dtdl:context;3",
            "@id": "dtmi:test:Machine;1",
            "@type": "Interface",
            "contents": [{"@type": "Telemetry", "name": "rul", "schema": "double"}],
        }
        hub.models.add([Document("test", interface)])
        hub.twins.upsert_twin("m1", {"$metadata": {"$model": "dtmi:test:Machine;1"}})
        seen: list[TelemetryReceived] = []
        hub.bus.subscribe(seen.append, TelemetryReceived)
        hub.twins.publish_telemetry(
            "m1",
            {"rul": 42.0},
            message_id="p1",
            source_time=datetime(2026, 1, 1, tzinfo=UTC),
            properties=produced_by("rul-motor", 2),
        )
        assert [producer(e.properties) for e in seen] == [("rul-motor", 2)]
