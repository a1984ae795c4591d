"""The line MPC's command-line options, shared by ``twinsight demo`` and ``twinsight
serve`` (docs/control-mpc.md): how often it plans and how far it looks ahead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from twinsight.control.mpc_schedule import LineMpcScheduler
    from twinsight.hub import Hub

MpcInterval = Annotated[
    float,
    typer.Option(
        help="Line MPC: plant seconds between its solves of a motor (also the plan's step).",
        min=60.0,
    ),
]
MpcHorizon = Annotated[
    int, typer.Option(help="Line MPC: how many intervals each plan looks ahead.", min=1, max=48)
]
DEFAULT_INTERVAL = 600.0
DEFAULT_HORIZON = 6
DEMO_SPEED_MAX, DEMO_MAX_RISE = 1600.0, 200.0
"""The demo's plans stay within the factory speed guard's 200-rpm step up, and below
1600 rpm: the line MPC models the motor, not the tank its pump fills, and the
simulate-first guard refused faster set-points (~1650 rpm) for taking a tank over its
limit within two hours."""


def start_line_mpc(
    hub: Hub,
    interval: float,
    horizon: int,
    *,
    speed_max: float | None = None,
    max_rise: float | None = None,
) -> LineMpcScheduler:
    """Start the line MPC on the hub's motor twins as recommendations."""
    from dataclasses import replace

    from twinsight.control.mpc_line import LineCase
    from twinsight.control.mpc_schedule import LineMpcSettings

    case = LineCase() if speed_max is None else replace(LineCase(), speed_max=speed_max)
    settings = LineMpcSettings(interval=interval, horizon=horizon, case=case, max_rise=max_rise)
    return hub.start_line_mpc(settings)
