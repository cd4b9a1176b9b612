"""The `mage-studio` command line."""

from __future__ import annotations

import asyncio
import code
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import select

from mage_studio.config import Settings, get_settings
from mage_studio.core.db import Database
from mage_studio.domains import domain_modules
from mage_studio.logging import configure_logging

app = typer.Typer(
    help="Mage Studio API: serve the API, run workers, manage the database.",
    no_args_is_help=True,
)
log_app = typer.Typer(help="Manage log files.", no_args_is_help=True)
app.add_typer(log_app, name="log")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        console.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes.")] = False,
) -> None:
    """Serve the API (and the embedded render workers) with uvicorn."""
    import uvicorn

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    # The app factory reads its settings from the environment: make the options
    # visible there so signed URLs and embedded workers use the address served.
    os.environ["MAGE_HOST"] = host
    os.environ["MAGE_PORT"] = str(port)
    get_settings.cache_clear()
    base = settings.public_url or f"http://{host}:{port}"
    console.print(f"API:      {base}/api")
    console.print(f"Docs:     {base}/docs")
    console.print(f"Console:  {base}/deforumation-qt")
    console.print(f"Workers:  {settings.workers_in_process} in process")
    uvicorn.run(
        "mage_studio.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations up to REVISION."""
    from mage_studio.core.migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    console.print(f"Database migrated to {revision}.")


async def _seed(settings: Settings) -> list[str]:
    from mage_studio.seed import seed_all

    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            return await seed_all(session, settings)
    finally:
        await database.dispose()


@app.command()
def seed() -> None:
    """Insert catalogs and reference data that are missing. Safe to repeat."""
    names = asyncio.run(_seed(_settings()))
    console.print(f"Seeded: {', '.join(names) or 'nothing to seed'}.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        console.print("[red]The password must be at least 8 characters long.[/red]")
        raise typer.Exit(2)
    return password


async def _create_admin(
    settings: Settings, email: str, login: str, password: str
) -> str:
    from mage_studio.auth.passwords import hash_password
    from mage_studio.core.db import utcnow
    from mage_studio.users.models import Role, User

    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            user = await session.scalar(select(User).where(User.email == email))
            created = user is None
            if user is None:
                user = User(email=email, login=login, email_verified_at=utcnow())
                session.add(user)
            user.password_hash = hash_password(password)
            user.tokens_valid_after = utcnow()
            user.set_roles([*user.roles, Role.ADMIN.value])
            await session.flush()
            return "created" if created else "promoted"
    finally:
        await database.dispose()


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="Email of the admin account.")],
    login: Annotated[
        str | None, typer.Option(help="Login name; default email.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an admin account, or give an existing account the admin role.

    The password is prompted for (not echoed) or read from stdin.
    """
    email = email.strip().lower()
    if "@" not in email:
        console.print(f"[red]Invalid email address:[/red] {email}")
        raise typer.Exit(2)
    password = _read_password(password_stdin)
    outcome = asyncio.run(_create_admin(_settings(), email, login or email, password))
    console.print(f"Admin {email} {outcome}.")


@app.command()
def shell() -> None:
    """Open a Python shell with settings, a database session and the models loaded.

    Run coroutines with `run(...)`, e.g. `run(session.scalars(select(User))).all()`.
    """
    import mage_studio.models as models

    settings = _settings()
    database = Database(settings.database_url)
    loop = asyncio.new_event_loop()
    session = database.sessionmaker()

    def run(awaitable: Any) -> Any:
        return loop.run_until_complete(awaitable)

    namespace: dict[str, Any] = {
        "settings": settings,
        "database": database,
        "session": session,
        "run": run,
        "select": select,
        "models": models,
    }
    namespace.update(models.registry)
    banner = "Mage Studio shell: settings, database, session, run(), select, models"
    try:
        code.interact(banner=banner, local=namespace)
    finally:
        run(session.close())
        run(database.dispose())
        loop.close()


@log_app.command("clear")
def log_clear() -> None:
    """Empty the log files in the log folder."""
    settings = _settings()
    folder = settings.log_path
    cleared = 0
    if folder.exists():
        for path in folder.glob("*.log*"):
            path.write_bytes(b"")
            cleared += 1
    console.print(f"Cleared {cleared} log file(s) in {folder}.")


@app.callback()
def _configure(ctx: typer.Context) -> None:
    """Send logs to stderr so commands can print results on stdout."""
    try:
        settings = get_settings()
    except ValueError:
        return  # each command reports invalid settings itself
    configure_logging(settings)


def _register_domain_commands() -> None:
    for module in domain_modules("cli"):
        module.register(app)


_register_domain_commands()

if __name__ == "__main__":
    app()
