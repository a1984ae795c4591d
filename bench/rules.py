"""Rule evaluation cost: telemetry messages per second through the factory's rule file.

What it does: builds the factory (``--lines`` lines, in memory) and publishes ``--events``
synthetic winding-temperature messages of its motors on the hub's bus (round robin over
the motors, one source second apart, 80–89 °C: under the hot-motor rule's 100 °C, so the
rules evaluate and never act), once without rules and once with the factory's rule file
(``src/twinsight/scenarios/factory/rules.yaml``) running. Timed: the publishing loop only.
The difference per message is what the rule engine adds to the live path.

Usage (from the repo root): ``python bench/rules.py [--quick]``; the last line of stdout
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import add_factory_models
from twinsight.control.rules_config import load_rules_file
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived
from twinsight.hub import Hub
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
MOTOR = "dtmi:twinsight:factory:Motor;1"


def run(lines: int, events: int, rules: bool) -> float:
    """Seconds to publish ``events`` messages on a fresh hub's bus."""
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=lines)
        if rules:
            hub.start_rules(load_rules_file(factory.RULES_FILE, hub.control_state()))
        messages = [
            TelemetryReceived(
                f"line-{i % lines + 1}-motor", MOTOR, None, f"m{i}",
                {"windingTemperature": 80.0 + i % 10}, T0, T0 + timedelta(seconds=i),
            )
            for i in range(events)
        ]  # fmt: skip
        start = time.perf_counter()
        for message in messages:
            hub.bus.publish(message)
        elapsed = time.perf_counter() - start
        if rules:
            assert hub.rules is not None and hub.rules.firings() == []
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run (seconds)")
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    events = args.events or (5_000 if args.quick else 20_000)
    runs = args.runs or (1 if args.quick else 3)
    without = statistics.median(run(args.lines, events, False) for _ in range(runs))
    with_rules = statistics.median(run(args.lines, events, True) for _ in range(runs))
    figures = {
        "lines": args.lines,
        "events": events,
        "runs": runs,
        "messages_per_s_without_rules": round(events / without),
        "messages_per_s_with_rules": round(events / with_rules),
        "rule_engine_us_per_message": round((with_rules - without) / events * 1e6, 1),
        "python": platform.python_version(),
    }
    print(
        f"{events:,} messages on {args.lines} line(s): {figures['messages_per_s_without_rules']:,}"
        f"/s without rules, {figures['messages_per_s_with_rules']:,}/s with the factory's "
        f"({figures['rule_engine_us_per_message']} µs a message; medians of {runs})"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
