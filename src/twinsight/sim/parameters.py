"""Versioned calibrated parameters on a twin.

A calibration is worth keeping only if one can say later which parameters a twin ran with
and why: each save is a new, immutable version (1, 2, 3, ... per twin and model) with the
time it was made (from the hub's clock) and the fit summary that justified it. Rolling
back is saving an old version's values again, so history is never rewritten.

>>> from datetime import UTC, datetime
>>> from twinsight.core.clock import ManualClock
>>> from twinsight.store.sqlite.database import Database
>>> from twinsight.store.sqlite.parameter_versions import SqliteParameterVersionStore
>>> versions = ParameterVersions(SqliteParameterVersionStore(Database(":memory:")),
...                              ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
>>> versions.save("motor-1", "thermal", {"r_housing": 0.1}, {"rmse": 0.4})
1
>>> versions.latest("motor-1", "thermal").parameters
{'r_housing': 0.1}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from twinsight.core.clock import Clock
from twinsight.core.errors import NotFound, SimulationError
from twinsight.core.ports import ParameterVersion, ParameterVersionStore

log = logging.getLogger(__name__)


class ParameterVersions:
    """Save and read the parameter versions of twins' models."""

    def __init__(self, store: ParameterVersionStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Callable[[ParameterVersion], None]] = []

    def subscribe(self, listener: Callable[[ParameterVersion], None]) -> Callable[[], None]:
        """Call ``listener`` with every version saved from now on (a running simulation
        takes new parameters at once); returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def save(
        self,
        twin_id: str,
        model_name: str,
        parameters: Mapping[str, float],
        report_summary: Mapping[str, Any] | None = None,
        source: str = "calibration",
    ) -> int:
        """Store ``parameters`` as the next version and return its number."""
        for what, text in (("twin id", twin_id), ("model name", model_name), ("source", source)):
            if not isinstance(text, str) or not text.strip():
                raise SimulationError(f"a parameter version needs a {what}, got {text!r}")
        if not parameters:
            raise SimulationError("a parameter version needs at least one parameter")
        values: dict[str, float] = {}
        for name, value in parameters.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise SimulationError(
                    f"parameter {name!r} = {value!r} is not a finite number", model=model_name
                )
            values[str(name)] = number
        stored = self._store.add_version(
            twin_id, model_name, values, dict(report_summary or {}), source, self._clock.now()
        )
        for listener in list(self._listeners):
            try:
                listener(stored)
            except Exception:  # a listener's failure must not undo a stored version
                log.exception("a parameter-version listener failed on %s", twin_id)
        return stored.version

    def active(
        self, twin_id: str, model_name: str, at: datetime | None = None
    ) -> ParameterVersion | None:
        """The version a run uses: the newest one, or the newest made at or before ``at``
        (a fork of the past runs with the parameters the twin had then)."""
        if at is None:
            return self.latest(twin_id, model_name)
        made = [v for v in self.history(twin_id, model_name) if v.created <= at]
        return made[-1] if made else None

    def active_values(
        self, twin_id: str, model_name: str, at: datetime | None = None
    ) -> dict[str, float]:
        """The active version's parameters (empty when the twin's model was never
        calibrated): what :class:`~twinsight.sim.binding.SimulationBuilder` applies."""
        version = self.active(twin_id, model_name, at)
        return dict(version.parameters) if version is not None else {}

    def activate(self, twin_id: str, model_name: str, version: int) -> int:
        """Make ``version`` active again by saving its values as the next version (source
        ``rollback``), so the record of what ran when is never rewritten; returns the new
        version's number."""
        old = self.get(twin_id, model_name, version)
        return self.save(
            twin_id,
            model_name,
            old.parameters,
            {"activatedFrom": version, "report": old.summary},
            source="rollback",
        )

    def latest(self, twin_id: str, model_name: str) -> ParameterVersion | None:
        """The newest version, or ``None`` when the twin's model was never calibrated."""
        return self._store.latest_version(twin_id, model_name)

    def calibrated(self) -> list[tuple[str, str, int]]:
        """``(twin_id, model_name, latest version)`` of every twin model ever calibrated
        (the model registry lists them as kind ``physics``)."""
        return self._store.calibrated()

    def history(self, twin_id: str, model_name: str) -> list[ParameterVersion]:
        """Every version, oldest first."""
        return self._store.list_versions(twin_id, model_name)

    def get(self, twin_id: str, model_name: str, version: int) -> ParameterVersion:
        """One version; :class:`NotFound` (``ParameterVersionNotFound``) if there is none."""
        found = self._store.get_version(twin_id, model_name, version)
        if found is None:
            raise NotFound(
                f"twin {twin_id!r} has no version {version} of parameters for {model_name!r}",
                code="ParameterVersionNotFound",
            )
        return found
