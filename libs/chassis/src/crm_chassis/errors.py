"""RFC 9457 problem details: one error hierarchy, one renderer, handlers for everything else.

Services raise `AppError` subclasses; FastAPI's own validation errors, Starlette's HTTP errors and
anything unexpected are rendered in the same shape, so a client never sees another error format.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_chassis.context import current_public_path, current_request_id

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("crm.errors")


class AppError(Exception):
    """A failure the client can act on. `code` is stable and documented; `detail` is for people."""

    status: int = 400
    code: str = "bad_request"
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.errors = list(errors) if errors else None
        self.headers = headers or {}
        self.extra = extra


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class Gone(AppError):
    status, code = 410, "gone"


class PreconditionFailed(AppError):
    status, code = 412, "precondition_failed"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class Unprocessable(AppError):
    status, code = 422, "validation_failed"

    @classmethod
    def field(cls, name: str, code: str, message: str) -> Unprocessable:
        """A 422 about one field, in the same `errors[]` shape as request validation."""
        return cls(f"invalid input: {name}: {message}", errors=[{"field": name, "code": code, "message": message}])


class PreconditionRequired(AppError):
    status, code = 428, "precondition_required"


class TooManyRequests(AppError):
    status, code = 429, "rate_limited"


class NotAvailable(AppError):
    status, code = 501, "not_implemented"


class ServiceUnavailable(AppError):
    status, code = 503, "service_unavailable"


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{code.replace('_', '-')}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance if instance is not None else current_public_path(),
        "code": code,
        "request_id": current_request_id(),
    }
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extra)
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, instance=instance, **kwargs),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


LOCATIONS = ("body", "query", "path", "header", "cookie")
WHOLE = "$"  # the name of a whole location: `body.$` is the body itself (missing, not JSON)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def qualified_field(field: object, request: Request | None = None) -> str:
    """An error's `field` as `location.name` (`body.amount`, `query.from`).

    Services name most fields bare (`amount`); the location is the route's: a name the route
    declares as a query or path parameter is `query.`/`path.`, anything else is the body's.
    """
    name = "" if field is None else str(field)
    head = name.split(".", 1)[0]
    if head in LOCATIONS:
        return name if "." in name else f"{name}.{WHOLE}"
    if not name:
        return f"body.{WHOLE}"
    route = request.scope.get("route") if request is not None else None
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        if head in _param_names(dependant, "query_params"):
            return f"query.{name}"
        if head in _param_names(dependant, "path_params"):
            return f"path.{name}"
    return f"body.{name}"


def _param_names(dependant: Any, kind: str) -> set[str]:
    names = {field.alias for field in getattr(dependant, kind)}
    for sub in dependant.dependencies:
        names |= _param_names(sub, kind)
    return names


def qualify_errors(errors: Sequence[dict[str, Any]], request: Request | None = None) -> list[dict[str, Any]]:
    return [{**error, "field": qualified_field(error.get("field"), request)} for error in errors]


def _allowed_values(err: Any) -> list[str] | None:
    """The values an enum or literal accepts, from pydantic's `expected` ("'a', 'b' or 'c'")."""
    expected = (err.get("ctx") or {}).get("expected")
    if err.get("type") not in {"enum", "literal_error"} or not isinstance(expected, str):
        return None
    return _QUOTED.findall(expected) or None


def public_path(request: Request) -> str:
    """The path the client called: through the gateway, with its public prefix."""
    return current_public_path() or request.url.path


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        kind = err.get("type", "invalid")
        if kind == "json_invalid":
            out.append({"field": f"body.{WHOLE}", "code": "json_invalid", "message": "the body is not valid JSON"})
            continue
        message = err.get("msg", "invalid value")
        allowed = _allowed_values(err)
        if allowed:
            message = f"unknown value; allowed: {', '.join(allowed)}"
        out.append({"field": ".".join(loc), "code": kind, "message": message})
    return out


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status,
        exc.code,
        exc.detail,
        instance=public_path(request),
        headers=exc.headers,
        title=exc.title,
        errors=qualify_errors(exc.errors, request) if exc.errors is not None else None,
        **exc.extra,
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = qualify_errors(_field_errors(exc), request)
    names = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        422, "validation_failed", f"invalid input: {names}", instance=public_path(request), errors=errors
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
}


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(
        exc.status_code,
        _HTTP_CODES.get(exc.status_code, "http_error"),
        detail,
        instance=public_path(request),
        headers=dict(exc.headers or {}),
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(500, "internal_error", "an unexpected error occurred", instance=public_path(request))


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as problem+json."""
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, unexpected_error)
