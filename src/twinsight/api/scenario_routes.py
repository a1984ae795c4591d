"""``/scenarios`` and ``/sweeps``: what-if runs over the hub's simulated world.

Thin routes over :class:`~twinsight.sim.scenarios.ScenarioService` (``hub.scenarios``) and
:func:`~twinsight.sim.sweeps.run_sweep`. Runs and sweeps are CPU work that can take seconds:
they go to the thread pool (sweeps further to worker processes), so the server keeps
serving meanwhile. A hub without a simulated world answers 409 ``NoSimulation``; a
scenario that cannot run or fails answers 422 ``SimulationError``-family codes with the
reason, and is kept as ``failed`` for ``GET`` to show. Scopes as everywhere: reads need
``read``, everything else ``write``.

``POST /sweeps`` runs synchronously and is meant for small sweeps (at most
:data:`MAX_API_RUNS` runs); larger ones belong to the CLI or Python, or a cluster executor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub
from twinsight.sim.scenarios import ScenarioService
from twinsight.sim.sweeps import default_workers, process_pool, run_sweep, sweep_from_dict

MAX_BODY = 1024 * 1024
MAX_API_RUNS = 1000
_FORK_FIELDS = frozenset({"name", "twins", "at"})
_RUN_FIELDS = frozenset({"horizon", "step", "changes"})


def _object(body: Any, fields: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(f"the {what} must be a JSON object", code="InvalidArgument")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)} in the {what} (known: "
            f"{', '.join(sorted(fields))})",
            code="InvalidArgument",
        )
    return body


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(
            f"{name} must be a number of seconds, got {value!r}", code="InvalidArgument"
        )
    return float(value)


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["scenarios"])

    def service() -> ScenarioService:
        return hub.scenarios  # 409 NoSimulation when the hub simulates no world

    @r.post("/scenarios", status_code=201)
    async def fork(request: Request) -> JsonResponse:
        """Fork ``{"name"?, "twins"?: [...] (all bound twins), "at"?: ISO time (now)}``."""
        body = _object(
            await read_json(request, max_bytes=MAX_BODY, what="fork"), _FORK_FIELDS, "fork"
        )
        twins = body.get("twins")
        if twins is not None and (
            not isinstance(twins, list) or not all(isinstance(t, str) for t in twins)
        ):
            raise BadRequest("twins must be a list of twin ids", code="InvalidArgument")
        at, name = body.get("at"), body.get("name", "")
        if at is not None and not isinstance(at, str):
            raise BadRequest("at must be an ISO 8601 time", code="InvalidArgument")
        if not isinstance(name, str):
            raise BadRequest("name must be text", code="InvalidArgument")
        scenarios = service()
        scenario = await run_in_threadpool(scenarios.fork, twins, at, name)
        return JsonResponse(scenario.to_dict(), status_code=201)

    @r.get("/scenarios")
    def list_scenarios() -> JsonResponse:
        return JsonResponse({"value": [s.to_dict() for s in service().list()]})

    @r.get("/scenarios/{scenario_id}")
    def get_scenario(scenario_id: str) -> JsonResponse:
        return JsonResponse(service().get(scenario_id).to_dict())

    @r.post("/scenarios/{scenario_id}/run")
    async def run(scenario_id: str, request: Request) -> JsonResponse:
        """Run ``{"horizon": s, "step"?: s, "changes"?: {...}}``; answers the scenario and
        its comparison with the baseline."""
        body = _object(await read_json(request, max_bytes=MAX_BODY, what="run"), _RUN_FIELDS, "run")
        horizon = _number(body.get("horizon"), "horizon")
        step = _number(body["step"], "step") if body.get("step") is not None else None
        scenarios = service()

        def go() -> dict[str, Any]:
            done = scenarios.run(scenario_id, horizon, step, body.get("changes"))
            return {
                **done.to_dict(),
                "comparison": [c.to_dict() for c in scenarios.compare(scenario_id)],
            }

        return JsonResponse(await run_in_threadpool(go))

    @r.get("/scenarios/{scenario_id}/comparison")
    def comparison(scenario_id: str) -> JsonResponse:
        return JsonResponse(
            {
                "scenario": scenario_id,
                "value": [c.to_dict() for c in service().compare(scenario_id)],
            }
        )

    @r.get("/scenarios/{scenario_id}/plot")
    def plot(
        scenario_id: str,
        series: Annotated[list[str] | None, Query(description="twin.output, repeatable")] = None,
    ) -> Response:
        return Response(service().plot(scenario_id, series), media_type="image/png")

    @r.post("/scenarios/{scenario_id}/keep")
    def keep(scenario_id: str) -> JsonResponse:
        return JsonResponse(service().keep(scenario_id).to_dict())

    @r.delete("/scenarios/{scenario_id}", status_code=204)
    def discard(scenario_id: str) -> Response:
        service().discard(scenario_id)
        return Response(status_code=204)

    @r.post("/sweeps")
    async def sweep(request: Request, format: str = "json") -> Response:
        """Run a sweep from a scenario's fork: ``{"scenario": id, "parameters": {"twin.
        parameter": "uniform(10, 20)", ...}, "runs", "horizon", ...}`` (see
        :func:`~twinsight.sim.sweeps.sweep_from_dict`), plus ``"workers"?``; answers the
        summary, or its histogram with ``?format=png``."""
        if format not in ("json", "png"):
            raise BadRequest(f"format must be json or png, not {format!r}", code="InvalidArgument")
        body = await read_json(request, max_bytes=MAX_BODY, what="sweep")
        if not isinstance(body, dict):
            raise BadRequest("the sweep must be a JSON object", code="InvalidArgument")
        body = dict(body)
        scenario_id, workers = body.pop("scenario", None), body.pop("workers", None)
        if not isinstance(scenario_id, str):
            raise BadRequest(
                'name the scenario to sweep from: "scenario": id', code="InvalidArgument"
            )
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise BadRequest("workers must be a whole number >= 1", code="InvalidArgument")
        scenarios = service()
        spec = sweep_from_dict(body, default_step=scenarios.spec.step)
        if spec.runs > MAX_API_RUNS:
            raise BadRequest(
                f"{spec.runs} runs is more than one request may run ({MAX_API_RUNS}); use "
                "the CLI ('twinsight sweep') or Python for big sweeps",
                code="InvalidArgument",
            )
        fork = scenarios.fork_of(scenario_id)

        def go() -> Any:
            count = min(workers or default_workers(), max(1, spec.runs))
            with process_pool(count) as pool:
                return run_sweep(fork, spec, executor=pool)

        result = await run_in_threadpool(go)
        if format == "png":
            return Response(await run_in_threadpool(result.histogram_png), media_type="image/png")
        return JsonResponse({"scenario": scenario_id, **result.to_dict()})

    return r
