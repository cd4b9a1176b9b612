"""The console page and its static files, as served by the API."""

from __future__ import annotations

import re

import httpx

from mage_studio.console.router import STATIC_DIR


async def test_page_is_served_with_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/deforumation-qt")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert 'id="token"' in response.text


async def test_every_referenced_file_is_served(client: httpx.AsyncClient) -> None:
    page = (STATIC_DIR / "index.html").read_text()
    names = set(re.findall(r"/deforumation-qt/static/([\w.-]+)", page))
    for module in STATIC_DIR.glob("*.js"):
        names.update(re.findall(r'from "\./([\w.-]+)"', module.read_text()))

    assert {"app.js", "console.css", "api.js", "stream.js"} <= names
    for name in sorted(names):
        response = await client.get(f"/deforumation-qt/static/{name}")
        assert response.status_code == 200, name
        expected = "text/javascript" if name.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(expected), name


async def test_unknown_or_outside_files_are_not_served(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/deforumation-qt/static/nope.js")
    outside = await client.get("/deforumation-qt/static/..%2Frouter.py")
    python = await client.get("/deforumation-qt/static/__init__.py")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404
    assert outside.status_code in (404, 422)
    assert python.status_code == 404
