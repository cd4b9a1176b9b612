"""Account and auth endpoints under `/api/auth`, mirrored under `/api/v2`."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, BackgroundTasks, Request, Response

from mage_studio.auth import reset, service, sessions
from mage_studio.auth.deps import (
    AppSettings,
    CurrentUser,
    Revocations,
    TokenClaims,
)
from mage_studio.auth.mails import allowed_redirect
from mage_studio.auth.routing import auth_paths, mirrored
from mage_studio.auth.schemas import (
    ChangePasswordRequest,
    CreatedId,
    ForgotPasswordRequest,
    LoginPayload,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from mage_studio.auth.social.router import router as social_router
from mage_studio.config import Settings
from mage_studio.core.db import Database
from mage_studio.core.ratelimit import RateLimit, client_ip, enforce, hashed_key
from mage_studio.core.routing import DbRoute, DbSession, commit_and_run_callbacks
from mage_studio.core.schemas import Envelope, Message

log = structlog.get_logger(__name__)

router = APIRouter(route_class=DbRoute, tags=["auth"])

OK = Message(msg="OK")


def _per_minute(settings: Settings, name: str) -> RateLimit:
    return RateLimit(name, settings.rate_limit_auth_per_minute, 60.0)


def _mail_per_hour(settings: Settings, name: str) -> RateLimit:
    return RateLimit(name, settings.rate_limit_mail_per_hour, 3600.0)


@mirrored(
    router,
    "POST",
    auth_paths("register", "register"),
    status_code=201,
    response_model=Envelope[CreatedId],
)
async def register(
    body: RegisterRequest, request: Request, session: DbSession, settings: AppSettings
) -> Envelope[CreatedId]:
    """Create an account (role user) and mail a link that verifies the address.

    The email is unique regardless of case; `login` defaults to the email and is
    unique regardless of case and Unicode compatibility form (NFKC), but stored as
    typed.
    Fields other than those listed (roles, balance, credits) are ignored.
    """
    await enforce(request, _per_minute(settings, "register"), client_ip(request))
    user = await service.register(session, settings, body)
    return Envelope(data=CreatedId(id=user.id))


@mirrored(
    router, "POST", auth_paths("verified-email"), response_model=Envelope[Message]
)
async def verify_email(
    body: VerifyEmailRequest, session: DbSession, settings: AppSettings
) -> Envelope[Message]:
    """Verify the address with `id` and `hash` from the mail.

    400/1001 when already verified; 400/1007 when the link is forged, expired,
    for another user or for an address the user has since changed.
    """
    await service.verify_email(session, settings, body.id, body.hash)
    return Envelope(data=OK)


@mirrored(
    router,
    "POST",
    auth_paths("verification-email"),
    status_code=204,
    response_class=Response,
)
async def resend_verification(
    request: Request, user: CurrentUser, session: DbSession, settings: AppSettings
) -> Response:
    """Mail the caller a new verification link; 400/1001 when already verified."""
    if user.email_verified_at is not None:
        raise service.AlreadyVerified()
    rule = _mail_per_hour(settings, "verification-mail")
    await enforce(request, rule, f"user:{user.id}")
    service.send_verification_email(session, settings, user)
    return Response(status_code=204)


@mirrored(
    router,
    "POST",
    auth_paths("login", "login"),
    response_model=Envelope[LoginPayload],
)
async def login(
    body: LoginRequest, request: Request, session: DbSession, settings: AppSettings
) -> Envelope[LoginPayload]:
    """Sign in with email and password; returns an access and a refresh token.

    Wrong passwords and unknown emails both return 401 "Invalid email or
    password". `expiresIn` is the access token's lifetime in seconds.
    """
    await enforce(request, _per_minute(settings, "login-ip"), client_ip(request))
    email_key = hashed_key(body.email.strip().lower())
    await enforce(request, _per_minute(settings, "login-email"), email_key)
    issued = await service.login(session, settings, body.email, body.password)
    return Envelope(data=issued.payload())


@mirrored(router, "POST", auth_paths("refresh"), response_model=Envelope[LoginPayload])
async def refresh(
    body: RefreshRequest,
    session: DbSession,
    settings: AppSettings,
    store: Revocations,
) -> Envelope[LoginPayload]:
    """Trade a refresh token for a new pair; the presented one is spent.

    Presenting a spent refresh token again revokes its whole family (every
    session token derived from the same login) and returns 401.
    """
    try:
        issued = await sessions.refresh_session(
            session, settings, store, body.refreshToken
        )
    except sessions.RefreshTokenReused:
        # The 401 would roll the family revocation back; it must stick.
        await commit_and_run_callbacks(session)
        raise
    return Envelope(data=issued.payload())


@mirrored(
    router, "POST", auth_paths("logout", "logout"), response_model=Envelope[Message]
)
async def logout(
    claims: TokenClaims,
    session: DbSession,
    settings: AppSettings,
    store: Revocations,
) -> Envelope[Message]:
    """End the session: this access token and its refresh family stop working."""
    await sessions.end_session(session, settings, store, claims)
    return Envelope(data=Message(msg="Logged out Successfully."))


@mirrored(
    router,
    "POST",
    auth_paths("change-password"),
    response_model=Envelope[Message],
)
async def change_password(
    body: ChangePasswordRequest,
    user: CurrentUser,
    claims: TokenClaims,
    session: DbSession,
) -> Envelope[Message]:
    """Change the caller's password; 400/1005 when `currentPassword` is wrong.

    A `newPassword` equal to the current one is 422. Every other session of the
    account is revoked; this one stays signed in.
    """
    await service.change_password(session, user, body, claims.family)
    return Envelope(data=OK)


async def _send_reset(
    database: Database, settings: Settings, email: str, redirect_url: str | None
) -> None:
    try:
        await reset.request_password_reset(database, settings, email, redirect_url)
    except Exception:
        log.exception("password_reset_request_failed")


@mirrored(
    router,
    "POST",
    auth_paths("forgot-password", "password-forgot"),
    status_code=204,
    response_class=Response,
)
async def forgot_password(
    body: ForgotPasswordRequest,
    request: Request,
    settings: AppSettings,
    background: BackgroundTasks,
) -> Response:
    """Mail a single-use reset link valid for 60 minutes, if the account exists.

    Returns 204 for known and unknown emails alike: the lookup and the mail
    happen after the response. `redirect_url` must be on an allowed front-end
    origin (422 otherwise); the token and email are appended to it.
    """
    redirect_url = None
    if body.redirect_url is not None:
        redirect_url = allowed_redirect(settings, body.redirect_url)
    email = body.email.strip().lower()
    await enforce(request, _per_minute(settings, "forgot-ip"), client_ip(request))
    await enforce(request, _mail_per_hour(settings, "forgot-email"), hashed_key(email))
    database: Database = request.app.state.database
    background.add_task(_send_reset, database, settings, email, redirect_url)
    return Response(status_code=204)


@mirrored(
    router,
    "POST",
    auth_paths("reset-password", "password-reset"),
    status_code=204,
    response_class=Response,
)
async def reset_password(body: ResetPasswordRequest, session: DbSession) -> Response:
    """Set a new password with the mailed token; every session is revoked.

    400/1004 when the token is unknown, used, expired, for another account or
    older than the last password change.
    """
    await reset.reset_password(session, body)
    return Response(status_code=204)


router.include_router(social_router)
