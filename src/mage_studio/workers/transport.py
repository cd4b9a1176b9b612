"""An httpx transport that can switch from the network to the app in process."""

from __future__ import annotations

import httpx


class SwitchableTransport(httpx.AsyncBaseTransport):
    """Sends requests through `primary` until `switch()`, then through `fallback`.

    The embedded workers talk to their API over loopback TCP. When the server
    shuts down it stops listening before the app's shutdown hooks run, so the
    workers switch to the app itself (an ASGI transport) to report their last
    results and releases.
    """

    def __init__(
        self, primary: httpx.AsyncBaseTransport, fallback: httpx.AsyncBaseTransport
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.switched = False

    def switch(self) -> None:
        self.switched = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.fallback if self.switched else self.primary
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.primary.aclose()
        await self.fallback.aclose()
