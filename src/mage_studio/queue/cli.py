"""`mage-studio worker-token create|list|revoke`: manage render worker tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings, get_settings
from mage_studio.core.db import Database
from mage_studio.errors import NotFound
from mage_studio.queue import tokens
from mage_studio.queue.models import WorkerToken

T = TypeVar("T")

token_app = typer.Typer(help="Create, list and revoke render worker tokens.")
console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="worker-token", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        console.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def _run(action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(_settings().database_url)
        try:
            async with database.session() as session:
                return await action(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Label of the token, e.g. the GPU host.")],
) -> None:
    """Create a worker token and print it once on stdout."""
    name = name.strip()
    if not name:
        console.print("[red]The token name must not be empty.[/red]")
        raise typer.Exit(2)

    async def action(session: AsyncSession) -> tokens.IssuedToken:
        return await tokens.create_token(session, name)

    issued = _run(action)
    console.print(
        f"Worker token {issued.record.id} ({name}) created. It is shown only now:"
    )
    print(issued.token)


@token_app.command("list")
def list_command() -> None:
    """List worker tokens: id, name, prefix, last use and revocation."""
    records = _run(tokens.list_tokens)
    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    for record in records:
        table.add_row(
            str(record.id),
            record.name,
            record.prefix,
            _when(record.created_at),
            _when(record.last_used_at),
            _when(record.revoked_at),
        )
    Console().print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(help="Id of the token to revoke.")],
) -> None:
    """Revoke a worker token; its workers get 401 from their next call."""

    async def action(session: AsyncSession) -> WorkerToken:
        record, _ = await tokens.revoke_token(session, token_id)
        return record

    try:
        record = _run(action)
    except NotFound as exc:
        console.print(f"[red]No worker token with id {token_id}.[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Worker token {record.id} ({record.name}) revoked.")


def _when(value: object) -> str:
    return "-" if value is None else str(value)[:19]
