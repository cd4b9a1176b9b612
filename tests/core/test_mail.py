"""The mail service: real SMTP delivery, the file fallback, slow and dead servers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.core import mail as mail_module
from mage_studio.core.mail import MailService
from tests.auth.fixtures import client_for
from tests.auth.smtp import SmtpServer
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(
    database_url: str, storage_root: Path, smtp: SmtpServer, tmp_path: Path
) -> Settings:
    smtp.clear()
    return make_settings(
        database_url,
        storage_root,
        smtp_url=smtp.url,
        smtp_timeout_seconds=1.0,
        log_path=tmp_path / "log",
    )


class RecordingLogger:
    """Stands in for the module's structlog logger and keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str, event: str, **fields: Any) -> None:
        self.events.append((level, event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self._record("info", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._record("error", event, **fields)

    def names(self) -> list[str]:
        return [event for _, event, _ in self.events]


@pytest.fixture
def mail_log(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    recorder = RecordingLogger()
    monkeypatch.setattr(mail_module, "log", recorder)
    return recorder


async def test_smtp_delivery(smtp: SmtpServer, smtp_settings: Settings) -> None:
    mail = MailService(smtp_settings)

    await mail.send("reader@example.com", "Hello", "First line\nSecond line")
    await mail.drain(timeout=10)

    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.to == ["reader@example.com"]
    assert received.subject == "Hello"
    assert received.text.splitlines() == ["First line", "Second line"]


async def test_subject_cannot_inject_headers(
    smtp: SmtpServer, smtp_settings: Settings
) -> None:
    mail = MailService(smtp_settings)

    await mail.send("reader@example.com", "Hi\r\nBcc: victim@example.com", "Body")
    await mail.drain(timeout=10)

    assert smtp.messages[0].to == ["reader@example.com"]
    assert smtp.messages[0].subject == "Hi Bcc: victim@example.com"


async def test_file_fallback(
    tmp_path: Path,
    database_url: str,
    storage_root: Path,
    mail_log: RecordingLogger,
) -> None:
    settings = make_settings(database_url, storage_root, log_path=tmp_path / "log")
    mail = MailService(settings)

    await mail.send("reader@example.com", "Stored", "Link: http://x/?token=secret")
    await mail.drain(timeout=10)

    files = list((tmp_path / "log" / "mail").glob("*.eml"))
    assert len(files) == 1
    content = files[0].read_text()
    assert "Subject: Stored" in content
    assert "To: reader@example.com" in content
    assert "token=secret" in content
    assert mail_log.names() == ["mail_written"]
    assert "token=secret" not in repr(mail_log.events)


async def test_slow_server_does_not_block_send(
    smtp: SmtpServer, smtp_settings: Settings
) -> None:
    release = smtp.hold()
    mail = MailService(smtp_settings.model_copy(update={"smtp_timeout_seconds": 30}))
    try:
        await mail.send("reader@example.com", "Later", "Body")
        # send returned while the server was still stalling on the message.
        assert smtp.messages == []
    finally:
        release.set()
    await mail.drain(timeout=10)
    assert [message.subject for message in smtp.messages] == ["Later"]


async def test_stalled_server_times_out_and_logs(
    smtp: SmtpServer, smtp_settings: Settings, mail_log: RecordingLogger
) -> None:
    release = smtp.hold()
    mail = MailService(smtp_settings.model_copy(update={"smtp_timeout_seconds": 0.5}))
    try:
        await mail.send("reader@example.com", "Never", "Body")
        await mail.drain(timeout=10)
    finally:
        release.set()

    assert mail_log.names() == ["mail_delivery_failed"]
    assert "TimeoutError" in mail_log.events[0][2]["error"]


async def test_unreachable_server_is_logged(
    smtp_settings: Settings, mail_log: RecordingLogger
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = smtp_settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{closed_port}"}
    )

    await MailService(settings).send("reader@example.com", "Lost", "Body")
    await MailService(settings).drain(timeout=10)

    assert mail_log.names() == ["mail_delivery_failed"]
    assert mail_log.events[0][2]["to"] == "reader@example.com"


@pytest.fixture
async def mail_app(smtp_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(smtp_settings)
    yield application
    await application.state.database.dispose()


async def test_request_answers_before_delivery(
    mail_app: FastAPI, smtp: SmtpServer, app: FastAPI
) -> None:
    assert isinstance(mail_app.state.mail, MailService)
    release = smtp.hold()
    try:
        async with client_for(mail_app) as client:
            response: httpx.Response = await client.post(
                "/api/auth/register",
                json={
                    "email": "held@example.com",
                    "password": "long enough",
                    "password_confirmation": "long enough",
                },
            )
        assert response.status_code == 201
        assert smtp.messages == []
    finally:
        release.set()
    await mail_app.state.mail.drain(timeout=10)
    assert smtp.to("held@example.com")
