"""``/rules``: list and read rules, switch them on and off, dry-run them, and read what
they did (docs/rules.md). Thin routes over the hub's :class:`~twinsight.control.rules.
RuleEngine`; the rule file itself is loaded at start-up, not through the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.control.guards_yaml import seconds
from twinsight.control.rules import RuleEngine, firing_json
from twinsight.core.errors import BadRequest, Conflict
from twinsight.hub import Hub

MAX_BODY = 4 * 1024
NO_RULES = "no rules run on this hub (start it with a rule file: twinsight demo, or --rules)"


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["rules"])

    def engine() -> RuleEngine:
        if hub.rules is None:
            raise Conflict(NO_RULES, code="NoRules")
        return hub.rules

    @r.get("/rules")
    def list_rules() -> JsonResponse:
        """Every rule with whether it is enabled and the twins it has fired on and not
        re-armed yet; ``warnings`` are the contradictions found when loading."""
        rules = engine()
        return JsonResponse(
            {
                "value": [s.to_json() for s in rules.list_rules()],
                "warnings": list(rules.warnings),
            }
        )

    @r.get("/rules/firings")
    def all_firings(
        twin: Annotated[str | None, Query(description="only this twin's firings")] = None,
    ) -> JsonResponse:
        return JsonResponse({"value": [firing_json(f) for f in engine().firings(twin_id=twin)]})

    @r.get("/rules/{name}")
    def get_rule(name: str) -> JsonResponse:
        return JsonResponse(engine().status(name).to_json())

    @r.post("/rules/{name}/enable")
    def enable(name: str) -> JsonResponse:
        return JsonResponse(engine().set_enabled(name, True).to_json())

    @r.post("/rules/{name}/disable")
    def disable(name: str) -> JsonResponse:
        return JsonResponse(engine().set_enabled(name, False).to_json())

    @r.get("/rules/{name}/firings")
    def firings(
        name: str,
        twin: Annotated[str | None, Query(description="only this twin's firings")] = None,
    ) -> JsonResponse:
        """What the rule did, newest first: each firing's action and its outcome."""
        found = engine().firings(name, twin_id=twin)
        return JsonResponse({"value": [firing_json(f) for f in found]})

    @r.post("/rules/{name}/dry-run")
    async def dry_run(name: str, request: Request) -> JsonResponse:
        """``{}``: would the rule's condition hold on each twin now? ``{"since": "1 h"}``:
        replay that much history and list when it would have fired. Sends nothing,
        records nothing."""
        body: Any = {}
        if await request.body():
            body = await read_json(request, max_bytes=MAX_BODY, what="dry run")
        if not isinstance(body, dict) or set(body) - {"since"}:
            raise BadRequest(
                'the body must be {} or {"since": "1 h"} (seconds or a duration text)',
                code="InvalidArgument",
            )
        since = None
        if body.get("since") is not None:
            try:
                since = seconds(body["since"])
            except ValueError as exc:
                raise BadRequest(f"since: {exc}", code="InvalidArgument") from None
        return JsonResponse(engine().dry_run(name, since=since))

    return r
