"""Property-based API testing against the app's own OpenAPI document.

Every operation is called with generated requests, anonymously and as an admin; no
response may be a 500, and each must match the status codes, content types and
schemas the document declares.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationConfig
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import BaseOpenAPISchema

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.core.db import Database
from tests.conftest import empty_tables, make_settings, run_sync
from tests.factories import auth_headers, create_admin
from tests.live import live_server

# `MAGE_FUZZ_EXAMPLES` raises the examples per operation for a deeper run, and
# `MAGE_FUZZ_ENDPOINT` (a regular expression on the path) narrows it to some routes.
MAX_EXAMPLES = int(os.environ.get("MAGE_FUZZ_EXAMPLES", "8"))
ENDPOINT = os.environ.get("MAGE_FUZZ_ENDPOINT") or None
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


async def _admin_headers(fuzz_settings: Settings) -> dict[str, str]:
    app = create_app(fuzz_settings)
    try:
        async with app.state.database.session() as session:
            admin = await create_admin(session, email="fuzz-admin@example.com")
        return auth_headers(fuzz_settings, admin)
    finally:
        await app.state.database.dispose()


@pytest.fixture(scope="module")
def fuzz_settings(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    storage: Path = tmp_path_factory.mktemp("fuzz-storage")
    return make_settings(
        database_url, storage, database_null_pool=True, rate_limit_enabled=False
    )


@pytest.fixture(scope="module")
def admin_headers(fuzz_settings: Settings) -> dict[str, str]:
    return run_sync(_admin_headers(fuzz_settings))


@pytest.fixture(scope="module")
def api_schema(fuzz_settings: Settings) -> Iterator[BaseOpenAPISchema]:
    """Serve the app with uvicorn on 127.0.0.1 and load its OpenAPI over HTTP.

    One live server keeps one lifespan for the whole run, as in production; the
    ASGI transport of schemathesis would start and stop the app for every call.
    """
    app = create_app(fuzz_settings)
    with live_server(app) as base_url:
        # Generated header values (NUL bytes, random bearer tokens) are often invalid
        # HTTP/1.1 that uvicorn rejects before the app sees them. Bad tokens are
        # covered by the auth tests instead.
        yield schemathesis.from_uri(
            f"{base_url}/openapi.json",
            generation_config=GenerationConfig(
                allow_x00=False, with_security_parameters=False
            ),
        )
    run_sync(_clean_up(app.state.database))


async def _clean_up(database: Database) -> None:
    await empty_tables(database)
    await database.dispose()


# FastAPI emits OpenAPI 3.1, which schemathesis 3 supports behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()
schema = schemathesis.from_pytest_fixture("api_schema", endpoint=ENDPOINT)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_operation_conforms_to_schema(
    case: schemathesis.Case, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(checks=CHECKS)
    case.call_and_validate(checks=CHECKS, headers=admin_headers)
