from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from mage_studio.config import Environment, Settings
from mage_studio.logging import configure_logging, redact_query


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api/x?token=abc.def", "/api/x?token=[redacted]"),
        ("/a?page=2&access_token=zz", "/a?page=2&access_token=[redacted]"),
        (
            "/api/files/k?expires=9&signature=ff00",
            "/api/files/k?expires=9&signature=[redacted]",
        ),
        (
            "/o?X-Amz-Signature=1&x-amz-credential=2",
            "/o?X-Amz-Signature=[redacted]&x-amz-credential=[redacted]",
        ),
        ("/api/queue?page=1", "/api/queue?page=1"),
    ],
)
def test_redact_query_hides_secrets(url: str, expected: str) -> None:
    assert redact_query(url) == expected


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    yield
    root.handlers, root.level = handlers, level
    structlog.configure(**config)


def test_console_traceback_omits_locals(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(env=Environment.TEST, log_json=False))
    log = structlog.get_logger("tests.logging")
    secret_value = "local-secret-0123456789"

    try:
        raise ValueError(f"failed near {len(secret_value)} characters")
    except ValueError:
        log.exception("unhandled_exception")

    output = capsys.readouterr().err
    assert secret_value not in output
    assert "unhandled_exception" in output
    assert "ValueError: failed near 23 characters" in output
