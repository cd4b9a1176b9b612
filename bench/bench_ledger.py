"""Benchmark the ledger: render reservations and captures per second, and the check.

Not a test: it prints figures. It recreates the database named in `--database-url`
(default `mage_bench_ledger` on the local PostgreSQL; a `sqlite+aiosqlite` URL works
too), so never point it at real data.

    .venv/bin/python bench/bench_ledger.py [--tasks 16] [--seconds 5]

1. Hot account: `--tasks` concurrent tasks reserve and capture renders of one user
   for at most `--seconds`. Every transaction locks the same account row, so this is
   the serialised worst case.
2. Spread: the same with one user per task, so only the platform's revenue account
   is shared (by captures).
3. Times `check_ledger` over everything posted, and reports whether it passed.

Each render is two transactions (reserve, then capture of part of the hold), as the
job and queue code does it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from common import bench_settings, recreate_database
from sqlalchemy import make_url

from mage_studio.app import create_app
from mage_studio.billing import ledger, renders
from mage_studio.billing.accounts import ensure_user_accounts
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import CREDITS_UNIT, AccountKind
from mage_studio.core.migrations import upgrade
from mage_studio.users.models import User

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/mage_bench_ledger"
RENDER_COST = 10
RENDER_CHARGE = 7
STARTING_CREDITS = 10**12


def _remove_sqlite_files(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)


async def _funded_users(app: Any, count: int, prefix: str) -> list[int]:
    async with app.state.database.session() as session:
        users = [
            User(email=f"{prefix}{number}@bench.local", login=f"{prefix}{number}")
            for number in range(count)
        ]
        session.add_all(users)
        await session.flush()
        issuance = await ledger.system_account(
            session, AccountKind.ISSUANCE, CREDITS_UNIT
        )
        for user in users:
            accounts = await ensure_user_accounts(session, user.id, "USD")
            await ledger.post_transfer(
                session,
                transfer_id=f"bench-grant:{user.id}",
                kind="bench_grant",
                postings=[
                    Posting(issuance.id, -STARTING_CREDITS),
                    Posting(accounts.credits.id, STARTING_CREDITS),
                ],
            )
        return [user.id for user in users]


async def bench_renders(
    app: Any,
    user_ids: list[int],
    tasks: int,
    seconds: float,
    jobs: itertools.count[int],
) -> None:
    database = app.state.database
    deadline = time.perf_counter() + seconds
    settled = 0

    async def render_loop(number: int) -> None:
        nonlocal settled
        user_id = user_ids[number % len(user_ids)]
        while time.perf_counter() < deadline:
            job_id = next(jobs)
            async with database.session() as session:
                await renders.reserve_render(
                    session,
                    user_id=user_id,
                    job_id=job_id,
                    attempt_key="full",
                    credits=RENDER_COST,
                )
            async with database.session() as session:
                await renders.capture_render(
                    session, job_id=job_id, credits_used=RENDER_CHARGE
                )
            settled += 1

    started = time.perf_counter()
    await asyncio.gather(*(render_loop(number) for number in range(tasks)))
    elapsed = time.perf_counter() - started
    print(
        f"  {len(user_ids)} account(s), {tasks} tasks: {settled} renders in "
        f"{elapsed:.1f} s = {settled / elapsed:.0f} renders/s "
        f"({2 * settled / elapsed:.0f} transactions/s)"
    )


async def bench_check(app: Any) -> None:
    async with app.state.database.session() as session:
        started = time.perf_counter()
        result = await ledger.check_ledger(session)
        elapsed = time.perf_counter() - started
    outcome = "passed" if result.ok else f"FAILED for accounts {result.account_ids}"
    print(f"  check_ledger: {elapsed * 1000:.0f} ms, {outcome}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    if args.database_url.startswith("postgresql"):
        await recreate_database(args.database_url)
    else:
        _remove_sqlite_files(args.database_url)
    await asyncio.to_thread(upgrade, args.database_url)
    print(
        f"ledger benchmark: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{make_url(args.database_url).render_as_string()}"
    )
    jobs = itertools.count(1)
    with tempfile.TemporaryDirectory() as storage:
        app = create_app(
            bench_settings(args.database_url, Path(storage), args.tasks + 4)
        )
        try:
            print(f"hot account (at most {args.seconds:.0f} s):")
            hot = await _funded_users(app, 1, "hot")
            await bench_renders(app, hot, args.tasks, args.seconds, jobs)
            print(f"one account per task (at most {args.seconds:.0f} s):")
            spread = await _funded_users(app, args.tasks, "spread")
            await bench_renders(app, spread, args.tasks, args.seconds, jobs)
            print("consistency check over everything posted:")
            await bench_check(app)
        finally:
            await app.state.database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
