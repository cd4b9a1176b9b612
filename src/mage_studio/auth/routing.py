"""Registering one endpoint under its v1 path and its v2 mirrors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

V1_PREFIX = "/api/auth"
V2_PREFIX = "/api/v2/auth"


def auth_paths(name: str, *v2_aliases: str) -> list[str]:
    """Return `/api/auth/<name>`, `/api/v2/auth/<name>` and `/api/v2/<alias>`s."""
    return [
        f"{V1_PREFIX}/{name}",
        f"{V2_PREFIX}/{name}",
        *(f"/api/v2/{alias}" for alias in v2_aliases),
    ]


def mirrored(
    router: APIRouter, method: str, paths: list[str], **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """Add the decorated endpoint to `router` under each of `paths`."""

    def register(endpoint: Endpoint) -> Endpoint:
        for path in paths:
            router.add_api_route(path, endpoint, methods=[method], **options)
        return endpoint

    return register
