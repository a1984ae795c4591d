"""Running the HTTP server: open the hub, import start-up models, serve with uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import uvicorn

from twinsight.analytics.monitoring import MonitoringConfigError, MonitoringSpec
from twinsight.api import create_app
from twinsight.core.clock import Clock
from twinsight.core.errors import TwinsightError
from twinsight.hub import Hub
from twinsight.ingest.connectors.embedded_broker import EmbeddedBroker
from twinsight.live_ingest import IngestOptions, start_ingest
from twinsight.models.diagnostics import Document
from twinsight.models.loader import load_paths

log = logging.getLogger("twinsight.server")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_port_free(host: str, port: int) -> None:
    """Refuse at once, with the reason, when something already listens on ``host:port``
    (a second demo on the same port, say): otherwise the data folder would be opened and
    seeded before the server found out, and the answer would be a bare bind error."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(
                f"cannot serve on {host}:{port}: the port is already in use ({exc.strerror}); "
                "another Twinsight (or another program) is listening there — stop it, or "
                "choose another port with --port"
            ) from exc


def import_missing_models(hub: Hub, paths: Sequence[Path]) -> int:
    """Import the models in ``paths`` that the repository does not hold yet.

    Start-up imports must be idempotent (the same ``--models`` folder is passed on every
    start), so interfaces already stored are left out rather than refused.
    """
    documents, errors = load_paths(paths)
    if errors:
        raise TwinsightError(
            "cannot load start-up models: " + "; ".join(str(e) for e in errors),
            code="InvalidArgument",
        )
    fresh: list[Document] = []
    for doc in documents:
        items = doc.content if isinstance(doc.content, list) else [doc.content]
        new = [i for i in items if not (isinstance(i, dict) and i.get("@id") in hub.models)]
        if new:
            fresh.append(Document(doc.name, new))
    if not fresh:
        return 0
    return len(hub.models.add(fresh))


def run_server(
    *,
    host: str,
    port: int,
    data_dir: Path,
    model_paths: Sequence[Path],
    log_level: str = "info",
    require_auth: bool | None = None,
    access_log: bool = True,
    seed: Callable[[Hub], int] | None = None,
    ingest: IngestOptions | None = None,
    simulate: Callable[[Hub, str | None], object] | None = None,
    clock: Clock | None = None,
    monitoring: MonitoringSpec | None = None,
    control: Callable[[Hub], None] | None = None,
) -> None:
    """Serve until interrupted; the hub is closed on the way out.

    Bearer tokens are required whenever the server is reachable from other machines: on a
    non-loopback host ``require_auth`` defaults to on and cannot be turned off, and the
    server refuses to start before a token exists (nobody could use it, and an operator
    who forgot would otherwise find out from a client's 401). On loopback it is opt-in.

    ``clock`` is the hub's (the wall clock by default; a scaled one runs a simulated world
    faster than real time, with its twins, history and live data all on that time).
    ``monitoring`` runs detectors and limits on the live data, raising alarms.
    ``control`` starts guards and rules on the hub (after ``seed``, before live data).
    """
    loopback = is_loopback(host)
    if require_auth is None:
        require_auth = not loopback
    if not loopback and not require_auth:
        raise SystemExit(
            f"refusing to listen on {host} without authentication: a non-loopback address is "
            "reachable from other machines, so bearer tokens are always required there "
            "(drop --no-require-auth, or listen on 127.0.0.1)"
        )
    if port:
        ensure_port_free(host, port)
    with Hub(data_dir, clock=clock) as hub:
        if require_auth and hub.tokens.active_count() == 0:
            raise SystemExit(
                f"refusing to start on {host}: authentication is required but {data_dir} holds "
                "no active token yet; create one first with\n"
                f"  twinsight tokens create NAME --scope admin --data-dir {data_dir}"
            )
        added = import_missing_models(hub, model_paths)
        if monitoring is not None:  # before live data flows, so it sees all of it
            try:  # its names are checked against the models now
                hub.start_monitoring(monitoring)
            except MonitoringConfigError as exc:
                raise SystemExit(
                    "the monitoring file does not fit the models:\n  " + "\n  ".join(exc.problems)
                ) from exc
            log.info("monitoring: %d monitor(s) watching live data", len(monitoring.monitors))
        if seed is not None:
            log.info("demo world: %d twin(s) created", seed(hub))
        if control is not None:
            control(hub)
        broker_url: str | None = None
        if ingest is not None:  # live-data connectors, owned (and stopped) by the hub
            try:
                parts = start_ingest(hub, ingest, port)
            except TwinsightError as exc:
                raise SystemExit(f"cannot start live ingest: {exc.message}") from exc
            brokers = [p.url for p in parts if isinstance(p, EmbeddedBroker)]
            broker_url = ingest.mqtt_url or (brokers[0] if brokers else None)
        if simulate is not None:  # the world's virtual plant, publishing to the broker
            try:
                simulate(hub, broker_url)
            except TwinsightError as exc:
                raise SystemExit(f"cannot start the simulation: {exc.message}") from exc
        if broker_url is not None and hub.actions.delivery is None:  # commands to devices
            hub.start_command_delivery(broker_url)
        if hub.registry.attachments("motor-rul"):  # RUL served live where it is attached
            from twinsight.live_rul import start_live_rul

            start_live_rul(hub)
        log.info(
            "data in %s: %d model(s) (%d imported now); serving on http://%s:%d "
            "(API docs /docs; bearer tokens %s)",
            data_dir,
            len(hub.models),
            added,
            host,
            port,
            "required" if require_auth else "not required",
        )
        uvicorn.run(
            create_app(hub, require_auth=require_auth),
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
        )
