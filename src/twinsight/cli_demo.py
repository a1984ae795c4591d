"""``twinsight demo``: the smart-factory demo world, served, with its simulated plant.

One command for a first look: the factory's DTDL models and twin graph (``--lines`` lines
of conveyor → motor → pump → tank), an MQTT broker (the embedded one, or ``--broker``)
whose ``factory/...`` topics feed the twins, and a simulated plant publishing to it — its
sensors noisy, its motors wearing, a fault now and then — running in real time or
``--speed`` times faster. The options a server shares with ``twinsight serve`` read the
same (``--port``, ``--data-dir``).
"""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from urllib.parse import urlsplit

import typer

from twinsight.cli_mpc import (
    DEFAULT_HORIZON,
    DEFAULT_INTERVAL,
    DEMO_MAX_RISE,
    DEMO_SPEED_MAX,
    MpcHorizon,
    MpcInterval,
    start_line_mpc,
)
from twinsight.cli_options import MonitoringFile, err, load_monitoring, out

if TYPE_CHECKING:
    from twinsight.core.clock import Clock
    from twinsight.hub import Hub

DEFAULT_BROKER_PORT = 1883


def broker_problem(url: str) -> str | None:
    """Why ``url`` cannot be the demo's external broker, or None when it can."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        return f"--broker must look like mqtt://host:port, not {url!r}"
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        return f"--broker {url!r} has a bad port"
    if parts.path not in ("", "/") or parts.query:
        return f"--broker {url!r}: give only mqtt://host:port"
    return None


def embedded_broker_port(asked: int, default: int = DEFAULT_BROKER_PORT) -> tuple[int, str | None]:
    """The port the demo's embedded broker listens on, and what to tell the user about it.

    A port asked for is that port (taken: the start fails, naming it). The default is used
    when free; when it is taken (often by a broker the machine already runs, such as
    Debian's mosquitto service), the demo takes a free port instead: its plant must publish
    over MQTT through the connectors, not skip the broker.
    """
    if asked != default or asked == 0 or _port_free(default):
        return asked, None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    note = (
        f"port {default} is in use (another MQTT broker?): the demo's embedded broker "
        f"listens on mqtt://127.0.0.1:{port} instead (--broker-port chooses one; --broker "
        "uses an existing broker)"
    )
    return port, note


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)


def demo(
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=0, max=65535)] = 8080,
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            "--data",
            "-d",
            help="Folder for the demo's database (created if missing; kept between runs).",
        ),
    ] = Path("data/demo"),
    lines: Annotated[
        int,
        typer.Option(
            help="Production lines of the factory, four machines each (only adds lines to "
            "an existing folder).",
            min=1,
            max=1000,
        ),
    ] = 3,
    speed: Annotated[
        float,
        typer.Option(
            help="Run the plant this many times faster than real time (60: an hour a "
            "minute); the twins and their history keep the plant's time.",
        ),
    ] = 1.0,
    broker: Annotated[
        str | None,
        typer.Option(
            help="Use this MQTT broker (mqtt://host:port) instead of the embedded one.",
            show_default=False,
        ),
    ] = None,
    broker_port: Annotated[
        int,
        typer.Option(
            help="Port of the embedded MQTT broker on 127.0.0.1 (the default taken: a free "
            "one, said at start; 0: none).",
            min=0,
            max=65535,
        ),
    ] = DEFAULT_BROKER_PORT,
    simulate: Annotated[
        bool,
        typer.Option(
            help="Run the simulated plant that publishes the factory's sensor data "
            "(--no-simulate: twins change only by what you publish or write)."
        ),
    ] = True,
    faults: Annotated[
        bool,
        typer.Option(
            help="Inject a fault now and then (a motor bearing, pump cavitation, a stuck "
            "tank valve), each logged, for anomaly detection to find."
        ),
    ] = True,
    seed: Annotated[
        int, typer.Option(help="Seed of the sensor noise and of the faults.", min=0)
    ] = 0,
    monitoring: MonitoringFile = None,
    line_mpc: Annotated[
        bool,
        typer.Option(
            help="Run the line MPC: a speed recommendation per motor every --mpc-interval "
            "of plant time (needs the simulated plant)."
        ),
    ] = True,
    mpc_interval: MpcInterval = DEFAULT_INTERVAL,
    mpc_horizon: MpcHorizon = DEFAULT_HORIZON,
) -> None:
    """Start the demo world: the smart-factory twin graph in a running server, with an MQTT
    broker whose factory/... topics feed the twins live, and a simulated plant (conveyor
    lines, motors, pumps, tanks) publishing to it."""
    from twinsight.core.clock import ScaledClock
    from twinsight.live_ingest import IngestOptions
    from twinsight.scenarios import factory
    from twinsight.server import run_server

    if not (math.isfinite(speed) and speed > 0):
        _usage(
            f"--speed must be a positive number (1: real time, 60: an hour a minute), not {speed}"
        )
    if broker is not None:
        problem = broker_problem(broker)
        if problem:
            _usage(problem)
        if broker_port != DEFAULT_BROKER_PORT:
            _usage("give either --broker (an external broker) or --broker-port (the embedded one)")
    embedded_port, broker_note = (
        embedded_broker_port(broker_port) if broker is None else (broker_port, None)
    )
    clock: Clock | None = ScaledClock(speed) if speed != 1.0 else None
    # The factory's own detectors and limits unless another file is given (docs/alarms.md).
    monitors = load_monitoring(monitoring or factory.MONITORING_FILE)

    def seed_world(hub: Hub) -> int:
        from twinsight.scenarios.factory import world

        created = world.build(hub.twins, lines=lines)
        if broker_note:  # said once the server's own checks have passed
            err.print(f"[yellow]note[/yellow] {broker_note}", highlight=False, soft_wrap=True)
        _start_control(hub, simulate=simulate)
        if simulate and line_mpc:  # receding-horizon speed recommendations on the motors
            start_line_mpc(
                hub,
                mpc_interval,
                mpc_horizon,
                speed_max=DEMO_SPEED_MAX,
                max_rise=DEMO_MAX_RISE,
            )
            out.print(
                f"line MPC: a speed recommendation per motor every {mpc_interval:g} s of plant "
                "time (Actions tab; GET /actions?requestedBy=optimizer:line-mpc)",
                highlight=False,
                soft_wrap=True,
            )
        out.print(
            f"factory: {lines} line(s) of conveyor → motor → pump → tank "
            f"({lines * len(world.LINE_LAYOUT)} machines) in {data_dir}",
            highlight=False,
            soft_wrap=True,
        )
        return created

    def start_plant(hub: Hub, broker_url: str | None) -> object:
        return _start_plant(hub, broker_url, speed=speed, faults=faults, seed=seed, port=port)

    if not simulate:
        out.print(
            f"no simulated plant; open http://127.0.0.1:{port}/", highlight=False, soft_wrap=True
        )
    run_server(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        model_paths=[factory.MODELS_DIR],
        log_level="info",
        seed=seed_world,
        ingest=IngestOptions(
            mqtt_url=broker,
            mqtt_topics=("factory/#",),
            mapping_file=str(factory.MAPPING_FILE),
            # a port the demo chose or was given must be free (a taken default was swapped
            # for a free port above)
            embedded_broker_port=embedded_port,
        ),
        simulate=start_plant if simulate else None,
        clock=clock,
        monitoring=monitors,
    )


def _start_plant(
    hub: Hub, broker_url: str | None, *, speed: float, faults: bool, seed: int, port: int
) -> object:
    """The factory's simulated plant, live on the hub's clock, with its fault injector."""
    from twinsight.live_rul import serve_demo_rul
    from twinsight.live_sim import WriterFactory, start_simulation
    from twinsight.scenarios.factory import faults as factory_faults
    from twinsight.scenarios.factory.sim import simulation_spec
    from twinsight.sim.binding import TwinSimulation
    from twinsight.sim.faults import FaultInjector

    def injector(simulation: TwinSimulation) -> FaultInjector:
        return FaultInjector(
            simulation,
            factory_faults.FAULTS,
            seed=seed,
            mean_interval=factory_faults.MEAN_INTERVAL,
            first_after=factory_faults.FIRST_AFTER,
        )

    extra: list[WriterFactory] = [injector] if faults else []
    live = start_simulation(
        hub, simulation_spec(conveyors=True), broker_url, extra_writers=extra, seed=seed
    )
    if serve_demo_rul(hub) is not None:
        out.print(
            "remaining useful life: training a small motor model on simulated motors in the "
            "background (seconds; `twinsight rul train` trains the full one)",
            highlight=False,
            soft_wrap=True,
        )
    where = f"publishing to {broker_url}" if broker_url else "writing onto the twins (no broker)"
    pace = "real time" if speed == 1.0 else f"{speed:g}× real time"
    fault_note = (
        f"a fault about every {factory_faults.MEAN_INTERVAL / 60:.0f} min of plant time"
        if faults
        else "no faults"
    )
    out.print(
        f"simulated plant: {len(live.simulation.models)} machines {where}, at {pace}; {fault_note}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"open http://127.0.0.1:{port}/ (API docs at /docs; Ctrl+C stops)",
        highlight=False,
        soft_wrap=True,
    )
    return live


def _start_control(hub: Hub, *, simulate: bool) -> None:
    """The factory's safety guards (simulate-first too when the plant is simulated) and its
    rules, acting through the command service (docs/guards.md, docs/rules.md)."""
    from twinsight.control.guards_config import load_guards_file
    from twinsight.control.rules_config import load_rules_file
    from twinsight.scenarios import factory

    state = hub.control_state()
    hub.start_guards(load_guards_file(factory.GUARDS_FILE, state), simulate=simulate)
    rules = hub.start_rules(load_rules_file(factory.RULES_FILE, state))
    for warning in rules.warnings:
        err.print(f"[yellow]warning[/yellow] rules: {warning}", highlight=False)
    out.print(
        f"guards and {len(rules.spec.rules)} rules on the factory's twins (GET /rules)",
        highlight=False,
        soft_wrap=True,
    )


def _usage(message: str) -> NoReturn:
    err.print(f"[red]error[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
