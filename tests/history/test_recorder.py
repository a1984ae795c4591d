"""The recorder, fed by real events from the graph service (no hand-made events), with a
manual clock, and flushed explicitly instead of waiting."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support import add_factory_models, motor_body
from twinsight.core.clock import ManualClock
from twinsight.core.ports import HistoryPoint, SeriesKey
from twinsight.hub import Hub

MOTOR = "dtmi:twinsight:factory:Motor;1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def series(hub: Hub, name: str, twin: str = "m1") -> list[tuple[datetime, Any]]:
    return [(p.time, p.value) for p in hub.history.range(f"{twin}/{name}", limit=1000)]


def test_twin_writes_record_each_written_property_at_its_update_time(
    hub: Hub, clock: ManualClock
) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body(ratedPower=5.0, serialNumber="A-1"))
    clock.advance(60)
    hub.twins.patch_twin("m1", [{"op": "replace", "path": "/ratedPower", "value": 6.0}])
    clock.advance(60)
    hub.twins.patch_twin("m1", [{"op": "add", "path": "/wear", "value": 0.25}], component="bearing")
    hub.recorder.flush()
    assert series(hub, "ratedPower") == [(T0, 5.0), (T0 + timedelta(seconds=60), 6.0)]
    # serialNumber was not written by the patches: one point only
    assert series(hub, "serialNumber") == [(T0, "A-1")]
    assert series(hub, "bearing.wear") == [(T0 + timedelta(seconds=120), 0.25)]
    kinds = {s.name: s.kind for s in hub.history.series("m1")}
    assert kinds == {
        "ratedPower": "property",
        "serialNumber": "property",
        "bearing.wear": "property",
    }


def test_source_time_orders_history_and_late_writes_do_not_become_latest(
    hub: Hub, clock: ManualClock
) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin(
        "m1",
        {
            **motor_body(ratedPower=5.0),
            "$metadata": {"$model": MOTOR, "ratedPower": {"sourceTime": "2025-12-31T23:00:00Z"}},
        },
    )
    clock.advance(10)
    # a late, out-of-order write: it happened before the first one
    hub.twins.patch_twin(
        "m1",
        [
            {"op": "replace", "path": "/ratedPower", "value": 4.0},
            {
                "op": "add",
                "path": "/$metadata/ratedPower/sourceTime",
                "value": "2025-12-31T22:00:00Z",
            },
        ],
    )
    hub.recorder.flush()
    assert series(hub, "ratedPower") == [
        (datetime(2025, 12, 31, 22, tzinfo=UTC), 4.0),
        (datetime(2025, 12, 31, 23, tzinfo=UTC), 5.0),
    ]
    [latest] = hub.history.latest(["m1/ratedPower"])
    assert latest.value == 5.0


def test_telemetry_fields_are_flattened_and_stamped_with_source_time(
    hub: Hub, clock: ManualClock
) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body())
    source = datetime(2025, 12, 31, 12, tzinfo=UTC)
    hub.twins.publish_telemetry(
        "m1",
        {"speed": 1450, "gps": {"lat": 48.1, "lon": 11.5}, "ok": True, "tags": ["a", "b"]},
        message_id="1",
        source_time=source,
    )
    clock.advance(1)
    hub.twins.publish_telemetry("m1", {"wear": 0.5}, message_id="2", component="bearing")
    hub.recorder.flush()
    assert series(hub, "speed") == [(source, 1450)]
    assert series(hub, "gps.lat") == [(source, 48.1)]
    assert series(hub, "ok") == [(source, True)]
    assert series(hub, "tags") == [(source, ["a", "b"])]
    assert series(hub, "bearing.wear") == [(T0 + timedelta(seconds=1), 0.5)]
    assert {s.name: s.kind for s in hub.history.series("m1", prefix="gps")} == {
        "gps.lat": "telemetry",
        "gps.lon": "telemetry",
    }


def test_duplicate_telemetry_is_recorded_once(hub: Hub) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body())
    for _ in range(3):
        hub.twins.publish_telemetry("m1", {"speed": 1.0}, message_id="same", source_time=T0)
    hub.recorder.flush()
    assert hub.history.store.count(SeriesKey("m1", "speed")) == 1


def test_nothing_is_written_until_a_batch_is_flushed_then_everything_is(hub: Hub) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body())
    recorder = hub.recorder
    recorder.close()  # stop the background writer so the queue is observable
    recorder.record([HistoryPoint("m1", "x", "telemetry", T0, 1.0)])
    assert recorder.pending == 1
    assert hub.history.store.count() == 0
    assert recorder.flush() == 1
    assert (recorder.pending, hub.history.store.count()) == (0, 1)


def test_a_full_batch_is_written_by_the_caller_under_back_pressure(hub: Hub) -> None:
    from twinsight.history import Recorder

    recorder = Recorder(hub.history.store, hub.bus, batch_size=10, max_pending=50)
    recorder.close()  # background writer off: only back-pressure can write
    recorder.record(
        [HistoryPoint("t", "x", "telemetry", T0 + timedelta(seconds=i), 1.0) for i in range(49)]
    )
    assert hub.history.store.count() == 0
    recorder.record([HistoryPoint("t", "x", "telemetry", T0 + timedelta(hours=1), 1.0)])
    assert (recorder.pending, hub.history.store.count()) == (0, 50)


def test_history_survives_a_restart_and_closing_the_hub_flushes(
    tmp_path: Path, clock: ManualClock
) -> None:
    with add_factory_models(Hub(tmp_path, clock=clock)) as hub:
        hub.twins.upsert_twin("m1", motor_body(ratedPower=5.0))
        hub.twins.publish_telemetry("m1", {"speed": 1.0}, message_id="1")
        # no flush: close must write the queue
    assert (tmp_path / "history.db").exists()
    with Hub(tmp_path, clock=clock) as hub:
        assert series(hub, "ratedPower") == [(T0, 5.0)]
        assert series(hub, "speed") == [(T0, 1.0)]


def test_deleting_a_twin_keeps_its_history(hub: Hub) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body(ratedPower=5.0))
    hub.twins.delete_twin("m1")
    hub.recorder.flush()
    assert series(hub, "ratedPower") == [(T0, 5.0)]


class _Signalling:
    """A store wrapper that tells the test when the background writer appended."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.appended = threading.Event()
        self.batches: list[int] = []

    def append(self, points: Any) -> int:
        n: int = self.inner.append(points)
        self.batches.append(len(points))
        self.appended.set()
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_background_writer_appends_a_full_batch_without_being_asked(hub: Hub) -> None:
    from twinsight.history import Recorder

    store = _Signalling(hub.history.store)
    # an interval far longer than the wait below: only the size trigger can write in time
    recorder = Recorder(store, hub.bus, batch_size=10, interval=3600, max_pending=10_000)
    try:
        recorder.record(
            [HistoryPoint("t", "x", "telemetry", T0 + timedelta(seconds=i), 1.0) for i in range(10)]
        )
        assert store.appended.wait(timeout=30)
        assert store.batches == [10]
        assert hub.history.store.count(SeriesKey("t", "x")) == 10
    finally:
        recorder.close()


