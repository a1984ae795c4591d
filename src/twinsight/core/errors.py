"""Twinsight's own error types.

Every layer raises these instead of library exceptions, so the API can turn any failure into
the Azure Digital Twins error format (``{"error": {"code", "message", "details"}}`` plus the
``x-ms-error-code`` header) without knowing where it came from. The ``code`` strings follow
Azure Digital Twins so existing clients can branch on them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class TwinsightError(Exception):
    """Base of every error Twinsight raises on purpose.

    ``code`` is the machine-readable error code, ``status`` the HTTP status the API answers
    with, and ``details`` a list of further, more specific problems (each a small dict with at
    least ``code`` and ``message``) so many problems can be reported at once.
    """

    code: ClassVar[str] = "InternalServerError"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[dict[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.details = list(details)

    def to_body(self) -> dict[str, Any]:
        """The error as the JSON body the API answers with."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(TwinsightError):
    """The request itself is malformed (bad JSON, bad parameter)."""

    code = "BadRequest"
    status = 400


class ValidationFailed(TwinsightError):
    """A value does not conform to the DTDL model it is written against."""

    code = "ValidationFailed"
    status = 400


class NotFound(TwinsightError):
    """A model, twin, relationship or other resource does not exist."""

    code = "NotFound"
    status = 404


class Conflict(TwinsightError):
    """The request conflicts with the current state (already exists, still referenced)."""

    code = "Conflict"
    status = 409


class PreconditionFailed(TwinsightError):
    """An ``If-Match`` / ``If-None-Match`` precondition did not hold."""

    code = "PreconditionFailed"
    status = 412


class PayloadTooLarge(TwinsightError):
    """A request body or document exceeds the configured size limit."""

    code = "PayloadTooLarge"
    status = 413


class Unauthorized(TwinsightError):
    """No valid credentials were presented."""

    code = "Unauthorized"
    status = 401


class Forbidden(TwinsightError):
    """The credentials are valid but lack the scope for the operation."""

    code = "Forbidden"
    status = 403


class StorageError(TwinsightError):
    """A storage backend failed (disk full, corrupt file, unreachable server)."""

    code = "StorageError"
    status = 503


class ConnectorError(TwinsightError):
    """A connector cannot reach or is refused by the system it talks to (MQTT broker refused
    the credentials, certificate rejected, port in use), raised instead of the protocol
    library's own exception so callers need not know which library is underneath."""

    code = "ConnectorError"
    status = 502


class SimulationError(TwinsightError):
    """A simulation model or scenario cannot go on: it diverged, raised, was given a
    parameter outside its bounds, or its FMU is broken or built for another platform.

    It names the model (and the scenario, where there is one) so the failure stays with that
    model or scenario: live twins and other scenarios carry on.
    """

    code = "SimulationError"
    status = 422

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        code: str | None = None,
        details: Sequence[dict[str, Any]] = (),
    ) -> None:
        prefix = f"model {model!r}: " if model and not message.startswith("model ") else ""
        super().__init__(prefix + message, code=code, details=details)
        self.model = model
