"""The monitoring file: which detectors and limits watch which twins' streams (YAML).

One entry per monitor; every field is checked, and every problem is reported at once
with the file, the line and the field (``monitoring.yaml: line 12: monitors[1].alarm.raise:
Input should be a valid number``), as :class:`MonitoringConfigError`.

>>> spec = parse_monitoring('''
... monitors:
...   - name: tank-level-high
...     model: dtmi:twinsight:factory:Tank;1
...     stream: level
...     limit: {above: alarmLimits.high, deadband: 0.05}
...     alarm: {severity: critical}
... ''', "factory.yaml")
>>> spec.monitors[0].limit.above
'alarmLimits.high'

The format, field by field, is in docs/alarms.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from twinsight.analytics.detectors.multi import make_multi_detector
from twinsight.analytics.monitoring.registry import make_detector
from twinsight.core.errors import BadRequest
from twinsight.core.locations import line_of, location, read_config_text, validation_problems

MAX_CONFIG_BYTES = 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AlarmRule(_Strict):
    """How a monitor's signal becomes an alarm (see :class:`~..alarms.Hysteresis`).

    For a detector the signal is its score in ``[0, 1]``: raised after ``raise_after``
    consecutive scores at or over ``raise``, cleared after ``clear_after`` under
    ``clear``. For a limit the signal is the value itself and the thresholds come from
    the limit (``raise``/``clear`` are not given)."""

    severity: Literal["critical", "major", "minor", "warning"] = "major"
    condition: str | None = Field(default=None, min_length=1, max_length=200)
    """What is wrong, the de-duplication key (default ``anomaly:<stream>`` for a detector,
    ``limit:<stream>:high``/``low`` for a limit)."""
    raise_at: float | None = Field(default=None, alias="raise", ge=0.0, le=1.0)
    clear_at: float | None = Field(default=None, alias="clear", ge=0.0, le=1.0)
    raise_after: int = Field(default=1, ge=1, le=100_000)
    clear_after: int = Field(default=1, ge=1, le=100_000)
    repeat: float = Field(default=60.0, gt=0.0)
    """While the alarm stays on, its value and last time are refreshed at most every
    ``repeat`` seconds of data time (the alarm's ``count`` counts these reports)."""


class Residual(_Strict):
    """A residual stream: ``measured`` minus the model's ``estimate`` of it (two
    telemetry names of the twin), divided by ``std`` when given. Pairs are made at equal
    source times, else with the latest estimate at or before the measurement, no older
    than ``max_lag`` seconds."""

    measured: str = Field(min_length=1)
    estimate: str = Field(min_length=1)
    std: str | None = Field(default=None, min_length=1)
    max_lag: float = Field(default=60.0, gt=0.0)


class Limit(_Strict):
    """A plain limit on the value: ``above`` and/or ``below`` a bound, each a number or
    the path of a property of the twin holding it (``alarmLimits.high``), read live.
    The alarm clears once the value is back by ``deadband`` past the bound."""

    above: float | str | None = None
    below: float | str | None = None
    deadband: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _one_bound(self) -> Limit:
        if self.above is None and self.below is None:
            raise ValueError("a limit needs 'above' or 'below' (a number or a property path)")
        return self


class Monitor(_Strict):
    """One monitor: a detector or a limit watching one stream of the twins it names, or a
    multi-stream detector watching several (``streams``)."""

    name: str = Field(min_length=1, max_length=200)
    model: str | None = None
    """A DTMI: every twin of this model or of a model extending it, now or created later."""
    twins: list[str] | None = None
    """Twin ids (globs allowed, ``line-1-*``)."""
    stream: str | None = None
    """A telemetry name (``vibration``, ``bearing.temperature`` for a component's) or,
    with ``kind: property``, a property path."""
    streams: list[str] | None = None
    """Several telemetry names of the twin watched together by a multi-stream detector
    (``mahalanobis``): one vector per sample time at which all are fresh."""
    fresh: float = Field(default=5.0, gt=0.0)
    """For ``streams``: how old (seconds of source time) another stream's latest value may
    be and still join a sample time's vector."""
    kind: Literal["telemetry", "property"] = "telemetry"
    residual: Residual | None = None
    detector: str | None = None
    """A registered detector name (``robust_z``, ``rarity``, ``hst``, ``residual``...)."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    limit: Limit | None = None
    settle: float = Field(default=0.0, ge=0.0)
    """Seconds of data, from a stream's first sample, that its detector neither scores nor
    learns: a start-up inhibit, so a plant's start-up transient does not teach the detector
    a spread it never has in operation (which would blunt it for hours)."""
    alarm: AlarmRule = Field(default_factory=AlarmRule)
    publish: str | None = Field(default=None, min_length=1, max_length=200)
    """Publish the score as derived telemetry of the twin under this name, naming the
    monitor's registered model version (docs/alarms.md)."""
    publish_every: float = Field(default=10.0, ge=0.0)
    """At most one published score per this many seconds of source time, per twin."""

    @model_validator(mode="after")
    def _consistent(self) -> Monitor:
        if not _NAME.match(self.name):
            raise ValueError(f"name {self.name!r}: use letters, digits, '_', '.', ':', '-'")
        if (self.model is None) == (self.twins is None):
            raise ValueError("give exactly one of 'model' (a DTMI) or 'twins' (ids or globs)")
        if self.model is not None and not self.model.startswith("dtmi:"):
            raise ValueError(f"model {self.model!r} is not a DTMI")
        if sum(x is not None for x in (self.stream, self.streams, self.residual)) != 1:
            raise ValueError("give exactly one of 'stream', 'streams' or 'residual'")
        if self.streams is not None:
            if len(self.streams) < 2 or len(set(self.streams)) != len(self.streams):
                raise ValueError(
                    "'streams' names two or more different telemetry names (for one, use 'stream')"
                )
            if self.kind != "telemetry" or self.limit is not None or self.detector is None:
                raise ValueError("'streams' are telemetry watched by a multi-stream 'detector'")
        if self.publish is not None and self.detector is None:
            raise ValueError("'publish' publishes a detector's score: a limit has none")
        if self.publish is not None and self.publish in (
            self.stream,
            *(self.streams or ()),
            *((self.residual.measured, self.residual.estimate) if self.residual else ()),
        ):
            raise ValueError(f"publish {self.publish!r} is a stream the monitor watches")
        if self.residual is not None and self.kind != "telemetry":
            raise ValueError("a residual pairs telemetry: leave 'kind' out")
        if (self.detector is None) == (self.limit is None):
            raise ValueError("give exactly one of 'detector' (anomaly) or 'limit' (bounds)")
        if self.limit is not None:
            if self.residual is not None:
                raise ValueError("a limit watches a plain 'stream', not a residual")
            if self.parameters:
                raise ValueError("'parameters' belong to a detector, not a limit")
            if self.settle:
                raise ValueError("'settle' holds back a detector; a limit applies at once")
            if self.alarm.raise_at is not None or self.alarm.clear_at is not None:
                raise ValueError(
                    "alarm.raise/alarm.clear are score thresholds: a limit takes its "
                    "thresholds from the bound and 'deadband'"
                )
        else:
            assert self.detector is not None
            if self.streams is not None:  # refuse bad names/values now
                make_multi_detector(self.detector, self.streams, dict(self.parameters))
            else:
                make_detector(self.detector, dict(self.parameters))
            rule = self.alarm
            if rule.raise_at is None:
                raise ValueError("a detector's alarm needs 'raise' (a score in [0, 1])")
            clear = rule.clear_at if rule.clear_at is not None else rule.raise_at
            if clear > rule.raise_at:
                raise ValueError(
                    f"alarm.clear ({clear}) must not be above alarm.raise ({rule.raise_at})"
                )
        return self

    @property
    def signal(self) -> str:
        """The stream's name in conditions and the API: the telemetry or property name,
        or ``measured-estimate`` for a residual."""
        if self.residual is not None:
            return f"{self.residual.measured}-residual"
        if self.streams is not None:
            return "+".join(self.streams)
        assert self.stream is not None
        return self.stream


class MonitoringSpec(_Strict):
    """A whole monitoring file."""

    monitors: list[Monitor] = Field(default_factory=list)
    _root: yaml.Node | None = PrivateAttr(default=None)
    _source: str = PrivateAttr(default="monitoring")

    def where(self, *loc: Any) -> str:
        """``file: line N: monitors[i].field`` for a problem found after parsing."""
        line = line_of(self._root, loc) if self._root is not None else None
        at = f": line {line}" if line is not None else ""
        return f"{self._source}{at}: {location(loc)}"

    @model_validator(mode="after")
    def _unique(self) -> MonitoringSpec:
        seen: set[str] = set()
        for monitor in self.monitors:
            if monitor.name in seen:
                raise ValueError(f"monitor name {monitor.name!r} is used twice")
            seen.add(monitor.name)
        return self


class MonitoringConfigError(BadRequest):
    """A monitoring file is invalid; ``problems`` lists each with its line and field."""

    code = "InvalidMonitoring"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the monitoring file: " + "; ".join(problems[:3]),
            details=[{"code": "InvalidMonitoring", "message": p} for p in problems],
        )
        self.problems = problems


def parse_monitoring(text: str, name: str) -> MonitoringSpec:
    """Parse and check a monitoring file's text (YAML, of which JSON is a subset)."""
    try:
        document = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MonitoringConfigError(
            [f"{name}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from None
    if document is None:
        document = {}
    try:
        spec = MonitoringSpec.model_validate(document)
        spec._root, spec._source = root, name
        return spec
    except ValidationError as exc:
        problems = validation_problems(exc.errors(), root, name)
        raise MonitoringConfigError(problems) from None


def load_monitoring_file(path: Path | str) -> MonitoringSpec:
    """Read and check a monitoring file."""
    text = read_config_text(path, MAX_CONFIG_BYTES, MonitoringConfigError)
    return parse_monitoring(text, str(path))
