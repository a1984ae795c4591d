"""SenML packs read as columns: the same outcome as reading them record by record.

The column road (:func:`decode_senml_columns`, ``Rule.senml_columns``, the pipeline's
per-column checks, one :class:`TelemetrySeries` per pack) must be indistinguishable from the
general one except in speed: these tests run the same packs both ways and compare history,
results, dead letters, events and data quality."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pytest

from ingest.test_pipeline import MS0, T0, make_hub, msg
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived, TelemetrySeries
from twinsight.hub import Hub
from twinsight.ingest.mapping import Rule
from twinsight.ingest.mapping.decode import decode_senml, decode_senml_columns

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BT = MS0 / 1000


def micros(time: datetime) -> int:
    return (time - EPOCH) // timedelta(microseconds=1)


def random_pack(rng: random.Random) -> list[dict[str, Any]]:
    base = rng.choice(
        [BT + rng.random() * 1e5, rng.uniform(3e8, 4e9), BT, rng.randint(2**28, 2**33)]
    )
    records: list[dict[str, Any]] = [{"bn": "s", "bt": base, "v": rng.uniform(-1e3, 1e3), "t": 0}]
    for i in range(1, 30):
        t = rng.choice([i / 100, rng.random() * 100, i * 1e-7, i / 3, -i / 7])
        records.append({"t": t, "v": rng.choice([1, -0.0, rng.random(), 1e300, -7])})
    return records


def test_columns_hold_the_same_names_times_and_values_as_records() -> None:
    rng = random.Random(8428)
    now = datetime.now(UTC)
    for _ in range(2000):
        payload = orjson.dumps(random_pack(rng))
        columns = decode_senml_columns(payload)
        assert columns is not None
        got = [
            (c.name, us, repr(v))
            for c in columns
            for us, v in zip(c.times.tolist(), c.values.tolist(), strict=True)
        ]
        records = decode_senml(payload, now)
        assert got == [(r.name, micros(r.time), repr(r.value)) for r in records]  # type: ignore[arg-type]


def test_names_and_units_make_columns_in_pack_order() -> None:
    pack = [
        {"bn": "dev:", "bt": BT, "bu": "Cel", "n": "a", "v": 1, "t": 0},
        {"n": "b", "u": "degF", "v": 2, "t": 0},
        {"n": "a", "v": 3, "t": 1},
    ]
    columns = decode_senml_columns(orjson.dumps(pack))
    assert columns is not None
    us = micros(T0)
    assert [(c.name, c.unit, c.times.tolist(), c.values.tolist()) for c in columns] == [
        ("dev:a", "Cel", [us, us + 1_000_000], [1.0, 3.0]),
        ("dev:b", "degF", [us], [2.0]),
    ]


@pytest.mark.parametrize(
    "pack",
    [
        [{"bn": "s", "bt": BT, "v": 1}, {"v": 2}],  # no t: the general reader gives no time
        [{"bn": "s", "bt": BT, "vs": "on"}],  # a string value
        [{"bn": "s", "bt": BT, "vb": True}],  # a boolean value
        [{"bn": "s", "bt": BT, "v": True}],  # a boolean where a number belongs
        [{"bn": "s", "bt": BT, "bv": 1, "v": 1}],  # a base value
        [{"bn": "s", "v": 1, "t": 5}],  # relative to now
        [{"bn": "s", "bt": BT, "v": 1}, {"bn": "t", "v": 2, "t": 1}],  # base name further down
        [{"bn": "s", "bt": BT, "v": 1, "x": 0}],  # a field the reader does not read
        [{"bn": "s", "bt": BT, "v": None}],  # an explicit null
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": None, "t": 1}],  # a null further down
        [{"bn": "s", "bt": BT, "v": "1.5", "t": 0}, {"v": 2, "t": 1}],  # a number as text
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": "2", "t": 1}],
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": 2, "t": "1"}],
        [{"bn": "s", "bt": BT, "v": 1, "t": "0"}, {"v": 2, "t": 1}],
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": [2], "t": 1}],  # a list for a number
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": {"x": 2}, "t": 1}],
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": False, "t": 1}],
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"v": 2, "t": 1, "n": "x", "vs": "y"}],
        [{"bn": "s", "bt": BT, "n": 5, "v": 1, "t": 0}, {"v": 2, "t": 1}],  # a number as name
        [{"bn": "s", "bt": BT, "v": 1, "t": 0}, {"n": "a", "v": "2", "t": 1}],
        [{"bt": BT, "v": 1}],  # no name
        [{"bn": "s", "bt": "soon", "v": 1}],
        [{"bn": "s", "bt": BT, "v": 1}, "record"],
        [{"bn": "s", "bt": 1e12, "v": 1}],  # after year 9999
        {"bn": "s"},
        [],
    ],
)
def test_any_other_pack_is_left_to_the_general_reader(pack: Any) -> None:
    assert decode_senml_columns(orjson.dumps(pack)) is None


def test_bad_json_is_left_to_the_general_reader() -> None:
    assert decode_senml_columns(b"[{") is None


# ------------------------------------------------------------------ through the pipeline


def packs(clock: ManualClock) -> list[bytes]:
    """Packs of every kind the column road takes, and some it must hand over."""
    us0 = BT
    ok = [{"bn": "", "bt": us0, "n": "vibration", "v": 1, "t": 0}]
    ok += [{"n": "vibration", "v": 1 + i / 10, "t": i} for i in range(1, 50)]
    mixed = [{"bt": us0 + 100, "n": "vibration", "v": 2, "t": 0}, {"n": "current", "v": 5, "t": 1}]
    mixed += [{"n": "vibration", "v": 3, "t": 1}, {"n": "current", "v": 6, "t": 3}]
    fahrenheit = [{"bn": "windingTemperature", "bt": us0 + 200, "bu": "degF", "v": 212, "t": 0}]
    fahrenheit += [{"v": 230, "t": 1}]
    late = [{"bn": "vibration", "bt": us0 - 50, "v": 9, "t": 0}, {"v": 9.5, "t": 1}]
    duplicate = ok[:10]
    future = [{"bn": "vibration", "bt": us0 + 86_400, "v": 1, "t": 0}, {"v": 1, "t": 1}]
    unknown = [{"bn": "colour", "bt": us0, "v": 1, "t": 0}, {"v": 2, "t": 1}]
    strings = [{"bn": "vibration", "bt": us0 + 300, "vs": "high", "t": 0}]
    return [
        orjson.dumps(p) for p in (ok, mixed, fahrenheit, late, duplicate, future, unknown, strings)
    ]


def run(clock: ManualClock, monkeypatch: pytest.MonkeyPatch, columns: bool) -> dict[str, Any]:
    """Submit the packs one by one; everything observable afterwards."""
    with monkeypatch.context() as patch:
        if not columns:
            patch.setattr(Rule, "senml_columns", lambda self, message, captures: None)
        hub = make_hub(clock)
        samples: list[tuple[Any, ...]] = []
        hub.bus.subscribe(
            lambda e: samples.append((e.twin_id, e.source_time, dict(e.payload))),
            TelemetryReceived,
        )
        results = [hub.ingest.submit([msg("senml/line-1-motor", p, clock)]) for p in packs(clock)]
        history = {
            name: [(p.time, p.value) for p in hub.history.range(f"line-1-motor/{name}")]
            for name in ("vibration", "current", "windingTemperature")
        }
        letters = [(d.reason, d.payload) for d in hub.dead_letters.list()]
        quality = hub.quality.series("line-1-motor")
        hub.close()
    return {
        "results": results,
        "history": history,
        "letters": letters,
        "samples": samples,
        "quality": quality,
    }


def test_columns_and_records_give_the_same_outcome(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_columns = run(clock, monkeypatch, columns=True)
    by_records = run(clock, monkeypatch, columns=False)
    assert by_columns == by_records
    assert len(by_columns["history"]["vibration"]) == 50 + 2 + 2
    assert [v for _, v in by_columns["history"]["windingTemperature"]] == pytest.approx(
        [100.0, 110.0]
    )
    assert len(by_columns["letters"]) == 3  # future, unknown name, a string for a double


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with make_hub(clock) as h:
        yield h


def test_a_pack_is_one_series_event_with_aligned_columns(hub: Hub, clock: ManualClock) -> None:
    whole: list[TelemetrySeries] = []
    hub.bus.subscribe(whole.append, TelemetrySeries)
    split: list[TelemetryReceived] = []
    hub.bus.subscribe(split.append, TelemetryReceived, whole_series=True)
    pack = [
        {"bt": BT, "n": "vibration", "v": 2, "t": 1},
        {"n": "current", "v": 5, "t": 0},
        {"n": "vibration", "v": 3, "t": 2},
    ]
    result = hub.ingest.submit([msg("senml/line-1-motor", orjson.dumps(pack), clock)])
    assert (result.values, result.dead_letters) == (3, 0)
    assert split == []  # whole-series subscribers are not also sent the samples
    (event,) = whole
    us = micros(T0)
    assert event.recorded and event.model == "dtmi:twinsight:factory:Motor;1"
    assert list(event.times) == [us, us + 1_000_000, us + 2_000_000]
    assert [type(t) for t in event.times] == [int, int, int]
    assert {k: list(v) for k, v in event.values.items()} == {
        "vibration": [None, 2.0, 3.0],
        "current": [5.0, None, None],
    }
    assert [(s.source_time, dict(s.payload)) for s in event.samples()] == [
        (T0, {"current": 5.0}),
        (T0 + timedelta(seconds=1), {"vibration": 2.0}),
        (T0 + timedelta(seconds=2), {"vibration": 3.0}),
    ]


def test_a_pack_of_one_time_stays_one_telemetry_event(hub: Hub, clock: ManualClock) -> None:
    seen: list[object] = []
    hub.bus.subscribe(seen.append)
    pack = [{"bt": BT, "n": "vibration", "v": 2}, {"n": "current", "v": 5, "t": 0}]
    hub.ingest.submit([msg("senml/line-1-motor", orjson.dumps(pack), clock)])
    (event,) = [e for e in seen if isinstance(e, TelemetryReceived | TelemetrySeries)]
    assert isinstance(event, TelemetryReceived)
    assert (event.source_time, dict(event.payload)) == (T0, {"vibration": 2.0, "current": 5.0})


PROPERTY_MAPPING = """
mappings:
  - name: senml-properties
    topic: "props/{twin}"
    twin: "{twin}"
    format: senml
    values:
      - {record: "{name}", property: "{name}"}
