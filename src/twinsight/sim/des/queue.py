"""A multi-server queue (M/M/c with room for ``capacity`` customers): the small model that
checks the discrete-event machinery against queueing theory.

Customers arrive in a Poisson stream (``arrival_rate`` per second) while the ``open``
input is 1, wait in one first-come-first-served line, and are served by ``servers``
identical servers in exponential times (``service_rate`` per second each). An arrival that
finds ``capacity`` customers already there is lost. Closing (``open`` = 0, e.g. a shift
end) stops arrivals; those inside are still served. For ``servers`` = 1 and a capacity far
above the mean queue, utilisation tends to ρ = λ/μ and the mean number inside to
ρ/(1-ρ); Little's law L = λW holds for the measured averages.

**State** (plain numbers, see :mod:`twinsight.sim.des.adapter`): the arrival times of the
customers waiting (slots ``w1``… in line order) and in service (``s<k>.customer``), each
busy server's service activity (start, length, sequence number), the pending arrival,
counters, time integrals of the number inside and of busy servers, and the draw counts of
the arrival and service streams.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import simpy

from twinsight.core.errors import SimulationError
from twinsight.sim.des.adapter import DesModel
from twinsight.sim.des.streams import MAX_SEED, Stream, stream_key
from twinsight.sim.model import ModelDescription, Variable

_IDLE, _TIMED = 0, 1
_ARRIVALS, _SERVICE = 0, 1  # stream labels
_COUNTERS = ("in_system", "arrived", "departed", "lost", "started", "seq")
_SUMS = ("area", "busy_area", "mark", "sojourn", "waited")
_ACTIVITY = ("mode", "start", "length", "seq")


def queue_description(name: str, servers: int, capacity: int) -> ModelDescription:
    """The variables of a queue with ``servers`` servers and room for ``capacity``."""
    for label, value, least in (("servers", servers, 1), ("capacity", capacity, servers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise SimulationError(
                f"a queue needs {label} to be a whole number of at least {least}, got {value!r}",
                model=name,
            )
    states = [Variable(n) for n in (*_COUNTERS, *_SUMS, "draws_arrival", "draws_service")]
    states += [Variable(f"arrival.{f}") for f in _ACTIVITY]
    for k in range(1, servers + 1):
        states += [Variable(f"s{k}.{f}") for f in ("busy", "customer", *_ACTIVITY)]
    states += [Variable(f"w{j}") for j in range(1, capacity - servers + 1)]
    outputs = [
        Variable("in_system", description="customers waiting or in service"),
        Variable("queue_length", description="customers waiting"),
        Variable("busy_servers"),
        Variable("arrived", description="arrivals so far, lost ones included"),
        Variable("departed", description="customers served so far"),
        Variable("lost", description="arrivals turned away because the queue was full"),
        Variable("utilisation", description="mean fraction of servers busy since time 0"),
        Variable("mean_in_system", description="time-average customers inside (L)"),
        Variable("mean_sojourn", unit="s", description="mean time inside per departed (W)"),
        Variable("mean_wait", unit="s", description="mean wait before service (Wq)"),
        Variable("arrival_rate_seen", unit="1/s", description="arrivals per second so far"),
    ]
    return ModelDescription(
        name,
        parameters=(
            Variable("arrival_rate", 0.8 / 60.0, "1/s", "Poisson arrival rate λ", 0.0),
            Variable("service_rate", 1.0 / 60.0, "1/s", "service rate μ per server", 1e-12),
            Variable("seed", 1.0, "", "seed of the random streams (an integer)", 0.0, MAX_SEED),
        ),
        states=tuple(states),
        inputs=(Variable("open", 1.0, "", "1 lets customers arrive, 0 stops arrivals", 0, 1),),
        outputs=tuple(outputs),
        description=f"M/M/{servers} queue with room for {capacity}",
    )


class QueueModel(DesModel):
    """An M/M/c queue with finite room (module docstring).

    >>> q = QueueModel("counter", servers=1)
    >>> q.advance(3600.0); 0.0 < q.outputs()["utilisation"] < 1.0
    True
    """

    def __init__(
        self,
        name: str = "queue",
        servers: int = 1,
        capacity: int = 100,
        *,
        parameters: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(queue_description(name, servers, capacity))
        self.servers = servers
        self.capacity = capacity
        self._run: _Queue | None = None
        if parameters:
            self.set_parameters(parameters)

    def set_parameters(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.parameters, "parameter")
        if "seed" in checked and not checked["seed"].is_integer():
            raise SimulationError(
                f"parameter 'seed' must be a whole number, got {checked['seed']:g}",
                model=self.name,
            )
        super().set_parameters(checked)

    def _build(self, env: simpy.Environment) -> None:
        self._run = _Queue(env, self)

    def _capture(self, dt: float) -> None:
        assert self._run is not None
        self._run.capture(self._state)

    def _outputs(self) -> dict[str, float]:
        s, t = self._state, self._time
        busy = sum(s[f"s{k}.busy"] for k in range(1, self.servers + 1))
        n = s["in_system"]
        since = t - s["mark"]
        area = s["area"] + n * since
        busy_area = s["busy_area"] + busy * since
        return {
            "in_system": n,
            "queue_length": n - busy,
            "busy_servers": busy,
            "arrived": s["arrived"],
            "departed": s["departed"],
            "lost": s["lost"],
            "utilisation": busy_area / (self.servers * t) if t > 0 else 0.0,
            "mean_in_system": area / t if t > 0 else 0.0,
            "mean_sojourn": s["sojourn"] / s["departed"] if s["departed"] else 0.0,
            "mean_wait": s["waited"] / s["started"] if s["started"] else 0.0,
            "arrival_rate_seen": s["arrived"] / t if t > 0 else 0.0,
        }


class _Activity:
    """A pending timed event of one process, as numbers."""

    __slots__ = ("length", "mode", "seq", "start")

    def __init__(self, values: Mapping[str, float], prefix: str) -> None:
        self.mode = int(values[f"{prefix}.mode"])
        self.start = values[f"{prefix}.start"]
        self.length = values[f"{prefix}.length"]
        self.seq = int(values[f"{prefix}.seq"])


class _Queue:
    """One environment's worth of the queue, built from and captured into numbers."""

    def __init__(self, env: simpy.Environment, model: QueueModel) -> None:
        p, s = model._parameters, model._state
        self.env = env
        self.servers = model.servers
        self.capacity = model.capacity
        self.open = model._inputs["open"] >= 0.5
        self.arrival_rate = p["arrival_rate"]
        self.mean_service = 1.0 / p["service_rate"]
        seed = int(p["seed"])
        self.arrivals = Stream(stream_key(seed, _ARRIVALS), int(s["draws_arrival"]))
        self.service = Stream(stream_key(seed, _SERVICE), int(s["draws_service"]))
        self.counts = {n: int(s[n]) for n in _COUNTERS}
        self.sums = {n: s[n] for n in _SUMS}
        r = range(1, self.servers + 1)
        self.busy = [s[f"s{k}.busy"] >= 0.5 for k in r]
        self.customer = [s[f"s{k}.customer"] for k in r]
        self.waiting = [s[f"w{j}"] for j in range(1, self.counts["in_system"] - sum(self.busy) + 1)]
        self.activity = [_Activity(s, "arrival")] + [_Activity(s, f"s{k}") for k in r]
        self.wake: list[Any] = [None] * (self.servers + 1)
        processes = [(self.activity[0], self._arrival_process())] + [
            (self.activity[k], self._server(k - 1)) for k in r
        ]
        # Resumed activities are scheduled in their original order (see the adapter).
        processes.sort(key=lambda item: (item[0].mode != _TIMED, item[0].seq))
        for _, process in processes:
            env.process(process)

    def _arrival_process(self) -> Generator[Any, Any, None]:
        act = self.activity[0]
        if act.mode == _TIMED and self.open:
            yield DesModel._at(self.env, act.start, act.length)
            self._arrive()
        while True:
            if not self.open or self.arrival_rate <= 0.0:
                act.mode = _IDLE  # memoryless: reopening draws a fresh gap
                yield self.env.event()
            yield self._begin(act, self.arrivals.exponential(1.0 / self.arrival_rate))
            self._arrive()

    def _server(self, k: int) -> Generator[Any, Any, None]:
        act = self.activity[k + 1]
        if act.mode == _TIMED and self.busy[k]:
            yield DesModel._at(self.env, act.start, act.length)
            self._depart(k)
        while True:
            if not self.busy[k]:
                act.mode = _IDLE
                self.wake[k + 1] = self.env.event()
                yield self.wake[k + 1]
            else:
                yield self._begin(act, self.service.exponential(self.mean_service))
                self._depart(k)

    def _arrive(self) -> None:
        self._tick()
        c = self.counts
        c["arrived"] += 1
        if c["in_system"] >= self.capacity:
            c["lost"] += 1
            return
        c["in_system"] += 1
        for k, busy in enumerate(self.busy):
            if not busy:
                self._serve(k, self.env.now)
                wake = self.wake[k + 1]
                if wake is not None and not wake.triggered:
                    wake.succeed()
                return
        self.waiting.append(self.env.now)

    def _depart(self, k: int) -> None:
        self._tick()
        c = self.counts
        c["departed"] += 1
        c["in_system"] -= 1
        self.sums["sojourn"] += self.env.now - self.customer[k]
        self.busy[k] = False
        if self.waiting:
            self._serve(k, self.waiting.pop(0))

    def _serve(self, k: int, arrived_at: float) -> None:
        self.busy[k] = True
        self.customer[k] = arrived_at
        self.counts["started"] += 1
        self.sums["waited"] += self.env.now - arrived_at

    def _tick(self) -> None:
        """Bring the time integrals up to now before the number inside changes."""
        now = self.env.now
        since = now - self.sums["mark"]
        self.sums["area"] += self.counts["in_system"] * since
        self.sums["busy_area"] += sum(self.busy) * since
        self.sums["mark"] = now

    def _begin(self, act: _Activity, length: float) -> Any:
        self.counts["seq"] += 1
        act.mode, act.start, act.length, act.seq = _TIMED, self.env.now, length, self.counts["seq"]
        return self.env.timeout(length)

    def capture(self, state: dict[str, float]) -> None:
        """Write the numbers into ``state`` without disturbing the processes."""
        for name, count in self.counts.items():
            state[name] = float(count)
        state.update(self.sums)
        state["draws_arrival"] = float(self.arrivals.draws)
        state["draws_service"] = float(self.service.draws)
        for prefix, act in zip(
            ["arrival"] + [f"s{k}" for k in range(1, self.servers + 1)], self.activity, strict=True
        ):
            state[f"{prefix}.mode"] = float(act.mode)
            state[f"{prefix}.start"] = act.start
            state[f"{prefix}.length"] = act.length
            state[f"{prefix}.seq"] = float(act.seq)
        for k in range(self.servers):
            state[f"s{k + 1}.busy"] = 1.0 if self.busy[k] else 0.0
            state[f"s{k + 1}.customer"] = self.customer[k]
        for j in range(1, self.capacity - self.servers + 1):
            state[f"w{j}"] = self.waiting[j - 1] if j <= len(self.waiting) else 0.0
