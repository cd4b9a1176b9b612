"""Wallet types (payment rails) and users' saved wallets."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.errors import WalletNotFound
from mage_studio.billing.models import UserWallet, WalletType
from mage_studio.core.db import utcnow
from mage_studio.errors import Conflict, ValidationFailed
from mage_studio.users.models import User

VISIBLE_DIGITS = 4


def mask_info(info: str) -> str:
    """Hide every character but the last four; hide all of a 4-character value."""
    if len(info) <= VISIBLE_DIGITS:
        return "*" * len(info)
    return "*" * (len(info) - VISIBLE_DIGITS) + info[-VISIBLE_DIGITS:]


async def list_wallet_types(session: AsyncSession) -> list[WalletType]:
    return list(await session.scalars(select(WalletType).order_by(WalletType.id)))


async def _wallet_type(
    session: AsyncSession, wallet_type_id: int, field: str
) -> WalletType:
    wallet_type = await session.get(WalletType, wallet_type_id)
    if wallet_type is None:
        raise ValidationFailed.field(field, "The wallet type does not exist.")
    return wallet_type


async def list_wallets(
    session: AsyncSession, user: User, wallet_type_id: int = 0
) -> list[UserWallet]:
    """Return the caller's wallets, of one type unless `wallet_type_id` is 0."""
    query = select(UserWallet).where(
        UserWallet.user_id == user.id, UserWallet.deleted_at.is_(None)
    )
    if wallet_type_id:
        query = query.where(UserWallet.wallet_type_id == wallet_type_id)
    return list(await session.scalars(query.order_by(UserWallet.id)))


async def get_wallet(session: AsyncSession, user: User, wallet_id: int) -> UserWallet:
    """Return the caller's wallet; another user's or a deleted one is 404 (1006)."""
    wallet = await session.get(UserWallet, wallet_id)
    if wallet is None or wallet.user_id != user.id or wallet.deleted_at is not None:
        raise WalletNotFound()
    return wallet


def _same_details(
    user: User, info: str, wallet_type_id: int
) -> Select[tuple[UserWallet]]:
    return select(UserWallet).where(
        UserWallet.user_id == user.id,
        UserWallet.wallet_type_id == wallet_type_id,
        UserWallet.info == info,
    )


async def _find_wallet(
    session: AsyncSession, user: User, info: str, wallet_type_id: int
) -> UserWallet | None:
    query = _same_details(user, info, wallet_type_id)
    wallet: UserWallet | None = await session.scalar(
        query.where(UserWallet.deleted_at.is_(None))
    )
    return wallet


async def _find_hidden_wallet(
    session: AsyncSession, user: User, info: str, wallet_type_id: int
) -> UserWallet | None:
    query = _same_details(user, info, wallet_type_id)
    wallet: UserWallet | None = await session.scalar(
        query.where(UserWallet.deleted_at.is_not(None))
        .order_by(UserWallet.id.desc())
        .limit(1)
    )
    return wallet


async def create_wallet(
    session: AsyncSession,
    user: User,
    *,
    info: str,
    wallet_type_id: int,
    field: str = "walletTypeId",
) -> UserWallet:
    """Save a wallet for the caller. Saving the same details twice raises Conflict.

    Details of a wallet the caller deleted bring that wallet back. MariaDB has no
    partial indexes, so there the unique index covers hidden wallets too and a new
    row with the same details could not be added.
    """
    wallet_type = await _wallet_type(session, wallet_type_id, field)
    if await _find_wallet(session, user, info, wallet_type_id) is not None:
        raise Conflict("This wallet is already saved.")
    hidden = await _find_hidden_wallet(session, user, info, wallet_type_id)
    if hidden is not None:
        hidden.deleted_at = None
        await session.flush()
        return hidden
    wallet = UserWallet(user_id=user.id, wallet_type=wallet_type, info=info)
    try:
        # A concurrent save of the same details fails on the unique index.
        async with session.begin_nested():
            session.add(wallet)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("This wallet is already saved.") from exc
    return wallet


async def find_or_create_wallet(
    session: AsyncSession, user: User, *, info: str, wallet_type_id: int
) -> UserWallet:
    """Return the caller's saved wallet with these details, saving it if new."""
    existing = await _find_wallet(session, user, info, wallet_type_id)
    if existing is not None:
        return existing
    try:
        return await create_wallet(
            session, user, info=info, wallet_type_id=wallet_type_id, field="typeId"
        )
    except Conflict:
        # A concurrent request saved the same wallet after the lookup above.
        existing = await _find_wallet(session, user, info, wallet_type_id)
        if existing is None:
            raise
        return existing


async def update_wallet(
    session: AsyncSession,
    user: User,
    wallet_id: int,
    *,
    info: str,
    wallet_type_id: int,
) -> UserWallet:
    wallet = await get_wallet(session, user, wallet_id)
    wallet_type = await _wallet_type(session, wallet_type_id, "walletTypeId")
    duplicate = await _find_wallet(session, user, info, wallet_type_id)
    if duplicate is not None and duplicate.id != wallet.id:
        raise Conflict("This wallet is already saved.")
    wallet.info = info
    wallet.wallet_type = wallet_type
    await session.flush()
    return wallet


async def delete_wallet(session: AsyncSession, user: User, wallet_id: int) -> None:
    """Hide the wallet; finance operations that used it keep showing it."""
    wallet = await get_wallet(session, user, wallet_id)
    wallet.deleted_at = utcnow()
    await session.flush()
