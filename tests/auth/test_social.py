"""Social login against a fake provider running on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.auth.models import SocialAccount
from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.auth.factories import bearer, login, register
from tests.auth.fixtures import client_for
from tests.auth.oauth_provider import OTHER_CLIENT_ID, AccessGrant, FakeProvider
from tests.auth.smtp import SmtpServer
from tests.conftest import empty_tables, make_settings

PROVIDERS = ("google", "facebook", "discord", "github", "apple")
# A Google subject and a Discord snowflake: both beyond 64-bit integers' safe range.
BIG_ID = "118364793650193847561"


@pytest.fixture
def settings(
    database_url: str,
    storage_root: Path,
    smtp_server: SmtpServer,
    oauth_provider: FakeProvider,
    tmp_path: Path,
) -> Settings:
    smtp_server.clear()
    return make_settings(
        database_url,
        storage_root,
        smtp_url=smtp_server.url,
        log_path=tmp_path / "log",
        oauth_providers={name: oauth_provider.settings_for(name) for name in PROVIDERS},
    )


async def _sign_in(
    client: httpx.AsyncClient, provider: str, **body: str
) -> httpx.Response:
    return await client.post(f"/api/auth/social/{provider}", json=body)


def _profile(provider: str, subject: str, email: str | None) -> dict[str, Any]:
    if provider == "google":
        return {"sub": subject, "email": email, "email_verified": True}
    if provider == "discord":
        return {"id": subject, "email": email, "verified": True}
    if provider == "github":
        return {"id": int(subject), "login": "octocat"}
    return {"id": subject, "email": email}


def _grant(provider: str, subject: str, email: str | None, app: str) -> AccessGrant:
    emails = [{"email": email, "primary": True, "verified": True}] if email else []
    return AccessGrant(
        app=app, profile=_profile(provider, subject, email), emails=emails
    )


# ID tokens.


async def test_id_token_signs_up_then_in(
    client: httpx.AsyncClient, oauth_provider: FakeProvider, session: AsyncSession
) -> None:
    token = oauth_provider.id_token(BIG_ID, email="Maria@Example.com")

    first = await _sign_in(client, "google", id_token=token)
    second = await _sign_in(client, "google", id_token=token)

    assert first.status_code == 200, first.text
    assert second.status_code == 200
    payload = first.json()["data"]
    assert set(payload) == {"accessToken", "tokenType", "expiresIn", "refreshToken"}
    me = (
        await client.get("/api/auth/me", headers=bearer(payload["accessToken"]))
    ).json()
    assert me["data"]["email"] == "maria@example.com"
    assert me["data"]["google_id"] == BIG_ID
    assert me["data"]["emailVerified"] is True
    links = list(await session.scalars(select(SocialAccount)))
    assert [(link.provider, link.provider_user_id) for link in links] == [
        ("google", BIG_ID)
    ]


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("wrong audience", {"audience": OTHER_CLIENT_ID}),
        ("wrong issuer", {"issuer": "https://attacker.example"}),
        ("expired", {"expires_in": -3600}),
        ("unpublished key", {"key": "foreign"}),
        ("unknown key id", {"kid": "no-such-key"}),
    ],
)
async def test_bad_id_token_is_401(
    client: httpx.AsyncClient,
    oauth_provider: FakeProvider,
    case: str,
    options: dict[str, Any],
) -> None:
    if options.get("key") == "foreign":
        options = {**options, "key": oauth_provider.foreign_key}
    token = oauth_provider.id_token("12345", email="x@example.com", **options)

    response = await _sign_in(client, "google", id_token=token)

    assert response.status_code == 401, case
    assert response.json()["error"]["message"] == "The google token was rejected."


async def test_id_token_with_hmac_algorithm_is_401(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    import jwt

    forged = jwt.encode(
        {
            "iss": oauth_provider.issuer,
            "aud": "mage-client-id",
            "sub": "1",
            "exp": 2**31,
        },
        "a guessable secret that is long enough for hs256",
        algorithm="HS256",
        headers={"kid": oauth_provider.kid},
    )
    assert (await _sign_in(client, "google", id_token=forged)).status_code == 401


async def test_id_token_nonce_is_checked(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    token = oauth_provider.id_token("777", email="n@example.com", nonce="expected")
    wrong = await _sign_in(client, "apple", id_token=token, nonce="other")
    right = await _sign_in(client, "apple", id_token=token, nonce="expected")
    assert wrong.status_code == 401
    assert right.status_code == 200


# Access tokens.


@pytest.mark.parametrize("provider", ["google", "facebook", "discord", "github"])
async def test_access_token_sign_in(
    client: httpx.AsyncClient,
    oauth_provider: FakeProvider,
    session: AsyncSession,
    provider: str,
) -> None:
    subject = "9007199254740993123"
    token = oauth_provider.access_token(
        _grant(provider, subject, f"{provider}@example.com", "mage-client-id")
    )

    response = await _sign_in(client, provider, access_token=token)

    assert response.status_code == 200, response.text
    link = await session.scalar(select(SocialAccount))
    assert link is not None
    assert link.provider == provider
    assert link.provider_user_id == subject


@pytest.mark.parametrize("provider", ["google", "facebook", "discord", "github"])
async def test_other_apps_access_token_is_401(
    client: httpx.AsyncClient, oauth_provider: FakeProvider, provider: str
) -> None:
    token = oauth_provider.access_token(
        _grant(provider, "4242", "victim@example.com", OTHER_CLIENT_ID)
    )

    response = await _sign_in(client, provider, access_token=token)

    assert response.status_code == 401


@pytest.mark.parametrize("provider", ["google", "facebook", "discord", "github"])
async def test_unknown_access_token_is_401(
    client: httpx.AsyncClient, provider: str
) -> None:
    assert (await _sign_in(client, provider, access_token="forged")).status_code == 401


async def test_token_flow_needs_exactly_one_token(client: httpx.AsyncClient) -> None:
    neither = await _sign_in(client, "google")
    both = await _sign_in(client, "google", id_token="a", access_token="b")
    assert neither.status_code == both.status_code == 422


async def test_unsupported_token_kind_is_422(client: httpx.AsyncClient) -> None:
    id_token = await _sign_in(client, "github", id_token="x.y.z")
    access_token = await _sign_in(client, "apple", access_token="abc")

    assert id_token.status_code == 422
    assert list(id_token.json()["error"]["validator"]) == ["id_token"]
    assert access_token.status_code == 422
    assert list(access_token.json()["error"]["validator"]) == ["access_token"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/social/myspace",
        "/api/myspace/auth",
        "/api/myspace/callback?code=a&state=b",
    ],
)
async def test_unknown_provider_is_404(client: httpx.AsyncClient, path: str) -> None:
    method = "POST" if "social" in path else "GET"
    response = await client.request(method, path, json={"access_token": "x"})
    assert response.status_code == 404


async def test_unconfigured_provider_is_404(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.oauth_providers.pop("discord")
    response = await client.get("/api/discord/auth")
    assert response.status_code == 404


# Accounts.


async def test_existing_email_is_not_signed_into(
    client: httpx.AsyncClient, oauth_provider: FakeProvider, session: AsyncSession
) -> None:
    _, email = await register(client)
    token = oauth_provider.id_token("31337", email=email)

    response = await _sign_in(client, "google", id_token=token)

    assert response.status_code == 409
    assert "link" in response.json()["error"]["message"]
    assert list(await session.scalars(select(SocialAccount))) == []


async def test_link_then_sign_in_then_unlink(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    headers = bearer(tokens["accessToken"])
    token = oauth_provider.id_token(BIG_ID, email=email)

    linked = await client.post(
        "/api/auth/social/google/link", headers=headers, json={"id_token": token}
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["data"]["google_id"] == BIG_ID

    signed_in = await _sign_in(client, "google", id_token=token)
    assert signed_in.status_code == 200
    me = await client.get(
        "/api/auth/me", headers=bearer(signed_in.json()["data"]["accessToken"])
    )
    assert me.json()["data"]["email"] == email

    unlinked = await client.delete("/api/auth/social/google/link", headers=headers)
    assert unlinked.status_code == 200
    assert unlinked.json()["data"]["google_id"] is None
    assert (await _sign_in(client, "google", id_token=token)).status_code == 409
    missing = await client.delete("/api/auth/social/google/link", headers=headers)
    assert missing.status_code == 404


async def test_link_of_someone_elses_account_is_409(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    token = oauth_provider.id_token("555", email="first@example.com")
    assert (await _sign_in(client, "google", id_token=token)).status_code == 200
    _, email = await register(client)
    tokens = await login(client, email)

    response = await client.post(
        "/api/auth/social/google/link",
        headers=bearer(tokens["accessToken"]),
        json={"id_token": token},
    )

    assert response.status_code == 409


async def test_link_needs_auth(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    token = oauth_provider.id_token("556", email="x@example.com")
    response = await client.post(
        "/api/auth/social/google/link", json={"id_token": token}
    )
    assert response.status_code == 401


async def test_only_sign_in_method_cannot_be_unlinked(
    client: httpx.AsyncClient, oauth_provider: FakeProvider, session: AsyncSession
) -> None:
    token = oauth_provider.id_token("600", email="only@example.com")
    tokens = (await _sign_in(client, "google", id_token=token)).json()["data"]
    user = await session.scalar(select(User).where(User.email == "only@example.com"))
    assert user is not None
    assert user.password_hash is None
    await session.commit()

    response = await client.delete(
        "/api/auth/social/google/link", headers=bearer(tokens["accessToken"])
    )

    assert response.status_code == 409


async def test_discord_id_in_user(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    token = oauth_provider.access_token(
        _grant("discord", BIG_ID, "gamer@example.com", "mage-client-id")
    )
    tokens = (await _sign_in(client, "discord", access_token=token)).json()["data"]
    me = await client.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
    assert me.json()["data"]["discord_id"] == BIG_ID
    assert me.json()["data"]["google_id"] is None


async def test_provider_without_email_is_422(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    token = oauth_provider.access_token(_grant("github", "77", None, "mage-client-id"))
    response = await _sign_in(client, "github", access_token=token)
    assert response.status_code == 422


# Redirect flow.


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def test_redirect_flow_with_pkce_and_nonce(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    started = await client.get("/api/google/auth")
    assert started.status_code == 200
    url = started.json()["url"]
    params = _query(url)
    assert url.startswith(f"{oauth_provider.base}/authorize?")
    assert params["client_id"] == "mage-client-id"
    assert params["redirect_uri"] == "http://testserver/api/google/callback"
    assert params["code_challenge_method"] == "S256"

    id_token = oauth_provider.id_token(
        "8080", email="redirect@example.com", nonce=params["nonce"]
    )
    code = oauth_provider.add_code("at-unused", id_token, params["code_challenge"])
    callback = await client.get(
        "/api/google/callback", params={"code": code, "state": params["state"]}
    )

    assert callback.status_code == 200, callback.text
    assert set(callback.json()["data"]) == {
        "accessToken",
        "tokenType",
        "expiresIn",
        "refreshToken",
    }
    exchange = oauth_provider.token_requests[-1]
    assert exchange["client_secret"] == "mage-client-secret"
    assert exchange["redirect_uri"] == "http://testserver/api/google/callback"

    replay_code = oauth_provider.add_code(
        "at-unused", id_token, params["code_challenge"]
    )
    replay = await client.get(
        "/api/google/callback", params={"code": replay_code, "state": params["state"]}
    )
    assert replay.status_code == 400


async def _replay_state_after_failed_exchange(
    settings: Settings, oauth_provider: FakeProvider
) -> tuple[httpx.Response, httpx.Response, int]:
    """Fail a callback's code exchange, then reuse its state with a valid code.

    Returns both callbacks and the code exchanges the replay reached.
    """
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            started = await client.get("/api/google/auth")
            params = _query(started.json()["url"])
            failed = await client.get(
                "/api/google/callback",
                params={"code": "unknown", "state": params["state"]},
            )
            exchanges = len(oauth_provider.token_requests)
            id_token = oauth_provider.id_token(
                "8082", email="replay@example.com", nonce=params["nonce"]
            )
            code = oauth_provider.add_code(
                "at-unused", id_token, params["code_challenge"]
            )
            replay = await client.get(
                "/api/google/callback", params={"code": code, "state": params["state"]}
            )
    finally:
        await empty_tables(application.state.database)
        await application.state.revocations.close()
        await application.state.rate_limiter.close()
        await application.state.database.dispose()
    return failed, replay, len(oauth_provider.token_requests) - exchanges


async def test_state_spent_by_failed_exchange(
    settings: Settings, oauth_provider: FakeProvider
) -> None:
    failed, replay, exchanges = await _replay_state_after_failed_exchange(
        settings, oauth_provider
    )

    assert failed.status_code == 401
    assert replay.status_code == 400
    assert exchanges == 0


async def test_state_spent_by_failed_exchange_redis(
    settings: Settings, oauth_provider: FakeProvider, redis_url: str
) -> None:
    with_redis = settings.model_copy(update={"redis_url": redis_url})

    failed, replay, exchanges = await _replay_state_after_failed_exchange(
        with_redis, oauth_provider
    )

    assert failed.status_code == 401
    assert replay.status_code == 400
    assert exchanges == 0


async def test_redirect_flow_rejects_foreign_nonce(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    params = _query((await client.get("/api/google/auth")).json()["url"])
    id_token = oauth_provider.id_token("8081", email="n@example.com", nonce="stolen")
    code = oauth_provider.add_code("at-unused", id_token, params["code_challenge"])

    callback = await client.get(
        "/api/google/callback", params={"code": code, "state": params["state"]}
    )

    assert callback.status_code == 401


async def test_redirect_flow_by_profile(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    params = _query((await client.get("/api/v2/discord/auth")).json()["url"])
    access = oauth_provider.access_token(
        _grant("discord", "123456789012345678", "d@example.com", "mage-client-id")
    )
    code = oauth_provider.add_code(access, None, None)

    callback = await client.get(
        "/api/v2/discord/callback", params={"code": code, "state": params["state"]}
    )

    assert callback.status_code == 200, callback.text


@pytest.mark.parametrize(
    "query",
    [
        {"code": "c", "state": "forged"},
        {"state": "x"},
        {"error": "access_denied"},
    ],
)
async def test_bad_callback(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    response = await client.get("/api/google/callback", params=query)
    assert response.status_code in {400, 422}


async def test_state_of_other_provider_is_rejected(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    params = _query((await client.get("/api/github/auth")).json()["url"])
    code = oauth_provider.add_code("at-unused", None, None)
    response = await client.get(
        "/api/discord/callback", params={"code": code, "state": params["state"]}
    )
    assert response.status_code == 400


async def test_apple_form_post_callback(
    client: httpx.AsyncClient, oauth_provider: FakeProvider
) -> None:
    params = _query((await client.get("/api/apple/auth")).json()["url"])
    assert params["response_mode"] == "form_post"
    id_token = oauth_provider.id_token(
        "001234.abcdef", email="relay@privaterelay.example", nonce=params["nonce"]
    )
    code = oauth_provider.add_code("at-unused", id_token, None)

    response = await client.post(
        "/api/apple/callback", data={"code": code, "state": params["state"]}
    )

    assert response.status_code == 200, response.text