def test_events_already_recorded_by_their_writer_are_skipped(hub: Hub) -> None:
    from twinsight.core.events import TelemetryReceived

    hub.bus.publish(TelemetryReceived("t", "m", None, "1", {"x": 1.0}, T0, recorded=True))
    hub.bus.publish(TelemetryReceived("t", "m", None, "2", {"y": 1.0}, T0))
    hub.recorder.flush()
    assert [str(s.key) for s in hub.history.series()] == ["t/y"]


def test_a_series_event_is_recorded_sample_by_sample_unless_already_recorded(hub: Hub) -> None:
    from twinsight.core.events import TelemetrySeries

    us = int(T0.timestamp()) * 1_000_000
    times = [us, us + 500_000, us + 1_000_000]
    values = {"speed": [1.0, None, 3.0], "load": [None, 0.5, 0.5]}
    hub.bus.publish(TelemetrySeries("m1", MOTOR, None, "x", T0, times, values))
    hub.bus.publish(TelemetrySeries("m1", MOTOR, "bearing", "x", T0, times[:1], {"wear": [0.1]}))
    hub.bus.publish(TelemetrySeries("m2", MOTOR, None, "x", T0, times, values, recorded=True))
    hub.recorder.flush()
    half = T0 + timedelta(seconds=0.5)
    assert series(hub, "speed") == [(T0, 1.0), (T0 + timedelta(seconds=1), 3.0)]
    assert series(hub, "load") == [(half, 0.5), (T0 + timedelta(seconds=1), 0.5)]
    assert series(hub, "bearing.wear") == [(T0, 0.1)]
    assert hub.history.series(twin="m2") == []


def test_columns_are_appended_with_rows_in_one_call(hub: Hub) -> None:
    us = int(T0.timestamp()) * 1_000_000
    added = hub.history.append_rows(
        [("m1", "speed", "telemetry", T0, 5.0)],
        [
            ("m1", "speed", "telemetry", [us, us + 1_000_000], [6.0, 7.0]),  # first wins at T0
            ("m1", "mode", "property", [us], ["auto"]),
        ],
    )
    assert added == 3
    assert series(hub, "speed") == [(T0, 5.0), (T0 + timedelta(seconds=1), 7.0)]
    assert series(hub, "mode") == [(T0, "auto")]
