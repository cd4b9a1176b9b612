"""Download route for files in local storage, authorised by a signed, expiring URL."""

from __future__ import annotations

import re
import stat
import time
from typing import Annotated

import structlog
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from mage_studio.core.storage import (
    InvalidKey,
    LocalStorage,
    StorageDep,
    content_type_for,
    verify_signature,
)
from mage_studio.errors import ErrorResponse, Forbidden, NotFound, error_response

log = structlog.get_logger(__name__)

router = APIRouter(tags=["files"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_INT_RANGE = re.compile(r"([0-9]+)-([0-9]*)")
_SUFFIX_RANGE = re.compile(r"-([0-9]+)")
# Offsets with more digits than this are beyond any stored file, so capping them
# keeps `int()` away from Python's limit on the length of integer strings.
_MAX_OFFSET_DIGITS = 18
_OFFSET_CAP: int = 10**_MAX_OFFSET_DIGITS


class RangeNotSatisfiable(Exception):
    """No range of a valid `Range` header starts inside the file."""


def _offset(digits: str) -> int:
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_OFFSET_DIGITS:
        return _OFFSET_CAP
    return int(significant)


def parse_byte_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a `Range` header into inclusive byte ranges that lie inside the file.

    Returns None when the header is invalid or not in bytes, so that the caller
    ignores it and sends the whole file (RFC 9110, section 14.2). Ranges that start
    past the end are dropped, and `RangeNotSatisfiable` is raised when none is left.
    """
    unit, separator, range_set = value.partition("=")
    if not separator or unit.strip().lower() != "bytes":
        return None
    specs = [part.strip() for part in range_set.split(",") if part.strip()]
    if not specs:
        return None

    ranges: list[tuple[int, int]] = []
    for spec in specs:
        if match := _INT_RANGE.fullmatch(spec):
            first = _offset(match[1])
            last = _offset(match[2]) if match[2] else size - 1
            if match[2] and last < first:
                return None
            if first < size:
                ranges.append((first, min(last, size - 1)))
        elif match := _SUFFIX_RANGE.fullmatch(spec):
            length = _offset(match[1])
            if length > 0 and size > 0:
                ranges.append((max(0, size - length), size - 1))
        else:
            return None
    if not ranges:
        raise RangeNotSatisfiable
    return ranges


def _with_range_header(scope: Scope, ranges: list[tuple[int, int]] | None) -> Scope:
    """Copy the scope with its `Range` header replaced by `ranges`, or removed."""
    headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
    if ranges is not None:
        spec = ",".join(f"{first}-{last}" for first, last in ranges)
        headers.append((b"range", f"bytes={spec}".encode("latin-1")))
    return {**scope, "headers": headers}


class StoredFileResponse(FileResponse):
    """A `FileResponse` that follows RFC 9110 on bad `Range` headers.

    Starlette's own response sends a plain-text 400 for an invalid `Range` header and
    an empty 416 for an unsatisfiable one. Here an invalid header is ignored (the
    whole file is sent), and an unsatisfiable one gets 416 in the error shape with
    `Content-Range: bytes */SIZE`. A single valid range is served by Starlette.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.stat_result is not None, "pass stat_result to the constructor"
        size = self.stat_result.st_size
        request_headers = Headers(scope=scope)
        http_range = request_headers.get("range")
        if_range = request_headers.get("if-range")
        # With a stale If-Range, Starlette ignores Range and sends the whole file.
        if http_range is not None and (
            if_range is None or self._should_use_range(if_range)
        ):
            try:
                ranges = parse_byte_ranges(http_range, size)
            except RangeNotSatisfiable:
                log.info("range_not_satisfiable", range=http_range[:200], size=size)
                response = error_response(
                    416,
                    f"The requested range is not satisfiable: the file is {size} "
                    "bytes long.",
                    headers={"Content-Range": f"bytes */{size}"},
                )
                await response(scope, receive, send)
                return
            if ranges is not None and len(ranges) > 1:
                # NOTE: Starlette 0.52 labels a multipart/byteranges body with the
                # file's own Content-Type, so a request for several ranges gets the
                # whole file instead (RFC 9110 lets a server ignore Range).
                ranges = None
            scope = _with_range_header(scope, ranges)
        await super().__call__(scope, receive, send)


_FILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The file.",
        "content": {"application/octet-stream": _BINARY},
    },
    206: {
        "description": "The requested byte range.",
        "content": {"application/octet-stream": _BINARY},
    },
    416: {
        "model": ErrorResponse,
        "description": "The requested range is not satisfiable. `Content-Range` "
        "gives the file size as `bytes */SIZE`.",
    },
}


@router.get(
    "/api/files/{key:path}",
    response_class=StoredFileResponse,
    responses=_FILE_RESPONSES,
)
async def download_file(
    key: str,
    storage: StorageDep,
    expires: Annotated[int, Query(description="Expiry as unix seconds.")],
    signature: Annotated[str, Query(max_length=128, description="HMAC of key+expiry.")],
) -> FileResponse:
    """Stream a stored file (uploads, previews, videos) from a signed link.

    The link comes from the job's `urls`; it expires after a while. A `Range` request
    gets a 206 partial response, so video players can seek. An invalid `Range` header
    is ignored, and a range past the end of the file gets 416.
    """
    if not isinstance(storage, LocalStorage):
        raise NotFound("Files are served from the object store, not from this route.")
    if not verify_signature(storage.settings.jwt_secret, key, expires, signature):
        raise Forbidden("The download link is invalid or has expired.")
    try:
        path = storage.path_of(key)
    except InvalidKey as exc:
        raise NotFound("The file does not exist.") from exc
    try:
        stat_result = path.stat()
    except FileNotFoundError as exc:
        raise NotFound("The file does not exist.") from exc
    if not stat.S_ISREG(stat_result.st_mode):
        raise NotFound("The file does not exist.")
    remaining = max(0, expires - int(time.time()))
    return StoredFileResponse(
        path,
        media_type=content_type_for(key),
        headers={"Cache-Control": f"private, max-age={remaining}"},
        content_disposition_type="inline",
        stat_result=stat_result,
    )


@router.head(
    "/api/files/{key:path}",
    response_class=StoredFileResponse,
    responses=_FILE_RESPONSES,
)
async def download_file_headers(
    key: str,
    storage: StorageDep,
    expires: Annotated[int, Query(description="Expiry as unix seconds.")],
    signature: Annotated[str, Query(max_length=128, description="HMAC of key+expiry.")],
) -> FileResponse:
    """Send the headers a GET of the same signed link would send, without the body."""
    return await download_file(key, storage, expires, signature)
