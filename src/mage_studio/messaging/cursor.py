"""Opaque, signed cursors for the message list.

A cursor is the (created_at, id) key of the last message of a page, bound to its chat
and signed with HMAC-SHA256, so a client can neither forge one nor reuse it in another
chat. Keyset pagination on that key stays stable while new messages arrive: they sort
before every cursor already handed out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from mage_studio.errors import BadRequest

_CONTEXT = b"mage-studio/message-cursor/v1\x00"


class InvalidCursor(BadRequest):
    message = "The cursor is invalid. Use the next_cursor value of a previous page."


@dataclass(frozen=True)
class CursorKey:
    created_at: datetime
    message_id: int


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padding = "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text + padding)


def _signature(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT + payload, hashlib.sha256).digest()


def encode_cursor(secret: str, chat_id: int, key: CursorKey) -> str:
    """Return the signed cursor that continues after `key` in chat `chat_id`."""
    timestamp = key.created_at.astimezone(UTC).isoformat()
    payload = json.dumps(
        [chat_id, timestamp, key.message_id], separators=(",", ":")
    ).encode()
    return f"{_b64encode(payload)}.{_b64encode(_signature(secret, payload))}"


def decode_cursor(secret: str, chat_id: int, cursor: str) -> CursorKey:
    """Verify and unpack a cursor; raise `InvalidCursor` for anything else."""
    try:
        encoded_payload, encoded_signature = cursor.split(".")
        payload = _b64decode(encoded_payload)
        signature = _b64decode(encoded_signature)
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor() from exc
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        raise InvalidCursor()

    try:
        cursor_chat_id, timestamp, message_id = json.loads(payload)
        created_at = datetime.fromisoformat(timestamp)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor() from exc
    if cursor_chat_id != chat_id or not isinstance(message_id, int):
        raise InvalidCursor()
    if created_at.tzinfo is None:
        raise InvalidCursor()
    return CursorKey(created_at=created_at, message_id=message_id)
