"""OpenAPI document: every operation lists the documented error responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mage_studio.errors import ErrorResponse

_ERROR_STATUSES = {
    "400": "Bad request or domain rule violated.",
    "401": "Missing, invalid, expired or revoked token.",
    "402": "Insufficient credits or balance.",
    "403": "Authenticated but not allowed.",
    "404": "Not found, or not yours.",
    "405": "Method not allowed.",
    "409": "Conflicts with the current state.",
    "413": "Too large.",
    "415": "Unsupported media type.",
    "422": "Validation failed; `validator` lists messages per field.",
    "429": "Rate limited; see `Retry-After`.",
    "500": "Unexpected server error.",
    "503": "A dependency (database, Redis, storage) is unavailable.",
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def _with_error_responses(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in _ERROR_STATUSES.items():
        existing = responses.get(status)
        if existing is None or status == "422":
            responses[status] = {
                "description": description,
                "content": {"application/json": {"schema": _ERROR_REF}},
            }


def _without_bodies(operation: dict[str, Any]) -> None:
    """Drop the response bodies of a HEAD operation, which sends headers only."""
    for response in operation["responses"].values():
        response.pop("content", None)


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's default validation error schema with the documented shape."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(
            ErrorResponse.model_json_schema(
                ref_template="#/components/schemas/{model}"
            ).get("$defs", {})
        )
        error_schema = ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        error_schema.pop("$defs", None)
        components["ErrorResponse"] = error_schema
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    _with_error_responses(operation)
                    if method == "head":
                        _without_bodies(operation)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
