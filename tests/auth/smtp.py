"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    to: list[str]
    subject: str
    text: str

    def link_param(self, name: str) -> str:
        """Return the value of query parameter `name` in the mail's link."""
        match = re.search(rf"[?&]{name}=([^&\s]+)", self.text)
        assert match is not None, f"no {name}= in mail: {self.text}"
        from urllib.parse import unquote

        return unquote(match.group(1))


class _Handler:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        # Set by tests that need a server that stalls until released.
        self.hold: threading.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold is not None:
            import asyncio

            await asyncio.to_thread(self.hold.wait, 30)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.lock:
            self.messages.append(
                ReceivedMail(
                    to=list(envelope.rcpt_tos),
                    subject=str(parsed["Subject"]),
                    text=text,
                )
            )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """aiosmtpd in its own thread; `url` goes into `MAGE_SMTP_URL`."""

    def __init__(self) -> None:
        self._handler = _Handler()
        self.port = _free_port()
        self._controller = Controller(
            self._handler, hostname="127.0.0.1", port=self.port
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.messages.clear()
        self._handler.hold = None

    def hold(self) -> threading.Event:
        """Make the server stall on each message until the returned event is set."""
        event = threading.Event()
        self._handler.hold = event
        return event

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.messages)

    def to(self, address: str) -> list[ReceivedMail]:
        return [mail for mail in self.messages if address in mail.to]
