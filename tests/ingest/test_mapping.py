"""Mapping files: every payload format, topic captures, templates, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from twinsight.core.messages import RawMessage
from twinsight.ingest.mapping import load_mapping_file, parse_mapping
from twinsight.ingest.mapping.loader import MappingError
from twinsight.ingest.mapping.topics import compile_topic
from twinsight.ingest.units import UnitError, converter

NOW = datetime(2026, 1, 1, tzinfo=UTC)

MAPPING = """
mappings:
  - name: motor-json
    topic: "factory/{line}/{machine}/data"
    twin: "{line}-{machine}"
    format: json
    time: {field: meta.ts, format: epoch_ms}
    values:
      - {field: temp, telemetry: windingTemperature, unit: degreeFahrenheit}
      - {field: power, property: ratedPower, optional: true}
      - {field: bearing.wear, property: bearing.wear}
  - name: senml
    topic: "senml/{twin}"
    twin: "{twin}"
    format: senml
    values:
      - {record: "urn:dev:{name}", telemetry: "{name}"}
  - name: bare
    topic: "raw/{twin}/+/{name}"
    source: mqtt
    twin: "{twin}"
    format: number
    values:
      - {telemetry: "{name}"}
  - name: csv
    topic: "csv/{twin}/#"
    twin: "{twin}"
    format: csv
    csv: {columns: [time, level, state], delimiter: ";"}
    time: {field: time, format: iso8601}
    values:
      - {field: level, telemetry: level}
      - {field: state, property: state}
