"""SimPy behind the one model interface: :class:`DesModel`.

A SimPy model lives in generators, and generators cannot be copied, pickled or rewound;
yet a twin's model must snapshot, restore and fork. So a :class:`DesModel` keeps its
*truth* in plain numbers (the float ``state`` of :class:`~twinsight.sim.model.BaseModel`)
and treats the SimPy environment as a cache built from them:

* ``advance(dt)`` runs the environment until ``t + dt`` and then *captures*: it writes
  every process's numbers back into the state dict without disturbing the processes, so
  an untouched model simply runs on in the same environment (cheap, and independent of
  the step size: one 24-hour step and 1440 one-minute steps give the same result).
* Setting a parameter, input or state value that differs from the current one, and every
  ``restore``, drops the environment; the next ``advance`` rebuilds it from the numbers.

The rebuild is *lossless*, which is what makes a restored snapshot replay exactly the same
future as the run it was taken from. For that the numbers describe each process's current
activity the way the process itself computed it: its kind, its start time and its length
(so the pending event fires at exactly ``start + length``, see :meth:`DesModel._at`),
the values it had when the activity began, and a sequence number that puts simultaneous
events back in their original order. Random numbers come from counter-based streams
(:mod:`twinsight.sim.des.streams`), whose state is a draw count.

A subclass writes ``_build(env)`` (start its processes from ``self._state``, in sequence
order) and ``_capture(dt)`` (write their numbers back, and its per-step figures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import simpy

from twinsight.core.errors import SimulationError
from twinsight.sim.model import BaseModel, Snapshot


class DesModel(BaseModel):
    """A discrete-event model on SimPy whose state is a set of plain numbers (see the
    module docstring for the snapshot design)."""

    _env: simpy.Environment | None = None

    def set_parameters(self, values: Mapping[str, float]) -> None:
        before = self.parameters()
        super().set_parameters(values)
        self._drop_if_changed(before, self.parameters())

    def set_state(self, values: Mapping[str, float]) -> None:
        before = self.state()
        super().set_state(values)
        self._drop_if_changed(before, self.state())

    def set_inputs(self, values: Mapping[str, float]) -> None:
        before = self.inputs()
        super().set_inputs(values)
        self._drop_if_changed(before, self.inputs())

    def restore(self, snapshot: Snapshot) -> None:
        super().restore(snapshot)
        self._env = None  # the time may differ even where every value is the same

    def close(self) -> None:
        self._env = None

    def _advance(self, dt: float) -> None:
        until = self._time + dt
        if not until > self._time:
            raise SimulationError(
                f"a step of {dt:g} s is lost in rounding at t={self._time:g} s", model=self.name
            )
        try:
            if self._env is None:
                self._env = simpy.Environment(initial_time=self._time)
                self._build(self._env)
            self._env.run(until=until)
        except BaseException:
            self._env = None  # half-run: rebuild from the last captured numbers
            raise
        self._capture(dt)

    def _drop_if_changed(self, before: dict[str, float], after: dict[str, float]) -> None:
        if before != after:
            self._env = None

    # -- for subclasses --------------------------------------------------------------
    def _build(self, env: simpy.Environment) -> None:
        """Start the processes from ``self._state`` at ``env.now``; processes that resume
        a pending activity must be started in the order of their sequence numbers."""
        raise NotImplementedError

    def _capture(self, dt: float) -> None:
        """Write the processes' numbers into ``self._state`` after a step of ``dt``."""
        raise NotImplementedError

    @staticmethod
    def _at(env: simpy.Environment, start: float, length: float) -> simpy.Event:
        """An event firing at exactly ``start + length`` (computed as that float sum).

        ``env.timeout(d)`` fires at ``env.now + d``; after a rebuild ``env.now`` is not the
        activity's start, and ``now + (end - now)`` can miss ``end`` by one rounding, so
        the delay is nudged until the sum lands on ``end`` exactly. A resumed activity then
        ends at the same instant as it would have in the environment it was captured from.
        """
        now = env.now
        end = start + length
        if end <= now:
            return env.timeout(0.0)
        delay = end - now
        while now + delay < end:
            delay = math.nextafter(delay, math.inf)
        while now + delay > end:
            delay = math.nextafter(delay, -math.inf)
        return env.timeout(delay)
