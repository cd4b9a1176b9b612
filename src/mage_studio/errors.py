"""The one error base class and the handlers that render the documented error shape.

Every error response is `{"error": {"message", "code", "validator"?}}`. `code` is the
HTTP status unless a domain code applies, and `validator` (field names as the client
sent them, nested fields dotted) appears only on 422 validation failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

log = structlog.get_logger(__name__)


class ErrorBody(BaseModel):
    message: str = Field(description="Human-readable sentence.")
    code: int = Field(description="HTTP status, or a domain code (1001–1013).")
    validator: dict[str, list[str]] | None = Field(
        default=None, description="Messages per field, on 422 validation failures."
    )


class ErrorResponse(BaseModel):
    """The single error shape of the API."""

    error: ErrorBody


def _error_body(
    status_code: int,
    message: str,
    *,
    code: int | None,
    validator: dict[str, list[str]] | None,
) -> dict[str, Any]:
    """Build the documented error shape, whose `code` falls back to the HTTP status."""
    error: dict[str, Any] = {"message": message, "code": code or status_code}
    if validator is not None:
        error["validator"] = validator
    return {"error": error}


class AppError(Exception):
    """Base of every expected failure; carries its HTTP status and code."""

    status_code: int = 400
    code: int | None = None
    message: str = "Bad request."
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        code: int | None = None,
        validator: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        if headers is not None:
            self.headers = headers
        self.validator = validator
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return _error_body(
            self.status_code, self.message, code=self.code, validator=self.validator
        )


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    """Missing, invalid, expired or revoked credentials."""

    status_code = 401
    message = "Unauthenticated."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    status_code = 403
    message = "You are not allowed to do this."
    code = 1008


class NotFound(AppError):
    """Unknown object, or an object that belongs to someone else."""

    status_code = 404
    message = "Not found."


class Conflict(AppError):
    status_code = 409
    message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    code = 1013
    message = "Invalid state transition."


class PaymentRequired(AppError):
    status_code = 402
    message = "Insufficient credits."
    code = 1011


class PayloadTooLarge(AppError):
    status_code = 413
    message = "The upload is too large."


class UnsupportedMedia(AppError):
    status_code = 415
    message = "Unsupported media type."


class ValidationFailed(AppError):
    """A 422 raised by a service for one or more fields."""

    status_code = 422
    message = "The given data was invalid."

    def __init__(self, validator: dict[str, list[str]], message: str | None = None):
        first = next(iter(validator.values()), [None])[0]
        super().__init__(message or first or self.message, validator=validator)

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls({name: [message]})

    @classmethod
    def named(cls, validator: dict[str, list[str]]) -> ValidationFailed:
        """Build a 422 whose message starts with the first invalid field's name
        ("cfgScale: ..."), as request validation errors do. A problem with the body
        as a whole keeps its bare message."""
        name, messages = next(iter(validator.items()))
        message = messages[0] if name == "body" else f"{name}: {messages[0]}"
        return cls(validator, message)

    @classmethod
    def named_field(cls, name: str, message: str) -> ValidationFailed:
        return cls.named({name: [message]})


class TooManyRequests(AppError):
    status_code = 429
    message = "Too many requests. Try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status_code = 503
    message = "A service the API depends on is unavailable. Try again shortly."


def error_response(
    status_code: int,
    message: str,
    *,
    code: int | None = None,
    validator: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = _error_body(status_code, message, code=code, validator=validator)
    return JSONResponse(body, status_code=status_code, headers=headers)


def field_name(location: Sequence[int | str]) -> str:
    """Join a Pydantic error location into the dotted name the client sent."""
    parts = list(location)
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "Invalid value."))
    # Pydantic prefixes messages of custom validators with "Value error, ".
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if error.get("type") == "missing":
        return "This field is required."
    return message[:1].upper() + message[1:]


def validation_errors(errors: Sequence[Any]) -> dict[str, list[str]]:
    validator: dict[str, list[str]] = {}
    for error in errors:
        location = error.get("loc", ())
        # A JSON body that is not an object reports no field of its own.
        if error.get("type") == "json_invalid":
            validator.setdefault("body", []).append("The body is not valid JSON.")
            continue
        name = field_name(location)
        messages = validator.setdefault(name, [])
        message = _validation_message(error)
        if message not in messages:
            messages.append(message)
    return validator


def _is_database_busy(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _is_connection_failure(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    original = exc.orig
    return isinstance(original, OSError | ConnectionError) or (
        "connection" in type(original).__name__.lower()
        or "cannot connect" in str(original).lower()
        or "connection refused" in str(original).lower()
    )


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    validator = validation_errors(exc.errors())
    first_field, messages = next(iter(validator.items()), ("body", ["Invalid."]))
    message = f"{first_field}: {messages[0]}" if first_field != "body" else messages[0]
    return error_response(422, message, validator=validator)


async def _http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {
        404: "The requested resource was not found.",
        405: "The method is not allowed for this resource.",
    }
    message = messages.get(exc.status_code) or str(exc.detail)
    if exc.status_code not in messages and exc.detail in (None, ""):
        message = HTTPStatus(exc.status_code).phrase
    return error_response(
        exc.status_code, message, headers=getattr(exc, "headers", None)
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity_conflict", path=request.url.path, error=str(exc.__cause__))
    return error_response(
        409, "The request conflicts with existing data (a duplicate or a reference)."
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _is_database_busy(exc) or _is_connection_failure(exc):
        log.warning("database_unavailable", path=request.url.path, error=str(exc.orig))
        return error_response(
            503,
            "The database is busy or unavailable. Try again shortly.",
            headers={"Retry-After": "1"},
        )
    return await _unexpected_error(request, exc)


async def _connection_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency_unavailable", path=request.url.path, error=repr(exc))
    return error_response(
        503,
        "A service the API depends on is unavailable. Try again shortly.",
        headers={"Retry-After": "1"},
    )


async def _client_disconnect(request: Request, exc: Exception) -> JSONResponse:
    # The client closed the connection before sending the whole body (for example an
    # interrupted upload). It is a client fault, so it is logged at info, not as a 500.
    log.info("client_disconnected", path=request.url.path, method=request.method)
    return error_response(
        400, "The client disconnected before the request body was complete."
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error_response(request.method, request.url.path, exc)


def unexpected_error_response(
    method: str, path: str, exc: BaseException
) -> JSONResponse:
    """Log an unhandled exception (the request id is bound) and hide its details."""
    log.error("unhandled_exception", path=path, method=method, exc_info=exc)
    return error_response(500, "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the documented shape."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _connection_error)
    app.add_exception_handler(TimeoutError, _connection_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
