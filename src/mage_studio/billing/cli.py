"""`mage-studio ledger ...` commands."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from mage_studio.billing.ledger import LedgerCheck, check_ledger
from mage_studio.config import get_settings
from mage_studio.core.db import Database

ledger_app = typer.Typer(
    help="Inspect the credits and money ledger.", no_args_is_help=True
)
console = Console()


async def _run_check(database_url: str) -> LedgerCheck:
    database = Database(database_url)
    try:
        async with database.session() as session:
            return await check_ledger(session)
    finally:
        await database.dispose()


def _print_problems(result: LedgerCheck) -> None:
    for transfer in result.unbalanced_transfers:
        if transfer.unit is None:
            console.print(f"transfer {transfer.transfer_id}: has no entries")
        else:
            console.print(
                f"transfer {transfer.transfer_id}: {transfer.unit} entries sum to "
                f"{transfer.total}, not 0"
            )
    for account in result.mismatched_accounts:
        console.print(
            f"account {account.account_id} ({account.key}): posted {account.posted}, "
            f"entries sum {account.entries_total}; held {account.held}, open holds "
            f"sum {account.open_holds_total}"
        )


@ledger_app.command("check")
def check() -> None:
    """Verify the ledger's transfers and cached balances.

    Every transfer must sum to zero per unit, and each account's cached posted and
    held amounts must equal the sums of its entries and of its open holds. Exits
    with status 1 and lists the transfers and account ids that disagree.
    """
    result = asyncio.run(_run_check(get_settings().database_url))
    if result.ok:
        console.print("Ledger OK: transfers balance and cached balances match.")
        return
    _print_problems(result)
    ids = ", ".join(str(account_id) for account_id in result.account_ids) or "none"
    console.print(f"Ledger check failed. Accounts out of balance: {ids}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
