"""Social login endpoints: redirect flow, SDK token flow, link and unlink."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request

from mage_studio.auth.deps import AppSettings, CurrentUser, Revocations
from mage_studio.auth.routing import auth_paths, mirrored
from mage_studio.auth.schemas import AuthorizationUrl, LoginPayload, SocialTokenRequest
from mage_studio.auth.social import service
from mage_studio.auth.social.providers import Provider, authorization_url, get_provider
from mage_studio.auth.social.verify import JwksCache, SocialIdentity
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope
from mage_studio.errors import BadRequest, ValidationFailed
from mage_studio.users import service as users
from mage_studio.users.schemas import UserRead

router = APIRouter(route_class=DbRoute, tags=["social login"])

REDIRECT_PATHS = ["/api/{provider}/auth", "/api/v2/{provider}/auth"]
CALLBACK_PATHS = ["/api/{provider}/callback", "/api/v2/{provider}/callback"]
Text = Annotated[str | None, Query(max_length=4096)]
FormText = Annotated[str | None, Form(max_length=4096)]


def _provider(provider: str, settings: AppSettings) -> Provider:
    return get_provider(settings, provider)


ConfiguredProvider = Annotated[Provider, Depends(_provider)]


def _jwks(request: Request) -> JwksCache:
    cache: JwksCache = request.app.state.jwks_cache
    return cache


Jwks = Annotated[JwksCache, Depends(_jwks)]


@mirrored(router, "GET", REDIRECT_PATHS, response_model=AuthorizationUrl)
async def redirect_url(
    provider: ConfiguredProvider, settings: AppSettings
) -> AuthorizationUrl:
    """Return the provider's sign-in page URL, with a signed state that expires.

    Providers: google, facebook, discord, github, apple, when configured; 404
    otherwise. The provider sends the browser back to the callback.
    """
    return AuthorizationUrl(url=authorization_url(settings, provider))


async def _callback(
    session: DbSession,
    settings: AppSettings,
    store: Revocations,
    jwks: JwksCache,
    provider: Provider,
    values: dict[str, str | None],
) -> Envelope[LoginPayload]:
    if values.get("error"):
        raise BadRequest(f"The {provider.name} sign-in was cancelled or failed.")
    code, state = values.get("code"), values.get("state")
    if not code or not state:
        field = "code" if not code else "state"
        raise ValidationFailed.field(field, "This field is required.")
    nonce = await service.spend_state(session, settings, store, provider, state)
    # Commit the spent state before calling the provider, so it stays spent when the
    # exchange or the sign-in fails, and no write transaction waits on the provider.
    await session.commit()
    identity = await service.identity_from_code(settings, jwks, provider, code, nonce)
    issued = await service.sign_in(session, settings, identity)
    return Envelope(data=issued.payload())


@mirrored(router, "GET", CALLBACK_PATHS, response_model=Envelope[LoginPayload])
async def callback(
    provider: ConfiguredProvider,
    session: DbSession,
    settings: AppSettings,
    store: Revocations,
    jwks: Jwks,
    code: Text = None,
    state: Text = None,
    error: Text = None,
) -> Envelope[LoginPayload]:
    """Finish the redirect flow: check the state, exchange the code, sign in.

    The account is found by the provider's user id. A new provider account
    creates a user, unless its email belongs to an existing account: then 409,
    and the owner signs in and links the provider instead.
    """
    values = {"code": code, "state": state, "error": error}
    return await _callback(session, settings, store, jwks, provider, values)


@mirrored(router, "POST", CALLBACK_PATHS, response_model=Envelope[LoginPayload])
async def callback_form(
    provider: ConfiguredProvider,
    session: DbSession,
    settings: AppSettings,
    store: Revocations,
    jwks: Jwks,
    code: FormText = None,
    state: FormText = None,
    error: FormText = None,
) -> Envelope[LoginPayload]:
    """The callback for providers that post it as a form (Apple)."""
    values = {"code": code, "state": state, "error": error}
    return await _callback(session, settings, store, jwks, provider, values)


async def _identity(
    provider: Provider, jwks: JwksCache, body: SocialTokenRequest
) -> SocialIdentity:
    return await service.identity_from_token(
        jwks,
        provider,
        id_token=body.id_token,
        access_token=body.access_token,
        nonce=body.nonce,
    )


@mirrored(
    router,
    "POST",
    auth_paths("social/{provider}"),
    response_model=Envelope[LoginPayload],
)
async def token_sign_in(
    body: SocialTokenRequest,
    provider: ConfiguredProvider,
    session: DbSession,
    settings: AppSettings,
    jwks: Jwks,
) -> Envelope[LoginPayload]:
    """Sign in with a token from the provider's SDK (`id_token` or `access_token`).

    ID tokens are checked against the provider's keys (signature, issuer,
    audience = our client id, expiry); access tokens at the provider, which must
    confirm they were issued to our app. Accounts are found as in the callback.
    """
    identity = await _identity(provider, jwks, body)
    issued = await service.sign_in(session, settings, identity)
    return Envelope(data=issued.payload())


@mirrored(
    router,
    "POST",
    auth_paths("social/{provider}/link"),
    response_model=Envelope[UserRead],
)
async def link(
    body: SocialTokenRequest,
    provider: ConfiguredProvider,
    user: CurrentUser,
    session: DbSession,
    jwks: Jwks,
) -> Envelope[UserRead]:
    """Link a provider account to the caller (token checked as for sign-in).

    409 when that provider account is linked to someone else, or the caller
    already has another account of this provider linked.
    """
    identity = await _identity(provider, jwks, body)
    await service.link(session, user, identity)
    return Envelope(data=await users.user_read(session, user))


@mirrored(
    router,
    "DELETE",
    auth_paths("social/{provider}/link"),
    response_model=Envelope[UserRead],
)
async def unlink(
    provider: ConfiguredProvider, user: CurrentUser, session: DbSession
) -> Envelope[UserRead]:
    """Unlink the caller's account of this provider; 404 when none is linked.

    409 when it is the only way to sign in (no password set).
    """
    await service.unlink(session, user, provider.name)
    return Envelope(data=await users.user_read(session, user))
