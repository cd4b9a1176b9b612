"""The whole account flow on every API version, and what responses never contain."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.models import PasswordResetToken, RefreshToken
from mage_studio.users.models import User
from tests.auth.factories import (
    PASSWORD,
    V1,
    V2_AUTH,
    V2_SHORT,
    bearer,
    new_email,
)
from tests.auth.fixtures import Mailbox

USER_KEYS = {
    "id",
    "email",
    "login",
    "profile_image",
    "online",
    "confirmSendEmail",
    "balance",
    "credits",
    "roles",
    "emailVerified",
    "passwordResetAdmin",
    "google_id",
    "discord_id",
    "createdAt",
}


class Recorder:
    """Sends requests and keeps every response body for the secrecy check."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.bodies: list[tuple[str, str]] = []

    async def send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        self.bodies.append((url, response.text))
        return response


@pytest.mark.parametrize("paths", [V1, V2_SHORT, V2_AUTH], ids=["v1", "v2", "v2-auth"])
async def test_account_flow(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    session: AsyncSession,
    paths: dict[str, str],
) -> None:
    http = Recorder(client)
    email = new_email()

    registered = await http.send(
        "POST",
        paths["register"],
        json={"email": email, "password": PASSWORD, "password_confirmation": PASSWORD},
    )
    assert registered.status_code == 201
    user_id = registered.json()["data"]["id"]
    assert registered.json() == {"data": {"id": user_id}}

    mail = await mailbox.last(email)
    assert mail.subject == "Verify your email address"
    assert int(mail.link_param("id")) == user_id
    verified = await http.send(
        "POST", paths["verify"], json={"id": user_id, "hash": mail.link_param("hash")}
    )
    assert verified.status_code == 200
    assert verified.json() == {"data": {"msg": "OK"}}

    logged_in = await http.send(
        "POST", paths["login"], json={"email": email.upper(), "password": PASSWORD}
    )
    assert logged_in.status_code == 200
    tokens = logged_in.json()["data"]
    assert set(tokens) == {"accessToken", "tokenType", "expiresIn", "refreshToken"}
    assert tokens["tokenType"] == "bearer"
    assert tokens["expiresIn"] == 900

    me = await http.send("GET", paths["me"], headers=bearer(tokens["accessToken"]))
    assert me.status_code == 200
    user = me.json()["data"]
    assert set(user) == USER_KEYS
    assert user["id"] == user_id
    assert user["email"] == email
    assert user["login"] == email
    assert user["emailVerified"] is True
    assert user["roles"] == ["user"]
    assert user["balance"] == 0
    assert user["credits"] == 0

    refreshed = await http.send(
        "POST", paths["refresh"], json={"refreshToken": tokens["refreshToken"]}
    )
    assert refreshed.status_code == 200
    renewed = refreshed.json()["data"]
    assert renewed["refreshToken"] != tokens["refreshToken"]
    assert renewed["accessToken"] != tokens["accessToken"]
    me_again = await http.send(
        "GET", paths["me"], headers=bearer(renewed["accessToken"])
    )
    assert me_again.status_code == 200

    logout = await http.send(
        "POST", paths["logout"], headers=bearer(renewed["accessToken"])
    )
    assert logout.status_code == 200
    assert logout.json() == {"data": {"msg": "Logged out Successfully."}}

    after_logout = await http.send(
        "GET", paths["me"], headers=bearer(renewed["accessToken"])
    )
    assert after_logout.status_code == 401
    # The first access token belongs to the same family, which logout revoked.
    first_token = await http.send(
        "GET", paths["me"], headers=bearer(tokens["accessToken"])
    )
    assert first_token.status_code == 401
    refresh_after_logout = await http.send(
        "POST", paths["refresh"], json={"refreshToken": renewed["refreshToken"]}
    )
    assert refresh_after_logout.status_code == 401

    await _assert_no_secrets(session, http.bodies, user_id)


async def _assert_no_secrets(
    session: AsyncSession, bodies: list[tuple[str, str]], user_id: int
) -> None:
    user = await session.get(User, user_id)
    assert user is not None
    assert user.password_hash is not None
    hashes = list(
        await session.scalars(
            select(RefreshToken.token_hash).where(RefreshToken.user_id == user_id)
        )
    )
    for url, body in bodies:
        assert user.password_hash not in body, url
        assert "$argon2" not in body, url
        assert PASSWORD not in body, url
        for token_hash in hashes:
            assert token_hash not in body, url
        # Only the login and refresh payloads may carry tokens.
        if not url.endswith(("/login", "/refresh")):
            assert "Token" not in json.dumps(json.loads(body or "{}")), url


async def test_forgot_and_reset_flow_on_v2(
    client: httpx.AsyncClient, mailbox: Mailbox, session: AsyncSession
) -> None:
    http = Recorder(client)
    email = new_email()
    await http.send(
        "POST",
        V2_SHORT["register"],
        json={"email": email, "password": PASSWORD, "password_confirmation": PASSWORD},
    )

    forgot = await http.send("POST", V2_SHORT["forgot"], json={"email": email})
    assert forgot.status_code == 204
    assert forgot.content == b""
    mail = await mailbox.last(email)
    assert mail.subject == "Reset your password"

    new_password = "another passphrase"
    reset = await http.send(
        "POST",
        V2_SHORT["reset"],
        json={
            "email": email,
            "token": mail.link_param("token"),
            "password": new_password,
            "password_confirmation": new_password,
        },
    )
    assert reset.status_code == 204
    login = await http.send(
        "POST", V2_SHORT["login"], json={"email": email, "password": new_password}
    )
    assert login.status_code == 200

    stored = list(await session.scalars(select(PasswordResetToken.token_hash)))
    for url, body in http.bodies:
        assert mail.link_param("token") not in body, url
        for token_hash in stored:
            assert token_hash not in body, url
