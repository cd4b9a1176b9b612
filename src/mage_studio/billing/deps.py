"""Request dependencies of the billing routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials

from mage_studio.auth.deps import AppSettings, CurrentUser, authenticate, bearer
from mage_studio.billing.accounts import open_user_accounts
from mage_studio.billing.schemas import INT32_MAX
from mage_studio.core.routing import DbSession
from mage_studio.users.models import User


async def get_optional_user(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The caller when a bearer token is sent (it must be valid), else None."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return await authenticate(request, session, settings, credentials.credentials)


async def get_account_holder(
    user: CurrentUser, session: DbSession, settings: AppSettings
) -> User:
    """Return the caller after opening their ledger accounts (and granting the
    sign-up credits) if missing."""
    await open_user_accounts(session, user.id, settings)
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
AccountHolder = Annotated[User, Depends(get_account_holder)]
RowIdPath = Annotated[int, Path(ge=1, le=INT32_MAX)]
