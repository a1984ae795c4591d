"""A series of samples (a SenML pack) as one stream event, and data quality fed columns.

The stream event stays a ``telemetry`` event a client written for single samples can read
(``sourceTime`` and ``telemetry`` are the newest), with every sample in ``samples``; it is
serialized once per pack, not once per sample time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from twinsight.core.clock import ManualClock
from twinsight.core.events import EventBus, IngestBatch, TelemetryReceived, TelemetrySeries
from twinsight.hub import Hub
from twinsight.streams import parse_filter, stream_event
from twinsight.streams.events import event_meta
from twinsight.streams.quality import QualityConfig, QualityTracker, RangeRule

T = datetime(2026, 1, 1, tzinfo=UTC)
US = int(T.timestamp()) * 1_000_000


def series(**values: list[Any]) -> TelemetrySeries:
    return TelemetrySeries(
        "m",
        "dtmi:x:M;1",
        None,
        "mqtt:senml/m",
        T + timedelta(seconds=5),
        [US, US + 10_000, US + 1_000_000],
        values,
        recorded=True,
    )


def test_a_series_is_one_telemetry_event_with_every_sample() -> None:
    body = stream_event(series(a=[1.0, 2.0, None], b=[None, 7.5, 8.5]))
    assert body == {
        "type": "telemetry",
        "twinId": "m",
        "model": "dtmi:x:M;1",
        "time": "2026-01-01T00:00:05Z",
        "sourceTime": "2026-01-01T00:00:01Z",
        "messageId": "mqtt:senml/m",
        "telemetry": {"a": 2.0, "b": 8.5},
        "samples": {
            "sourceTime": [
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00.010000Z",
                "2026-01-01T00:00:01Z",
            ],
            "telemetry": {"a": [1.0, 2.0, None], "b": [None, 7.5, 8.5]},
        },
    }
    assert orjson.loads(orjson.dumps(body)) == body
    meta = event_meta(body)
    assert meta.names == frozenset({"a", "b"}) and meta.type == "telemetry"
    only_b = parse_filter({"names": ["b"], "types": ["telemetry"]}, None)
    assert only_b.matches(meta, None)


def test_a_component_series_names_its_component() -> None:
    event = TelemetrySeries("m", "dtmi:x:M;1", "bearing", "x", T, [US, US + 1], {"t": [1, 2]})
    body = stream_event(event)
    assert body is not None and body["component"] == "bearing"
    assert event_meta(body).names == frozenset({"bearing.t"})


def test_subscribers_of_single_samples_still_get_every_sample() -> None:
    bus = EventBus()
    old: list[TelemetryReceived] = []
    whole: list[object] = []
    bus.subscribe(old.append, TelemetryReceived)
    bus.subscribe(whole.append, TelemetryReceived, whole_series=True)
    bus.subscribe(whole.append, TelemetrySeries)
    unsubscribe = bus.subscribe(old.append, TelemetryReceived)
    unsubscribe()
    bus.publish(series(a=[1.0, 2.0, None], b=[None, 7.5, 8.5]))
    assert [(e.source_time, dict(e.payload)) for e in old] == [
        (T, {"a": 1.0}),
        (T + timedelta(microseconds=10_000), {"a": 2.0, "b": 7.5}),
        (T + timedelta(seconds=1), {"b": 8.5}),
    ]
    assert all(e.recorded and e.time == T + timedelta(seconds=5) for e in old)
    assert len(whole) == 1 and isinstance(whole[0], TelemetrySeries)


def test_live_streams_serialize_a_series_once(clock: ManualClock) -> None:
    with Hub(clock=clock) as hub:
        before = hub.streams.published
        hub.bus.publish(series(a=[1.0, 2.0, 3.0]))
        assert hub.streams.published == before + 1


def test_telemetry_nobody_listens_to_is_serialised_only_for_a_resuming_client(
    clock: ManualClock, monkeypatch: Any
) -> None:
    from twinsight.streams import live

    made: list[object] = []
    real = live.stream_event
    monkeypatch.setattr(live, "stream_event", lambda e, m=None: made.append(e) or real(e, m))
    with Hub(clock=clock) as hub:
        hub.bus.publish(series(a=[1.0, 2.0, 3.0]))
        assert made == []  # no subscriber: kept as the bus event
        got: list[tuple[int, bytes]] = []

        class Sink:
            def offer(self, tag: str, seq: int, data: bytes) -> None:
                got.append((seq, data))

        everything = hub.streams.parse_filter({})
        hub.streams.subscribe(everything, Sink(), after=0)  # resumes from the start
        assert len(made) == 1
        hub.bus.publish(series(a=[4.0, 5.0, 6.0]))  # now someone listens: at once
        assert len(made) == 2
    replayed, live_one = (orjson.loads(data) for _, data in got)
    assert replayed == stream_event(series(a=[1.0, 2.0, 3.0]))
    assert live_one["samples"]["telemetry"] == {"a": [4.0, 5.0, 6.0]}
    assert got[0][0] < got[1][0]


def column_batch(values: list[float], start: int, arrival: datetime) -> IngestBatch:
    times = [start + i * 1000 for i in range(len(values))]
    return IngestBatch(arrival, (), (), (("m", "x", "telemetry", arrival, times, values),))


def value_batch(values: list[float], start: int, arrival: datetime) -> IngestBatch:
    rows = tuple(
        ("m", "x", "telemetry", T + timedelta(microseconds=start - US + i * 1000), arrival, v)
        for i, v in enumerate(values)
    )
    return IngestBatch(arrival, rows, ())


def test_quality_of_columns_equals_quality_of_the_same_values_one_by_one() -> None:
    config = QualityConfig(ranges=(RangeRule("x", min=0.0, max=10.0),), min_intervals=2)
    columns = [
        [1.0, 2.0, 3.0],  # a new series
        [4.0, 5.0],  # clean: the O(1) road
        [6.0, 70.0, 8.0],  # out of range
        [9.0, float("nan")],  # not finite
        [1.0, 1.5],  # clean again, after a longer gap
    ]
    starts = [US, US + 10_000, US + 5_000, US + 50_000, US + 90_000]  # the third is late
    trackers = []
    for make in (column_batch, value_batch):
        clock = ManualClock(T)
        bus = EventBus()
        tracker = QualityTracker(bus, clock, config=config)
        for i, (values, start) in enumerate(zip(columns, starts, strict=True)):
            bus.publish(make(values, start, T + timedelta(seconds=i * (1 + i))))
        clock.advance(30)
        trackers.append(tracker.series())
    by_columns, by_values = trackers
    assert by_columns == by_values
    (s,) = by_columns
    assert (s["count"], s["late"], s["outOfRange"], s["nonFinite"]) == (12, 3, 1, 1)
