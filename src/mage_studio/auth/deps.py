"""FastAPI dependencies that authenticate the caller and check roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mage_studio.auth.revocation import RevocationStore, family_key, jti_key
from mage_studio.auth.sessions import token_version_accepted
from mage_studio.auth.tokens import AccessClaims, decode_access_token
from mage_studio.config import Settings
from mage_studio.core.routing import DbSession
from mage_studio.errors import Forbidden, Unauthorized
from mage_studio.users.models import Role, User

bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login.")
REVOKED = "The access token has been revoked."


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


def get_revocations(request: Request) -> RevocationStore:
    store: RevocationStore = request.app.state.revocations
    return store


Revocations = Annotated[RevocationStore, Depends(get_revocations)]


def _token_from(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return None


async def authenticate(
    request: Request, session: DbSession, settings: Settings, token: str
) -> User:
    """Return the active user a valid, unrevoked access token belongs to."""
    claims = decode_access_token(settings, token)
    keys = [jti_key(claims.jti)]
    if claims.family is not None:
        keys.append(family_key(claims.family))
    if await get_revocations(request).any_revoked(session, keys):
        raise Unauthorized(REVOKED)
    user = await session.get(User, claims.user_id)
    if user is None or not user.active:
        raise Unauthorized("The account does not exist or is disabled.")
    if not token_version_accepted(user, claims):
        raise Unauthorized(REVOKED)
    request.state.user_id = user.id
    request.state.token_claims = claims
    return user


async def get_current_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    token = _token_from(credentials)
    if token is None:
        raise Unauthorized("Authentication is required.")
    return await authenticate(request, session, settings, token)


async def get_current_user_or_query_token(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """Like `get_current_user`, also accepting `?token=` (SSE and downloads)."""
    token = _token_from(credentials) or request.query_params.get("token")
    if not token:
        raise Unauthorized("Authentication is required.")
    return await authenticate(request, session, settings, token)


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentUserOrQueryToken = Annotated[User, Depends(get_current_user_or_query_token)]


def get_token_claims(request: Request, _: CurrentUser) -> AccessClaims:
    """Return the verified claims of the caller's access token."""
    claims: AccessClaims = request.state.token_claims
    return claims


TokenClaims = Annotated[AccessClaims, Depends(get_token_claims)]


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """Return a dependency that admits users holding any of `roles` (else 403)."""
    names = ", ".join(role.value for role in roles)

    async def check(user: CurrentUser) -> User:
        if not any(user.has_role(role) for role in roles):
            raise Forbidden(f"This action requires the {names} role.")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
