"""Helpers that drive the account endpoints the way a client does."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.auth.fixtures import Mailbox

PASSWORD = "s3cret-passphrase"
_numbers = itertools.count(1)

# The paths of one API version, keyed by action.
V1 = {
    "register": "/api/auth/register",
    "verify": "/api/auth/verified-email",
    "login": "/api/auth/login",
    "refresh": "/api/auth/refresh",
    "logout": "/api/auth/logout",
    "me": "/api/auth/me",
    "change-password": "/api/auth/change-password",
    "forgot": "/api/auth/forgot-password",
    "reset": "/api/auth/reset-password",
}
V2_SHORT = {
    "register": "/api/v2/register",
    "verify": "/api/v2/auth/verified-email",
    "login": "/api/v2/login",
    "refresh": "/api/v2/auth/refresh",
    "logout": "/api/v2/logout",
    "me": "/api/v2/me",
    "change-password": "/api/v2/auth/change-password",
    "forgot": "/api/v2/password-forgot",
    "reset": "/api/v2/password-reset",
}
V2_AUTH = {
    action: path.replace("/api/auth/", "/api/v2/auth/") for action, path in V1.items()
}


def new_email() -> str:
    return f"person{next(_numbers)}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: httpx.AsyncClient,
    email: str | None = None,
    password: str = PASSWORD,
    paths: dict[str, str] = V1,
    **extra: Any,
) -> tuple[int, str]:
    """Register an account; return (id, email)."""
    email = email or new_email()
    body = {"email": email, "password": password, "password_confirmation": password}
    response = await client.post(paths["register"], json={**body, **extra})
    assert response.status_code == 201, response.text
    return int(response.json()["data"]["id"]), email.strip().lower()


async def verify(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    email: str,
    paths: dict[str, str] = V1,
) -> None:
    mail = await mailbox.last(email)
    body = {"id": int(mail.link_param("id")), "hash": mail.link_param("hash")}
    response = await client.post(paths["verify"], json=body)
    assert response.status_code == 200, response.text


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    paths: dict[str, str] = V1,
) -> dict[str, Any]:
    """Log in; return the login payload."""
    response = await client.post(
        paths["login"], json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]
    return payload


async def signed_up(
    client: httpx.AsyncClient, mailbox: Mailbox | None = None
) -> tuple[int, str, dict[str, Any]]:
    """Register (and verify, given a mailbox) and log in; return (id, email, tokens)."""
    user_id, email = await register(client)
    if mailbox is not None:
        await verify(client, mailbox, email)
    return user_id, email, await login(client, email)
