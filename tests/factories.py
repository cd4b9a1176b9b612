"""Small factories that build objects for tests through the real models."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.passwords import hash_password
from mage_studio.auth.tokens import create_access_token
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.users.models import Role, User

DEFAULT_PASSWORD = "correct horse battery"
_counter = itertools.count(1)
_password_hash = hash_password(DEFAULT_PASSWORD)


async def create_user(
    session: AsyncSession,
    *,
    email: str | None = None,
    login: str | None = None,
    roles: list[str] | None = None,
    verified: bool = True,
    password_hash: str | None = None,
) -> User:
    """Insert a user with DEFAULT_PASSWORD (hashed once per run) and flush."""
    number = next(_counter)
    email = email or f"user{number}@example.com"
    user = User(
        email=email.lower(),
        login=login or email.lower(),
        password_hash=password_hash or _password_hash,
        email_verified_at=utcnow() if verified else None,
    )
    user.set_roles(roles or [Role.USER.value])
    session.add(user)
    await session.flush()
    return user


async def create_admin(session: AsyncSession, **kwargs: object) -> User:
    return await create_user(session, roles=[Role.ADMIN.value], **kwargs)  # type: ignore[arg-type]


def auth_headers(settings: Settings, user: User) -> dict[str, str]:
    token = create_access_token(settings, user.id).token
    return {"Authorization": f"Bearer {token}"}
