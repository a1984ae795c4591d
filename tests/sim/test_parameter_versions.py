"""Versioned calibrated parameters: numbered from 1 per twin and model, immutable, stamped
with the clock, kept across a reopen of the database file, and refused when malformed."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from twinsight.core.clock import ManualClock
from twinsight.core.errors import NotFound, SimulationError
from twinsight.sim.parameters import ParameterVersions
from twinsight.store.sqlite.database import Database
from twinsight.store.sqlite.parameter_versions import SqliteParameterVersionStore

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def versions(clock: ManualClock) -> ParameterVersions:
    return ParameterVersions(SqliteParameterVersionStore(Database(":memory:")), clock)


def test_store_numbers_versions_per_twin_and_model_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "twinsight.db"
    db = Database(path)
    store = SqliteParameterVersionStore(db)
    first = store.add_version("m1", "thermal", {"r": 0.1}, {"rmse": 0.5}, "calibration", START)
    second = store.add_version("m1", "thermal", {"r": 0.12}, {"rmse": 0.3}, "manual", START)
    other_model = store.add_version("m1", "vibration", {"k": 3.0}, {}, "calibration", START)
    other_twin = store.add_version("m2", "thermal", {"r": 0.2}, {}, "calibration", START)
    assert [first.version, second.version, other_model.version, other_twin.version] == [1, 2, 1, 1]
    db.close()

    reopened = SqliteParameterVersionStore(Database(path))  # the table exists: no error
    assert reopened.list_versions("m1", "thermal") == [first, second]
    assert reopened.latest_version("m1", "thermal") == second
    assert reopened.get_version("m1", "thermal", 1) == first
    assert reopened.get_version("m1", "thermal", 3) is None
    assert reopened.latest_version("m3", "thermal") is None
    third = reopened.add_version("m1", "thermal", {"r": 0.11}, {}, "calibration", START)
    assert third.version == 3  # numbering goes on after the reopen


def test_the_store_adds_its_table_to_an_existing_database(tmp_path: Path) -> None:
    """A data directory created before this feature gets the table on first use."""
    path = tmp_path / "old.db"
    old = Database(path)
    old.migrate("something-else", [lambda c: c.execute("CREATE TABLE other (x INTEGER)")])
    old.close()
    store = SqliteParameterVersionStore(Database(path))
    assert store.add_version("m1", "thermal", {"r": 1.0}, {}, "manual", START).version == 1


def test_service_saves_versions_with_the_clock_and_summary(
    versions: ParameterVersions, clock: ManualClock
) -> None:
    assert versions.latest("motor-1", "thermal") is None
    assert versions.save("motor-1", "thermal", {"r_housing": 0.1}, {"rmse": {"T": 0.4}}) == 1
    clock.advance(3600)
    assert versions.save("motor-1", "thermal", {"r_housing": 0.11}, source="manual") == 2
    latest = versions.latest("motor-1", "thermal")
    assert latest is not None
    assert (latest.version, latest.parameters, latest.source) == (2, {"r_housing": 0.11}, "manual")
    assert latest.created == datetime(2026, 1, 1, 1, tzinfo=UTC)
    first = versions.get("motor-1", "thermal", 1)
    assert first.summary == {"rmse": {"T": 0.4}}
    assert first.created == START
    assert first.source == "calibration"
    assert [v.version for v in versions.history("motor-1", "thermal")] == [1, 2]


def test_a_version_is_immutable(versions: ParameterVersions) -> None:
    parameters = {"r_housing": 0.1}
    versions.save("motor-1", "thermal", parameters, {})
    parameters["r_housing"] = 99.0  # the caller's dict changing later changes nothing
    stored = versions.get("motor-1", "thermal", 1)
    assert stored.parameters == {"r_housing": 0.1}
    with pytest.raises(AttributeError):
        stored.version = 5  # type: ignore[misc]
    stored.parameters["r_housing"] = 7.0  # a copy: the store is not touched
    assert versions.get("motor-1", "thermal", 1).parameters == {"r_housing": 0.1}


def test_a_missing_version_is_not_found(versions: ParameterVersions) -> None:
    versions.save("motor-1", "thermal", {"r": 1.0})
    with pytest.raises(NotFound) as info:
        versions.get("motor-1", "thermal", 2)
    assert info.value.code == "ParameterVersionNotFound"


@pytest.mark.parametrize(
    ("twin", "model", "parameters", "fragment"),
    [
        ("", "thermal", {"r": 1.0}, "twin id"),
        ("m1", " ", {"r": 1.0}, "model name"),
        ("m1", "thermal", {}, "at least one"),
        ("m1", "thermal", {"r": math.nan}, "'r'"),
        ("m1", "thermal", {"r": math.inf}, "'r'"),
        ("m1", "thermal", {"r": "warm"}, "'r'"),
    ],
)
def test_malformed_versions_are_refused_and_nothing_is_stored(
    versions: ParameterVersions,
    twin: str,
    model: str,
    parameters: dict,
    fragment: str,  # type: ignore[type-arg]
) -> None:
    with pytest.raises(SimulationError, match=fragment):
        versions.save(twin, model, parameters)
    assert versions.history(twin, model) == []
