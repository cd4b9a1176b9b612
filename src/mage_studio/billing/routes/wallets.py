"""Wallet types and the caller's saved wallets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from mage_studio.auth.deps import CurrentUser
from mage_studio.billing import presenters, wallets
from mage_studio.billing.deps import RowIdPath
from mage_studio.billing.schemas import (
    INT32_MAX,
    UserWalletCreate,
    UserWalletRead,
    UserWalletUpdate,
    WalletTypeRead,
)
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope

router = APIRouter(route_class=DbRoute, tags=["wallets"])


@router.get("/api/wallet-types")
async def list_wallet_types(session: DbSession) -> Envelope[list[WalletTypeRead]]:
    """List the payment rails a wallet can use (PayPal, Stripe, ...)."""
    types = await wallets.list_wallet_types(session)
    return Envelope(data=[presenters.wallet_type_read(item) for item in types])


@router.get("/api/user-wallets")
async def list_user_wallets(
    user: CurrentUser, session: DbSession
) -> Envelope[list[UserWalletRead]]:
    """List the caller's saved wallets, details masked but for the last 4
    characters."""
    found = await wallets.list_wallets(session, user)
    return Envelope(data=[presenters.wallet_read(item) for item in found])


@router.get("/api/user-wallets/by-wallet-type-id/{walletTypeId}")
async def list_user_wallets_of_type(
    user: CurrentUser,
    session: DbSession,
    wallet_type_id: Annotated[int, Path(alias="walletTypeId", ge=0, le=INT32_MAX)],
) -> Envelope[list[UserWalletRead]]:
    """List the caller's wallets of one wallet type; type 0 lists all of them."""
    found = await wallets.list_wallets(session, user, wallet_type_id)
    return Envelope(data=[presenters.wallet_read(item) for item in found])


@router.post(
    "/api/user-wallets", status_code=status.HTTP_201_CREATED, include_in_schema=False
)
@router.post("/api/user-wallets/", status_code=status.HTTP_201_CREATED)
async def create_user_wallet(
    body: UserWalletCreate, user: CurrentUser, session: DbSession
) -> Envelope[UserWalletRead]:
    """Save a wallet (`info` on the rail `walletTypeId`); the same details twice are
    409."""
    wallet = await wallets.create_wallet(
        session, user, info=body.info, wallet_type_id=body.wallet_type_id
    )
    return Envelope(data=presenters.wallet_read(wallet))


@router.put("/api/user-wallets", include_in_schema=False)
@router.put("/api/user-wallets/")
async def update_user_wallet(
    body: UserWalletUpdate, user: CurrentUser, session: DbSession
) -> Envelope[UserWalletRead]:
    """Change the caller's wallet `id`; another user's wallet is 404 (code 1006)."""
    wallet = await wallets.update_wallet(
        session, user, body.id, info=body.info, wallet_type_id=body.wallet_type_id
    )
    return Envelope(data=presenters.wallet_read(wallet))


@router.delete("/api/user-wallets/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user_wallet(
    id: RowIdPath, user: CurrentUser, session: DbSession
) -> None:
    """Delete the caller's wallet; operations that used it still show it."""
    await wallets.delete_wallet(session, user, id)
