"""Running the HTTP server: open the hub, import start-up models, serve with uvicorn."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from twinsight.api import create_app
from twinsight.core.errors import TwinsightError
from twinsight.hub import Hub
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
) -> None:
    """Serve until interrupted; the hub is closed on the way out."""
    if not is_loopback(host):
        raise SystemExit(
            f"refusing to listen on {host}: only loopback addresses are served until bearer-"
            "token authentication is configured for this server"
        )
    with Hub(data_dir) as hub:
        added = import_missing_models(hub, model_paths)
        log.info(
            "data in %s: %d model(s) (%d imported now); serving on http://%s:%d (API docs /docs)",
            data_dir,
            len(hub.models),
            added,
            host,
            port,
        )
        uvicorn.run(create_app(hub), host=host, port=port, log_level=log_level)
