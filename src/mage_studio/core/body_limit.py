"""A size limit on request bodies that are not multipart uploads.

Multipart uploads have their own per-file limits (`upload_max_bytes`,
`soundtrack_max_bytes`, ...), so they are exempt, as are the path prefixes the
application exempts (the worker API).
"""

from __future__ import annotations

import contextlib

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mage_studio.errors import error_response

log = structlog.get_logger(__name__)


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def _declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    digits = value.strip()
    # `isdigit` alone accepts digits such as "²" that `int` rejects.
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


class BodySizeLimitMiddleware:
    """Reject a non-multipart body over `max_bytes` with 413 in the error shape.

    A declared `Content-Length` over the limit is rejected before any byte is read.
    A chunked body, or one longer than it declared, is counted while the app reads
    it. Once it passes the limit, `receive` raises, and the 413 replaces the app's
    own response to that failure.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    def _is_exempt(self, scope: Scope) -> bool:
        content_type = (_header(scope, b"content-type") or "").lower()
        if content_type.lstrip().startswith("multipart/"):
            return True
        path: str = scope.get("path", "")
        return any(
            path == prefix or path.startswith(prefix + "/")
            for prefix in self.exempt_prefixes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_exempt(scope):
            await self.app(scope, receive, send)
            return

        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send, received=declared)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            # Once the limit is passed, the app's response to the failed read (a 400 or
            # 500) is dropped, so that the 413 below is the only response.
            if exceeded and not response_started:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not response_started:
            await self._reject(scope, receive, send, received=received)

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, *, received: int
    ) -> None:
        log.info(
            "request_body_too_large",
            path=scope.get("path", ""),
            method=scope.get("method", ""),
            received_bytes=received,
            max_bytes=self.max_bytes,
        )
        response = error_response(
            413,
            f"The request body is too large: the maximum is {self.max_bytes} bytes "
            "for a request that is not a multipart upload.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
