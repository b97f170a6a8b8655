"""One table from error class to HTTP status and stable error code."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from geo.errors import (
    CRSError,
    DataSourceError,
    InvalidGeometryError,
    InvalidInputError,
    NetworkImportError,
    NoRouteError,
    NotFoundError,
    OutsideCoverageError,
    PlannerError,
    RegistrationError,
)

__all__ = ["ERROR_TABLE", "error_body", "install_error_handlers", "status_for"]

# Most specific first is not required: the handler walks the exception's MRO.
ERROR_TABLE: dict[type[PlannerError], tuple[int, str]] = {
    NotFoundError: (404, "not_found"),
    InvalidInputError: (422, "invalid_input"),
    CRSError: (422, "crs_error"),
    InvalidGeometryError: (422, "invalid_geometry"),
    OutsideCoverageError: (422, "outside_coverage"),
    NoRouteError: (422, "no_route"),
    NetworkImportError: (422, "network_import_failed"),
    DataSourceError: (503, "data_unavailable"),
    RegistrationError: (500, "registration_failed"),
    PlannerError: (400, "planner_error"),
}


def status_for(exc: PlannerError) -> tuple[int, str]:
    """Return the HTTP status and error code of a planner error."""
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return 400, "planner_error"


def error_body(status: int, code: str, message: str, **extra: object) -> dict[str, Any]:
    """Return the JSON body every error response has."""
    return {"error": {"status": status, "code": code, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into stable JSON answers."""

    @app.exception_handler(PlannerError)
    async def planner_error(_: Request, exc: PlannerError) -> JSONResponse:
        status, code = status_for(exc)
        return JSONResponse(error_body(status, code, str(exc)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        msg = "; ".join(f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in details)
        return JSONResponse(error_body(422, "invalid_request", msg, details=details), status_code=422)
