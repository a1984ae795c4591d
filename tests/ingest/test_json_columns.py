"""JSON messages of one address read together as columns: the same outcome as reading them
one by one.

The column road (``Rule.json_columns``, the pipeline's ``_read_together``, property columns
decided by binary search in ``merge_updates``) must be indistinguishable from the general
one except in speed: these tests submit the same batches both ways and compare results,
history, twin state, dead letters, the samples subscribers see and data quality."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest

from ingest.test_pipeline import MS0, make_hub, msg
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived, TelemetrySeries
from twinsight.core.messages import RawMessage
from twinsight.ingest.mapping import Rule

MOTOR = "plant/line-1-motor/motor"
OTHER = "plant/line-2-motor/motor"
SERIES = {
    "line-1-motor": ("windingTemperature", "ratedPower", "state"),
    "line-2-motor": ("ratedPower", "bearing.wear"),
}


def reading(clock: ManualClock, address: str, offset_ms: int, **fields: Any) -> RawMessage:
    return msg(address, orjson.dumps({"ts": MS0 + offset_ms, **fields}), clock)


def batches(clock: ManualClock) -> list[list[RawMessage]]:
    """Batches of every kind the column road takes, and of kinds it must hand over."""
    r = reading
    plain = [r(clock, MOTOR, i * 1000, temp=200.0 + i, power=10.0 + i) for i in range(8)]
    # interleaved twins, an optional field in some messages only, a text property, ints
    mixed = []
    for i in range(10):
        mixed.append(r(clock, MOTOR, 10_000 + i * 500, temp=210 + i, state="running"))
        extra = {"wear": 0.1 + i / 100} if i % 3 else {}
        mixed.append(r(clock, OTHER, 10_000 + i * 500, power=11.0, **extra))
    # sent again (duplicates), older than the state (late), out of order within the batch
    again = plain[:5] + plain[-1:]
    again += [r(clock, MOTOR, t, power=float(t)) for t in (30_000, 20_000, 25_000)]
    # one bad message among good ones: the group goes one by one, only it is a dead letter
    one_bad = [r(clock, MOTOR, 40_000 + i * 100, temp=220.0, power=12.0) for i in range(6)]
    one_bad[3] = r(clock, MOTOR, 40_300, temp=220.0, power="lots")
    not_json = [r(clock, MOTOR, 41_000 + i * 100, temp=221.0) for i in range(5)]
    not_json.insert(2, msg(MOTOR, b'{"ts": 1, "temp": ', clock))
    bad_state = [r(clock, MOTOR, 42_000 + i * 100, state="running") for i in range(4)]
    bad_state.append(r(clock, MOTOR, 42_500, state="exploded"))
    future = [r(clock, MOTOR, 43_000 + i * 100, temp=222.0) for i in range(4)]
    future.append(r(clock, MOTOR, 3_600_000, temp=222.0))
    few = [r(clock, MOTOR, 44_000 + i * 100, temp=223.0) for i in range(3)]
    no_time = [msg(MOTOR, orjson.dumps({"temp": 224.0}), clock) for _ in range(4)]
    # in ascending time across the state's: older (late), the same (duplicate), newer
    catch_up = [
        r(clock, MOTOR, t, power=p)
        for t, p in ((40_000, 1.0), (40_500, 12.0), (50_000, 2.0), (51_000, 13.0))
    ]
    return [plain, mixed, again, one_bad, not_json, bad_state, future, few, no_time, catch_up]


@contextmanager
def road(monkeypatch: pytest.MonkeyPatch, together: bool) -> Iterator[None]:
    """The column road (the messages of one address read together) or, with ``together``
    false, the one-by-one road, which the pipeline takes when ``Rule.json_columns``
    declines."""
    with monkeypatch.context() as patch:
        if not together:
            patch.setattr(Rule, "json_columns", lambda self, payloads, captures: None)
        yield


def run(clock: ManualClock, monkeypatch: pytest.MonkeyPatch, together: bool) -> dict[str, Any]:
    """Submit every batch; everything observable afterwards."""
    with road(monkeypatch, together):
        hub = make_hub(clock)
        samples: list[tuple[Any, ...]] = []
        hub.bus.subscribe(
            lambda e: samples.append((e.twin_id, e.source_time, dict(e.payload))),
            TelemetryReceived,
        )
        series: list[TelemetrySeries] = []
        hub.bus.subscribe(series.append, TelemetrySeries)
        results = [hub.ingest.submit(batch) for batch in batches(clock)]
        history = {
            (twin, name): [(p.time, p.value) for p in hub.history.range(f"{twin}/{name}")]
            for twin, names in SERIES.items()
            for name in names
        }
        state = {}
        for twin_id in ("line-1-motor", "line-2-motor"):
            twin = hub.twins.get_twin(twin_id)
            state[twin_id] = {
                name: (twin.get(name), twin["$metadata"].get(name))
                for name in ("ratedPower", "state")
            }
            state[twin_id]["wear"] = twin["bearing"].get("wear")
        letters = [(d.reason, d.payload) for d in hub.dead_letters.list()]
        quality = hub.quality.series()
        hub.close()
    return {
        "results": results,
        "history": history,
        "state": state,
        "letters": letters,
        "samples": sorted(samples, key=repr),
        "quality": quality,
        "series": len(series),
    }


def test_read_together_and_one_by_one_give_the_same_outcome(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = run(clock, monkeypatch, together=True)
    one_by_one = run(clock, monkeypatch, together=False)
    assert together["series"] > 0 and one_by_one["series"] == 0  # the roads differ
    del together["series"], one_by_one["series"]
    assert together == one_by_one
    results = together["results"]
    assert [r.dead_letters for r in results] == [0, 0, 0, 1, 1, 1, 1, 0, 4, 0]
    # older than the state's time is late, the same time and value again a duplicate
    assert (results[2].late_values, results[2].duplicate_values) == (5, 1)
    assert (results[-1].late_values, results[-1].duplicate_values) == (1, 1)
    reasons = [reason for reason, _ in together["letters"]]
    assert "expected a double" in reasons[0] and "not valid JSON" in reasons[1]
    assert "enum" in reasons[2] and "in the future" in reasons[3]
    assert "timestamp field 'ts' is missing" in reasons[4]
    # the newest by source time is the state, whatever the order in the batch
    power, meta = together["state"]["line-1-motor"]["ratedPower"]
    assert power == 13.0 and meta["sourceTime"] == "2026-01-01T00:00:51Z"
    assert together["state"]["line-2-motor"]["wear"] == pytest.approx(0.18)
    assert together["state"]["line-1-motor"]["state"][0] == "running"
    # °F converted once per column, every value kept (a bad message's good ones too)
    temperatures = together["history"][("line-1-motor", "windingTemperature")]
    assert len(temperatures) == 8 + 10 + 6 + 5 + 4 + 3
    assert temperatures[0][1] == pytest.approx(93.333333333)


def test_a_batch_of_one_address_is_one_series_event_with_every_sample(
    clock: ManualClock,
) -> None:
    with make_hub(clock) as hub:
        whole: list[TelemetrySeries] = []
        hub.bus.subscribe(whole.append, TelemetrySeries)
        split: list[TelemetryReceived] = []
        hub.bus.subscribe(split.append, TelemetryReceived)
        batch = [reading(clock, MOTOR, i * 1000, temp=212.0 + 18 * i) for i in range(50)]
        result = hub.ingest.submit(batch)
        assert (result.messages, result.values, result.dead_letters) == (50, 50, 0)
        (event,) = whole
        assert event.message_id == f"mqtt:{MOTOR}" and event.recorded
        assert list(event.values) == ["windingTemperature"]
        assert event.values["windingTemperature"][:2] == pytest.approx([100.0, 110.0])
        assert len(split) == 50  # per-sample subscribers still see every message's value
        stored = hub.history.range("line-1-motor/windingTemperature")
        assert len(stored) == 50 and stored[-1].value == pytest.approx(100.0 + 49 * 10)


def test_an_integer_for_a_double_is_stored_as_that_number(clock: ManualClock) -> None:
    with make_hub(clock) as hub:
        hub.ingest.submit([reading(clock, MOTOR, i * 1000, power=7 + i) for i in range(6)])
        twin = hub.twins.get_twin("line-1-motor")
        assert twin["ratedPower"] == 12.0
        assert [p.value for p in hub.history.range("line-1-motor/ratedPower")] == [
            7.0,
            8.0,
            9.0,
            10.0,
            11.0,
            12.0,
        ]


@pytest.mark.parametrize("power", [-0.0, 2**53 + 1, 2**63 + 1, 2**64 + 1])
def test_integers_and_negative_zero_for_a_double_are_the_floats_float_makes(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, power: float
) -> None:
    """A column becomes a float array at once; each number must be the float ``float()``
    makes of it (beyond 2**53 an integer rounds; beyond 64 bits JSON decoding makes it a
    float already; -0.0 stays), and state and history must hold Python floats. Read one
    by one, an integer for a double becomes the same float (kept as an integer, one beyond
    2**63 could not be stored by SQLite and would fail the whole batch)."""
    outcomes = []
    for together in (True, False):
        with road(monkeypatch, together), make_hub(clock) as hub:
            batch = [  # orjson writes no integer beyond 64 bits: the standard library does
                msg(MOTOR, json.dumps({"ts": MS0 + i, "power": power}).encode(), clock)
                for i in range(6)
            ]
            hub.ingest.submit(batch)
            twin = hub.twins.get_twin("line-1-motor")
            stored = [
                (type(p.value), repr(p.value)) for p in hub.history.range("line-1-motor/ratedPower")
            ]
            outcomes.append(((type(twin["ratedPower"]), repr(twin["ratedPower"])), stored))
    expected = (float, repr(float(power)))
    assert outcomes[0] == (expected, [expected] * 6)
    assert outcomes[1] == outcomes[0]


def conveyor_batches(clock: ManualClock) -> list[list[RawMessage]]:
    """The factory's conveyor messages: a float speed, integer counts, an enum status code
    and a text state, each of which a group must treat as its target wants."""

    def one(offset_ms: int, **fields: Any) -> RawMessage:
        body = {"ts": MS0 + offset_ms, "speed": 0.5, "parts": 3, "produced": 10, **fields}
        return msg("factory/line-1/conveyor/telemetry", orjson.dumps(body), clock)

    good = [one(i * 1000, produced=10 + i, status=1, state="running") for i in range(6)]
    bad_count = [one(10_000 + i * 1000, produced=20 + i) for i in range(5)]
    bad_count[2] = one(12_000, produced=2.5)  # a fraction for a long: only it is refused
    beyond_a_double = b'{"ts": %d, "speed": 1%s, "parts": 3}' % (MS0 + 25_000, b"0" * 400)
    huge = [one(20_000 + i * 1000) for i in range(4)]
    huge.append(msg("factory/line-1/conveyor/telemetry", beyond_a_double, clock))
    return [good, bad_count, huge]


def test_counts_and_enums_in_a_group_are_checked_value_by_value(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twinsight.ingest.mapping import load_mapping_file
    from twinsight.scenarios.factory import MAPPING_FILE

    outcomes = []
    for together in (True, False):
        with road(monkeypatch, together), make_hub(clock) as hub:
            hub.ingest.mapping = load_mapping_file(MAPPING_FILE)
            series: list[TelemetrySeries] = []
            hub.bus.subscribe(series.append, TelemetrySeries)
            results = [hub.ingest.submit(b) for b in conveyor_batches(clock)]
            history = {
                name: [(p.time, p.value) for p in hub.history.range(f"line-1-conveyor/{name}")]
                for name in ("speed", "partsOnBelt", "partsProduced", "status", "state")
            }
            letters = [d.reason for d in hub.dead_letters.list()]
            outcomes.append((results, history, letters, len(series)))
    (results, history, letters, series_count), one_by_one = outcomes
    assert (results, history, letters) == one_by_one[:3]
    assert series_count > 0 and one_by_one[3] == 0
    assert [r.dead_letters for r in results] == [0, 1, 1]
    assert history["partsProduced"][5][1] == 15 and type(history["partsProduced"][5][1]) is int
    assert history["status"][0][1] == 1 and history["state"][-1][1] == "running"
    assert "partsProduced" in letters[0]


@pytest.mark.parametrize("length", [10, 500])  # short columns by a Python pass, long by numpy
def test_align_puts_samples_on_one_ascending_axis(length: int) -> None:
    from twinsight.ingest.pipeline import align

    ascending = list(range(0, length * 10, 10))
    assert align([("a", ascending, list(range(length)))]) == (ascending, {"a": list(range(length))})
    shuffled = ascending[::-1]
    times, columns = align([("a", shuffled, list(range(length))), ("b", [5], [1.5])])
    assert times == sorted([*ascending, 5])
    assert columns["a"][0] == length - 1 and columns["a"][1] is None  # 5 holds only b's sample
    assert columns["b"] == [None, 1.5] + [None] * (length - 1)
