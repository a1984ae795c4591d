"""The application factory: one FastAPI app bound to one :class:`~twinsight.hub.Hub`."""

from __future__ import annotations

from fastapi import FastAPI

import twinsight
from twinsight import ui
from twinsight.api import (
    action_routes,
    alarm_routes,
    calibration_routes,
    deadletter_routes,
    forecast_routes,
    history_routes,
    ingest_routes,
    models_routes,
    quality_routes,
    query_routes,
    registry_routes,
    rule_routes,
    scenario_routes,
    simulation_routes,
    stream_routes,
    twins_routes,
    webhook_routes,
)
from twinsight.api.auth import BearerAuth
from twinsight.api.errors import install_error_handlers
from twinsight.api.fastpath import FastTwinReads
from twinsight.api.responses import JsonResponse
from twinsight.hub import Hub


def create_app(hub: Hub, require_auth: bool = False) -> FastAPI:
    """An app serving ``hub``; the caller owns the hub's lifecycle.

    With ``require_auth`` every route but ``/health`` needs a bearer token with the right
    scope (see :mod:`twinsight.api.auth`); the server turns it on for non-loopback hosts.
    """
    app = FastAPI(
        title="Twinsight",
        version=twinsight.__version__,
        description="Digital-twin platform. Azure Digital Twins data-plane API "
        "(api-version 2023-10-31) compatible.",
        default_response_class=JsonResponse,
    )
    app.state.hub = hub
    # Middleware added last runs first: authentication, then the fast twin read.
    app.add_middleware(FastTwinReads, graph=hub.twins)
    if require_auth:
        app.add_middleware(BearerAuth, tokens=hub.tokens)
    install_error_handlers(app)
    app.include_router(models_routes.router(hub))
    app.include_router(twins_routes.router(hub))
    app.include_router(query_routes.router(hub))
    app.include_router(history_routes.router(hub))
    app.include_router(forecast_routes.router(hub))
    app.include_router(deadletter_routes.router(hub))
    app.include_router(ingest_routes.router(hub.ingest, hub.clock))
    app.include_router(stream_routes.router(hub))
    app.include_router(quality_routes.router(hub))
    app.include_router(webhook_routes.router(hub))
    app.include_router(scenario_routes.router(hub))
    app.include_router(simulation_routes.router(hub))
    app.include_router(calibration_routes.router(hub))
    app.include_router(alarm_routes.router(hub))
    app.include_router(registry_routes.router(hub))
    app.include_router(action_routes.router(hub))
    app.include_router(rule_routes.router(hub))
    ui.mount(app)  # the web page at /ui/, a client of the routes above

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, object]:
        return {
            "status": "ok",
            "models": len(hub.models),
            "twins": hub.twins.index.twin_count,
        }

    return app
