"""Commands, desired values, approvals and the audit log (docs/control.md).

Thin routes over :class:`~twinsight.control.commands.CommandService`:

* ``POST /digitaltwins/{id}/commands/{name}`` (and ``/components/{c}/commands/{name}``,
  the Azure Digital Twins forms): the body is the command's request payload (empty for
  none); ``requestedBy`` and ``reason`` query parameters say who asks and why.
* ``PUT /twins/{id}/desired/{path}``: the body is the desired value; ``GET
  /twins/{id}/desired`` what is desired, reported and pending.
* ``GET /actions``, ``GET /actions/{id}``, ``POST /actions/{id}/approve|reject|apply``,
  ``GET /audit``.

An action the model check refuses answers 400/404 naming the argument (and is recorded);
one a guard refuses answers 200 with ``"state": "refused"`` and the guard's reason and
prediction; everything else 202 with the action as recorded.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request

from twinsight.api.paging import page_of
from twinsight.api.responses import JsonResponse
from twinsight.control.actions import Action, ActionKind, Mode
from twinsight.control.commands import ACTION_STATES
from twinsight.core.errors import BadRequest, PayloadTooLarge
from twinsight.core.ports import ActionRecord
from twinsight.hub import Hub
from twinsight.streams.events import action_json, audit_json

MAX_BODY = 64 * 1024
MaxItems = Annotated[int | None, Header(alias="max-items-per-page")]
Continuation = Annotated[str | None, Query(alias="continuationToken")]
RequestedBy = Annotated[
    str, Query(alias="requestedBy", description="who asks: user:ana, rule:cool-down")
]
Reason = Annotated[str, Query(description="why, for the audit log")]
AskedMode = Annotated[
    Mode,
    Query(description="auto (as far as the guards allow), approve or recommend: the stricter of "
          "this and the guards' verdict wins"),
]  # fmt: skip
_DECISION_FIELDS = frozenset({"by", "reason"})


async def _body(request: Request, what: str, *, required: bool) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"the {what} is larger than {MAX_BODY} bytes")
    if not raw.strip():
        if required:
            raise BadRequest(f"the body must be the {what} as JSON", code="InvalidArgument")
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the {what} is not valid JSON: {exc}", code="InvalidArgument") from exc


def _terms(raw: list[str] | None) -> list[str]:
    return [t.strip() for value in raw or () for t in value.split(",") if t.strip()]


def _answer(record: ActionRecord) -> JsonResponse:
    return JsonResponse(action_json(record), status_code=200 if record.state == "refused" else 202)


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["actions"])
    actions = hub.actions

    async def submit(
        request: Request,
        kind: ActionKind,
        twin_id: str,
        name: str,
        component: str | None,
        requested_by: str,
        reason: str,
        mode: Mode,
    ) -> JsonResponse:
        what = "command's request payload" if kind == "command" else "desired value"
        value = await _body(request, what, required=kind == "property")
        action = Action(kind, twin_id, name, value, requested_by or "api", reason, component)
        return _answer(actions.submit(action, mode=mode))

    @r.post("/digitaltwins/{twin_id}/commands/{name}", status_code=202)
    async def invoke(
        twin_id: str, name: str, request: Request, requestedBy: RequestedBy = "api",  # noqa: N803
        reason: Reason = "", mode: AskedMode = "auto",
    ) -> JsonResponse:  # fmt: skip
        """Invoke a DTDL command on the twin's device (body: the request payload)."""
        return await submit(request, "command", twin_id, name, None, requestedBy, reason, mode)

    @r.post("/digitaltwins/{twin_id}/components/{component}/commands/{name}", status_code=202)
    async def invoke_component(
        twin_id: str, component: str, name: str, request: Request,
        requestedBy: RequestedBy = "api", reason: Reason = "",  # noqa: N803
        mode: AskedMode = "auto",
    ) -> JsonResponse:  # fmt: skip
        """Invoke a command of one of the twin's components."""
        return await submit(request, "command", twin_id, name, component, requestedBy, reason, mode)

    @r.put("/twins/{twin_id}/desired/{path}", status_code=202)
    async def set_desired(
        twin_id: str, path: str, request: Request, requestedBy: RequestedBy = "api",  # noqa: N803
        reason: Reason = "", mode: AskedMode = "auto",
    ) -> JsonResponse:  # fmt: skip
        """Set a writable property's desired value (``component.property`` inside a
        component); the body is the value. Pending until the device reports it."""
        return await submit(request, "property", twin_id, path, None, requestedBy, reason, mode)

    @r.get("/twins/{twin_id}/desired")
    def get_desired(twin_id: str) -> JsonResponse:
        """Each path's latest desired value, the reported value and whether it is pending."""
        return JsonResponse({"twinId": twin_id, "desired": actions.desired(twin_id)})

    @r.get("/actions")
    def list_actions(
        request: Request,
        twin: Annotated[str | None, Query(description="only this twin's actions")] = None,
        state: Annotated[
            list[str] | None, Query(description=", ".join(ACTION_STATES) + " (any of)")
        ] = None,
        requestedBy: Annotated[str | None, Query(description="who asked")] = None,  # noqa: N803
        continuation: Continuation = None,
        max_items: MaxItems = None,
    ) -> JsonResponse:
        """Actions, newest first."""
        states = _terms(state)
        unknown = sorted(set(states) - set(ACTION_STATES))
        if unknown:
            raise BadRequest(
                f"state: unknown {unknown}; use {', '.join(ACTION_STATES)}",
                code="InvalidArgument",
            )
        found = actions.list_actions(twin_id=twin, states=states, requested_by=requestedBy)
        items = [action_json(a) for a in found]
        return JsonResponse(page_of(items, request, continuation, max_items))

    @r.get("/actions/{action_id}")
    def get_action(action_id: str) -> JsonResponse:
        return JsonResponse(action_json(actions.get(action_id)))

    async def decision(request: Request) -> tuple[str, str]:
        body = await _body(request, "decision", required=True)
        if not isinstance(body, dict):
            raise BadRequest(
                'the body must be a JSON object {"by": "who", "reason": "..."}',
                code="InvalidArgument",
            )
        unknown = set(body) - _DECISION_FIELDS
        if unknown:
            raise BadRequest(
                f"unknown field(s) {sorted(unknown)}; use {sorted(_DECISION_FIELDS)}",
                code="InvalidArgument",
            )
        by, reason = body.get("by"), body.get("reason", "")
        if not isinstance(by, str) or not by or not isinstance(reason, str):
            raise BadRequest(
                "'by' (who decides) must be a non-empty string, and 'reason' a string",
                code="InvalidArgument",
            )
        return by, reason

    @r.post("/actions/{action_id}/approve")
    async def approve(action_id: str, request: Request) -> JsonResponse:
        """Approve an action pending approval: it is delivered (409 if not pending)."""
        by, _ = await decision(request)
        return JsonResponse(action_json(actions.approve(action_id, by)))

    @r.post("/actions/{action_id}/apply")
    async def apply(action_id: str, request: Request) -> JsonResponse:
        """Apply a recommendation: the guards check it again as the operator's action."""
        by, _ = await decision(request)
        return JsonResponse(action_json(actions.apply(action_id, by)))

    @r.post("/actions/{action_id}/reject")
    async def reject(action_id: str, request: Request) -> JsonResponse:
        """Reject an action pending approval or a recommendation; nothing is sent."""
        by, reason = await decision(request)
        return JsonResponse(action_json(actions.reject(action_id, by, reason)))

    @r.get("/audit")
    def audit(
        request: Request,
        twin: Annotated[str | None, Query(description="only this twin")] = None,
        action: Annotated[str | None, Query(description="only this action")] = None,
        continuation: Continuation = None,
        max_items: MaxItems = None,
    ) -> JsonResponse:
        """Every command, decision and refusal: who or what asked, and why; newest first."""
        items = [audit_json(e) for e in actions.audit(twin_id=twin, action_id=action)]
        return JsonResponse(page_of(items, request, continuation, max_items))

    return r
