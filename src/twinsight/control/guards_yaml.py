"""Reading the control layer's YAML files (guards, rules) with every problem located.

Why shared: both files are written by hand, and an operator needs the line and the field
of each mistake (``guards.yaml: line 7: guards[0].bounds: min 10 is over max 5``), all
at once, not one per attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from twinsight.core.errors import BadRequest
from twinsight.core.locations import read_config_text, validation_problems

MAX_FILE_BYTES = 1024 * 1024
_DURATION = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(s|sec|secs|second|seconds|min|mins|minute|minutes|h|hour|hours|d|day|days)?\s*$"
)
_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}


_ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def entry_name(name: str) -> str:
    """A guard's or rule's name: what the API, the CLI and the audit log call it by."""
    if not _ENTRY_NAME.match(name):
        raise ValueError(f"{name!r}: letters, digits and _ . : - only")
    return name


def unique_names(names: Iterable[str], what: str) -> None:
    """Refuse a file whose entries share a name (``what``: "guard", "rule"): the API,
    the CLI and the audit log address an entry by it."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} name {name!r} is used twice")
        seen.add(name)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ControlFileError(BadRequest):
    """A guard or rule file is invalid; ``problems`` lists each with its line and field."""

    code = "InvalidControlFile"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s): " + "; ".join(problems[:3]),
            details=[{"code": self.code, "message": p} for p in problems],
        )
        self.problems = problems


def seconds(value: Any) -> float:
    """A duration as seconds: a number (seconds) or a text like ``"5 min"``, ``"2 h"``;
    never negative."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(
                f"{value!r} is not a duration (write a number of seconds or '90 s', "
                "'5 min', '2 h', '1 d')"
            )
        amount = float(match.group(1)) * _SECONDS[match.group(2) or "s"]
    else:
        raise ValueError(f"{value!r} is not a duration")
    if amount < 0:
        raise ValueError(f"a duration cannot be negative ({value!r})")
    return amount


M = TypeVar("M", bound=BaseModel)


def parse_yaml(text: str, name: str, model: type[M]) -> tuple[M, yaml.Node | None]:
    """Parse and check a file's text against ``model``; also returns the YAML node tree so
    later checks (against the twin graph) can name lines too."""
    try:
        document = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ControlFileError([f"{name}{where}: not valid YAML: {problem}"]) from None
    try:
        return model.model_validate(document or {}), root
    except ValidationError as exc:
        problems = validation_problems(exc.errors(), root, name)
        raise ControlFileError(problems) from None


def read_text(path: Path | str) -> str:
    """A control file's text, or a :class:`ControlFileError` saying why it cannot be read."""
    return read_config_text(path, MAX_FILE_BYTES, ControlFileError)