"""


def extract(address: str, payload: bytes, source: str = "mqtt") -> tuple[list, list[str]]:
    mapping = parse_mapping(MAPPING, "test.yaml")
    message = RawMessage(source, address, payload, NOW)
    found = mapping.find(message)
    assert found is not None, address
    rule, captures = found
    return rule.extract(message, captures)


def test_json_fields_time_and_captures() -> None:
    values, problems = extract(
        "factory/l1/m7/data",
        b'{"meta": {"ts": 1767225600000}, "temp": 98.6, "bearing": {"wear": 0.3}}',
    )
    assert problems == []
    assert [(v.twin_id, v.kind, v.name, v.value, v.unit) for v in values] == [
        ("l1-m7", "telemetry", "windingTemperature", 98.6, "degreeFahrenheit"),
        ("l1-m7", "property", "bearing.wear", 0.3, None),
    ]
    assert values[0].time == datetime(2026, 1, 1, tzinfo=UTC)


def test_json_missing_field_and_bad_payloads() -> None:
    _, problems = extract("factory/l1/m7/data", b'{"meta": {"ts": 1767225600000}, "temp": 1}')
    assert problems == ["field 'bearing.wear' is missing"]
    for payload, reason in [
        (b'{"temp": ', "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[1, 2]", "must be an object"),
        (
            b'{"meta": {}, "temp": 1, "bearing": {"wear": 1}}',
            "timestamp field 'meta.ts' is missing",
        ),
        (b'{"meta": {"ts": "soon"}, "temp": 1, "bearing": {"wear": 1}}', "not a number"),
        (b'{"meta": {"ts": 1e30}, "temp": 1, "bearing": {"wear": 1}}', "out of range"),
    ]:
        values, problems = extract("factory/l1/m7/data", payload)
        assert values == []
        assert reason in problems[0], (payload, problems)


def test_senml_pack_with_base_fields_and_relative_time() -> None:
    pack = (
        b'[{"bn": "urn:dev:", "bt": 1767225600, "bu": "Cel", "n": "temp", "v": 21.5},'
        b' {"n": "hum", "u": "%RH", "v": 40, "t": 10},'
        b' {"n": "door", "vb": true},'
        b' {"bn": "", "n": "other", "v": 1}]'
    )
    values, problems = extract("senml/room-1", pack)
    assert [(v.name, v.value, v.unit) for v in values] == [
        ("temp", 21.5, "Cel"),
        ("hum", 40.0, "%RH"),
        ("door", True, "Cel"),
    ]
    assert values[1].time == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert problems == ["no value rule matches SenML record(s) 'other'"]
    relative, _ = extract("senml/room-1", b'[{"n": "urn:dev:x", "v": 1, "t": -5}]')
    assert relative[0].time == datetime(2025, 12, 31, 23, 59, 55, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pack", "reason"),
    [
        (b"{}", "non-empty JSON array"),
        (b'[{"n": "urn:dev:x"}]', "no value"),
        (b'[{"n": "urn:dev:x", "v": "1"}]', "v must be a finite number"),
        (b'[{"v": 1}]', "no name"),
        (b"[7]", "not a JSON object"),
    ],
)
def test_senml_errors_name_the_record(pack: bytes, reason: str) -> None:
    values, problems = extract("senml/room-1", pack)
    assert values == []
    assert reason in problems[0]
    assert problems[0].startswith("SenML record 0") or "array" in problems[0]


def test_bare_number_and_source_filter() -> None:
    values, problems = extract("raw/pump-2/x/flow", b" 12.5\n")
    assert problems == []
    assert [(v.twin_id, v.name, v.value) for v in values] == [("pump-2", "flow", 12.5)]
    _, problems = extract("raw/pump-2/x/flow", b"twelve")
    assert problems == ["the payload 'twelve' is not a number"]
    _, problems = extract("raw/pump-2/x/flow", b"nan")
    assert "not a finite number" in problems[0]
    mapping = parse_mapping(MAPPING, "test.yaml")
    assert mapping.find(RawMessage("http", "raw/pump-2/x/flow", b"1", NOW)) is None


def test_csv_lines() -> None:
    values, problems = extract(
        "csv/tank-1/a/b", b"2026-01-01T00:00:00Z;2.5;running\n2026-01-01T00:00:01Z;2.6;idle\n"
    )
    assert problems == []
    assert [(v.name, v.value, v.from_text) for v in values] == [
        ("level", "2.5", True),
        ("state", "running", True),
        ("level", "2.6", True),
        ("state", "idle", True),
    ]
    _, problems = extract("csv/tank-1", b"2026-01-01T00:00:00Z;2.5\n")
    assert "has 2 column(s)" in problems[0]
    _, problems = extract("csv/tank-1", b"2026-01-01T00:00:00;2.5;x\n")
    assert "no time zone" in problems[0]


def test_topic_patterns() -> None:
    assert compile_topic("a/#").fullmatch("a")
    assert compile_topic("a/#").fullmatch("a/b/c")
    assert not compile_topic("a/+").fullmatch("a/b/c")
    for bad in ["a/#/b", "a/{x}/{x}", "a/b{x}"]:
        with pytest.raises(ValueError):
            compile_topic(bad)


def one_rule(**fields: str) -> str:
    """A mapping file with one rule in YAML flow style, the given fields overriding."""
    rule = {
        "name": "a",
        "topic": "t",
        "twin": "x",
        "format": "number",
        "values": "[{telemetry: x}]",
        **fields,
    }
    return "{mappings: [{" + ", ".join(f"{k}: {v}" for k, v in rule.items()) + "}]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mappings: [", "not valid YAML at line 1"),
        ("mappings: []", "mappings: List should have at least 1 item"),
        (
            one_rule(format="json", values="[{field: f}]"),
            "mappings[0].values[0]: give exactly one of 'property' or 'telemetry'",
        ),
        (one_rule(twin="'{nope}'"), "twin uses {nope}"),
        (one_rule(values="[{telemetry: x, unit: furlongz}]"), "unknown unit 'furlongz'"),
        (one_rule(format="csv", values="[{field: a, telemetry: x}]"), "needs a 'csv' section"),
        (one_rule(colour="red"), "mappings[0].colour: Extra inputs are not permitted"),
    ],
)
def test_bad_mapping_files_say_where(text: str, expected: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "m.yaml")
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert all(p.startswith("m.yaml") for p in info.value.problems)


def test_mapping_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING)
    assert [r.name for r in load_mapping_file(path).rules] == ["motor-json", "senml", "bare", "csv"]
    (tmp_path / "bad.yaml").write_bytes(b"\xff")
    with pytest.raises(MappingError, match="not valid UTF-8"):
        load_mapping_file(tmp_path / "bad.yaml")
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping_file(tmp_path / "missing.yaml")


def test_unit_conversions() -> None:
    assert converter("degreeFahrenheit", "degreeCelsius")(212.0) == pytest.approx(100.0)
    assert converter("Cel", "kelvin")(0.0) == pytest.approx(273.15)
    assert converter("poundPerSquareInch", "kilopascal")(1.0) == pytest.approx(6.894757)
    assert converter("gForce", "metrePerSecondSquared")(1.0) == pytest.approx(9.80665)
    assert converter("cubicMetrePerHour", "litrePerSecond")(3.6) == pytest.approx(1.0)
    with pytest.raises(UnitError, match="different quantities"):
        converter("metre", "second")
    with pytest.raises(UnitError, match="unknown unit"):
        converter("blorp", "second")
