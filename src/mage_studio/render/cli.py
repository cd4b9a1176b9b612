"""`mage-studio worker`: a render worker that pulls jobs from an API over HTTP.

This module imports only Typer, Rich and the render package, so a GPU machine
runs it without the server's dependencies being used.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError
from rich.console import Console

from mage_studio.render.backends import BACKEND_NAMES, Backend, create_backend
from mage_studio.render.client import (
    RequestRejected,
    WorkerClient,
    WorkerUnauthorized,
    check_token,
)
from mage_studio.render.display import ProgressDisplay, configure_worker_logging
from mage_studio.render.runner import BackendFactory, Worker
from mage_studio.render.slots import JobObserver, WorkerConfig

console = Console(stderr=True)

EXIT_USAGE = 2
EXIT_UNAUTHORIZED = 3
EXIT_REJECTED = 4
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _check_api_url(api: str) -> None:
    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        console.print(f"[red]Invalid --api URL:[/red] {api} (expected http(s)://host)")
        raise typer.Exit(EXIT_USAGE)
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        console.print(
            "[yellow]Warning:[/yellow] the worker token is sent unencrypted over "
            "http; use https for a remote API."
        )


def _check_backend(backend: str, a1111_url: str | None) -> None:
    try:
        create_backend(backend, url=a1111_url).close()
    except ValueError as exc:
        console.print(f"[red]Invalid backend options:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc


def _check_claim(config: WorkerConfig) -> None:
    try:
        for slot in config.slot_names():
            config.claim_request(slot)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        console.print(f"[red]Invalid worker options:[/red] {problems}")
        raise typer.Exit(EXIT_USAGE) from exc


def worker(
    api: Annotated[
        str,
        typer.Option(envvar="MAGE_WORKER_API", help="Base URL of the API."),
    ] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="MAGE_WORKER_TOKEN",
            help="Worker token from `mage-studio worker-token create NAME`.",
            show_default=False,
        ),
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated queue names to serve, e.g. critical,medium,low; "
            "default every queue."
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            envvar="MAGE_RENDER_BACKEND",
            help=f"Generation backend: {' or '.join(BACKEND_NAMES)}.",
        ),
    ] = "preview",
    a1111_url: Annotated[
        str | None,
        typer.Option(
            "--a1111-url",
            envvar="MAGE_A1111_URL",
            help="SD WebUI/Forge URL for the automatic1111 backend.",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Jobs rendered in parallel.")
    ] = 1,
    name: Annotated[
        str | None,
        typer.Option(
            help="Worker name (letters, digits, . _ - : @ / +); default the host "
            "name. Slots of --concurrency N get .1 ... .N appended.",
            show_default=False,
        ),
    ] = None,
    generators: Annotated[
        str | None,
        typer.Option(help="Comma-separated generators: vid2vid,deforum; default both."),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated catalog model names; default any model."),
    ] = None,
    claim_wait: Annotated[
        float, typer.Option(min=0, max=30, help="Long-poll seconds per claim.")
    ] = 20.0,
    grace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds a running job may take to finish after SIGTERM/SIGINT "
            "before it is released to the queue.",
        ),
    ] = 30.0,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Folder for temporary job files; default the temp folder."),
    ] = None,
    max_download_mb: Annotated[
        int, typer.Option(min=1, help="Largest media file downloaded, in MiB.")
    ] = 2048,
    progress: Annotated[
        bool, typer.Option(help="Draw a progress line per job on stderr.")
    ] = True,
    log_json: Annotated[bool, typer.Option(help="Write JSON log lines.")] = False,
) -> None:
    """Render jobs from the API's queue until SIGTERM or SIGINT.

    On the first signal the worker stops claiming and lets running jobs finish
    within --grace seconds, then releases the rest to the queue. A second signal
    releases them at once.
    """
    _check_api_url(api)
    if not token:
        console.print(
            "[red]Missing worker token:[/red] pass --token or set MAGE_WORKER_TOKEN."
        )
        raise typer.Exit(EXIT_USAGE)
    try:
        check_token(token)
    except ValueError as exc:
        console.print(f"[red]Invalid worker token:[/red] {exc}.")
        raise typer.Exit(EXIT_USAGE) from exc
    _check_backend(backend, a1111_url)
    configure_worker_logging(json_logs=log_json)
    config = WorkerConfig(
        name=name or socket.gethostname(),
        queues=_split(queues),
        generators=_split(generators),
        models=_split(models),
        concurrency=concurrency,
        claim_wait=claim_wait,
        grace_seconds=grace,
        workdir=workdir,
        max_download_bytes=max_download_mb * 1024 * 1024,
    )

    _check_claim(config)

    def make_backend() -> Backend:
        return create_backend(backend, url=a1111_url)

    code = asyncio.run(_run(api, token, config, make_backend, progress))
    if code:
        raise typer.Exit(code)


async def _run(
    api: str,
    token: str,
    config: WorkerConfig,
    make_backend: BackendFactory,
    show_progress: bool,
) -> int:
    display = ProgressDisplay(console) if show_progress else None
    observer: JobObserver | None = display
    async with WorkerClient(api, token) as client:
        runner = Worker(client, make_backend, config, observer)
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, runner.request_shutdown)
        with display or contextlib.nullcontext():
            try:
                await runner.run()
            except WorkerUnauthorized as exc:
                console.print(
                    f"[red]{exc.message}[/red]\nCreate a token with "
                    "`mage-studio worker-token create NAME` and pass it with --token."
                )
                return EXIT_UNAUTHORIZED
            except RequestRejected as exc:
                console.print(f"[red]{exc.message}[/red]")
                return EXIT_REJECTED
    return 0
