"""Every failure answered in the Azure Digital Twins error format.

``{"error": {"code": ..., "message": ..., "details": [...]}}`` with the same code in the
``x-ms-error-code`` header, which is what Azure's SDKs read to build their exceptions.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest, TwinsightError

log = logging.getLogger(__name__)


def error_response(error: TwinsightError) -> JsonResponse:
    return JsonResponse(
        error.to_body(), status_code=error.status, headers={"x-ms-error-code": error.code}
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TwinsightError)
    async def _twinsight(_: Request, exc: TwinsightError) -> JsonResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return error_response(BadRequest(f"invalid request: {problems}", code="InvalidArgument"))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JsonResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        err = TwinsightError(str(exc.detail), code=code)
        response = error_response(err)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JsonResponse:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return error_response(TwinsightError("an unexpected error occurred; see the server log"))
