"""RFC 9457 problem+json for every error the service returns, rendered in one place.

Domain packages raise subclasses of :class:`AppError`; FastAPI validation errors, unknown routes,
wrong methods and unhandled exceptions are all turned into the same shape here.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.validation import CONTROL_CHARACTER_PATTERNS

logger = logging.getLogger("app.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(app: Any, slug: str) -> str:
    """Return a problem's `type` URI: the app's problem type base (see `problem_type_base`) + slug."""
    return getattr(getattr(app, "state", None), "problem_type_base", "/problems/") + slug


def problem_type_base(configured: str | None, domains: list[str]) -> str:
    """Return the base of problem `type` URIs: POLICY_PROBLEM_TYPE_BASE, else the organisation's domain.

    Types identify the kind of problem, so they stay the same in every deployment (clients compare
    them); they are not links into one deployment.
    """
    if configured:
        return configured.rstrip("/") + "/"
    return f"https://{domains[0]}/problems/" if domains else "/problems/"


class FieldProblem(BaseModel):
    """One offending input field of a validation problem."""

    field: str = Field(description="Dotted location of the field, e.g. `body.author.role`.")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "https://example.org/problems/not-found",
                "title": "Not Found",
                "status": 404,
                "detail": "screening 6f1c… does not exist",
                "instance": "/v1/screenings/6f1c…",
                "request_id": "9b2f5c0e8a7d4c1e",
            }
        },
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class AppError(Exception):
    """Base for every domain error; subclasses fix the status, type slug and title."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class BadRequest(AppError):
    """The request could not be parsed (bad JSON, bad cursor)."""

    status, slug, title = 400, "bad-request", "Bad Request"


class Unauthorized(AppError):
    """No token, or a token that does not verify."""

    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}, **extra)


class Forbidden(AppError):
    """A valid token that lacks the scope the operation needs."""

    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    """The resource does not exist (or is not visible to the caller)."""

    status, slug, title = 404, "not-found", "Not Found"


class Conflict(AppError):
    """The request conflicts with the current state (step not allowed, duplicate)."""

    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(AppError):
    """The `If-Match` version is stale."""

    status, slug, title = 412, "precondition-failed", "Precondition Failed"


class PayloadTooLarge(AppError):
    """The request body is over `max_body_bytes` (a text or batch over its own limit is a 422)."""

    status, slug, title = 413, "payload-too-large", "Content Too Large"


