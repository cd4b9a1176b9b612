"""Registration, email verification, login and password change."""

from __future__ import annotations

import structlog
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.mails import verification_mail
from mage_studio.auth.passwords import (
    burn_verification_time,
    hash_password,
    verify_password,
)
from mage_studio.auth.schemas import ChangePasswordRequest, RegisterRequest
from mage_studio.auth.sessions import IssuedSession, revoke_all_sessions, start_session
from mage_studio.auth.tokens import (
    InvalidPurposeToken,
    read_purpose_token,
    sign_purpose_token,
)
from mage_studio.billing import service as billing
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.core.mail import MailService
from mage_studio.errors import BadRequest, Forbidden, Unauthorized, ValidationFailed
from mage_studio.users import service as users
from mage_studio.users.models import Role, User

log = structlog.get_logger(__name__)

VERIFY_EMAIL_PURPOSE = "verify-email"
VERIFY_EMAIL_TTL_HOURS = 24
INVALID_CREDENTIALS = "Invalid email or password"
SAME_PASSWORD = "The new password must differ from the current one."  # noqa: S105


class AlreadyVerified(BadRequest):
    code = 1001
    message = "The email address is already verified."


class InvalidVerificationToken(BadRequest):
    code = 1007
    message = "The verification link is invalid or has expired."


class WrongCurrentPassword(BadRequest):
    code = 1005
    message = "The current password is wrong."


async def register(
    session: AsyncSession, settings: Settings, request: RegisterRequest
) -> User:
    """Create an account with the user role and mail a verification link."""
    request.check_confirmation()
    login = request.login or request.email
    await users.ensure_email_free(session, request.email)
    await users.ensure_login_free(session, login)

    user = User(
        email=request.email,
        login=login,
        password_hash=hash_password(request.password),
        license_accepted=bool(request.license),
    )
    user.set_roles([Role.USER.value])
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        # Another account took the email or the login after the checks above. Run
        # them again to name the field that is now taken.
        await users.ensure_email_free(session, request.email)
        await users.ensure_login_free(session, login)
        raise ValidationFailed.field("email", users.EMAIL_TAKEN) from exc

    await billing.open_user_accounts(session, user.id, settings)
    send_verification_email(session, settings, user)
    log.info("user_registered", user_id=user.id)
    return user


def send_verification_email(
    session: AsyncSession, settings: Settings, user: User
) -> None:
    """Mail `user` a signed, expiring verification link once the session commits."""
    token = sign_purpose_token(
        settings,
        VERIFY_EMAIL_PURPOSE,
        str(user.id),
        VERIFY_EMAIL_TTL_HOURS * 3600,
        {"email": user.email},
    )
    subject, text = verification_mail(settings, user.id, token, VERIFY_EMAIL_TTL_HOURS)
    MailService(settings).send_after_commit(session, user.email, subject, text)


async def email_changed(session: AsyncSession, settings: Settings, user: User) -> None:
    send_verification_email(session, settings, user)
    log.info("email_changed", user_id=user.id)


async def verify_email(
    session: AsyncSession, settings: Settings, user_id: int, token: str
) -> None:
    """Mark the address verified when `token` was issued for this user and address.

    A link for an address the user has since replaced is rejected (1007).
    """
    try:
        claims = read_purpose_token(settings, VERIFY_EMAIL_PURPOSE, token)
    except InvalidPurposeToken as exc:
        raise InvalidVerificationToken() from exc
    user = await session.get(User, user_id)
    if user is None or claims["sub"] != str(user.id):
        raise InvalidVerificationToken()
    if claims.get("email") != user.email:
        raise InvalidVerificationToken()
    if user.email_verified_at is not None:
        raise AlreadyVerified()
    user.email_verified_at = utcnow()
    await session.flush()
    log.info("email_verified", user_id=user.id)


async def login(
    session: AsyncSession, settings: Settings, email: str, password: str
) -> IssuedSession:
    """Check the credentials and start a session.

    Unknown emails spend the time of a verification too, so both failures look
    alike from outside. A matching legacy bcrypt hash is replaced by argon2id.
    """
    user = await users.find_by_email(session, email.strip())
    if user is None:
        burn_verification_time(password)
        raise Unauthorized(INVALID_CREDENTIALS)
    valid, new_hash = verify_password(password, user.password_hash)
    if not valid:
        log.info("login_failed", user_id=user.id)
        raise Unauthorized(INVALID_CREDENTIALS)
    if not user.active:
        raise Forbidden("This account has been disabled.")
    if new_hash is not None:
        user.password_hash = new_hash
        log.info("password_rehashed", user_id=user.id)
    return await start_session(session, settings, user)


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """Store a new password and kill the reset tokens issued before it."""
    user.password_hash = hash_password(password)
    user.password_reset_admin = False
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(password_version=User.password_version + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(user, ["password_version"])


async def change_password(
    session: AsyncSession,
    user: User,
    request: ChangePasswordRequest,
    current_family: str | None,
) -> None:
    """Replace the password after checking the current one; end other sessions.

    A new password equal to the current one is 422 on `newPassword`.
    """
    request.check_confirmation()
    valid, _ = verify_password(request.currentPassword, user.password_hash)
    if not valid:
        raise WrongCurrentPassword()
    if request.newPassword == request.currentPassword:
        raise ValidationFailed.field("newPassword", SAME_PASSWORD)
    await set_password(session, user, request.newPassword)
    await revoke_all_sessions(session, user, keep_family=current_family)
    log.info("password_changed", user_id=user.id)
