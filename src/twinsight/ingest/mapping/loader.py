"""Reading mapping files (YAML or JSON) into a compiled :class:`Mapping`.

Every problem is reported with the file and the location inside it (``mappings[2].values[0]
.unit``), all at once, as a :class:`MappingError`.

>>> mapping = parse_mapping('''
... mappings:
...   - name: room-json
...     topic: "building/{room}/climate"
...     twin: "{room}"
...     format: json
...     time: {field: ts, format: epoch_ms}
...     values:
...       - {field: temp, property: temperature, unit: degreeFahrenheit}
... ''', "rooms.yaml")
>>> [rule.name for rule in mapping.rules]
['room-json']
>>> bad = "mappings: [{name: x, topic: a, twin: b, format: xml, values: []}]"
>>> try:
...     parse_mapping(bad, "bad.yaml")
... except MappingError as e:
...     print(e.problems[0])
bad.yaml: mappings[0].format: Input should be 'json', 'senml', 'number' or 'csv'
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from twinsight.core.errors import BadRequest
from twinsight.core.locations import location
from twinsight.ingest.mapping.rules import Mapping, Rule
from twinsight.ingest.mapping.spec import MappingSpec
from twinsight.ingest.units import UnitError, check_unit, pint_expression

MAX_MAPPING_BYTES = 4 * 1024 * 1024


class MappingError(BadRequest):
    """A mapping file is invalid; ``problems`` lists every problem with its location."""

    code = "InvalidMapping"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the mapping: " + "; ".join(problems[:3]),
            details=[{"code": "InvalidMapping", "message": p} for p in problems],
        )
        self.problems = problems


def parse_mapping(text: str, name: str) -> Mapping:
    """Parse and compile mapping text (YAML, of which JSON is a subset)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MappingError(
            [f"{name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]
        ) from None
    try:
        spec = MappingSpec.model_validate(document)
    except ValidationError as exc:
        raise MappingError(
            [
                f"{name}: {location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        ) from None
    problems: list[str] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, rule_spec in enumerate(spec.mappings):
        if rule_spec.name in seen:
            problems.append(f"{name}: mappings[{i}].name: {rule_spec.name!r} is used twice")
        seen.add(rule_spec.name)
        try:
            rules.append(Rule(rule_spec))
        except ValueError as exc:
            problems.append(f"{name}: mappings[{i}]: {exc}")
        for j, value in enumerate(rule_spec.values):
            if value.unit is not None:
                try:
                    check_unit(value.unit)
                except UnitError:
                    problems.append(
                        f"{name}: mappings[{i}].values[{j}].unit: unknown unit {value.unit!r} "
                        f"(read as {pint_expression(value.unit)!r})"
                    )
    if problems:
        raise MappingError(problems)
    return Mapping(spec, rules)


def load_mapping_file(path: Path | str) -> Mapping:
    """Read and compile a mapping file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MappingError([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_MAPPING_BYTES:
        raise MappingError([f"{path}: {len(data):,} bytes is larger than {MAX_MAPPING_BYTES:,}"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError([f"{path}: byte {exc.start} is not valid UTF-8"]) from None
    return parse_mapping(text, str(path))
