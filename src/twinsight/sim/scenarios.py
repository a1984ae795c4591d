"""What-if scenarios: fork the twins, change something, run ahead, compare, keep or discard.

A scenario starts as a **fork** of a twin or a subgraph: the world's bound models built from
the twins as they are now, or as they were at a past time (parameters, states and inputs
rebuilt from history), and frozen as a :class:`~twinsight.sim.forks.Fork`. Running it
builds the co-simulation twice from that same fork — a **baseline** with nothing changed
and the **scenario** with its :class:`~twinsight.sim.forks.Changes` — and runs both on
simulated time, as fast as the CPU allows. Both runs' recorded outputs are kept as the
scenario's own history (in the scenario store, never in live history), so the difference
a change makes is measured against the same starting point rather than against whatever
the plant did since.

Scenarios never write to live twins or live history: the runs have no writers, and the
fork reads the graph and history only. A scenario whose changes are impossible (an unknown
twin or parameter, a value outside its bounds) fails before it runs; one whose model
diverges or raises fails with that model named. Either way only that scenario is marked
``failed`` with the reason; live twins and other scenarios carry on.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, Conflict, NotFound, SimulationError, TwinsightError
from twinsight.core.ports import ScenarioStore, StoredScenario
from twinsight.graph.service import TwinGraph
from twinsight.history import History, parse_time
from twinsight.sim.binding import CalibratedParameters, GraphValues, SimulationBuilder
from twinsight.sim.cosim import ProgressCallback, Results
from twinsight.sim.forks import Changes, Fork, fork_of, prepare, simulate
from twinsight.sim.spec import SimulationSpec

if TYPE_CHECKING:
    from twinsight.sim.sweeps import Executor, Sweep, SweepResult

ScenarioStatus = Literal["created", "running", "done", "failed", "kept"]
RUNS = ("baseline", "scenario")
TIME_SERIES = "$time"
"""Key of a run's time offsets among its stored series."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One what-if scenario: where it was forked from and what it changes."""

    id: str
    name: str
    created: datetime
    forked_at: datetime
    """The twin time the fork's state was taken from."""
    twins: tuple[str, ...]
    changes: Changes = field(default_factory=Changes)
    horizon: float | None = None
    """Seconds simulated by the last run (``None`` before it ran)."""
    step: float | None = None
    status: ScenarioStatus = "created"
    error: str | None = None
    """Why it failed."""
    notes: tuple[str, ...] = ()
    """Values the fork did not find on the twins (left at the model's default)."""
    series: tuple[str, ...] = ()
    """The recorded outputs, ``"twin.output"``."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the API and the CLI show."""
        return {
            "id": self.id,
            "name": self.name,
            "created": _iso(self.created),
            "forkedAt": _iso(self.forked_at),
            "twins": list(self.twins),
            "changes": self.changes.to_dict(),
            "horizon": self.horizon,
            "step": self.step,
            "status": self.status,
            "error": self.error,
            "notes": list(self.notes),
            "series": list(self.series),
        }


