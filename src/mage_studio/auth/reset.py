"""Password reset: single-use, hashed, expiring tokens sent by mail."""

from __future__ import annotations

import secrets
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth import repository
from mage_studio.auth.mails import reset_mail
from mage_studio.auth.models import PasswordResetToken
from mage_studio.auth.schemas import ResetPasswordRequest
from mage_studio.auth.service import set_password
from mage_studio.auth.sessions import hash_token, revoke_all_sessions
from mage_studio.config import Settings
from mage_studio.core.db import Database, utcnow
from mage_studio.core.mail import MailService
from mage_studio.core.routing import commit_and_run_callbacks
from mage_studio.errors import BadRequest
from mage_studio.users import service as users
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

RESET_TOKEN_MINUTES = 60


class InvalidResetToken(BadRequest):
    code = 1004
    message = "The password reset token is invalid or has expired."


async def send_password_reset(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    by_admin: bool,
    redirect_url: str | None = None,
) -> None:
    """Issue a reset token for `user` and mail it once the session commits.

    With `by_admin` the account is flagged `passwordResetAdmin` and all of its
    sessions are revoked first (calling `revoke_all_sessions` as well is harmless).
    No password is ever set, shown or mailed.
    """
    if by_admin:
        await revoke_all_sessions(session, user)
        user.password_reset_admin = True
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=hash_token(token),
            password_version=user.password_version,
            by_admin=by_admin,
            expires_at=utcnow() + timedelta(minutes=RESET_TOKEN_MINUTES),
        )
    )
    await session.flush()
    subject, text = reset_mail(
        settings,
        user.email,
        token,
        redirect_url,
        minutes=RESET_TOKEN_MINUTES,
        by_admin=by_admin,
    )
    MailService(settings).send_after_commit(session, user.email, subject, text)
    log.info("password_reset_sent", user_id=user.id, by_admin=by_admin)


async def request_password_reset(
    database: Database, settings: Settings, email: str, redirect_url: str | None
) -> None:
    """Send a reset mail when `email` belongs to an active account.

    Runs after the response in its own transaction, so requests for known and
    unknown emails get the same response equally fast.
    """
    async with database.sessionmaker() as session:
        user = await users.find_by_email(session, email.strip())
        if user is None or not user.active:
            log.info("password_reset_unknown_email")
            return
        await send_password_reset(
            session, settings, user, by_admin=False, redirect_url=redirect_url
        )
        await commit_and_run_callbacks(session)


async def reset_password(session: AsyncSession, request: ResetPasswordRequest) -> User:
    """Set a new password with a valid token; revoke every session of the user.

    The token must be unused, unexpired, issued for the account of `email`, and
    issued after the last password change; otherwise 400/1004.
    """
    request.check_confirmation()
    row = await repository.reset_token_by_hash(session, hash_token(request.token))
    user = await users.find_by_email(session, request.email.strip())
    if (
        row is None
        or user is None
        or row.user_id != user.id
        or row.used_at is not None
        or row.expires_at <= utcnow()
        or row.password_version != user.password_version
        or not user.active
    ):
        raise InvalidResetToken()

    row.used_at = utcnow()
    await set_password(session, user, request.password)
    await revoke_all_sessions(session, user)
    log.info("password_reset", user_id=user.id, by_admin=row.by_admin)
    return user
