"""Checking provider tokens and reading the provider's user from them.

ID tokens are verified against the provider's JWKS: RS256 signature, issuer,
audience = one of our client ids, expiry, and the nonce when one is expected.
Access tokens are checked at the provider's token-info endpoint, which must confirm
that the token was issued to our app, before the profile is read with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import structlog
from email_validator import EmailNotValidError, validate_email

from mage_studio.auth.social.providers import Provider
from mage_studio.errors import ServiceUnavailable, Unauthorized, ValidationFailed

log = structlog.get_logger(__name__)

ID_TOKEN_ALGORITHMS = ["RS256"]
JWKS_TTL_SECONDS = 3600.0
# An unknown key id triggers a fresh download at most this often per JWKS URL.
JWKS_REFETCH_SECONDS = 60.0
LEEWAY_SECONDS = 30
HTTP_TIMEOUT_SECONDS = 10.0
# The width of social_accounts.provider_user_id.
MAX_SUBJECT_LENGTH = 255


class InvalidSocialToken(Unauthorized):
    message = "The sign-in token was rejected."


class SocialTokenNotSupported(ValidationFailed):
    """A token kind the provider does not accept: 422 on that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]})


@dataclass(frozen=True)
class SocialIdentity:
    """The provider's user: an opaque id string and the email it shares."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool


def _invalid(provider: Provider, reason: str) -> InvalidSocialToken:
    log.info("social_token_rejected", provider=provider.name, reason=reason)
    return InvalidSocialToken(f"The {provider.name} token was rejected.")


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)


async def _request(
    http: httpx.AsyncClient, provider: Provider, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    try:
        return await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning(
            "social_provider_unreachable", provider=provider.name, error=repr(exc)
        )
        raise ServiceUnavailable(
            f"The {provider.name} sign-in service is unreachable. Try again shortly."
        ) from exc


def _json_object(provider: Provider, response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise _invalid(provider, f"status {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise _invalid(provider, "response is not JSON") from exc
    if not isinstance(body, dict):
        raise _invalid(provider, "response is not an object")
    return body


class JwksCache:
    """Signing keys per JWKS URL, kept for an hour and refreshed on unknown ids."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}

    async def key(
        self, http: httpx.AsyncClient, provider: Provider, url: str, kid: str
    ) -> jwt.PyJWK:
        fetched_at, keys = self._keys.get(url, (0.0, {}))
        age = time.monotonic() - fetched_at
        if (kid not in keys and age > JWKS_REFETCH_SECONDS) or age > JWKS_TTL_SECONDS:
            keys = await self._fetch(http, provider, url)
        if kid not in keys:
            raise _invalid(provider, "unknown key id")
        return keys[kid]

    async def _fetch(
        self, http: httpx.AsyncClient, provider: Provider, url: str
    ) -> dict[str, jwt.PyJWK]:
        response = await _request(http, provider, "GET", url)
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The {provider.name} signing keys are unavailable."
            )
        try:
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (ValueError, jwt.PyJWTError) as exc:
            raise ServiceUnavailable(
                f"The {provider.name} signing keys are unreadable."
            ) from exc
        keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._keys[url] = (time.monotonic(), keys)
        return keys


async def verify_id_token(
    http: httpx.AsyncClient,
    jwks: JwksCache,
    provider: Provider,
    token: str,
    nonce: str | None,
) -> SocialIdentity:
    """Return the identity of a valid ID token issued to us by `provider`."""
    if provider.jwks_url is None:
        raise SocialTokenNotSupported(
            "id_token",
            f"{provider.name} sign-in takes an access_token, not an id_token.",
        )
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid(provider, "malformed ID token") from exc
    kid = header.get("kid")
    if header.get("alg") not in ID_TOKEN_ALGORITHMS or not isinstance(kid, str):
        raise _invalid(provider, "unexpected algorithm or key id")
    key = await jwks.key(http, provider, provider.jwks_url, kid)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ID_TOKEN_ALGORITHMS,
            audience=list(provider.client_ids),
            issuer=list(provider.issuers),
            options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise _invalid(provider, type(exc).__name__) from exc
    if nonce is not None and claims.get("nonce") != nonce:
        raise _invalid(provider, "nonce mismatch")
    authorized_party = claims.get("azp")
    if authorized_party is not None and authorized_party not in provider.client_ids:
        raise _invalid(provider, "authorized party is another app")
    return _identity_from_claims(provider, claims)


