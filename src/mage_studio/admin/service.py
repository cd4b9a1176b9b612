"""Account management by administrators, each change recorded in the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.admin import repository
from mage_studio.admin.schemas import AdminUserRead, UserDataChange
from mage_studio.auth import reset
from mage_studio.auth import service as auth_service
from mage_studio.auth.schemas import ChangePasswordRequest
from mage_studio.billing.accounts import users_balances
from mage_studio.config import Settings
from mage_studio.core.audit import record_audit
from mage_studio.errors import Conflict, NotFound, ValidationFailed
from mage_studio.users import service as users
from mage_studio.users.models import Role, User

log = structlog.get_logger(__name__)


class UserNotFound(NotFound):
    message = "The user was not found."


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


async def admin_user_reads(
    session: AsyncSession, accounts: Sequence[User]
) -> list[AdminUserRead]:
    """Return the admin view of `accounts`: available balances from the ledger and
    content counts included."""
    ids = [user.id for user in accounts]
    reads = await users.user_reads(session, accounts)
    stats = await repository.data_stats(session, ids)
    balances = await users_balances(session, ids)
    return [
        AdminUserRead(
            **{
                **read.model_dump(),
                "balance": balances[user.id][0],
                "credits": balances[user.id][1],
            },
            active=user.active,
            priorityTier=user.priority_tier,
            data_stats=stats[user.id],
        )
        for read, user in zip(reads, accounts, strict=True)
    ]


def _check_not_locking_out(admin: User, user: User, change: UserDataChange) -> None:
    """Reject changes that would end the calling admin's own access."""
    if user.id != admin.id:
        return
    if change.active is False:
        raise ValidationFailed.field("active", "You cannot disable your own account.")
    if change.roles is not None and Role.ADMIN not in change.roles:
        raise ValidationFailed.field(
            "roles", "You cannot remove the admin role from your own account."
        )


async def _apply_identity(
    session: AsyncSession,
    user: User,
    change: UserDataChange,
    old: dict[str, Any],
    new: dict[str, Any],
) -> bool:
    """Set login and email when they changed; return whether the email changed."""
    if change.login != user.login:
        await users.ensure_login_free(session, change.login, except_user=user.id)
        old["login"], new["login"] = user.login, change.login
        user.login = change.login
    if change.email == user.email:
        return False
    await users.ensure_email_free(session, change.email, except_user=user.id)
    old["email"], new["email"] = user.email, change.email
    user.email = change.email
    user.email_verified_at = None
    return True


def _apply_flags(
    user: User, change: UserDataChange, old: dict[str, Any], new: dict[str, Any]
) -> None:
    if change.roles is not None:
        wanted = sorted({role.value for role in change.roles} | {Role.USER.value})
        if wanted != sorted(user.roles):
            old["roles"], new["roles"] = sorted(user.roles), wanted
            user.set_roles(wanted)
    if change.active is not None and change.active != user.active:
        old["active"], new["active"] = user.active, change.active
        user.active = change.active
    if change.priorityTier is not None and change.priorityTier != user.priority_tier:
        old["priorityTier"], new["priorityTier"] = (
            user.priority_tier,
            change.priorityTier,
        )
        user.priority_tier = change.priorityTier


async def change_user_data(
    session: AsyncSession, settings: Settings, admin: User, change: UserDataChange
) -> User:
    """Update another account's login, email, roles, active flag and priority tier.

    Logins and emails stay unique (422; 409 when another request takes one at the
    same moment). A new email must be verified again, so a verification mail is
    sent. An admin cannot disable their own account or drop their own admin role.
    Nothing is written, audit entry included, when no field changes.
    """
    user = await get_user(session, change.id)
    _check_not_locking_out(admin, user, change)

    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    email_changed = await _apply_identity(session, user, change, old, new)
    _apply_flags(user, change, old, new)
    if not new:
        return user

    await session.flush()
    if "roles" in new:
        # Reload so the roles come back in their usual (sorted) order.
        await session.refresh(user, ["role_rows"])
    if email_changed:
        auth_service.send_verification_email(session, settings, user)
    await record_audit(session, admin, "user.updated", "user", user.id, old, new)
    log.info("user_updated_by_admin", user_id=user.id, admin_id=admin.id)
    return user


async def reset_user_password(
    session: AsyncSession, settings: Settings, admin: User, user_id: int
) -> User:
    """Mail the user a password reset link and sign them out everywhere.

    The account is flagged `passwordResetAdmin`. No password is set, shown or
    mailed: the user chooses one through the link. A disabled account is 409,
    because its reset link could not be used.
    """
    user = await get_user(session, user_id)
    if not user.active:
        raise Conflict(
            "The account is disabled. Enable it before resetting its password."
        )
    was_flagged = user.password_reset_admin

    await reset.send_password_reset(session, settings, user, by_admin=True)
    await record_audit(
        session,
        admin,
        "user.password_reset_sent",
        "user",
        user.id,
        {"passwordResetAdmin": was_flagged},
        {"passwordResetAdmin": True, "sessionsRevoked": True},
    )
    return user


async def change_own_password(
    session: AsyncSession,
    admin: User,
    request: ChangePasswordRequest,
    current_family: str | None,
) -> None:
    """Change the calling admin's password; no password data goes into the audit."""
    await auth_service.change_password(session, admin, request, current_family)
    await record_audit(
        session,
        admin,
        "user.password_changed",
        "user",
        admin.id,
        None,
        {"otherSessionsRevoked": True},
    )
