"""``twinsight actions list|show|approve|reject|apply``, ``twinsight audit`` and
``twinsight command TWIN NAME --json ARGS``: the command service of a *running* server.

Why over HTTP and not on the data folder: the server holds the broker connection that
delivers an approved action and hears the device's answer; approving in another process
would record "sent" with nothing sent. ``--server`` (or ``TWINSIGHT_SERVER``) says where,
``--token`` (or ``TWINSIGHT_TOKEN``) the bearer token when the server requires one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any

import typer
from rich.table import Table

from twinsight.cli_options import AsJson, err, out

actions_app = typer.Typer(
    help="Actions on devices (commands, desired values): list, approve, reject, apply.",
    no_args_is_help=True,
)

Server = Annotated[
    str,
    typer.Option(envvar="TWINSIGHT_SERVER", help="The running server's URL."),
]
Token = Annotated[
    str | None,
    typer.Option(envvar="TWINSIGHT_TOKEN", help="Bearer token (when the server needs one)."),
]
By = Annotated[str, typer.Option("--by", help="Who decides (recorded in the audit log).")]
DEFAULT_SERVER = "http://127.0.0.1:8000"


def register(app: typer.Typer) -> None:
    app.add_typer(actions_app, name="actions")
    app.command("command")(command)
    app.command("audit")(audit)


def _call(
    method: str,
    server: str,
    path: str,
    token: str | None,
    *,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    content: bytes | None = None,
) -> Any:
    """One request to the server (the standard library's client: the command line needs
    nothing more); errors print the server's code and message."""
    url = server.rstrip("/") + urllib.parse.quote(path)
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    data = content if json_body is None else json.dumps(json_body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            error = json.loads(body)["error"]
            err.print(f"[red]{error['code']}[/red]: {error['message']}", highlight=False)
        except (ValueError, KeyError, TypeError):
            err.print(f"[red]HTTP {exc.code}[/red]: {body.decode(errors='replace')}")
        raise typer.Exit(1) from exc
    except (urllib.error.URLError, OSError) as exc:
        err.print(f"[red]cannot reach the server[/red] {server}: {exc}", highlight=False)
        raise typer.Exit(2) from exc


def _show(action: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(action, indent=2))
        return
    line = (
        f"{action['id']}  {action['state']}  {action['kind']} {action['twinId']}.{action['name']}"
    )
    out.print(line, highlight=False, markup=False)
    for key in ("verdict", "error"):
        if action.get(key):
            out.print(f"  {key}: {action[key]}", highlight=False, markup=False)
    if action.get("prediction"):
        out.print(f"  predicted: {json.dumps(action['prediction'])}", markup=False)


@actions_app.command("list")
def list_actions(
    twin: Annotated[str | None, typer.Option(help="Only this twin's actions.")] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help="pending_approval, recommended, sent, done, ... (repeatable)."),
    ] = None,
    requested_by: Annotated[str | None, typer.Option(help="Only actions asked by him/it.")] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Actions, newest first: who asked what and why, what the guards said, the outcome."""
    params: dict[str, Any] = {"twin": twin, "state": state or None, "requestedBy": requested_by}
    page = _call("GET", server, "/actions", token, params={k: v for k, v in params.items() if v})
    items = page["value"]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table("id", "state", "twin", "action", "value", "asked by", "why / verdict")
    for a in items:
        why = "; ".join(x for x in (a["reason"], a["verdict"], a["error"]) if x)
        table.add_row(
            a["id"][:12], a["state"], a["twinId"], f"{a['kind']} {a['name']}",
            json.dumps(a["value"]), a["requestedBy"], why,
        )  # fmt: skip
    out.print(table)


@actions_app.command("show")
def show(
    action_id: str, server: Server = DEFAULT_SERVER, token: Token = None, as_json: AsJson = False
) -> None:
    """One action as recorded."""
    _show(_call("GET", server, f"/actions/{action_id}", token), as_json)


@actions_app.command("approve")
def approve(
    action_id: str,
    by: By,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Approve an action pending approval: it is delivered."""
    path = f"/actions/{action_id}/approve"
    _show(_call("POST", server, path, token, json_body={"by": by}), as_json)


@actions_app.command("apply")
def apply(
    action_id: str,
    by: By,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Apply a recommendation (the guards check it again as your action)."""
    path = f"/actions/{action_id}/apply"
    _show(_call("POST", server, path, token, json_body={"by": by}), as_json)


@actions_app.command("reject")
def reject(
    action_id: str,
    by: By,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Reject an action pending approval or a recommendation: nothing is sent."""
    body = {"by": by, "reason": reason}
    _show(_call("POST", server, f"/actions/{action_id}/reject", token, json_body=body), as_json)


def command(
    twin: str,
    name: str,
    args: Annotated[
        str | None, typer.Option("--json", help="The command's request payload, as JSON.")
    ] = None,
    component: Annotated[str | None, typer.Option(help="The component's command.")] = None,
    by: Annotated[str, typer.Option("--by", help="Who asks (recorded).")] = "cli",
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Invoke a DTDL command on a twin's device through the running server."""
    content = b""
    if args is not None:
        try:
            content = json.dumps(json.loads(args)).encode()
        except json.JSONDecodeError as exc:
            err.print(f"[red]--json[/red] is not valid JSON: {exc}", highlight=False)
            raise typer.Exit(2) from exc
    path = f"/digitaltwins/{twin}/commands/{name}"
    if component:
        path = f"/digitaltwins/{twin}/components/{component}/commands/{name}"
    params = {"requestedBy": by, "reason": reason}
    _show(_call("POST", server, path, token, content=content, params=params), False)


def audit(
    twin: Annotated[str | None, typer.Option(help="Only this twin.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """The audit log: every command, decision and refusal, who asked and why."""
    params = {k: v for k, v in {"twin": twin, "action": action}.items() if v}
    items = _call("GET", server, "/audit", token, params=params)["value"]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table("time", "twin", "action", "event", "by", "detail")
    for e in items:
        table.add_row(
            e["time"],
            e["twinId"],
            e["actionId"][:12] or "(none)",
            e["event"],
            e["actor"],
            e["detail"],
        )
    out.print(table)
