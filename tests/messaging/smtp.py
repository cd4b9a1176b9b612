"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.core.mail import MailService
from tests.conftest import empty_tables, make_settings


class Mailbox:
    """The aiosmtpd handler: stores every message it accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self._messages.append(parsed)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, str]]:
    """Run an SMTP server for the duration of the block; yield it and its URL."""
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


@dataclass
class MailEnvironment:
    """An app whose mail service delivers to `mailbox` over SMTP."""

    app: FastAPI
    client: httpx.AsyncClient
    session: AsyncSession
    settings: Settings
    mailbox: Mailbox

    async def delivered(self) -> list[EmailMessage]:
        """Wait for queued deliveries, then return everything the server received."""
        await self.app.state.mail.drain()
        return self.mailbox.messages


@asynccontextmanager
async def mail_environment(
    database_url: str, storage_root: Path
) -> AsyncIterator[MailEnvironment]:
    """Build an app wired to a fresh SMTP server; empty the tables afterwards."""
    with smtp_server() as (mailbox, url):
        settings = make_settings(database_url, storage_root, smtp_url=url)
        app = create_app(settings)
        app.state.mail = MailService(settings)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with (
                httpx.AsyncClient(
                    transport=transport, base_url="http://testserver"
                ) as client,
                app.state.database.sessionmaker() as session,
            ):
                yield MailEnvironment(app, client, session, settings, mailbox)
        finally:
            await app.state.mail.drain()
            await empty_tables(app.state.database)
            await app.state.database.dispose()