class UnsupportedMediaType(AppError):
    """The body is in a media type the operation does not accept."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class Unprocessable(AppError):
    """Well-formed but semantically invalid input (names the field)."""

    status, slug, title = 422, "validation-error", "Unprocessable Content"


class PreconditionRequired(AppError):
    """The operation needs `If-Match` and none was sent."""

    status, slug, title = 428, "precondition-required", "Precondition Required"


class TooManyRequests(AppError):
    """The caller is rate limited."""

    status, slug, title = 429, "rate-limited", "Too Many Requests"


class ServiceUnavailable(AppError):
    """A dependency (the database) is not ready."""

    status, slug, title = 503, "unavailable", "Service Unavailable"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Render one problem+json response; the only place the shape is built."""
    body: dict[str, Any] = {
        "type": problem_type(request.app, slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": _request_id(request),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


_STATUS_SLUGS = {
    400: ("bad-request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    406: ("not-acceptable", "Not Acceptable"),
    413: ("payload-too-large", "Content Too Large"),
    415: ("unsupported-media-type", "Unsupported Media Type"),
}


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        **exc.extra,
    )


def _is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _unsupported_media_type(request: Request, errors: Any) -> str | None:
    """Return the media type the operation accepts when the body was sent as something else."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None or not any(tuple(err.get("loc", ()))[:1] == ("body",) for err in errors):
        return None
    sent = request.headers.get("content-type")
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if sent is None and not has_body:
        return None  # no body at all: a missing body is a validation problem (422)
    expected = str(getattr(body_field.field_info, "media_type", None) or "application/json")
    media_type = (sent or "").split(";", 1)[0].strip().lower()
    if _is_json_media_type(expected):
        accepted = _is_json_media_type(media_type)
    else:
        accepted = media_type in (expected, "multipart/form-data")
    return None if accepted else expected


def _message(err: dict[str, Any]) -> str:
    # The shared no-control-characters pattern reads badly as a regex; say what it means.
    if (
        err.get("type") == "string_pattern_mismatch"
        and (err.get("ctx") or {}).get("pattern") in CONTROL_CHARACTER_PATTERNS
    ):
        return "must not contain control characters (tab, LF and CR are allowed in prose)"
    return str(err.get("msg", ""))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    # A body in another media type (text/plain, a form to a JSON operation, JSON to the token form,
    # or no Content-Type at all) is 415, so the client learns what to send rather than a vague 422.
    expected = _unsupported_media_type(request, errors)
    if expected is not None:
        sent = request.headers.get("content-type")
        said = f"was sent as {sent}" if sent else "has no Content-Type"
        return problem_response(
            request,
            status=415,
            slug="unsupported-media-type",
            title="Unsupported Media Type",
            detail=f"The body {said}; send it as {expected}.",
            headers={"Accept-Post": expected} if request.method == "POST" else None,
            accepted_media_type=expected,
        )
    # Unparseable JSON reaches us as a validation error; it is a malformed request (400).
    if any(err.get("type") == "json_invalid" for err in errors):
        return problem_response(
            request,
            status=400,
            slug="malformed-json",
            title="Bad Request",
            detail="The request body is not valid JSON.",
            errors=[{"field": "body", "message": "invalid JSON", "type": "json_invalid"}],
        )
    fields = [
        {"field": _field_name(err.get("loc", ())), "message": _message(err), "type": err.get("type", "")}
        for err in errors
    ]
    names = ", ".join(sorted({f["field"] for f in fields}))
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Unprocessable Content",
        detail=f"Invalid input: {names}",
        errors=fields,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP Error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's wording for invalid UTF-8, nesting too deep to decode, and similar.
        slug = "malformed-json"
        detail = "The request body could not be parsed: send UTF-8 encoded JSON."
    return problem_response(request, status=exc.status_code, slug=slug, title=title, detail=detail, headers=exc.headers)


DATABASE_RETRY_AFTER_SECONDS = 5
# PostgreSQL SQLSTATE classes of an unavailable server: connection exception, operator intervention
# (shutdown, cancel), system error. SQLite's wordings of a file that cannot be used.
_UNREACHABLE_SQLSTATE_CLASSES = ("08", "57", "58")
_SQLITE_UNREACHABLE = ("unable to open database", "disk i/o error", "malformed", "not a database")
_READ_ONLY_SQLSTATE = "25006"  # PostgreSQL: read_only_sql_transaction (a standby, or read-only by setting)


def database_trouble(exc: BaseException) -> str | None:
    """Name why the database cannot serve (`unreachable`, `read-only`, `full`, `busy`), or None for a bug.

    Only the exception's type, SQLSTATE and the driver's own wording are read: never the statement
    or its parameters, which can carry post text.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return "busy"  # the connection pool stayed exhausted
    if isinstance(exc, sa_exc.DisconnectionError):
        return "unreachable"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    wording = str(orig.args[0] if orig is not None and orig.args else "").lower()
    if getattr(orig, "sqlstate", None) == _READ_ONLY_SQLSTATE or "readonly" in wording or "read-only" in wording:
        return "read-only"
    if "disk is full" in wording or "no space left" in wording or getattr(orig, "sqlstate", None) == "53100":
        return "full"
    if "database is locked" in wording:
        return "busy"
    if isinstance(exc, sa_exc.InterfaceError) or exc.connection_invalidated:
        return "unreachable"
    if isinstance(exc, sa_exc.OperationalError):
        # OperationalError also covers a missing table or a syntax error (SQLite): bugs, not outages.
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate:
            return "unreachable" if sqlstate[:2] in _UNREACHABLE_SQLSTATE_CLASSES else None
        if isinstance(orig, sqlite3.Error):
            return "unreachable" if any(w in wording for w in _SQLITE_UNREACHABLE) else None
        return "unreachable"  # no SQLSTATE: the server never answered (refused, reset, timed out)
    return None


def note_database_trouble(app: Any, reason: str) -> None:
    """Remember when a request last failed on the database, so `/readyz` re-checks writes at once."""
    app.state.database_trouble_at = time.monotonic()
    app.state.database_trouble = reason


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # Handled here rather than by the catch-all: Starlette re-raises what reaches the catch-all so
    # that the server logs it too, and uvicorn's traceback would print the driver's message, which
    # can quote row values (a summary, a phone number). Our formatter withholds those messages.
    reason = database_trouble(exc)
    if reason is None:
        return await _unhandled(request, exc)
    note_database_trouble(request.app, reason)
    orig = getattr(exc, "orig", None)
    logger.warning(
        "database unavailable",
        extra={
            "request_id": _request_id(request),
            "path": request.url.path,
            "reason": reason,
            "error_type": type(orig if orig is not None else exc).__name__,
        },
    )
    return problem_response(
        request,
        status=503,
        slug="database-unavailable",
        title="Service Unavailable",
        detail=f"The database is {reason}; retry after the Retry-After seconds.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        database=reason,
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log; the request body never does.
    logger.error(
        "unhandled exception",
        exc_info=exc,
        extra={"request_id": _request_id(request), "path": request.url.path, "method": request.method},
    )
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal Server Error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on the application."""
    app.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unhandled)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return the `responses=` entries documenting each status as problem+json."""
    descriptions = {
        400: "Malformed request: unparseable JSON or a bad cursor.",
        401: "Missing, expired or invalid bearer token.",
        403: "The token lacks the scope this operation needs.",
        404: "The resource does not exist.",
        409: "The request conflicts with the current state.",
        412: "The `If-Match` version is stale; re-read and retry.",
        413: "The request body is over the size limit (`POLICY_MAX_BODY_BYTES`); longer texts and batches are 422.",
        415: "The body is not in the media type this operation accepts.",
        422: "Validation failed; `errors` names each offending field.",
        428: "`If-Match` is required for this operation.",
        429: "Too many requests; retry after the `Retry-After` seconds.",
        503: "The service or its database is not available (unreachable, read-only or full); retry after "
        "`Retry-After` seconds.",
    }
    return {
        status: {
            "description": descriptions.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def location_header(template: str) -> dict[str, dict[str, Any]]:
    """Return the `headers` entry documenting a `Location` that names the resource, e.g. `/v1/incidents/{id}`."""
    return {
        "Location": {
            "description": f"Path of the resource: `{template}`.",
            "schema": {"type": "string", "format": "uri-reference"},
        }
    }


def created_response(description: str, location: str) -> dict[int | str, dict[str, Any]]:
    """Return the `responses=` entry for a 201 whose `Location` header names the new resource.

    `location` is the path template, e.g. `/v1/incidents/{id}`; the body schema comes from `response_model`.
    """
    return {201: {"description": description, "headers": location_header(location)}}


# The statuses every authenticated operation can return.
COMMON_ERRORS = (400, 401, 403, 413, 422, 503)


def problem_schema_components() -> dict[str, Any]:
    """Return the component schemas for `Problem` and `FieldProblem`, for the OpenAPI document."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}
