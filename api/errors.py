"""One table from error class to HTTP status and stable error code, merged from each layer's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import GEO_ERRORS, PlannerError
from layers.errors import LAYERS_ERRORS, AuthError, StoreUnavailableError, VersionConflictError

__all__ = ["ERROR_TABLE", "HTTP_CODES", "ApiError", "error_body", "install_error_handlers", "status_for"]

log = logging.getLogger(__name__)

# Each layer's own table (titiler's packages add theirs the same way); the handler walks an
# exception's MRO, so the order does not matter.
ERROR_TABLE: dict[type[PlannerError], tuple[int, str]] = {**GEO_ERRORS, **LAYERS_ERRORS}


# The framework's own errors (unknown path, wrong method, ...) in the same shape.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "timeout",
    409: "conflict",
    412: "precondition_failed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    428: "precondition_required",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error raised by the api layer itself (authentication, preconditions, budgets).

    Parameters
    ----------
    status
        HTTP status.
    code
        Stable error code.
    message
        What was wrong and how to fix it.
    headers
        Extra response headers (``WWW-Authenticate``, ``ETag``).
    extra
        Extra members of the error body.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (errors come back from compute workers)."""
        return (_rebuild_api_error, (self.status, self.code, self.message, self.headers, self.extra))


def _rebuild_api_error(
    status: int, code: str, message: str, headers: dict[str, str], extra: dict[str, Any]
) -> ApiError:
    return ApiError(status, code, message, headers=headers, extra=extra)


def status_for(exc: PlannerError) -> tuple[int, str]:
    """Return the HTTP status and error code of a planner error."""
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return 400, "planner_error"


def error_body(status: int, code: str, message: str, **extra: object) -> dict[str, Any]:
    """Return the JSON body every error response has."""
    return {"error": {"status": status, "code": code, "message": message, **extra}}


def _invalid_request(request: Request, errors: Sequence[Any]) -> JSONResponse:
    """Return the 422 of invalid fields, each named with its location."""
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
    msg = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details)
    body = error_body(422, "invalid_request", msg[:2000], details=details[:50], request_id=_rid(request))
    return JSONResponse(body, status_code=422)


def _rid(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error, the framework's included, into one JSON shape."""

    @app.exception_handler(PlannerError)
    async def planner_error(request: Request, exc: PlannerError) -> JSONResponse:
        status, code = status_for(exc)
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if isinstance(exc, VersionConflictError):
            extra["current_version"] = exc.current_version
            headers["etag"] = f'"v{exc.current_version}"'
        if isinstance(exc, AuthError):
            headers["www-authenticate"] = 'Bearer realm="venue-planner"'
        if isinstance(exc, StoreUnavailableError):
            headers["retry-after"] = str(exc.retry_after_s)
        body = error_body(status, code, str(exc), request_id=_rid(request), **extra)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = error_body(exc.status, exc.code, exc.message, request_id=_rid(request), **exc.extra)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid_request(request, exc.errors())

    @app.exception_handler(ValidationError)
    async def model_error(request: Request, exc: ValidationError) -> JSONResponse:
        # A model built inside a route from already-parsed parameters (e.g. GET /routes' closures).
        return _invalid_request(request, exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404:
            msg = f"no such path: {request.url.path[:200]}; see /docs for the API."
        elif exc.status_code == 405:
            msg = f"{request.method} is not allowed on {request.url.path[:200]}; see /docs for the methods."
        else:
            msg = str(exc.detail)
        body = error_body(exc.status_code, code, msg, request_id=_rid(request))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = _rid(request)
        if isinstance(exc, RecursionError):  # an uploaded file's JSON nested past the parser's depth
            body = error_body(
                400, "too_deep", "the file's JSON is nested deeper than this service parses.", request_id=rid
            )
            return JSONResponse(body, status_code=400)
        log.exception("%s unexpected error on %s %s", rid, request.method, request.url.path)
        body = error_body(
            500,
            "internal_error",
            f"the service failed on this request; report request id {rid} to its operators.",
            request_id=rid,
        )
        return JSONResponse(body, status_code=500, headers={"x-request-id": rid})
