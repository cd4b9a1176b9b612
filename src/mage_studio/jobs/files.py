"""Download route for files in local storage, authorised by a signed, expiring URL."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from mage_studio.core.storage import (
    InvalidKey,
    LocalStorage,
    StorageDep,
    content_type_for,
    verify_signature,
)
from mage_studio.errors import Forbidden, NotFound

router = APIRouter(tags=["files"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/api/files/{key:path}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file.",
            "content": {"application/octet-stream": _BINARY},
        },
        206: {
            "description": "The requested byte range.",
            "content": {"application/octet-stream": _BINARY},
        },
        416: {"description": "The requested range is not satisfiable."},
    },
)
async def download_file(
    key: str,
    storage: StorageDep,
    expires: Annotated[int, Query(description="Expiry as unix seconds.")],
    signature: Annotated[str, Query(max_length=128, description="HMAC of key+expiry.")],
) -> FileResponse:
    """Stream a stored file (uploads, previews, videos) from a signed link.

    The link comes from the job's `urls`; it expires after a while. A `Range` request
    gets a 206 partial response, so video players can seek.
    """
    if not isinstance(storage, LocalStorage):
        raise NotFound("Files are served from the object store, not from this route.")
    if not verify_signature(storage.settings.jwt_secret, key, expires, signature):
        raise Forbidden("The download link is invalid or has expired.")
    try:
        path = storage.path_of(key)
    except InvalidKey as exc:
        raise NotFound("The file does not exist.") from exc
    if not path.is_file():
        raise NotFound("The file does not exist.")
    remaining = max(0, expires - int(time.time()))
    return FileResponse(
        path,
        media_type=content_type_for(key),
        headers={"Cache-Control": f"private, max-age={remaining}"},
        content_disposition_type="inline",
    )
