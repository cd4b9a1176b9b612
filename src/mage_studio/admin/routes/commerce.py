"""Administration of money: every user's finance operations and orders.

The status change of a finance operation is billing's
`PATCH /api/finance-operations/change-finance-operation-status`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mage_studio.admin import repository
from mage_studio.admin.schemas import (
    AdminFinanceOperationRead,
    AdminWalletRead,
    FinanceFilters,
    OrderFilters,
    OrderStatusChange,
)
from mage_studio.auth.deps import AdminUser
from mage_studio.billing import orders, presenters
from mage_studio.billing.models import FinanceOperation
from mage_studio.billing.schemas import OrderRead
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope, Page
from mage_studio.users.models import User

router = APIRouter(route_class=DbRoute, tags=["administration: money"])


def _finance_read(
    operation: FinanceOperation, owner: User
) -> AdminFinanceOperationRead:
    wallet = operation.wallet
    brief = presenters.user_brief(owner)
    assert brief is not None
    return AdminFinanceOperationRead(
        id=operation.id,
        money=operation.money,
        type=operation.type,
        status=operation.status,
        user=brief,
        wallet=AdminWalletRead(
            id=wallet.id,
            info=wallet.info,
            type=presenters.wallet_type_read(wallet.wallet_type),
            deleted_at=wallet.deleted_at,
        ),
        created_at=operation.created_at,
        executed_at=operation.executed_at,
        canceled_at=operation.canceled_at,
        canceled_info=operation.canceled_info,
    )


@router.get(
    "/finance-operations/get-all", response_model=Page[AdminFinanceOperationRead]
)
async def list_finance_operations(
    filters: Annotated[FinanceFilters, Query()], _: AdminUser, session: DbSession
) -> Page[AdminFinanceOperationRead]:
    """List every user's finance operations with their owner and unmasked wallet.

    Filters: `id`, `userLogin` (literal text in the login), `statusId`,
    `startDate` and `endDate` (inclusive; a bare date covers that whole day in
    UTC). Sort by `orderType` (id, money, type, status, createdAt, executedAt)
    and `orderDirection` (asc, desc, in any case); any other value or parameter
    is 422.
    """
    rows, total = await repository.search_finance_operations(session, filters)
    return Page(
        data=[_finance_read(operation, owner) for operation, owner in rows],
        meta=filters.page_params().meta(total),
    )


@router.get("/orders", response_model=Page[OrderRead])
async def list_orders(
    filters: Annotated[OrderFilters, Query()], _: AdminUser, session: DbSession
) -> Page[OrderRead]:
    """List every order, newest first.

    Filters: `id`, `userCustomerLogin` and `userSellerLogin` (literal text in the
    login), `status`. Unknown parameters are 422.
    """
    found, total = await repository.search_orders(session, filters)
    return Page(
        data=[presenters.order_read(order) for order in found],
        meta=filters.page_params().meta(total),
    )


@router.patch("/orders/change-order-status", response_model=Envelope[OrderRead])
async def change_order_status(
    body: OrderStatusChange, admin: AdminUser, session: DbSession
) -> Envelope[OrderRead]:
    """Move an order (`orderId`, also accepted as `id`) to `status`, with its
    money effects, and write the change to the audit log.

    Legal moves: unpaid → canceled; paid → processing, finished or canceled;
    processing → finished or canceled; finished → refunded. Anything else is 409
    (code 1013). finished pays the seller from escrow; canceled returns escrowed
    money and the items; refunded returns the money through the ledger and takes
    back the credits the order granted (402 when they are already spent).
    """
    order = await orders.change_order_status(
        session, admin, body.orderId, body.status.value
    )
    return Envelope(data=presenters.order_read(order))
