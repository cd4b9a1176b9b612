"""Orders: buying products with the money balance.

Placing an order copies the product's price, credits and tier, takes the items from
its availability and pays the total from the customer's balance:
- a platform product's money goes to platform revenue and the order is fulfilled at
  once (credits granted, priority tier raised): status finished;
- a seller's product's money waits in escrow (status paid) until the customer
  confirms receipt, which pays the seller: status finished.

Admins move orders along `ADMIN_TRANSITIONS`; canceling returns escrowed money and
the items, refunding a finished order returns the money (and takes back the granted
credits). Every transfer has an id derived from the order, and every status change is
a compare-and-set, so each payment happens at most once.
"""

from __future__ import annotations

from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger
from mage_studio.billing.accounts import ensure_user_accounts
from mage_studio.billing.errors import OrderNotFound, QuantityOverLimit
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    LedgerAccount,
    Order,
    OrderStatus,
    Product,
)
from mage_studio.config import Settings
from mage_studio.core.audit import record_audit
from mage_studio.core.db import utcnow
from mage_studio.errors import (
    BadRequest,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

ADMIN_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.UNPAID: frozenset({OrderStatus.CANCELED}),
    OrderStatus.PAID: frozenset(
        {OrderStatus.PROCESSING, OrderStatus.FINISHED, OrderStatus.CANCELED}
    ),
    OrderStatus.PROCESSING: frozenset({OrderStatus.FINISHED, OrderStatus.CANCELED}),
    OrderStatus.FINISHED: frozenset({OrderStatus.REFUNDED}),
}
CONFIRMABLE = frozenset({OrderStatus.PAID, OrderStatus.PROCESSING})


def _transfer_id(order: Order, step: str) -> str:
    return f"order:{order.id}:{step}"


async def get_order(session: AsyncSession, user: User, order_id: int) -> Order:
    """Return an order the caller bought or sold; anything else is 404 (1009)."""
    order = await session.get(Order, order_id)
    if order is None or user.id not in (order.customer_id, order.seller_id):
        raise OrderNotFound()
    return order


