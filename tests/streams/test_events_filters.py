"""The stream event shape (only changed properties, components as paths) and filter
matching (globs, model inheritance, names, types), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twinsight.core.errors import BadRequest
from twinsight.core.events import RelationshipChanged, TelemetryReceived, TwinChanged
from twinsight.streams import EventMeta, parse_filter, property_changes, stream_event
from twinsight.streams.events import event_meta

T = datetime(2026, 1, 1, tzinfo=UTC)


def doc(**values: object) -> dict[str, object]:
    return {"$dtId": "m", "$etag": "x", "$metadata": {"$model": "dtmi:x:M;1"}, **values}


def test_only_changed_properties_with_source_time_and_component_paths() -> None:
    old = doc(a=1, b="same", gone=3, comp={"$metadata": {}, "wear": 0.1, "keep": 1})
    new = doc(
        a=2,
        b="same",
        comp={
            "$metadata": {"wear": {"sourceTime": "2026-01-01T00:00:05Z"}},
            "wear": 0.2,
            "keep": 1,
        },
    )
    new["$metadata"] = {"$model": "dtmi:x:M;1", "a": {"sourceTime": "2026-01-01T00:00:01Z"}}
    assert property_changes(old, new) == {
        "a": {"value": 2, "sourceTime": "2026-01-01T00:00:01Z"},
        "comp.wear": {"value": 0.2, "sourceTime": "2026-01-01T00:00:05Z"},
        "gone": {"value": None, "removed": True},
    }


def test_a_type_change_is_a_change() -> None:
    assert property_changes(doc(a=1), doc(a=1.0)) == {"a": {"value": 1.0, "sourceTime": None}}
    assert property_changes(doc(a=1), doc(a=True)) == {"a": {"value": True, "sourceTime": None}}


def test_created_and_deleted_twins_list_every_property() -> None:
    created = stream_event(TwinChanged("create", "m", "dtmi:x:M;1", T, None, doc(a=1)))
    deleted = stream_event(TwinChanged("delete", "m", "dtmi:x:M;1", T, doc(a=1), None))
    assert created is not None and deleted is not None
    assert created["type"] == "twin.created"
    assert created["changes"] == {"a": {"value": 1, "sourceTime": None}}
    assert deleted["changes"] == {"a": {"value": None, "removed": True}}


def test_telemetry_and_relationship_names_for_filters() -> None:
    tel = stream_event(TelemetryReceived("m", "dtmi:x:M;1", "gps", "id", {"lat": 1, "lon": 2}, T))
    assert tel is not None
    assert event_meta(tel).names == frozenset({"gps.lat", "gps.lon"})
    rel = stream_event(
        RelationshipChanged("delete", "m", "r1", "feeds", "n", T), lambda twin: "dtmi:x:M;1"
    )
    assert rel is not None
    assert rel["model"] == "dtmi:x:M;1"
    assert event_meta(rel) == EventMeta(
        "relationship.deleted", "m", "dtmi:x:M;1", frozenset({"feeds"})
    )


def test_filter_matching() -> None:
    family = {"dtmi:x:Motor;1": frozenset({"dtmi:x:Motor;1", "dtmi:x:Machine;1"})}

    def lineage(model: str) -> frozenset[str]:
        return family.get(model, frozenset((model,)))

    motor = EventMeta("telemetry", "line-1-motor", "dtmi:x:Motor;1", frozenset({"temp"}))
    tank = EventMeta("twin.updated", "line-1-tank", "dtmi:x:Tank;1", frozenset({"level"}))
    f = parse_filter({"models": "dtmi:x:Machine;1"}, known_model=None)
    assert f.matches(motor, lineage)
    assert not f.matches(tank, lineage)
    f = parse_filter({"twin": "line-?-tank,site"}, known_model=None)
    assert [f.matches(motor, lineage), f.matches(tank, lineage)] == [False, True]
    f = parse_filter({"names": ["te*"], "types": "telemetry"}, known_model=None)
    assert [f.matches(motor, lineage), f.matches(tank, lineage)] == [True, False]
    f = parse_filter({"types": ["twin.*"]}, known_model=None)
    assert [f.matches(motor, lineage), f.matches(tank, lineage)] == [False, True]
    assert parse_filter(None, known_model=None).matches(motor, lineage)


def test_filter_limits_and_unknown_models() -> None:
    with pytest.raises(BadRequest, match="at most 100"):
        parse_filter({"twins": [f"t{i}" for i in range(101)]}, known_model=None)
    with pytest.raises(BadRequest, match="no model"):
        parse_filter({"models": ["dtmi:x:Nope;1"]}, known_model=lambda m: False)
    with pytest.raises(BadRequest, match="must be a JSON object"):
        parse_filter(["twins"], known_model=None)
