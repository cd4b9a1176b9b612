"""Social login providers: public endpoints, settings overrides, state and PKCE.

A provider is enabled by an entry in `settings.oauth_providers`; every URL there
overrides the public default below (tests point them at a local fake provider).
"""

# ruff: noqa: S106 (the provider endpoint URLs named token_* are not secrets)

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from mage_studio.auth.tokens import (
    InvalidPurposeToken,
    read_purpose_token,
    sign_purpose_token,
)
from mage_studio.config import OAuthProviderSettings, Settings
from mage_studio.errors import BadRequest, NotFound

STATE_PURPOSE = "oauth-state"
STATE_TTL_SECONDS = 600


@dataclass(frozen=True)
class ProviderDefaults:
    authorize_url: str
    token_url: str
    userinfo_url: str | None
    jwks_url: str | None
    token_info_url: str | None
    issuers: tuple[str, ...]
    scopes: tuple[str, ...]
    # OpenID Connect: the code exchange returns an ID token bound to our nonce.
    oidc: bool = False
    pkce: bool = False
    # Apple posts the callback as a form when scopes are requested.
    form_post: bool = False


DEFAULTS: dict[str, ProviderDefaults] = {
    "google": ProviderDefaults(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        userinfo_url="https://openidconnect.googleapis.com/v1/userinfo",
        jwks_url="https://www.googleapis.com/oauth2/v3/certs",
        token_info_url="https://oauth2.googleapis.com/tokeninfo",
        issuers=("https://accounts.google.com", "accounts.google.com"),
        scopes=("openid", "email", "profile"),
        oidc=True,
        pkce=True,
    ),
    "apple": ProviderDefaults(
        authorize_url="https://appleid.apple.com/auth/authorize",
        token_url="https://appleid.apple.com/auth/token",
        userinfo_url=None,
        jwks_url="https://appleid.apple.com/auth/keys",
        token_info_url=None,
        issuers=("https://appleid.apple.com",),
        scopes=("name", "email"),
        oidc=True,
        form_post=True,
    ),
    "facebook": ProviderDefaults(
        authorize_url="https://www.facebook.com/v19.0/dialog/oauth",
        token_url="https://graph.facebook.com/v19.0/oauth/access_token",
        userinfo_url="https://graph.facebook.com/me?fields=id,name,email",
        # Limited Login issues OIDC ID tokens signed with these keys.
        jwks_url="https://limited.facebook.com/.well-known/oauth/openid/jwks/",
        token_info_url="https://graph.facebook.com/debug_token",
        issuers=("https://www.facebook.com", "https://limited.facebook.com"),
        scopes=("email", "public_profile"),
    ),
    "discord": ProviderDefaults(
        authorize_url="https://discord.com/oauth2/authorize",
        token_url="https://discord.com/api/oauth2/token",
        userinfo_url="https://discord.com/api/users/@me",
        jwks_url=None,
        token_info_url="https://discord.com/api/oauth2/@me",
        issuers=(),
        scopes=("identify", "email"),
    ),
    "github": ProviderDefaults(
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        userinfo_url="https://api.github.com/user",
        jwks_url=None,
        token_info_url="https://api.github.com/applications/{client_id}/token",
        issuers=(),
        scopes=("read:user", "user:email"),
    ),
}


@dataclass(frozen=True)
class Provider:
    """A configured provider: defaults merged with its settings."""

    name: str
    client_id: str
    client_secret: str | None
    client_ids: tuple[str, ...]
    authorize_url: str
    token_url: str
    userinfo_url: str | None
    jwks_url: str | None
    token_info_url: str | None
    issuers: tuple[str, ...]
    scopes: tuple[str, ...]
    redirect_uri: str
    oidc: bool
    pkce: bool
    form_post: bool


def _merge(
    name: str, defaults: ProviderDefaults, config: OAuthProviderSettings, base: str
) -> Provider:
    return Provider(
        name=name,
        client_id=config.client_id,
        client_secret=config.client_secret,
        client_ids=(config.client_id, *config.extra_client_ids),
        authorize_url=config.authorize_url or defaults.authorize_url,
        token_url=config.token_url or defaults.token_url,
        userinfo_url=config.userinfo_url or defaults.userinfo_url,
        # Settings move endpoints but cannot add a kind of token the provider
        # does not issue (GitHub and Discord have no ID tokens, Apple no token info).
        jwks_url=(config.jwks_url or defaults.jwks_url) if defaults.jwks_url else None,
        token_info_url=(config.token_info_url or defaults.token_info_url)
        if defaults.token_info_url
        else None,
        issuers=tuple(config.issuers or defaults.issuers),
        scopes=tuple(config.scopes if config.scopes is not None else defaults.scopes),
        redirect_uri=config.redirect_uri or f"{base}/api/{name}/callback",
        oidc=defaults.oidc,
        pkce=defaults.pkce,
        form_post=defaults.form_post,
    )


def get_provider(settings: Settings, name: str) -> Provider:
    """Return the configured provider `name`; 404 when unknown or not configured."""
    defaults = DEFAULTS.get(name)
    config = settings.oauth_providers.get(name)
    if defaults is None or config is None:
        raise NotFound("This sign-in provider is not available.")
    return _merge(name, defaults, config, settings.base_url)


class InvalidState(BadRequest):
    message = "The sign-in state is invalid or has expired. Start the sign-in again."


@dataclass(frozen=True)
class State:
    token: str
    nonce: str


def new_state(settings: Settings, provider: Provider) -> State:
    """Sign a short-lived state naming the provider and carrying a fresh nonce."""
    nonce = secrets.token_urlsafe(24)
    token = sign_purpose_token(
        settings, STATE_PURPOSE, provider.name, STATE_TTL_SECONDS, {"nonce": nonce}
    )
    return State(token=token, nonce=nonce)


def read_state(settings: Settings, provider: Provider, token: str) -> str:
    """Return the nonce of a valid state issued for `provider`; 400 otherwise."""
    try:
        claims = read_purpose_token(settings, STATE_PURPOSE, token)
    except InvalidPurposeToken as exc:
        raise InvalidState() from exc
    nonce = claims.get("nonce")
    if claims["sub"] != provider.name or not isinstance(nonce, str):
        raise InvalidState()
    return nonce


def pkce_verifier(settings: Settings, nonce: str) -> str:
    """Derive the PKCE code verifier from the state's nonce (nothing is stored)."""
    digest = hmac.new(
        settings.jwt_secret.encode(), f"pkce:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(settings: Settings, provider: Provider) -> str:
    """Return the provider's sign-in page URL with a signed state (and nonce)."""
    state = new_state(settings, provider)
    params = {
        "client_id": provider.client_id,
        "redirect_uri": provider.redirect_uri,
        "response_type": "code",
        "scope": " ".join(provider.scopes),
        "state": state.token,
    }
    if provider.oidc:
        params["nonce"] = state.nonce
    if provider.pkce:
        params["code_challenge"] = pkce_challenge(pkce_verifier(settings, state.nonce))
        params["code_challenge_method"] = "S256"
    if provider.form_post and provider.scopes:
        params["response_mode"] = "form_post"
    separator = "&" if "?" in provider.authorize_url else "?"
    return f"{provider.authorize_url}{separator}{urlencode(params)}"