async def _take_items(session: AsyncSession, product: Product, quantity: int) -> None:
    if product.availability is None:
        return
    result = await session.execute(
        update(Product)
        .where(Product.id == product.id, Product.availability >= quantity)
        .values(availability=Product.availability - quantity)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(product)
    if cast(CursorResult[Any], result).rowcount != 1:
        raise QuantityOverLimit(
            f"Only {product.availability} item(s) of this product are available."
        )


async def _return_items(session: AsyncSession, order: Order) -> None:
    await session.execute(
        update(Product)
        .where(Product.id == order.product_id, Product.availability.is_not(None))
        .values(availability=Product.availability + order.quantity)
        .execution_options(synchronize_session=False)
    )


async def _money_account(
    session: AsyncSession, user_id: int, unit: str
) -> LedgerAccount:
    return await ledger.user_account(session, user_id, AccountKind.BALANCE, unit)


async def _order_unit(session: AsyncSession, order: Order) -> str:
    """Return the currency the order was paid in, the unit of the customer's
    balance."""
    account = await ledger.find_user_account(
        session, order.customer_id, AccountKind.BALANCE
    )
    if account is None:
        raise ledger.LedgerInvariantError(f"order {order.id} has no paying account")
    return account.unit


async def _post_order_transfer(
    session: AsyncSession,
    order: Order,
    *,
    step: str,
    kind: str,
    source: LedgerAccount,
    destination: LedgerAccount,
    amount: int,
    memo: str,
) -> None:
    """Post `amount` from `source` to `destination`, at most once per order and step."""
    await ledger.post_transfer(
        session,
        transfer_id=_transfer_id(order, step),
        kind=kind,
        postings=[Posting(source.id, -amount), Posting(destination.id, amount)],
        memo=memo,
    )


def _payment_account_kind(order: Order) -> AccountKind:
    """Return the kind of account that receives the order's payment."""
    return AccountKind.REVENUE if order.seller_id is None else AccountKind.ESCROW


async def _credit_accounts(
    session: AsyncSession, order: Order
) -> tuple[LedgerAccount, LedgerAccount]:
    """Return the customer's credits account and the credit issuance account."""
    credits = await ledger.user_account(
        session, order.customer_id, AccountKind.CREDITS, CREDITS_UNIT
    )
    issuance = await ledger.system_account(session, AccountKind.ISSUANCE, CREDITS_UNIT)
    return credits, issuance


async def _pay(session: AsyncSession, order: Order, payer: LedgerAccount) -> None:
    if order.total_price == 0:
        return
    destination = await ledger.system_account(
        session, _payment_account_kind(order), payer.unit
    )
    await _post_order_transfer(
        session,
        order,
        step="payment",
        kind="order_payment",
        source=payer,
        destination=destination,
        amount=order.total_price,
        memo=f"Order {order.id}: {order.product_name}",
    )


async def _fulfil_platform_order(
    session: AsyncSession, order: Order, customer: User
) -> None:
    if order.total_credits > 0:
        credits, issuance = await _credit_accounts(session, order)
        await _post_order_transfer(
            session,
            order,
            step="credits",
            kind="order_credits",
            source=issuance,
            destination=credits,
            amount=order.total_credits,
            memo=f"Order {order.id}: {order.product_name}",
        )
    if order.priority_tier is not None:
        customer.priority_tier = max(customer.priority_tier or 0, order.priority_tier)


async def _pay_seller(session: AsyncSession, order: Order) -> None:
    if order.seller_id is None or order.total_price == 0:
        return
    unit = await _order_unit(session, order)
    escrow = await ledger.system_account(session, AccountKind.ESCROW, unit)
    seller = await _money_account(session, order.seller_id, unit)
    await _post_order_transfer(
        session,
        order,
        step="settlement",
        kind="order_settlement",
        source=escrow,
        destination=seller,
        amount=order.total_price,
        memo=f"Order {order.id}: {order.product_name}",
    )


async def place_order(
    session: AsyncSession,
    customer: User,
    *,
    product_id: int,
    quantity: int,
    settings: Settings,
) -> Order:
    """Buy `quantity` items of a visible product with the customer's balance.

    Raises 404 for an unknown or hidden product, `QuantityOverLimit` (400, 1010)
    beyond the availability and `InsufficientBalance` (402, 1012) when the balance is
    short. Nothing is kept in those cases, because the caller's transaction rolls
    back.
    """
    ledger.ensure_amount(quantity, "quantity")
    product = await session.get(Product, product_id)
    if product is None or product.deleted_at is not None or not product.active:
        raise NotFound("The product was not found.")
    if product.user_id == customer.id:
        raise BadRequest("You cannot buy your own product.")
    total_price = ledger.checked_product(product.price, quantity, "quantity")
    total_credits = ledger.checked_product(product.credits, quantity, "quantity")
    await _take_items(session, product, quantity)

    order = Order(
        customer=customer,
        seller=product.user,
        product_id=product.id,
        product_name=product.name,
        quantity=quantity,
        unit_price=product.price,
        unit_credits=product.credits,
        priority_tier=product.priority_tier,
        total_price=total_price,
        total_credits=total_credits,
        status=OrderStatus.PAID.value,
    )
    session.add(order)
    await session.flush()
    accounts = await ensure_user_accounts(session, customer.id, settings.currency)
    await _pay(session, order, accounts.balance)
    if product.is_platform:
        await _fulfil_platform_order(session, order, customer)
        order.status = OrderStatus.FINISHED.value
        order.finished_at = utcnow()
    await session.flush()
    log.info("order_placed", order_id=order.id, customer_id=customer.id)
    return order


async def _compare_and_set(
    session: AsyncSession, order: Order, old: OrderStatus, new: OrderStatus
) -> None:
    values: dict[str, Any] = {"status": new.value, "updated_at": utcnow()}
    if new is OrderStatus.FINISHED:
        values["finished_at"] = utcnow()
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == old.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(order)
    if cast(CursorResult[Any], result).rowcount != 1:
        raise InvalidTransition("The order was changed by someone else.")


async def confirm_order(session: AsyncSession, customer: User, order_id: int) -> Order:
    """Confirm receipt as the customer: the escrowed money goes to the seller.

    A second confirmation (or one of a platform order, finished at purchase) is 409
    (code 1013).
    """
    order = await get_order(session, customer, order_id)
    if order.customer_id != customer.id:
        raise OrderNotFound()
    old = OrderStatus(order.status)
    if old not in CONFIRMABLE:
        raise InvalidTransition(f"A {old.value} order cannot be confirmed.")
    await _compare_and_set(session, order, old, OrderStatus.FINISHED)
    await _pay_seller(session, order)
    log.info("order_confirmed", order_id=order.id)
    return order


async def _cancel(session: AsyncSession, order: Order, *, paid: bool) -> None:
    await _return_items(session, order)
    if order.total_price == 0 or not paid:
        return
    unit = await _order_unit(session, order)
    source = await ledger.system_account(session, _payment_account_kind(order), unit)
    customer = await _money_account(session, order.customer_id, unit)
    await _post_order_transfer(
        session,
        order,
        step="cancel",
        kind="order_refund",
        source=source,
        destination=customer,
        amount=order.total_price,
        memo=f"Order {order.id} canceled",
    )


async def _refund(session: AsyncSession, order: Order) -> None:
    """Return a finished order's money and take back the credits it granted."""
    # NOTE: a priority tier the order granted stays with the customer, because the
    # tier they had before is not recorded.
    postings: list[Posting] = []
    if order.total_price > 0:
        unit = await _order_unit(session, order)
        if order.seller_id is None:
            source = await ledger.system_account(session, AccountKind.REVENUE, unit)
        else:
            source = await _money_account(session, order.seller_id, unit)
        customer = await _money_account(session, order.customer_id, unit)
        postings += [
            Posting(source.id, -order.total_price),
            Posting(customer.id, order.total_price),
        ]
    if order.seller_id is None and order.total_credits > 0:
        credits, issuance = await _credit_accounts(session, order)
        postings += [
            Posting(credits.id, -order.total_credits),
            Posting(issuance.id, order.total_credits),
        ]
    if postings:
        await ledger.post_transfer(
            session,
            transfer_id=_transfer_id(order, "refund"),
            kind="order_refund",
            postings=postings,
            memo=f"Order {order.id} refunded",
        )


async def change_order_status(
    session: AsyncSession, admin: User, order_id: int, status: str
) -> Order:
    """Move an order to `status` as an admin, with its money effects, and audit it.

    Legal moves are in `ADMIN_TRANSITIONS`. Anything else, or losing a race, is 409
    (code 1013). Finishing pays the seller from escrow. Canceling returns the escrowed
    money and the items. Refunding returns a finished order's money from revenue or
    from the seller (402, code 1012 when the seller's balance is short) and takes back
    its credits (402, code 1011 when the customer has spent them).
    """
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("The order was not found.")
    old = OrderStatus(order.status)
    if status not in set(OrderStatus):
        known = ", ".join(item.value for item in OrderStatus)
        raise ValidationFailed.field("status", f"The status must be one of: {known}.")
    new = OrderStatus(status)
    if new not in ADMIN_TRANSITIONS.get(old, frozenset()):
        raise InvalidTransition(
            f"An order cannot move from {old.value} to {new.value}."
        )
    await _compare_and_set(session, order, old, new)

    if new is OrderStatus.FINISHED:
        await _pay_seller(session, order)
    elif new is OrderStatus.CANCELED:
        await _cancel(session, order, paid=old is not OrderStatus.UNPAID)
    elif new is OrderStatus.REFUNDED:
        await _refund(session, order)
    await record_audit(
        session,
        admin,
        "order.status_changed",
        "order",
        order.id,
        {"status": old.value},
        {"status": new.value},
    )
    log.info("order_status_changed", order_id=order.id, old=old.value, new=new.value)
    return order
