"""The line's MPC run as receding-horizon control against the live twins.

:class:`LineMpcScheduler` is what makes :class:`~twinsight.control.mpc_live.LiveLineMpc`
more than a class: every control interval of *plant* time (the hub's clock, so a demo
run faster than real time plans faster too) it solves for each motor twin it is given
and submits the first move as a recommendation. Why each rule:

* a twin is solved only with fresh readings (its newest ``windingTemperature`` no older
  than ``max_age``): planning from a stale temperature would recommend a stale move. A
  twin without them is skipped, the reason logged once (again only after it recovered),
  and retried on the next round, so the first solve comes as soon as readings exist;
* its own previous still-open recommendations for the twin are **rejected** (by the
  optimiser, "superseded by …"), so the operator's list holds one current move per
  motor, and the record shows what became of the old ones;
* a solve that finds no feasible move submits nothing and is written to the audit log
  (:meth:`~twinsight.control.commands.CommandService.note_decision`) with the solver's
  status and reason; the previous recommendation is withdrawn all the same (it was
  planned from an older state the optimiser no longer stands behind).

The hub owns it like a connector (``start``/``stop``; see ``Hub.start_line_mpc``). One
solve takes about half a second of CPU, so the rounds run on one background thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from twinsight.control.actions import Mode
from twinsight.control.commands import CommandService
from twinsight.control.guards_state import TwinState
from twinsight.control.mpc import FloatArray, MpcResult
from twinsight.control.mpc_line import LineCase
from twinsight.control.mpc_live import LiveLineMpc
from twinsight.core.clock import Clock
from twinsight.core.errors import TwinsightError
from twinsight.core.periodic import Periodic
from twinsight.core.ports import ActionRecord
from twinsight.history import History

log = logging.getLogger(__name__)

MOTOR_MODEL = "dtmi:twinsight:factory:Motor;1"


@dataclass(frozen=True)
class LineMpcSettings:
    """What the scheduler solves and how often.

    ``twins``: the motor twins to control (empty: every twin of ``model`` at each round).
    ``interval``: plant seconds between solves of a twin, also the plan's control
    interval; ``horizon``: how many intervals a plan looks ahead. The defaults (10 min,
    1 h) keep a demo's recommendations current at ``--speed 1`` while costing one
    half-second solve per motor every ten minutes. ``max_age``: how old (plant seconds) a
    twin's newest winding temperature may be to plan from (default: one interval).
    ``ambient``: the hall temperature assumed over the horizon (°C). ``max_rise``: the
    largest step up (rpm) a plan may take from today's speed (the speed guard's step).
    """

    twins: tuple[str, ...] = ()
    model: str = MOTOR_MODEL
    interval: float = 600.0
    horizon: int = 6
    max_age: float | None = None
    ambient: float = 25.0
    mode: Mode = "recommend"
    max_rise: float | None = None
    case: LineCase = field(default_factory=LineCase)

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"the MPC interval must be positive seconds, not {self.interval}")
        if self.horizon < 1:
            raise ValueError(f"the MPC horizon must be at least 1 interval, not {self.horizon}")

    def line_case(self) -> LineCase:
        return replace(self.case, control_interval=self.interval, horizon=self.horizon)


@dataclass(frozen=True)
class Round:
    """One twin's outcome in a round: the solve (``None`` when skipped), the action
    submitted (if any) and the recommendations it superseded."""

    twin_id: str
    result: MpcResult | None
    action: ActionRecord | None = None
    superseded: tuple[str, ...] = ()
    skipped: str = ""


class LineMpcScheduler:
    """Solves the line MPC for its motors every interval of plant time (module docstring)."""

    def __init__(
        self,
        settings: LineMpcSettings,
        clock: Clock,
        actions: CommandService,
        state: TwinState,
        history: History,
        *,
        poll: float = 1.0,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._actions = actions
        self._state = state
        self._history = history
        self.mpc = LiveLineMpc(
            settings.line_case(),
            state.value,
            actions.submit,
            self._ambient,
            mode=settings.mode,
            note=actions.note_decision,
            max_rise=settings.max_rise,
        )
        self._last: dict[str, datetime] = {}
        self._warned: set[str] = set()
        self._loop = Periodic(
            self.tick, interval=poll, name="twinsight-line-mpc", what="line MPC", join_timeout=30
        )

    def _ambient(self, hours: FloatArray) -> FloatArray:
        return np.full(len(hours), self.settings.ambient, dtype=np.float64)

    def twins(self) -> list[str]:
        if self.settings.twins:
            return list(self.settings.twins)
        return sorted(self._state.graph.index.twins_of_model(self.settings.model))

    # ---------------------------------------------------------------- rounds

    def tick(self) -> list[Round]:
        """Solve for every twin that is due (one interval since its last solve, or never
        solved); returns what happened to each twin looked at."""
        now = self._clock.now()
        interval = timedelta(seconds=self.settings.interval)
        rounds: list[Round] = []
        for twin_id in self.twins():
            last = self._last.get(twin_id)
            if last is not None and now - last < interval:
                continue
            stale = self._stale(twin_id, now)
            if stale:
                if twin_id not in self._warned:
                    self._warned.add(twin_id)
                    log.info("line MPC: %s skipped: %s", twin_id, stale)
                rounds.append(Round(twin_id, None, skipped=stale))
                continue
            self._warned.discard(twin_id)
            self._last[twin_id] = now
            rounds.append(self.solve(twin_id))
        return rounds

    def solve(self, twin_id: str) -> Round:
        """One solve for ``twin_id``, superseding the optimiser's older open moves."""
        result, record = self.mpc.step(twin_id)
        action = record if isinstance(record, ActionRecord) else None
        if action is not None:
            why = f"superseded by a newer recommendation {action.id}"
        else:
            why = f"superseded: the newest solve found no move ({result.status})"
        superseded = self._supersede(twin_id, keep=action.id if action else None, why=why)
        return Round(twin_id, result, action, superseded)

    def _stale(self, twin_id: str, now: datetime) -> str:
        """Why ``twin_id`` has no readings to plan from ("" when it has)."""
        max_age = self.settings.max_age or self.settings.interval
        try:
            points = self._history.latest([f"{twin_id}/windingTemperature"])
        except TwinsightError:
            points = []
        if not points:
            return "no windingTemperature reading yet"
        age = (now - points[0].time).total_seconds()
        if age > max_age:
            return f"its newest windingTemperature is {age:.0f} s old (more than {max_age:g} s)"
        return ""

    def _supersede(self, twin_id: str, *, keep: str | None, why: str) -> tuple[str, ...]:
        rejected: list[str] = []
        open_ones = self._actions.list_actions(
            twin_id=twin_id, states=["recommended"], requested_by=self.mpc.requested_by
        )
        for old in open_ones:
            if old.id == keep:
                continue
            try:
                self._actions.reject(old.id, self.mpc.requested_by, why)
            except TwinsightError:  # an operator applied or rejected it meanwhile
                continue
            rejected.append(old.id)
        return tuple(rejected)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
