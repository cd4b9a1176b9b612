from __future__ import annotations

import httpx
import pytest


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'mage_http_requests_total{method="GET",route="/health",status="200"}' in (
        response.text
    )


async def test_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    forged = await client.get("/health", headers={"X-Request-ID": "bad id\n"})
    assert forged.headers["X-Request-ID"] != "bad id\n"


@pytest.mark.parametrize("path", ["/health", "/no-such-route", "/deforumation-qt"])
async def test_responses_forbid_type_sniffing(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.headers.get_list("X-Content-Type-Options") == ["nosniff"]


async def test_docs_and_openapi_are_served(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "ErrorResponse" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    health = schema["paths"]["/health"]["get"]["responses"]
    assert health["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
