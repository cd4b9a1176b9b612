"""Turn billing models into response schemas."""

from __future__ import annotations

from mage_studio.billing.accounts import Statement
from mage_studio.billing.models import (
    Category,
    FinanceOperation,
    LedgerAccount,
    Order,
    Product,
    UserRating,
    UserWallet,
    WalletType,
)
from mage_studio.billing.repository import EntryRow
from mage_studio.billing.schemas import (
    AccountBalance,
    CategoryRead,
    CreditsSummary,
    FinanceOperationRead,
    LedgerEntryRead,
    OrderRead,
    ProductRead,
    UserBrief,
    UserRatingRead,
    UserWalletRead,
    WalletTypeRead,
)
from mage_studio.billing.wallets import mask_info
from mage_studio.users.models import User


def user_brief(user: User | None) -> UserBrief | None:
    return None if user is None else UserBrief(id=user.id, login=user.login)


def wallet_type_read(wallet_type: WalletType) -> WalletTypeRead:
    return WalletTypeRead(
        id=wallet_type.id, name=wallet_type.name, wallet_symbol=wallet_type.symbol
    )


def wallet_read(wallet: UserWallet) -> UserWalletRead:
    return UserWalletRead(
        id=wallet.id,
        info=mask_info(wallet.info),
        type=wallet_type_read(wallet.wallet_type),
    )


def finance_operation_read(operation: FinanceOperation) -> FinanceOperationRead:
    return FinanceOperationRead(
        id=operation.id,
        money=operation.money,
        type=operation.type,
        status=operation.status,
        wallet=wallet_read(operation.wallet),
        created_at=operation.created_at,
        executed_at=operation.executed_at,
        canceled_at=operation.canceled_at,
        canceled_info=operation.canceled_info,
    )


def category_read(category: Category, products_count: int) -> CategoryRead:
    return CategoryRead(
        id=category.id,
        name=category.name,
        slug=category.slug,
        description=category.description,
        parent_id=category.parent_id,
        products_count=products_count,
    )


def product_read(product: Product) -> ProductRead:
    return ProductRead(
        id=product.id,
        category_id=product.category_id,
        name=product.name,
        description=product.description,
        price=product.price,
        credits=product.credits,
        priority_tier=product.priority_tier,
        active=product.active,
        availability=product.availability,
        user=user_brief(product.user),
        created_at=product.created_at,
    )


def order_read(order: Order) -> OrderRead:
    customer = user_brief(order.customer)
    assert customer is not None
    return OrderRead(
        id=order.id,
        product_id=order.product_id,
        product_name=order.product_name,
        quantity=order.quantity,
        price=order.unit_price,
        credits=order.unit_credits,
        total_price=order.total_price,
        total_credits=order.total_credits,
        priority_tier=order.priority_tier,
        status=order.status,
        customer=customer,
        seller=user_brief(order.seller),
        created_at=order.created_at,
        updated_at=order.updated_at,
        finished_at=order.finished_at,
    )


def rating_read(rating: UserRating) -> UserRatingRead:
    author = user_brief(rating.author)
    assert author is not None
    return UserRatingRead(
        id=rating.id,
        order_id=rating.order_id,
        user_id=rating.user_id,
        rating=rating.rating,
        text=rating.text,
        author=author,
        created_at=rating.created_at,
    )


def account_balance(account: LedgerAccount) -> AccountBalance:
    return AccountBalance(
        unit=account.unit,
        posted=account.posted,
        held=account.held,
        available=account.available,
    )


def entry_read(row: EntryRow) -> LedgerEntryRead:
    return LedgerEntryRead(
        id=row.entry.id,
        transfer_id=row.entry.transfer_id,
        kind=row.transfer_kind,
        account=row.account_kind,
        unit=row.unit,
        amount=row.entry.amount,
        memo=row.memo,
        created_at=row.entry.created_at,
    )


def credits_summary(statement: Statement) -> CreditsSummary:
    return CreditsSummary(
        credits=account_balance(statement.accounts.credits),
        balance=account_balance(statement.accounts.balance),
        entries=[entry_read(row) for row in statement.entries],
    )
