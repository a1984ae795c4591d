"""The example of docs/scenarios.md: what if line 2's motor is stopped for an hour, and how
sensitive are the motors' temperatures to their rated power?

Run from the repository root: ``.venv/bin/python docs/scenarios_example.py``. It prints what
the document shows and writes docs/img/scenario-comparison.png and docs/img/sweep.png.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.models.loader import load_paths
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.forks import Changes
from twinsight.sim.sweeps import Sweep, SweepParameter, run_sweep

IMG = Path(__file__).parent / "img"


def main() -> None:
    with Hub(clock=ManualClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))) as hub:
        documents, _ = load_paths([factory.MODELS_DIR])
        hub.models.add(documents)
        world.build(hub.twins)
        hub.simulation = simulation_spec()

        # Fork the whole plant as it is now, stop line 2's motor after an hour.
        scenario = hub.scenarios.fork(name="line 2 stops at 09:00")
        changes = Changes(schedules={"line-2-motor": {"running": ((0.0, 1.0), (3600.0, 0.0))}})
        hub.scenarios.run(scenario.id, horizon=4 * 3600.0, changes=changes)
        for c in hub.scenarios.compare(scenario.id):
            if c.series.startswith("line-2"):
                print(
                    f"{c.series:26} baseline {c.baseline_final:8.2f}  scenario "
                    f"{c.scenario_final:8.2f} {c.unit:5} max |Δ| {c.max_abs_difference:7.2f} "
                    f"at {c.at:%H:%M}"
                )
        png = hub.scenarios.plot(
            scenario.id, ["line-2-motor.temperature", "line-2-pump.flow", "line-2-tank.level"]
        )
        (IMG / "scenario-comparison.png").write_bytes(png)

        # Monte-Carlo: every motor's rated power drawn from a triangular distribution.
        sweep = Sweep(
            parameters=(SweepParameter.parse("model:motor.rated_power", "triangular(11, 15, 22)"),),
            runs=200,
            horizon=4 * 3600.0,
            step=10.0,
            record=("line-1-motor.temperature", "line-1-motor.wear"),
            statistic="final",
            seed=1,
            sampling="lhs",
        )
        result = run_sweep(hub.scenarios.fork_of(scenario.id), sweep)
        for s in result.summary.values():
            print(
                f"{s.series:26} mean {s.mean:.4g}  std {s.std:.3g}  "
                f"p5 {s.p5:.4g}  p50 {s.p50:.4g}  p95 {s.p95:.4g}  ({s.count} runs)"
            )
        (IMG / "sweep.png").write_bytes(result.histogram_png())


if __name__ == "__main__":
    main()
