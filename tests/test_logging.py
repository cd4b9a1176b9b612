from __future__ import annotations

import pytest

from mage_studio.logging import redact_query


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
