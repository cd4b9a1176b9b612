"""Outgoing mail: SMTP when `smtp_url` is set, otherwise a file per message.

A request never waits for delivery: `MailService.send` starts a background task that
delivers with a timeout and logs the outcome, then returns. Call it once the data the
mail refers to is committed, from an `after_commit` callback or through
`send_after_commit`. The application's instance is `app.state.mail`.

Without SMTP each message is written to `log_path/mail/<time>-<id>.eml` and logged
with its recipient, subject and file. The body stays out of the log because it
usually carries a single-use link.
"""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.core.routing import after_commit

log = structlog.get_logger(__name__)

MAIL_FOLDER = "mail"
# Deliveries in flight in this process, shared by every MailService instance so a
# service built from settings alone can be drained like the application's.
_pending: set[asyncio.Task[None]] = set()


class MailService:
    """Builds plain-text messages and delivers them in the background."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def folder(self) -> Path:
        """Folder of the message files written when no SMTP server is set."""
        return self._settings.log_path / MAIL_FOLDER

    async def send(self, to: str, subject: str, text: str) -> None:
        """Queue one plain-text mail for background delivery and return at once."""
        message = self.build(to, subject, text)
        task = asyncio.create_task(self._deliver_and_log(message))
        _pending.add(task)
        task.add_done_callback(_pending.discard)

    def send_after_commit(
        self, session: AsyncSession, to: str, subject: str, text: str
    ) -> None:
        """Queue the mail once `session` commits; nothing is sent on rollback."""

        async def send() -> None:
            await self.send(to, subject, text)

        after_commit(session, send)

    def build(self, to: str, subject: str, text: str) -> EmailMessage:
        """Return the message with the configured sender, date and message id."""
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = to
        # A line break in a header would start a new header (header injection).
        message["Subject"] = " ".join(subject.split())
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="mage-studio")
        message.set_content(text)
        return message

    async def deliver(self, message: EmailMessage) -> None:
        """Deliver `message` now, over SMTP or to a file; raise when that fails."""
        if self._settings.smtp_url:
            async with asyncio.timeout(self._settings.smtp_timeout_seconds):
                await self._send_smtp(self._settings.smtp_url, message)
            log.info("mail_sent", to=message["To"], subject=message["Subject"])
            return
        path = await asyncio.to_thread(self._write_file, message)
        log.info(
            "mail_written", to=message["To"], subject=message["Subject"], path=str(path)
        )

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until queued deliveries have finished (shutdown, tests)."""
        if not _pending:
            return
        await asyncio.wait(set(_pending), timeout=timeout)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """Give queued deliveries one SMTP timeout to finish."""
        await self.drain(timeout=self._settings.smtp_timeout_seconds)

    async def _deliver_and_log(self, message: EmailMessage) -> None:
        try:
            await self.deliver(message)
        except Exception as exc:
            log.error(
                "mail_delivery_failed",
                to=message["To"],
                subject=message["Subject"],
                error=repr(exc),
            )

    async def _send_smtp(self, url: str, message: EmailMessage) -> None:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        await aiosmtplib.send(
            message,
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            timeout=self._settings.smtp_timeout_seconds,
        )

    def _write_file(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        return path
