"""FastAPI dependencies that authenticate the caller and check roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mage_studio.auth.tokens import AccessClaims, decode_access_token
from mage_studio.config import Settings
from mage_studio.core.routing import DbSession
from mage_studio.errors import Forbidden, Unauthorized
from mage_studio.users.models import Role, User

bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login.")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


def _token_from(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return None


async def _is_revoked(request: Request, claims: AccessClaims) -> bool:
    store = getattr(request.app.state, "revocations", None)
    if store is None:
        return False
    revoked: bool = await store.is_revoked(claims)
    return revoked


async def authenticate(
    request: Request, session: DbSession, settings: Settings, token: str
) -> User:
    """Return the active user a valid, unrevoked access token belongs to."""
    claims = decode_access_token(settings, token)
    if await _is_revoked(request, claims):
        raise Unauthorized("The access token has been revoked.")
    user = await session.get(User, claims.user_id)
    if user is None or not user.active:
        raise Unauthorized("The account does not exist or is disabled.")
    valid_after = user.tokens_valid_after
    if valid_after is not None and claims.issued_at < valid_after.replace(
        microsecond=0
    ):
        raise Unauthorized("The access token has been revoked.")
    request.state.user_id = user.id
    request.state.token_claims = claims
    return user


async def get_current_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    token = _token_from(request, credentials)
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
    token = _token_from(request, credentials) or request.query_params.get("token")
    if not token:
        raise Unauthorized("Authentication is required.")
    return await authenticate(request, session, settings, token)


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentUserOrQueryToken = Annotated[User, Depends(get_current_user_or_query_token)]


def require_role(role: Role) -> Callable[[User], Awaitable[User]]:
    async def check(user: CurrentUser) -> User:
        if not user.has_role(role):
            raise Forbidden(f"This action requires the {role.value} role.")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
