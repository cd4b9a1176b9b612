"""Random sequences of billing operations always leave a consistent ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import finance, ledger, orders, renders
from mage_studio.billing.models import FinanceOperation, LedgerAccount, Order
from mage_studio.config import Settings
from mage_studio.errors import AppError
from mage_studio.users.models import User
from tests.billing.factories import (
    create_category,
    create_product,
    create_wallet_type,
    fund,
)
from tests.factories import create_admin, create_user

USERS = 3
START_CREDITS = 500
START_MONEY = 1000
AMOUNT = st.integers(min_value=0, max_value=300)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.integers(0, USERS - 1), AMOUNT, AMOUNT),
        st.tuples(
            st.just("reserve"), st.integers(0, USERS - 1), st.integers(0, 5), AMOUNT
        ),
        st.tuples(st.just("capture"), st.integers(0, 5), AMOUNT),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.tuples(
            st.just("operation"),
            st.integers(0, USERS - 1),
            st.sampled_from([1, 2]),
            st.integers(1, 400),
        ),
        st.tuples(st.just("operation_status"), st.integers(0, 7), st.integers(1, 4)),
        st.tuples(st.just("operation_cancel"), st.integers(0, 7)),
        st.tuples(
            st.just("order"),
            st.integers(0, USERS - 1),
            st.booleans(),
            st.integers(1, 3),
        ),
        st.tuples(st.just("confirm"), st.integers(0, 7)),
        st.tuples(
            st.just("order_status"),
            st.integers(0, 7),
            st.sampled_from(["processing", "finished", "canceled", "refunded"]),
        ),
    ),
    min_size=3,
    max_size=30,
)


@dataclass
class World:
    session: AsyncSession
    settings: Settings
    user_ids: list[int]
    admin_id: int
    pack_id: int
    item_id: int
    run: int
    wallet_type_id: int
    operation_ids: list[int] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)

    async def user(self, index: int) -> User:
        return await self.session.get_one(
            User, self.user_ids[index], populate_existing=True
        )

    async def admin(self) -> User:
        return await self.session.get_one(User, self.admin_id, populate_existing=True)

    def job(self, index: int) -> int:
        return self.run * 100 + index


async def _apply(world: World, step: tuple[Any, ...]) -> None:
    name, *args = step
    session, settings = world.session, world.settings
    if name == "fund":
        await fund(session, world.user_ids[args[0]], credits=args[1], money=args[2])
    elif name == "reserve":
        await renders.reserve_render(
            session,
            user_id=world.user_ids[args[0]],
            job_id=world.job(args[1]),
            attempt_key="full",
            credits=args[2],
        )
    elif name == "capture":
        await renders.capture_render(
            session, job_id=world.job(args[0]), credits_used=args[1]
        )
    elif name == "release":
        await renders.release_render(session, job_id=world.job(args[0]))
    elif name == "operation":
        user = await world.user(args[0])
        operation = await finance.create_operation(
            session,
            user,
            money=args[2],
            type_=args[1],
            settings=settings,
            info="acct-0001",
            wallet_type_id=world.wallet_type_id,
        )
        world.operation_ids.append(operation.id)
    elif name == "operation_status" and args[0] < len(world.operation_ids):
        await finance.change_finance_operation_status(
            session,
            await world.admin(),
            world.operation_ids[args[0]],
            args[1],
            settings,
        )
    elif name == "operation_cancel" and args[0] < len(world.operation_ids):
        operation = await session.get_one(
            FinanceOperation, world.operation_ids[args[0]]
        )
        owner = await session.get_one(User, operation.user_id, populate_existing=True)
        await finance.cancel_operation(
            session, owner, operation.id, cancel_info=None, settings=settings
        )
    elif name == "order":
        customer = await world.user(args[0])
        product_id = world.pack_id if args[1] else world.item_id
        order = await orders.place_order(
            session,
            customer,
            product_id=product_id,
            quantity=args[2],
            settings=settings,
        )
        world.order_ids.append(order.id)
    elif name == "confirm" and args[0] < len(world.order_ids):
        order = await session.get_one(Order, world.order_ids[args[0]])
        customer = await session.get_one(
            User, order.customer_id, populate_existing=True
        )
        await orders.confirm_order(session, customer, order.id)
    elif name == "order_status" and args[0] < len(world.order_ids):
        await orders.change_order_status(
            session, await world.admin(), world.order_ids[args[0]], args[1]
        )


async def _build_world(session: AsyncSession, settings: Settings, run: int) -> World:
    users = [await create_user(session) for _ in range(USERS)]
    for user in users:
        await fund(session, user, credits=START_CREDITS, money=START_MONEY)
    seller = await create_user(session, roles=["seller"])
    admin = await create_admin(session)
    category = await create_category(session)
    pack = await create_product(session, category=category, price=300, credits=50)
    item = await create_product(
        session, category=category, seller=seller, price=200, availability=5
    )
    wallet_type = await create_wallet_type(session)
    await session.commit()
    world = World(
        session=session,
        settings=settings,
        user_ids=[user.id for user in users],
        admin_id=admin.id,
        pack_id=pack.id,
        item_id=item.id,
        run=run,
        wallet_type_id=wallet_type.id,
    )
    return world


_runs = iter(range(1, 1_000_000))


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
async def test_random_operations_keep_ledger_consistent(
    session: AsyncSession, settings: Settings, steps: list[tuple[Any, ...]]
) -> None:
    world = await _build_world(session, settings, next(_runs))

    for step in steps:
        try:
            async with session.begin_nested():
                await _apply(world, step)
        except AppError:
            # Expected refusals (402, 409, 400) roll back to the savepoint.
            continue
    await session.commit()

    check = await ledger.check_ledger(session)
    assert check.ok, check
    accounts = await session.scalars(
        select(LedgerAccount).where(LedgerAccount.user_id.is_not(None))
    )
    assert all(account.posted - account.held >= 0 for account in accounts)
