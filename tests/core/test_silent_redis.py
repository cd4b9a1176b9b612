"""A Redis that accepts connections but never replies must not hang requests."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from mage_studio.app import create_app
from mage_studio.config import Settings
from tests.conftest import make_settings
from tests.factories import auth_headers, create_user


@pytest.fixture
def silent_redis_url() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.mark.usefixtures("app")  # empties the tables afterwards
async def test_requests_finish_when_redis_never_replies(
    settings: Settings, silent_redis_url: str
) -> None:
    app = create_app(
        make_settings(
            settings.database_url, settings.storage_path, redis_url=silent_redis_url
        )
    )
    async with app.state.database.session() as session:
        user = await create_user(session)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        # A hang guard, not a latency check: the client timeouts are 2 s per call.
        anonymous = await asyncio.wait_for(client.get("/api/questions"), 30)
        signed_in = await asyncio.wait_for(
            client.get("/api/auth/me", headers=auth_headers(app.state.settings, user)),
            30,
        )
    await app.state.database.dispose()

    assert anonymous.status_code == 200
    assert signed_in.status_code in {200, 503}
    assert "error" in signed_in.json() or signed_in.status_code == 200