@dataclass(frozen=True, slots=True)
class SeriesComparison:
    """Scenario against baseline for one recorded output."""

    series: str
    unit: str
    baseline_final: float
    scenario_final: float
    baseline_mean: float
    scenario_mean: float
    max_abs_difference: float
    time_of_max_difference: float
    """Seconds after the fork at which the difference was largest."""
    at: datetime
    """The same moment as twin time."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "unit": self.unit,
            "baseline": {"final": self.baseline_final, "mean": self.baseline_mean},
            "scenario": {"final": self.scenario_final, "mean": self.scenario_mean},
            "maxAbsDifference": self.max_abs_difference,
            "timeOfMaxDifference": self.time_of_max_difference,
            "at": _iso(self.at),
        }


@dataclass(frozen=True, slots=True)
class RunResults:
    """Both runs of a scenario, on the same time offsets."""

    times: NDArray[np.float64]
    baseline: Mapping[str, NDArray[np.float64]]
    scenario: Mapping[str, NDArray[np.float64]]


class ScenarioService:
    """Forks, runs, compares and keeps what-if scenarios of one simulated world."""

    def __init__(
        self,
        graph: TwinGraph,
        history: History,
        spec: SimulationSpec,
        store: ScenarioStore,
        clock: Clock,
        calibrated: CalibratedParameters | None = None,
    ) -> None:
        self.spec = spec
        self._graph = graph
        self._history = history
        self._store = store
        self._clock = clock
        self._reader = GraphValues(graph, history)
        self._builder = SimulationBuilder(
            graph, spec.catalog, self._reader, fleets=spec.fleets, calibrated=calibrated
        )
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ fork
    def fork(
        self,
        twins: Iterable[str] | None = None,
        at: datetime | str | None = None,
        name: str = "",
    ) -> Scenario:
        """Fork ``twins`` (every bound twin when ``None``) as they are now, or as they were
        at ``at`` (rebuilt from history), into a new scenario."""
        now = self._clock.now()
        when = parse_time(at, "at") if at is not None else None
        if when is not None and when > now:
            raise BadRequest(
                f"at {_iso(when)} is in the future (now is {_iso(now)}): a fork starts from "
                "the present or the past",
                code="InvalidArgument",
            )
        wanted = sorted(set(twins)) if twins is not None else None
        if wanted is not None and not wanted:
            raise BadRequest(
                "name at least one twin to fork, or none for all", code="InvalidArgument"
            )
        spec = self.spec
        sim = self._builder.build(
            self.spec.bindings,
            self.spec.couplings,
            twins=wanted,
            at=when,
            algorithm=self.spec.algorithm,
        )
        try:
            # Inputs as they were then (live runs read them every step; a fork holds them).
            for route in sim.inputs:
                raw = self._reader.read(route.twin, route.value, when)
                if isinstance(raw, bool):
                    raw = float(raw)
                if isinstance(raw, int | float):
                    sim.members[route.member].set_inputs({route.variable: route.to_model(raw)})
            # States no twin value sets start settled for those inputs (a stopped motor's
            # drive at 0 rpm), so the what-if has no start-up transient reality never had.
            sim.start_unmeasured_states()
            fork = fork_of(sim, spec.catalog, spec.fleets, spec.record, spec.algorithm)
            units = {
                key: v.unit
                for key, member, output in fork.record
                for v in sim.members[member].description.outputs
                if v.name == output
            }
        finally:
            sim.close()
        scenario = Scenario(
            id=_new_id(),
            name=name.strip(),
            created=now,
            forked_at=when or now,
            twins=fork.twins,
            notes=tuple(sim.notes),
            series=fork.series,
        )
        if not scenario.name:
            scenario = replace(scenario, name=f"scenario {scenario.id}")
        document = {
            "fork": fork.to_document(),
            "units": units,
        }
        self._save(scenario, document)
        return scenario

    # ------------------------------------------------------------------- run
    def run(
        self,
        scenario_id: str,
        horizon: float,
        step: float | None = None,
        changes: Changes | Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Scenario:
        """Run baseline and scenario from the fork for ``horizon`` seconds on ``step``
        (the world's step by default) and keep both runs' outputs. Changes are checked
        first; on any failure the scenario is marked ``failed`` with the reason and a
        :class:`SimulationError` naming the scenario is raised."""
        with self._lock:
            scenario, document = self._load(scenario_id)
            if scenario.status == "running":
                raise Conflict(
                    f"scenario {scenario.name!r} is already running", code="ScenarioRunning"
                )
            if scenario.status == "kept":
                raise Conflict(
                    f"scenario {scenario.name!r} was kept: its results are frozen; fork a new "
                    "scenario to try something else",
                    code="ScenarioKept",
                )
            try:
                wanted = changes if isinstance(changes, Changes) else Changes.from_dict(changes)
            except BadRequest as error:
                self._fail(scenario, document, error.message)
                raise
            h = float(step) if step is not None else self.spec.step
            scenario = replace(
                scenario,
                changes=wanted,
                horizon=float(horizon),
                step=h,
                status="running",
                error=None,
            )
            self._save(scenario, document)
        self._store.delete_results(scenario.id)
        try:
            fork = Fork.from_document(document["fork"], self.spec.catalog, self.spec.fleets)
            # Both built and checked before either runs: bad changes fail with nothing run.
            baseline = prepare(fork, Changes(), horizon, h)
            try:
                changed = prepare(fork, wanted, horizon, h)
            except BaseException:
                baseline.cosim.close()
                raise
            try:
                results = [
                    simulate(run, _part(progress, index))
                    for index, run in enumerate((baseline, changed))
                ]
            finally:
                baseline.cosim.close()
                changed.cosim.close()
        except TwinsightError as error:
            self._fail(scenario, document, error.message)
            raise SimulationError(
                f"scenario {scenario.name!r} failed: {error.message}",
                code=error.code if isinstance(error, SimulationError) else "ScenarioFailed",
                details=error.details,
            ) from error
        except Exception as error:  # a user's model raising something unexpected
            reason = f"{type(error).__name__}: {error}"
            self._fail(scenario, document, reason)
            raise SimulationError(f"scenario {scenario.name!r} failed: {reason}") from error
        done = replace(scenario, status="done")
        with self._lock:
            if self._store.get_scenario(scenario.id) is None:
                return done  # discarded while it ran: nothing to keep
            for run_name, result in zip(RUNS, results, strict=True):
                self._store.put_results(scenario.id, run_name, _encode(result))
            self._save(done, document)
        return done

    def _fail(self, scenario: Scenario, document: dict[str, Any], reason: str) -> None:
        if self._store.get_scenario(scenario.id) is not None:  # unless discarded meanwhile
            self._save(replace(scenario, status="failed", error=reason), document)

    # --------------------------------------------------------------- results
    def results(self, scenario_id: str) -> RunResults:
        """Both runs' recorded series (time offsets in seconds from the fork)."""
        scenario, _ = self._load(scenario_id)
        runs = [self._store.get_results(scenario.id, run) for run in RUNS]
        if not all(runs):
            raise Conflict(
                f"scenario {scenario.name!r} has no results"
                + (f" (it failed: {scenario.error})" if scenario.error else ": run it first"),
                code="ScenarioNotRun",
            )
        decoded = [{k: np.frombuffer(v, dtype="<f8") for k, v in run.items()} for run in runs]
        times = decoded[0].pop(TIME_SERIES)
        decoded[1].pop(TIME_SERIES)
        return RunResults(times, decoded[0], decoded[1])

    def compare(self, scenario_id: str) -> list[SeriesComparison]:
        """Per recorded output: finals, means, and the largest difference and when."""
        scenario, document = self._load(scenario_id)
        runs = self.results(scenario_id)
        units: Mapping[str, str] = document.get("units", {})
        out: list[SeriesComparison] = []
        for key, base in runs.baseline.items():
            changed = runs.scenario[key]
            difference = np.abs(changed - base)
            worst = int(np.argmax(difference))
            offset = float(runs.times[worst])
            out.append(
                SeriesComparison(
                    series=key,
                    unit=units.get(key, ""),
                    baseline_final=float(base[-1]),
                    scenario_final=float(changed[-1]),
                    baseline_mean=float(np.mean(base)),
                    scenario_mean=float(np.mean(changed)),
                    max_abs_difference=float(difference[worst]),
                    time_of_max_difference=offset,
                    at=scenario.forked_at + timedelta(seconds=offset),
                )
            )
        return out

    def plot(self, scenario_id: str, series: Sequence[str] | None = None) -> bytes:
        """A PNG: baseline against scenario per series, the difference shaded."""
        from twinsight.sim.plots import comparison_png

        scenario, document = self._load(scenario_id)
        runs = self.results(scenario_id)
        chosen = list(series) if series else list(runs.baseline)
        unknown = [s for s in chosen if s not in runs.baseline]
        if unknown:
            raise BadRequest(
                f"scenario {scenario.name!r} recorded no series {', '.join(unknown)} "
                f"(recorded: {', '.join(runs.baseline)})",
                code="InvalidArgument",
            )
        return comparison_png(
            runs.times,
            {k: runs.baseline[k] for k in chosen},
            {k: runs.scenario[k] for k in chosen},
            units=document.get("units", {}),
            title=f"{scenario.name}: scenario vs baseline (forked {_iso(scenario.forked_at)})",
        )

    # ----------------------------------------------------------------- sweep
    def fork_of(self, scenario_id: str) -> Fork:
        """The frozen fork of a scenario, ready to run anywhere (a sweep's starting point)."""
        _, document = self._load(scenario_id)
        return Fork.from_document(document["fork"], self.spec.catalog, self.spec.fleets)

    def sweep(
        self,
        scenario_id: str,
        sweep: Sweep,
        executor: Executor | None = None,
        progress: ProgressCallback | None = None,
    ) -> SweepResult:
        """Run ``sweep`` from the scenario's fork (see :mod:`twinsight.sim.sweeps`); the
        scenario itself is not changed."""
        from twinsight.sim.sweeps import run_sweep

        return run_sweep(self.fork_of(scenario_id), sweep, executor=executor, progress=progress)

    # ------------------------------------------------------- keep and discard
    def keep(self, scenario_id: str) -> Scenario:
        """Mark a scenario's results as worth keeping (frozen: it cannot run again)."""
        with self._lock:
            scenario, document = self._load(scenario_id)
            if scenario.status not in ("done", "kept"):
                raise Conflict(
                    f"scenario {scenario.name!r} is {scenario.status}: only a scenario that "
                    "ran to the end can be kept",
                    code="ScenarioNotRun",
                )
            kept = replace(scenario, status="kept")
            self._save(kept, document)
            return kept

    def discard(self, scenario_id: str) -> None:
        """Remove a scenario and its results."""
        with self._lock:
            if not self._store.delete_scenario(scenario_id):
                raise _not_found(scenario_id)

    def list(self) -> list[Scenario]:
        return [_scenario(s) for s in self._store.list_scenarios()]

    def get(self, scenario_id: str) -> Scenario:
        return self._load(scenario_id)[0]

    # ----------------------------------------------------------------- store
    def _load(self, scenario_id: str) -> tuple[Scenario, dict[str, Any]]:
        stored = self._store.get_scenario(scenario_id)
        if stored is None:
            raise _not_found(scenario_id)
        return _scenario(stored), stored.document

    def _save(self, scenario: Scenario, document: dict[str, Any]) -> None:
        body = scenario.to_dict()
        for key in ("id", "name", "created", "status"):
            del body[key]
        self._store.put_scenario(
            StoredScenario(
                scenario.id,
                scenario.name,
                scenario.created,
                scenario.status,
                {**document, "scenario": body},
            )
        )


def _scenario(stored: StoredScenario) -> Scenario:
    body = stored.document["scenario"]
    forked = parse_time(body["forkedAt"])
    assert forked is not None
    status: ScenarioStatus = stored.status  # type: ignore[assignment]
    return Scenario(
        id=stored.id,
        name=stored.name,
        created=stored.created,
        forked_at=forked,
        twins=tuple(body["twins"]),
        changes=Changes.from_dict(body["changes"]),
        horizon=body["horizon"],
        step=body["step"],
        status=status,
        error=body["error"],
        notes=tuple(body["notes"]),
        series=tuple(body["series"]),
    )


def _encode(results: Results) -> dict[str, bytes]:
    encoded = {TIME_SERIES: np.asarray(results.times, dtype="<f8").tobytes()}
    for key, values in results.series.items():
        encoded[key] = np.asarray(values, dtype="<f8").tobytes()
    return encoded


def _part(progress: ProgressCallback | None, index: int) -> ProgressCallback | None:
    """Progress of one of the two runs as a share of both."""
    if progress is None:
        return None
    report = progress

    def part(done: int, total: int) -> None:
        report(index * total + done, 2 * total)

    return part


def _new_id() -> str:
    return secrets.token_hex(6)


def _not_found(scenario_id: str) -> NotFound:
    return NotFound(f"there is no scenario {scenario_id!r}", code="ScenarioNotFound")


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
