"""The caller's own account: `GET` and `PATCH` of `/api/auth/me` and its mirrors."""

from __future__ import annotations

from fastapi import APIRouter

from mage_studio.auth import service as auth_service
from mage_studio.auth.deps import AppSettings, CurrentUser
from mage_studio.auth.routing import auth_paths, mirrored
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope
from mage_studio.users import service
from mage_studio.users.models import User
from mage_studio.users.schemas import ProfileUpdate, UserRead

router = APIRouter(route_class=DbRoute, tags=["account"])

ME_PATHS = auth_paths("me", "me")


@mirrored(router, "GET", ME_PATHS, response_model=Envelope[UserRead])
async def read_me(user: CurrentUser, session: DbSession) -> Envelope[UserRead]:
    """Return the caller's account."""
    return Envelope(data=await service.user_read(session, user))


@mirrored(router, "PATCH", ME_PATHS, response_model=Envelope[UserRead])
async def update_me(
    body: ProfileUpdate, user: CurrentUser, session: DbSession, settings: AppSettings
) -> Envelope[UserRead]:
    """Change `login`, `email` or `confirmSendEmail`; other fields are ignored.

    A new email is unverified until the link mailed to it is opened. Logins and
    emails are unique (422 when taken); logins are compared ignoring case and
    Unicode compatibility forms (NFKC), so `Painter` and `ｐａｉｎｔｅｒ` clash.
    """

    async def email_changed(changed: User) -> None:
        await auth_service.email_changed(session, settings, changed)

    await service.update_profile(session, user, body, email_changed)
    return Envelope(data=await service.user_read(session, user))
