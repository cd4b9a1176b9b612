"""Accounts: lookups, uniqueness rules, the public User shape and profile changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth import repository as auth_repository
from mage_studio.billing import service as billing
from mage_studio.errors import ValidationFailed
from mage_studio.users.models import Role, User, login_key
from mage_studio.users.schemas import ProfileUpdate, UserRead

EMAIL_TAKEN = "The email has already been taken."
LOGIN_TAKEN = "The login has already been taken."
KNOWN_ROLES = {role.value for role in Role}

# Sends the verification mail after a change of email. The caller passes it, so
# this module needs no mail code.
EmailChanged = Callable[[User], Awaitable[None]]


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    """Return the user with `email`, compared case-insensitively."""
    user: User | None = await session.scalar(
        select(User).where(User.email == email.lower())
    )
    return user


async def find_by_login(session: AsyncSession, login: str) -> User | None:
    """Return the user whose login equals `login` up to case and NFKC form."""
    user: User | None = await session.scalar(
        select(User).where(User.login_key == login_key(login))
    )
    return user


async def ensure_email_free(
    session: AsyncSession, email: str, *, except_user: int | None = None
) -> None:
    """Raise 422 on `email` when another account uses it."""
    owner = await find_by_email(session, email)
    if owner is not None and owner.id != except_user:
        raise ValidationFailed.field("email", EMAIL_TAKEN)


async def ensure_login_free(
    session: AsyncSession, login: str, *, except_user: int | None = None
) -> None:
    """Raise 422 on `login` when another account uses it."""
    owner = await find_by_login(session, login)
    if owner is not None and owner.id != except_user:
        raise ValidationFailed.field("login", LOGIN_TAKEN)


async def money_and_credits(session: AsyncSession, user_id: int) -> tuple[int, int]:
    """Return the user's available (money balance, GPU credits) from the ledger."""
    return await billing.user_balances(session, user_id)


async def user_reads(session: AsyncSession, users: Sequence[User]) -> list[UserRead]:
    """Return the public shape of `users` (linked accounts loaded in one query)."""
    links = await auth_repository.social_accounts_of_users(
        session, [user.id for user in users]
    )
    linked: dict[tuple[int, str], str] = {
        (link.user_id, link.provider): link.provider_user_id for link in links
    }
    reads = []
    for user in users:
        balance, credits = await money_and_credits(session, user.id)
        reads.append(
            UserRead(
                id=user.id,
                email=user.email,
                login=user.login,
                profile_image=user.profile_image,
                online=user.online,
                confirmSendEmail=user.confirm_send_email,
                balance=balance,
                credits=credits,
                # A role this version does not know is left out, not a 500.
                roles=[Role(role) for role in user.roles if role in KNOWN_ROLES],
                emailVerified=user.email_verified_at is not None,
                passwordResetAdmin=user.password_reset_admin,
                google_id=linked.get((user.id, "google")),
                discord_id=linked.get((user.id, "discord")),
                createdAt=user.created_at,
            )
        )
    return reads


async def user_read(session: AsyncSession, user: User) -> UserRead:
    """Return the public shape of one user."""
    return (await user_reads(session, [user]))[0]


async def update_profile(
    session: AsyncSession,
    user: User,
    changes: ProfileUpdate,
    on_email_changed: EmailChanged,
) -> User:
    """Apply the fields the user sent; a new email must be verified again."""
    user_id = user.id
    login_changed = changes.login is not None and changes.login != user.login
    email_changed = changes.email is not None and changes.email != user.email
    if login_changed and changes.login is not None:
        await ensure_login_free(session, changes.login, except_user=user_id)
    if email_changed and changes.email is not None:
        await ensure_email_free(session, changes.email, except_user=user_id)
    try:
        # The changes are made inside the savepoint because entering it flushes
        # whatever is pending.
        async with session.begin_nested():
            if login_changed and changes.login is not None:
                user.login = changes.login
            if changes.confirmSendEmail is not None:
                user.confirm_send_email = changes.confirmSendEmail
            if email_changed and changes.email is not None:
                user.email = changes.email
                user.email_verified_at = None
            await session.flush()
    except IntegrityError:
        # Another account took the login or the email after the checks above, so
        # run them again to name the field that is now taken.
        if login_changed and changes.login is not None:
            await ensure_login_free(session, changes.login, except_user=user_id)
        if email_changed and changes.email is not None:
            await ensure_email_free(session, changes.email, except_user=user_id)
        raise
    if email_changed:
        await on_email_changed(user)
    return user
