"""Administration of accounts: list, content counts, changes, resets, purges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from mage_studio.admin import purge, repository, service
from mage_studio.admin.schemas import (
    AdminUserRead,
    DataStats,
    PurgeResult,
    UserDataChange,
    UserFilters,
    UserId,
)
from mage_studio.auth.deps import AdminUser, AppSettings, TokenClaims
from mage_studio.auth.schemas import ChangePasswordRequest
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import MAX_ROW_ID, Envelope, Message, Page
from mage_studio.core.storage import StorageDep
from mage_studio.errors import ValidationFailed

router = APIRouter(route_class=DbRoute, tags=["administration: users"])


@router.get("/users", response_model=Page[AdminUserRead])
async def list_users(
    filters: Annotated[UserFilters, Query()], _: AdminUser, session: DbSession
) -> Page[AdminUserRead]:
    """List accounts, oldest first, each with its `data_stats`.

    `search` is literal text (`%` and `_` match only themselves) found in the login
    or email; `role` keeps users holding that role. Unknown parameters are 422.
    """
    users, total = await repository.search_users(session, filters)
    return Page(
        data=await service.admin_user_reads(session, users),
        meta=filters.page_params().meta(total),
    )


@router.get("/users/{userId}/data-stats", response_model=Envelope[DataStats])
async def user_data_stats(
    user_id: Annotated[int, Path(alias="userId", ge=1, le=MAX_ROW_ID)],
    _: AdminUser,
    session: DbSession,
) -> Envelope[DataStats]:
    """Count a user's content: jobs, products, orders, finance operations, chat
    messages, chats, support requests and stored job files (`media`)."""
    user = await service.get_user(session, user_id)
    stats = await repository.data_stats(session, [user.id])
    return Envelope(data=stats[user.id])


@router.patch("/change-user-data", response_model=Envelope[AdminUserRead])
async def change_user_data(
    body: UserDataChange, admin: AdminUser, session: DbSession, settings: AppSettings
) -> Envelope[AdminUserRead]:
    """Set an account's `login` and `email` (unique: 422 when taken), and
    optionally its `roles`, `active` flag and `priorityTier` (0–2).

    A changed email must be verified again. An admin cannot disable their own
    account or drop their own admin role. The change is written to the audit log.
    """
    user = await service.change_user_data(session, settings, admin, body)
    return Envelope(data=(await service.admin_user_reads(session, [user]))[0])


@router.patch("/admin-reset-user-password", response_model=Envelope[AdminUserRead])
async def reset_user_password(
    body: UserId, admin: AdminUser, session: DbSession, settings: AppSettings
) -> Envelope[AdminUserRead]:
    """Mail the user a single-use password reset link and revoke all their sessions.

    The account is flagged `passwordResetAdmin` until the user sets a new password.
    No password is set, shown or mailed. A disabled account is 409.
    """
    user = await service.reset_user_password(session, settings, admin, body.id)
    return Envelope(data=(await service.admin_user_reads(session, [user]))[0])


@router.patch("/change-password", response_model=Envelope[Message])
async def change_own_password(
    body: ChangePasswordRequest,
    admin: AdminUser,
    claims: TokenClaims,
    session: DbSession,
) -> Envelope[Message]:
    """Change the calling admin's own password, like `/api/auth/change-password`.

    400 with code 1005 when `currentPassword` is wrong, 422 on `newPassword` when it
    equals the current one. Every other session of the account is revoked; this one
    stays signed in.
    """
    await service.change_own_password(session, admin, body, claims.family)
    return Envelope(data=Message(msg="OK"))


@router.delete("/users/purge-data", response_model=Envelope[PurgeResult])
async def purge_user_data(
    admin: AdminUser,
    session: DbSession,
    storage: StorageDep,
    body: Annotated[UserId | None, Body()] = None,
    user_id: Annotated[
        int | None,
        Query(alias="id", ge=1, le=MAX_ROW_ID, description="Or `id` in the body."),
    ] = None,
) -> Envelope[PurgeResult]:
    """Delete a user's content in one transaction: video jobs and their files,
    chats with their messages, support requests, ratings written; products and
    saved wallets are marked deleted.

    The account, its ledger accounts and transfers, orders and finance operations
    are kept, so the ledger still balances. Files are removed after the commit.
    Purging yourself is 422; a user with a rendering job is 409.
    """
    target = _purge_target(body, user_id)
    result = await purge.purge_user_data(session, storage, admin, target)
    return Envelope(data=result)


def _purge_target(body: UserId | None, query_id: int | None) -> int:
    if body is not None and query_id is not None and body.id != query_id:
        raise ValidationFailed.field(
            "id", "The body and the query name different users."
        )
    if body is not None:
        return body.id
    if query_id is None:
        raise ValidationFailed.field("id", "This field is required.")
    return query_id
