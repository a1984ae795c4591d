"""The ingest pipeline: mapped values become history and current state by source time;
everything unusable is kept as a dead letter with its reason, and can be replayed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived, TwinChanged
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.ingest.flood import FloodGuard
from twinsight.ingest.mapping import parse_mapping
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)

MAPPING = parse_mapping(
    """
mappings:
  - name: motor
    topic: "plant/{twin}/motor"
    twin: "{twin}"
    format: json
    time: {field: ts, format: epoch_ms}
    values:
      - {field: temp, telemetry: windingTemperature, unit: degreeFahrenheit, optional: true}
      - {field: power, property: ratedPower, optional: true}
      - {field: wear, property: bearing.wear, optional: true}
      - {field: state, property: state, optional: true}
  - name: senml
    topic: "senml/{twin}"
    twin: "{twin}"
    format: senml
    values:
      - {record: "{name}", telemetry: "{name}"}
  - name: tank-csv
    topic: "csv/{twin}"
    twin: "{twin}"
    format: csv
    csv: {columns: [level, capacity]}
    values:
      - {field: level, telemetry: level}
      - {field: capacity, property: capacity}
""",
    "test.yaml",
)


def make_hub(clock: ManualClock, data_dir: Path | None = None, **kwargs: object) -> Hub:
    hub = Hub(data_dir, clock=clock, mapping=MAPPING, **kwargs)  # type: ignore[arg-type]
    if len(hub.models) == 0:
        docs, errors = load_paths([MODELS_DIR])
        assert errors == []
        hub.models.add(docs)
        world.build(hub.twins)
    return hub


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with make_hub(clock) as h:
        yield h


def msg(address: str, payload: bytes, clock: ManualClock, client: str = "dev") -> RawMessage:
    return RawMessage("mqtt", address, payload, clock.now(), client)


def motor(clock: ManualClock, offset_ms: int, **fields: object) -> RawMessage:
    import orjson

    return msg("plant/line-1-motor/motor", orjson.dumps({"ts": MS0 + offset_ms, **fields}), clock)


def test_values_become_state_history_and_events(hub: Hub, clock: ManualClock) -> None:
    telemetry: list[TelemetryReceived] = []
    changes: list[TwinChanged] = []
    hub.bus.subscribe(telemetry.append, TelemetryReceived)
    hub.bus.subscribe(changes.append, TwinChanged)
    result = hub.ingest.submit([motor(clock, 0, temp=212.0, power=11.0, wear=0.25)])
    assert (result.messages, result.values, result.dead_letters) == (1, 3, 0)
    twin = hub.twins.get_twin("line-1-motor")
    assert twin["ratedPower"] == 11.0
    assert twin["$metadata"]["ratedPower"]["sourceTime"] == "2026-01-01T00:00:00Z"
    assert twin["bearing"]["wear"] == 0.25
    points = hub.history.range("line-1-motor/windingTemperature")
    assert [(p.time, round(p.value, 9)) for p in points] == [(T0, 100.0)]  # type: ignore[arg-type]
    assert [p.value for p in hub.history.range("line-1-motor/bearing.wear")] == [0.25]
    assert [dict(t.payload) for t in telemetry] == [{"windingTemperature": pytest.approx(100.0)}]
    assert telemetry[0].recorded and changes[-1].recorded
    assert telemetry[0].model == "dtmi:twinsight:factory:Motor;1"


def test_latest_state_is_the_newest_source_time(hub: Hub, clock: ManualClock) -> None:
    hub.ingest.submit([motor(clock, 5000, power=3.0)])
    late = hub.ingest.submit([motor(clock, 1000, power=1.0), motor(clock, 2000, power=2.0)])
    assert late.late_values == 2
    assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 3.0
    assert [p.value for p in hub.history.range("line-1-motor/ratedPower")] == [1.0, 2.0, 3.0]
    out_of_order = hub.ingest.submit([motor(clock, 9000, power=9.0), motor(clock, 7000, power=7.0)])
    assert out_of_order.late_values == 0  # ordered by source time within a batch
    assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 9.0


def test_duplicates_are_recorded_once(hub: Hub, clock: ManualClock) -> None:
    hub.ingest.submit([motor(clock, 0, power=5.0, temp=100.0)])
    again = hub.ingest.submit([motor(clock, 0, power=5.0, temp=100.0)])
    assert again.duplicate_values == 1
    assert len(hub.history.range("line-1-motor/ratedPower")) == 1
    assert len(hub.history.range("line-1-motor/windingTemperature")) == 1


def test_every_unusable_message_is_kept_with_its_reason(hub: Hub, clock: ManualClock) -> None:
    big = b'{"ts": 1, "x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    messages = [
        msg("nowhere/else", b"{}", clock),
        msg("plant/line-1-motor/motor", b'{"ts": 1, "temp": ', clock),
        msg("plant/line-1-motor/motor", b"\xff\xfe", clock),
        msg("plant/ghost/motor", b'{"ts": %d, "power": 1}' % MS0, clock),
        msg("plant/line-1-motor/motor", b'{"ts": %d, "power": "lots"}' % MS0, clock),
        msg("plant/line-1-motor/motor", b'{"ts": %d, "state": "exploded"}' % MS0, clock),
        msg("plant/line-1-motor/motor", b'{"ts": %d, "power": 1}' % (MS0 + 3_600_000), clock),
        msg("plant/line-1-motor/motor", b'{"ts": 1000, "power": 1}', clock),
        msg("plant/line-1-motor/motor", big, clock),
        msg(
            "senml/line-1-motor",
            b'[{"n": "vibration", "v": 1}, {"n": "colour", "vs": "red"}]',
            clock,
        ),
    ]
    result = hub.ingest.submit(messages)
    assert result.dead_letters == len(messages)
    letters = hub.dead_letters.list()
    reasons = [letter.reason for letter in letters]
    expected = [
        "no mapping rule matches mqtt address 'nowhere/else'",
        "not valid JSON",
        "not valid UTF-8",
        "there is no twin 'ghost'",
        "line-1-motor/ratedPower: expected a double",
        "is not one of the enum values",
        "is in the future",
        "implausibly old",
        "exceeds the limit",
        "defines no telemetry 'colour'",
    ]
    for reason, fragment in zip(reasons, expected, strict=True):
        assert fragment in reason, (reason, fragment)
    assert letters[0].payload == b"{}" and letters[0].source == "mqtt"
    assert letters[-1].mapping == "senml"
    # the good value of the partly bad SenML pack was applied
    assert [p.value for p in hub.history.range("line-1-motor/vibration")] == [1.0]
    assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 15.0  # as the world seeded it


def test_a_pack_with_the_same_problem_many_times_says_it_once_with_a_count(
    hub: Hub, clock: ManualClock
) -> None:
    records = b", ".join(b'{"n": "colour", "vs": "red", "t": %d}' % i for i in range(40))
    other = b'{"n": "smell", "v": 1}'
    hub.ingest.submit([msg("senml/line-1-motor", b"[" + records + b", " + other + b"]", clock)])
    (letter,) = hub.dead_letters.list()
    assert letter.reason.count("defines no telemetry 'colour'") == 1
    assert "defines no telemetry 'colour' (×40)" in letter.reason
    assert "defines no telemetry 'smell'" in letter.reason
    assert letter.payload.count(b"colour") == 40  # the raw bytes are kept whole


def test_replay_after_the_model_is_fixed(hub: Hub, clock: ManualClock) -> None:
    hub.ingest.submit([msg("plant/line-9-motor/motor", b'{"ts": %d, "power": 4}' % MS0, clock)])
    (letter,) = hub.dead_letters.list()
    still = hub.dead_letters.replay([letter.id])
    assert still.replayed == [] and "no twin" in still.still_failing[letter.id]
    body = {"$metadata": {"$model": "dtmi:twinsight:factory:Motor;1"}, "bearing": {}}
    hub.twins.upsert_twin("line-9-motor", body)
    fixed = hub.dead_letters.replay([letter.id])
    assert fixed.replayed == [letter.id]
    assert hub.twins.get_twin("line-9-motor")["ratedPower"] == 4.0
    assert hub.dead_letters.list() == []
    (done,) = hub.dead_letters.list(status="replayed")
    assert done.attempts == 2
    again = hub.dead_letters.replay([letter.id])  # idempotent
    assert again.replayed == [letter.id]
    assert len(hub.history.range("line-9-motor/ratedPower")) == 1


def test_csv_text_is_converted_to_the_schema_type(hub: Hub, clock: ManualClock) -> None:
    result = hub.ingest.submit([msg("csv/line-1-tank", b"2.5,12\n2.7,x\n", clock)])
    assert result.values == 3 and result.dead_letters == 1
    assert hub.twins.get_twin("line-1-tank")["capacity"] == 12.0
    (letter,) = hub.dead_letters.list()
    assert "'x' is not a double" in letter.reason


def test_floods_are_kept_not_processed(clock: ManualClock) -> None:
    with make_hub(clock, flood=FloodGuard(rate=5, burst=5)) as hub:
        noisy = [motor(clock, i, power=float(i)) for i in range(20)]
        quiet = msg("plant/line-2-motor/motor", b'{"ts": %d, "power": 2}' % MS0, clock, "other")
        result = hub.ingest.submit([*noisy, quiet])
        assert result.dead_letters == 15
        assert hub.twins.get_twin("line-2-motor")["ratedPower"] == 2.0
        assert all("sent more than 5" in letter.reason for letter in hub.dead_letters.list())
        clock.advance(10)
        replay = hub.dead_letters.replay_pending()
        assert len(replay.replayed) == 5  # the bucket refilled: five more go through
        assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 9.0


def test_everything_survives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    with make_hub(clock, tmp_path) as hub:
        hub.ingest.submit([motor(clock, 0, power=7.0, temp=50.0), msg("bad", b"", clock)])
    with make_hub(clock, tmp_path) as hub:
        assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 7.0
        assert len(hub.history.range("line-1-motor/windingTemperature")) == 1
        assert [letter.address for letter in hub.dead_letters.list()] == ["bad"]


def test_bad_dead_letter_requests(hub: Hub) -> None:
    from twinsight.core.errors import BadRequest, NotFound

    with pytest.raises(NotFound):
        hub.dead_letters.get(12345)
    with pytest.raises(BadRequest):
        hub.dead_letters.list(status="lost")
    with pytest.raises(NotFound):
        hub.dead_letters.replay([999])


def test_time_is_measured_from_arrival_not_wall_clock(hub: Hub, clock: ManualClock) -> None:
    clock.advance(timedelta(days=3).total_seconds())
    result = hub.ingest.submit([motor(clock, 0, power=1.0)])  # 3 days old: fine
    assert result.dead_letters == 0


def test_every_timed_sample_of_a_pack_reaches_the_event_bus(hub: Hub, clock: ManualClock) -> None:
    seen: list[TelemetryReceived] = []
    hub.bus.subscribe(seen.append, TelemetryReceived)
    pack = (
        b'[{"bn": "", "bt": %d, "n": "vibration", "v": 1}, {"n": "vibration", "v": 2, "t": 1},'
        b' {"n": "current", "v": 5, "t": 1}]' % (MS0 // 1000)
    )
    hub.ingest.submit([msg("senml/line-1-motor", pack, clock)])
    assert [(t.source_time, dict(t.payload)) for t in seen] == [
        (T0, {"vibration": 1.0}),
        (T0 + timedelta(seconds=1), {"vibration": 2.0, "current": 5.0}),
    ]
