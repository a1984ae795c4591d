"""``/simulation/models``: what the hub's simulated world is made of, and what a what-if
may change.

Thin routes over :func:`~twinsight.sim.catalogue.describe_catalogue`: per catalogue model
its parameters, states, inputs and outputs (unit, default, bounds), its bindings to twins,
the couplings that feed its inputs (those a what-if cannot change), and the twins it
simulates now. A hub without a simulated world answers 409 ``NoSimulation``; an unknown
model 404 ``SimulationModelNotFound`` naming the known ones. Reads need the ``read`` scope.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from twinsight.api.responses import JsonResponse
from twinsight.hub import Hub
from twinsight.sim.catalogue import catalogue_dict, describe_catalogue, describe_model


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["scenarios"])

    @r.get("/simulation/models")
    async def list_models() -> JsonResponse:
        """Every model of the world's catalogue (building each once to read it: thread pool)."""
        world = hub.require_simulation()
        models = await run_in_threadpool(describe_catalogue, world, hub.twins)
        return JsonResponse(catalogue_dict(world, models))

    @r.get("/simulation/models/{name}")
    async def get_model(name: str) -> JsonResponse:
        model = await run_in_threadpool(describe_model, hub.require_simulation(), name, hub.twins)
        return JsonResponse(model.to_dict())

    return r
