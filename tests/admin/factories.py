"""Factories for administration tests: content of every kind a user can own."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger, renders
from mage_studio.billing.accounts import ensure_user_accounts
from mage_studio.billing.finance import create_operation
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    Category,
    FinanceOperation,
    Order,
    Product,
    UserRating,
    UserWallet,
    WalletType,
)
from mage_studio.billing.orders import place_order
from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from mage_studio.core.storage import Storage, new_key
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.messaging.models import Chat, ChatMember, ChatMessage
from mage_studio.support.models import SupportMessage, SupportRequest
from mage_studio.users.models import User

_counter = itertools.count(1)


async def fund(
    session: AsyncSession,
    user: User,
    settings: Settings,
    *,
    credits: int = 0,
    money: int = 0,
) -> None:
    """Grant the user credits and money from the issuance accounts, and flush."""
    accounts = await ensure_user_accounts(session, user.id, settings.currency)
    grants = (
        (credits, accounts.credits.id, CREDITS_UNIT),
        (money, accounts.balance.id, settings.currency),
    )
    for amount, account_id, unit in grants:
        if not amount:
            continue
        issuance = await ledger.system_account(session, AccountKind.ISSUANCE, unit)
        await ledger.post_transfer(
            session,
            transfer_id=f"test-grant:{uuid.uuid4()}",
            kind="test_grant",
            postings=[Posting(issuance.id, -amount), Posting(account_id, amount)],
        )


async def create_job(
    session: AsyncSession,
    user: User,
    *,
    status: JobStatus = JobStatus.PENDING,
    generator: str = "vid2vid",
    storage: Storage | None = None,
) -> VideoJob:
    """Insert a job; with `storage`, a source file and a thumbnail are stored too."""
    job = VideoJob(
        user_id=user.id, generator=generator, status=status.value, prompt="a cat"
    )
    if storage is not None:
        job.source_key = new_key("uploads", "mp4")
        job.thumbnail_key = new_key("thumbnails", "png")
        await storage.save_bytes(job.source_key, b"source video bytes")
        await storage.save_bytes(job.thumbnail_key, b"thumbnail bytes")
    session.add(job)
    await session.flush()
    return job


async def create_queued_job(
    session: AsyncSession, user: User, *, credits: int, storage: Storage | None = None
) -> VideoJob:
    """Insert an approved job whose render holds `credits` of the user's credits."""
    job = await create_job(session, user, status=JobStatus.APPROVED, storage=storage)
    await renders.reserve_render(
        session,
        user_id=user.id,
        job_id=job.id,
        attempt_key="preview-r0",
        credits=credits,
    )
    job.credits_reserved = credits
    job.render_frames = credits
    await session.flush()
    return job


async def create_chat(
    session: AsyncSession, first: User, second: User, *, messages: int = 2
) -> Chat:
    low, high = sorted((first.id, second.id))
    chat = Chat(low_user_id=low, high_user_id=high)
    session.add(chat)
    await session.flush()
    session.add_all(
        [ChatMember(chat_id=chat.id, user_id=user_id) for user_id in (low, high)]
    )
    authors = itertools.cycle((first.id, second.id))
    session.add_all(
        [
            ChatMessage(
                chat_id=chat.id, author_id=next(authors), body=f"message {number}"
            )
            for number in range(messages)
        ]
    )
    await session.flush()
    return chat


async def create_support_request(
    session: AsyncSession,
    author: User,
    *,
    replies: int = 1,
    assignee: User | None = None,
) -> SupportRequest:
    request = SupportRequest(
        author_id=author.id,
        subject_id=1,
        email=f"contact{next(_counter)}@example.com",
        assignee_id=None if assignee is None else assignee.id,
    )
    session.add(request)
    await session.flush()
    session.add_all(
        [
            SupportMessage(
                request_id=request.id, author_id=author.id, body=f"reply {number}"
            )
            for number in range(replies)
        ]
    )
    await session.flush()
    return request


async def create_wallet_type(session: AsyncSession) -> WalletType:
    wallet_type = WalletType(name=f"PayPal {next(_counter)}", symbol="paypal")
    session.add(wallet_type)
    await session.flush()
    return wallet_type


async def create_product(
    session: AsyncSession, *, seller: User | None, price: int = 500, credits: int = 0
) -> Product:
    number = next(_counter)
    category = Category(
        name=f"Category {number}", slug=f"category-{number}-{uuid.uuid4().hex[:6]}"
    )
    session.add(category)
    await session.flush()
    product = Product(
        category_id=category.id,
        user_id=None if seller is None else seller.id,
        name=f"Product {number}",
        price=price,
        credits=credits,
    )
    session.add(product)
    await session.flush()
    return product


async def create_withdrawal(
    session: AsyncSession, user: User, settings: Settings, *, money: int = 300
) -> FinanceOperation:
    """Create a write-off (which holds `money` of the balance) to a new wallet."""
    wallet_type = await create_wallet_type(session)
    return await create_operation(
        session,
        user,
        money=money,
        type_=2,
        settings=settings,
        info="DE44500105175407324931",
        wallet_type_id=wallet_type.id,
    )


async def buy(
    session: AsyncSession, customer: User, product: Product, settings: Settings
) -> Order:
    return await place_order(
        session, customer, product_id=product.id, quantity=1, settings=settings
    )


@dataclass
class OwnedContent:
    """Everything `create_owned_content` made for the user, by kind."""

    jobs: list[VideoJob] = field(default_factory=list)
    file_keys: list[str] = field(default_factory=list)
    chat: Chat | None = None
    support_request: SupportRequest | None = None
    product: Product | None = None
    orders: list[Order] = field(default_factory=list)
    withdrawal: FinanceOperation | None = None


async def create_owned_content(
    session: AsyncSession,
    user: User,
    other: User,
    settings: Settings,
    storage: Storage,
) -> OwnedContent:
    """Give `user` one of everything, with ledger activity, trading with `other`."""
    await fund(session, user, settings, credits=100, money=5000)
    await fund(session, other, settings, money=5000)
    content = OwnedContent()
    content.jobs = [
        await create_job(session, user, status=JobStatus.FINISHED, storage=storage),
        await create_queued_job(session, user, credits=40, storage=storage),
        await create_job(session, user, status=JobStatus.PENDING),
    ]
    content.file_keys = [
        key
        for job in content.jobs
        for key in (job.source_key, job.thumbnail_key)
        if key
    ]
    content.chat = await create_chat(session, user, other, messages=3)
    content.support_request = await create_support_request(session, user, replies=2)
    content.product = await create_product(session, seller=user)
    platform_pack = await create_product(session, seller=None, price=200, credits=50)
    sold = await buy(session, other, content.product, settings)
    bought = await buy(session, user, platform_pack, settings)
    content.orders = [sold, bought]
    session.add(
        UserRating(
            order_id=bought.id,
            author_id=user.id,
            user_id=other.id,
            rating=5,
            text="Fine.",
        )
    )
    content.withdrawal = await create_withdrawal(session, user, settings)
    await session.flush()
    return content


async def audit_entries(session: AsyncSession) -> list[AuditEntry]:
    """Return every audit entry, oldest first (ends the read transaction)."""
    rows = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    await session.commit()
    return rows


async def count_rows(session: AsyncSession, model: type) -> int:
    total = await session.scalar(select(func.count()).select_from(model))
    await session.commit()
    return int(total or 0)


async def active_wallets(session: AsyncSession, user: User) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(UserWallet)
        .where(UserWallet.user_id == user.id, UserWallet.deleted_at.is_(None))
    )
    await session.commit()
    return int(total or 0)