def _verified_flag(value: object) -> bool:
    # Google and Apple send booleans or the strings "true"/"false".
    return value is True or value == "true"


def _identity_from_claims(provider: Provider, claims: dict[str, Any]) -> SocialIdentity:
    return _identity(provider, claims.get("sub"), claims, claims.get("email_verified"))


async def identity_from_access_token(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    """Check at the provider that `token` belongs to our app, then read the user."""
    checks = {
        "google": _google_access_token,
        "facebook": _facebook_access_token,
        "discord": _discord_access_token,
        "github": _github_access_token,
    }
    check = checks.get(provider.name)
    if check is None or provider.token_info_url is None:
        raise SocialTokenNotSupported(
            "access_token",
            f"{provider.name} sign-in takes an id_token, not an access_token.",
        )
    return await check(http, provider, token)


async def profile_identity(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    """Read the user with an access token we obtained ourselves (code exchange)."""
    readers = {
        "google": _google_profile,
        "facebook": _facebook_profile,
        "discord": _discord_profile,
        "github": _github_profile,
    }
    reader = readers.get(provider.name)
    if reader is None or provider.userinfo_url is None:
        raise _invalid(provider, "no profile endpoint")
    return await reader(http, provider, token)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


async def _get_json(
    http: httpx.AsyncClient, provider: Provider, url: str, **kwargs: Any
) -> dict[str, Any]:
    return _json_object(provider, await _request(http, provider, "GET", url, **kwargs))


async def _bearer_profile(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> dict[str, Any]:
    """Read the provider's profile object, sending `token` as a bearer token."""
    assert provider.userinfo_url is not None
    return await _get_json(
        http, provider, provider.userinfo_url, headers=_bearer(token)
    )


async def _google_access_token(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    assert provider.token_info_url is not None
    info = await _get_json(
        http, provider, provider.token_info_url, params={"access_token": token}
    )
    audience = info.get("aud") or info.get("azp")
    if audience not in provider.client_ids:
        raise _invalid(provider, "token issued to another app")
    if _int(info.get("expires_in")) <= 0:
        raise _invalid(provider, "expired")
    return await _google_profile(http, provider, token)


async def _google_profile(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    profile = await _bearer_profile(http, provider, token)
    return _identity(
        provider, profile.get("sub"), profile, profile.get("email_verified")
    )


async def _facebook_access_token(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    assert provider.token_info_url is not None
    if provider.client_secret is None:
        raise _invalid(provider, "no app secret configured")
    app_token = f"{provider.client_id}|{provider.client_secret}"
    body = await _get_json(
        http,
        provider,
        provider.token_info_url,
        params={"input_token": token, "access_token": app_token},
    )
    data = body.get("data")
    if not isinstance(data, dict) or data.get("is_valid") is not True:
        raise _invalid(provider, "token not valid")
    if str(data.get("app_id")) not in provider.client_ids:
        raise _invalid(provider, "token issued to another app")
    expires_at = _int(data.get("expires_at"))
    if expires_at and expires_at <= datetime.now(UTC).timestamp():
        raise _invalid(provider, "expired")
    identity = await _facebook_profile(http, provider, token)
    if identity.subject != str(data.get("user_id")):
        raise _invalid(provider, "profile of another user")
    return identity


async def _facebook_profile(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    assert provider.userinfo_url is not None
    profile = await _get_json(
        http, provider, provider.userinfo_url, params={"access_token": token}
    )
    # Facebook shares only confirmed addresses.
    return _identity(provider, profile.get("id"), profile, True)


async def _discord_access_token(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    assert provider.token_info_url is not None
    info = await _get_json(
        http, provider, provider.token_info_url, headers=_bearer(token)
    )
    application = info.get("application")
    if not isinstance(application, dict):
        raise _invalid(provider, "no application in token info")
    if str(application.get("id")) not in provider.client_ids:
        raise _invalid(provider, "token issued to another app")
    return await _discord_profile(http, provider, token)


async def _discord_profile(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    profile = await _bearer_profile(http, provider, token)
    return _identity(provider, profile.get("id"), profile, profile.get("verified"))


async def _github_access_token(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    assert provider.token_info_url is not None
    if provider.client_secret is None:
        raise _invalid(provider, "no client secret configured")
    url = provider.token_info_url.replace("{client_id}", provider.client_id)
    response = await _request(
        http,
        provider,
        "POST",
        url,
        json={"access_token": token},
        auth=(provider.client_id, provider.client_secret),
        headers={"Accept": "application/vnd.github+json"},
    )
    info = _json_object(provider, response)
    app = info.get("app")
    if not isinstance(app, dict) or app.get("client_id") != provider.client_id:
        raise _invalid(provider, "token issued to another app")
    return await _github_profile(http, provider, token)


async def _github_profile(
    http: httpx.AsyncClient, provider: Provider, token: str
) -> SocialIdentity:
    assert provider.userinfo_url is not None
    profile = await _bearer_profile(http, provider, token)
    response = await _request(
        http, provider, "GET", provider.userinfo_url + "/emails", headers=_bearer(token)
    )
    email, verified = None, False
    if response.status_code == 200 and isinstance(emails := response.json(), list):
        primary = [
            entry
            for entry in emails
            if isinstance(entry, dict) and entry.get("primary") and entry.get("email")
        ]
        if primary:
            email, verified = primary[0]["email"], primary[0].get("verified") is True
    return _identity(provider, profile.get("id"), {"email": email}, verified)


def _identity(
    provider: Provider, subject: object, profile: dict[str, Any], verified: object
) -> SocialIdentity:
    # Ids stay strings: Google subjects exceed 64 bits, and JSON numbers (GitHub)
    # are turned into their decimal text, never parsed into a narrower type.
    if not isinstance(subject, str | int) or isinstance(subject, bool):
        raise _invalid(provider, "profile without id")
    text = str(subject)
    if not 0 < len(text) <= MAX_SUBJECT_LENGTH or "\x00" in text:
        raise _invalid(provider, "unusable id")
    return SocialIdentity(
        provider=provider.name,
        subject=text,
        email=_valid_email(profile.get("email")),
        email_verified=_verified_flag(verified),
    )


def _valid_email(value: object) -> str | None:
    """Return the provider's address lower-cased, or None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


async def exchange_code(
    http: httpx.AsyncClient,
    jwks: JwksCache,
    provider: Provider,
    code: str,
    nonce: str,
    code_verifier: str | None,
) -> SocialIdentity:
    """Trade an authorization code for tokens and return the provider's user."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": provider.redirect_uri,
        "client_id": provider.client_id,
    }
    if provider.client_secret:
        form["client_secret"] = provider.client_secret
    if code_verifier:
        form["code_verifier"] = code_verifier
    response = await _request(
        http,
        provider,
        "POST",
        provider.token_url,
        data=form,
        headers={"Accept": "application/json"},
    )
    tokens = _json_object(provider, response)
    id_token = tokens.get("id_token")
    if provider.oidc and isinstance(id_token, str):
        return await verify_id_token(http, jwks, provider, id_token, nonce)
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str):
        raise _invalid(provider, "no access token in code exchange")
    return await profile_identity(http, provider, access_token)
