"""Finance operations: the caller's top-ups and withdrawals, and the admin switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mage_studio.auth.deps import AdminUser, AppSettings, CurrentUser
from mage_studio.billing import finance, presenters
from mage_studio.billing.deps import AccountHolder, RowIdPath
from mage_studio.billing.schemas import (
    FinanceOperationCancel,
    FinanceOperationCreate,
    FinanceOperationRead,
    FinanceOperationStatusChange,
)
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope, Page, PageParams, page_params

router = APIRouter(route_class=DbRoute, tags=["finance operations"])


@router.get("/api/finance-operations")
async def list_finance_operations(
    user: CurrentUser,
    session: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
    type: Annotated[int | None, Query(ge=1, le=2)] = None,
) -> Page[FinanceOperationRead]:
    """List the caller's finance operations, newest first, optionally of one `type`
    (1 enrolment, 2 write-off)."""
    operations, total = await finance.list_operations(session, user, page, type)
    return Page(
        data=[presenters.finance_operation_read(item) for item in operations],
        meta=page.meta(total),
    )


@router.patch("/api/finance-operations/change-finance-operation-status")
async def change_finance_operation_status(
    body: FinanceOperationStatusChange,
    admin: AdminUser,
    session: DbSession,
    settings: AppSettings,
) -> Envelope[FinanceOperationRead]:
    """Set an operation's status as an admin (1 created, 2 executed, 3 pending,
    4 canceled).

    Executing an enrolment credits the user's balance; executing a write-off pays out
    the held amount; canceling releases it. Executed and canceled are final (409,
    code 1013). Executing is 409 when it would take a balance beyond 2**63 - 1. The
    change is written to the audit log.
    """
    operation = await finance.change_finance_operation_status(
        session, admin, body.id, body.status, settings
    )
    return Envelope(data=presenters.finance_operation_read(operation))


@router.get("/api/finance-operations/{id}")
async def get_finance_operation(
    id: RowIdPath, user: CurrentUser, session: DbSession
) -> Envelope[FinanceOperationRead]:
    """Show one of the caller's finance operations."""
    operation = await finance.get_operation(session, user, id)
    return Envelope(data=presenters.finance_operation_read(operation))


@router.post("/api/finance-operations", status_code=status.HTTP_201_CREATED)
async def create_finance_operation(
    body: FinanceOperationCreate,
    user: AccountHolder,
    session: DbSession,
    settings: AppSettings,
) -> Envelope[FinanceOperationRead]:
    """Request a top-up (`type` 1) or a withdrawal (`type` 2) of `money` minor units,
    at most the configured `finance_max_amount` (422 above it).

    Name the wallet by `walletId`, or by `info` and `typeId` to save a new one. A
    withdrawal holds the amount of the balance at once (402, code 1012 when the
    available balance is short). An admin then executes or cancels it.
    """
    operation = await finance.create_operation(
        session,
        user,
        money=body.money,
        type_=body.type,
        settings=settings,
        wallet_id=body.wallet_id,
        info=body.info,
        wallet_type_id=body.type_id,
    )
    return Envelope(data=presenters.finance_operation_read(operation))


@router.put("/api/finance-operations/{id}")
async def cancel_finance_operation(
    id: RowIdPath,
    body: FinanceOperationCancel,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
) -> Envelope[FinanceOperationRead]:
    """Cancel the caller's operation that is not executed yet, with an optional
    `cancelInfo`; a withdrawal's held amount becomes available again."""
    operation = await finance.cancel_operation(
        session, user, id, cancel_info=body.cancel_info, settings=settings
    )
    return Envelope(data=presenters.finance_operation_read(operation))