"""


def run_properties(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, columns: bool
) -> dict[str, Any]:
    """SenML packs into a property, with a unit, again (duplicates) and older (late)."""
    from twinsight.ingest.mapping import parse_mapping

    watts = [{"bn": "ratedPower", "bt": BT, "bu": "W", "v": 11_000, "t": 0}]
    watts += [{"v": 11_000 + i * 10, "t": i} for i in range(1, 40)]
    older = [{"bn": "ratedPower", "bt": BT - 100, "bu": "W", "v": 9_000, "t": 0}]
    older += [{"v": 9_000, "t": i} for i in range(1, 40)]
    with monkeypatch.context() as patch:
        if not columns:
            patch.setattr(Rule, "senml_columns", lambda self, message, captures: None)
        hub = make_hub(clock)
        hub.ingest.mapping = parse_mapping(PROPERTY_MAPPING, "props.yaml")
        results = [
            hub.ingest.submit([msg("props/line-1-motor", orjson.dumps(p), clock)])
            for p in (watts, watts, older)
        ]
        twin = hub.twins.get_twin("line-1-motor")
        history = [(p.time, p.value) for p in hub.history.range("line-1-motor/ratedPower")]
        hub.close()
    state = (
        twin["ratedPower"],
        type(twin["ratedPower"]),  # a Python float, not a numpy one, in the twin's document
        twin["$metadata"]["ratedPower"]["sourceTime"],
    )
    return {"results": results, "state": state, "history": history}


def test_packs_into_a_property_keep_state_late_and_duplicates_the_same(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_columns = run_properties(clock, monkeypatch, columns=True)
    assert by_columns == run_properties(clock, monkeypatch, columns=False)
    assert by_columns["state"] == (pytest.approx(11.39), float, "2026-01-01T00:00:39Z")
    first, again, older = by_columns["results"]
    # sent again: older than the state's time is late, the same time and value a duplicate
    assert (first.values, again.late_values, again.duplicate_values) == (40, 39, 1)
    assert older.late_values == 40
    assert len(by_columns["history"]) == 80


def shifted_packs(count: int, bad: int | None = None) -> list[bytes]:
    """``count`` packs of 50 vibration samples, one after another in time; pack ``bad``
    has a sample with a string value."""
    out = []
    for k in range(count):
        pack: list[dict[str, Any]] = [
            {"bn": "vibration", "bt": BT - 1000 + 50 * k, "v": 1.0, "t": 0}
        ]
        pack += [{"v": 1 + i / 10, "t": i} for i in range(1, 50)]
        if k == bad:
            pack[7] = {"vs": "loud", "t": 7}
        out.append(orjson.dumps(pack))
    return out


@pytest.mark.parametrize("bad", [None, 2])
def test_packs_of_one_address_in_one_batch_are_read_as_one_column(
    clock: ManualClock, bad: int | None
) -> None:
    outcomes = []
    for together in (True, False):
        with make_hub(clock) as hub:
            whole: list[TelemetrySeries] = []
            hub.bus.subscribe(whole.append, TelemetrySeries)
            messages = [msg("senml/line-1-motor", p, clock) for p in shifted_packs(5, bad)]
            if together:
                results = [hub.ingest.submit(messages)]
            else:
                results = [hub.ingest.submit([m]) for m in messages]
            history = [(p.time, p.value) for p in hub.history.range("line-1-motor/vibration")]
            letters = [(d.reason, d.payload) for d in hub.dead_letters.list()]
            outcomes.append((history, letters, sum(r.values for r in results), whole))
    (history, letters, values, whole), one_by_one = outcomes
    assert (history, letters, values) == one_by_one[:3]
    events = len(whole)
    if bad is None:
        assert (len(history), values, letters, events) == (250, 250, [], 1)  # one series
        (series,) = whole
        assert (
            len(series.times) == 250
            and [type(v) for v in series.values["vibration"]] == [float] * 250
        )
        assert not np.asarray(series.times).flags.writeable  # subscribers share the arrays
        assert not np.asarray(series.values["vibration"]).flags.writeable
    else:  # the batch went pack by pack: only the bad pack is a dead letter
        assert len(letters) == 1 and "expected a double" in letters[0][0]
        assert events == 5 and len(history) == 4 * 50 + 49  # its good samples too


def edge_packs() -> list[bytes]:
    """Packs of one sensor, one after another in time, with the numbers where a float
    array could differ from one float at a time: integers beyond 2**53 and beyond 64 bits
    (which JSON decoding already makes a float), -0.0, and source times near half a
    microsecond (rounded as ``datetime.fromtimestamp`` rounds)."""
    first: list[dict[str, Any]] = [{"bn": "vibration", "bt": 1_767_225_600, "v": 2**53 + 1, "t": 0}]
    first += [
        {"v": 2**63 + 1, "t": 0.0000005},
        {"v": -7, "t": 0.0000015},
        {"v": -0.0, "t": 0.0000025},
        {"v": 18_446_744_073_709_551_617, "t": 0.0000035},
        {"v": 0.1, "t": 0.25},
    ]
    out = [json.dumps(first).encode()]  # orjson writes no integer beyond 64 bits
    for k in range(1, 5):
        pack: list[dict[str, Any]] = [
            {"bn": "vibration", "bt": 1_767_225_600 + k, "v": -0.0, "t": 0}
        ]
        pack += [{"v": k * 2**60 + i, "t": i / 8} for i in range(1, 8)]
        out.append(orjson.dumps(pack))
    return out


def run_batch(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, payloads: list[bytes], columns: bool
) -> dict[str, Any]:
    """Submit ``payloads`` as one batch, read together as columns or (``columns`` false)
    record by record; everything observable afterwards, with the type of every value."""
    with monkeypatch.context() as patch:
        if not columns:
            patch.setattr(Rule, "senml_columns", lambda self, message, captures: None)
            patch.setattr(Rule, "senml_packs_columns", lambda self, payloads, captures: None)
        hub = make_hub(clock)
        samples: list[tuple[Any, ...]] = []
        hub.bus.subscribe(
            lambda e: samples.append(
                (e.source_time, {k: (type(v), repr(v)) for k, v in e.payload.items()})
            ),
            TelemetryReceived,
        )
        result = hub.ingest.submit([msg("senml/line-1-motor", p, clock) for p in payloads])
        history = [
            (p.time, type(p.value), repr(p.value))
            for p in hub.history.range("line-1-motor/vibration")
        ]
        letters = [(d.reason, d.payload) for d in hub.dead_letters.list()]
        hub.close()
    return {"result": result, "history": history, "letters": letters, "samples": samples}


@pytest.mark.parametrize("beyond_a_double", [False, True])
def test_edge_numbers_read_together_give_the_same_outcome_as_record_by_record(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, beyond_a_double: bool
) -> None:
    payloads = edge_packs()
    if beyond_a_double:  # a value no double holds: that pack is a dead letter with its reason
        payloads.insert(2, b'[{"bn":"vibration","bt":1767225610,"v":1e400,"t":0}]')
    together = run_batch(clock, monkeypatch, payloads, columns=True)
    assert together == run_batch(clock, monkeypatch, payloads, columns=False)
    assert together["result"].values == 6 + 4 * 8
    assert {kind for _, kind, _ in together["history"]} == {float}
    assert {kind for _, values in together["samples"] for kind, _ in values.values()} == {float}
    assert ("vibration", (float, "0.0")) in [
        (name, value) for _, values in together["samples"] for name, value in values.items()
    ]  # -0.0 in a pack is 0.0, as SenML adds the base value 0
    if beyond_a_double:
        ((reason, payload),) = together["letters"]
        assert "not valid JSON" in reason and b"1e400" in payload
    else:
        assert together["letters"] == []
