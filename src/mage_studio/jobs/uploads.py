"""Streaming multipart parsing straight into storage staging files.

Starlette's form parser spools every file to a temporary file first and checks sizes
only afterwards. This parser feeds `request.stream()` through python-multipart and
writes each file part into a storage staging file as it arrives, so memory stays flat
for uploads of any size. An oversize file is rejected (413) as soon as it passes its
limit, and every staged file is removed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mage_studio.config import Settings
from mage_studio.core.ratelimit import RateLimit, enforce
from mage_studio.core.storage import StagedFile, StagingWriter, Storage
from mage_studio.errors import BadRequest, PayloadTooLarge, UnsupportedMedia

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 32
MAX_FILENAME_CHARS = 255
_MAX_EXTENSION_CHARS = 16
_HEADER_LIMIT = 16 * 1024
# python-multipart rejects part headers over 4224 bytes by default, as a generic
# parse error. Its own limit is set far above `_HEADER_LIMIT`, so that long file
# names reach `clean_filename` and only headers over `_HEADER_LIMIT` fail, with a
# clear message.
_PARSER_HEADER_LIMIT = 64 * _HEADER_LIMIT
# Multipart framing (boundaries, part headers) on top of the file sizes.
_MULTIPART_OVERHEAD = 1024 * 1024


@dataclass
class UploadedFile:
    """One file part, complete in the staging folder."""

    field: str
    filename: str
    content_type: str
    staged: StagedFile


@dataclass
class MultipartForm:
    """The text fields and the staged files of a multipart request."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def discard(self) -> None:
        """Remove every staged file that was not published."""
        for upload in self.files.values():
            upload.staged.discard()


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    writer: StagingWriter | None = None
    skipped: bool = False


def clean_filename(raw: str) -> str:
    """Reduce a client file name to a displayable base name (never used as a key).

    Names longer than `MAX_FILENAME_CHARS` are shortened in the stem, so that the
    extension is kept.
    """
    name = PureWindowsPath(PurePosixPath(raw).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip()
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= _MAX_EXTENSION_CHARS:
            stem_chars = MAX_FILENAME_CHARS - len(extension) - 1
            name = f"{stem[:stem_chars].rstrip()}.{extension}"
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip()
    return name or "upload"


class _FormReader:
    """Collect parser callbacks as events, then apply them with awaits in between."""

    def __init__(self, storage: Storage, file_limits: dict[str, int]) -> None:
        self.storage = storage
        self.file_limits = file_limits
        self.form = MultipartForm()
        self.events: list[tuple[str, _Part, bytes]] = []
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.parts = 0
        self.writers: list[StagingWriter] = []
        self.open_parts = 0

    # Parser callbacks (synchronous): record what happened.

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise BadRequest(f"The form has more than {MAX_PARTS} parts.")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]
        self._check_header_size()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        self._check_header_size()

    def _check_header_size(self) -> None:
        if len(self.header_name) + len(self.header_value) > _HEADER_LIMIT:
            raise BadRequest(
                f"A multipart part header is longer than {_HEADER_LIMIT} bytes. "
                "Shorten the file name."
            )

    def on_header_end(self) -> None:
        self.part.headers[self.header_name.strip().lower()] = self.header_value.strip()
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        self.open_parts += 1
        _, options = parse_options_header(self.part.headers.get(b"content-disposition"))
        if b"name" not in options:
            raise BadRequest('A form part has no "name" in its Content-Disposition.')
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.part.filename = options[b"filename"].decode("utf-8", "replace")
        self.events.append(("begin", self.part, b""))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", self.part, data[start:end]))

    def on_part_end(self) -> None:
        self.events.append(("end", self.part, b""))

    # Event handling (asynchronous): stage files, keep text fields.

    async def apply_events(self) -> None:
        events, self.events = self.events, []
        for kind, part, data in events:
            if kind == "begin":
                await self._begin(part)
            elif kind == "data":
                await self._data(part, data)
            else:
                await self._end(part)

    async def _begin(self, part: _Part) -> None:
        limit = self.file_limits.get(part.name)
        if part.filename is None or limit is None:
            return
        if part.name in self.form.files:
            raise BadRequest(f"The form contains more than one '{part.name}' file.")
        part.writer = await self.storage.open_staging(max_bytes=limit)
        self.writers.append(part.writer)

    async def _data(self, part: _Part, data: bytes) -> None:
        if part.writer is not None:
            await part.writer.write(data)
        elif part.filename is not None:
            part.skipped = True  # a file field this endpoint does not take
        else:
            if len(part.data) + len(data) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(
                    f"The form field '{part.name}' is longer than {MAX_FIELD_BYTES} "
                    "bytes."
                )
            part.data += data

    async def _end(self, part: _Part) -> None:
        self.open_parts -= 1
        if part.writer is not None:
            staged = await part.writer.finish()
            content_type = part.headers.get(b"content-type", b"").decode(
                "latin-1", "replace"
            )
            self.form.files[part.name] = UploadedFile(
                field=part.name,
                filename=clean_filename(part.filename or ""),
                content_type=content_type,
                staged=staged,
            )
        elif part.filename is None:
            self.form.fields[part.name] = part.data.decode("utf-8", "replace")

    def abort(self) -> None:
        for writer in self.writers:
            writer.abort()


async def read_multipart(
    content_type: str | None,
    stream: AsyncIterator[bytes],
    storage: Storage,
    *,
    file_limits: dict[str, int],
) -> MultipartForm:
    """Parse a multipart body, staging the files named in `file_limits`.

    `file_limits` maps each accepted file field to its maximum size in bytes; a file
    over its limit raises `PayloadTooLarge` at once. Other file fields are read and
    dropped. On any error every staged file is removed. The caller owns the returned
    staged files: publish them or call `MultipartForm.discard`.
    """
    mimetype, options = parse_options_header(content_type)
    if mimetype != b"multipart/form-data":
        raise UnsupportedMedia("The request must be sent as multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart Content-Type has no boundary.")

    reader = _FormReader(storage, file_limits)
    callbacks = {
        "on_part_begin": reader.on_part_begin,
        "on_part_data": reader.on_part_data,
        "on_part_end": reader.on_part_end,
        "on_header_field": reader.on_header_field,
        "on_header_value": reader.on_header_value,
        "on_header_end": reader.on_header_end,
        "on_headers_finished": reader.on_headers_finished,
    }
    parser = MultipartParser(
        boundary,
        callbacks,  # type: ignore[arg-type]
        max_header_size=_PARSER_HEADER_LIMIT,
    )
    try:
        async for chunk in stream:
            parser.write(chunk)
            await reader.apply_events()
        parser.finalize()
        await reader.apply_events()
        if reader.open_parts or reader.parts == 0:
            raise BadRequest("The multipart body is incomplete.")
    except MultipartParseError as exc:
        reader.abort()
        raise BadRequest("The multipart body is malformed.") from exc
    except BaseException:
        reader.abort()
        raise
    return reader.form


async def read_upload_form(
    request: Request, storage: Storage, limits: dict[str, int], user_id: int
) -> MultipartForm:
    """Apply the user's upload rate limit, then parse the request's multipart body.

    A declared Content-Length beyond the file limits plus framing is rejected (413)
    before any byte is read.
    """
    settings: Settings = request.app.state.settings
    rule = RateLimit("upload", settings.rate_limit_upload_per_minute, 60.0)
    await enforce(request, rule, f"user:{user_id}")
    declared = request.headers.get("content-length", "")
    allowed = sum(limits.values()) + _MULTIPART_OVERHEAD
    if declared.isdigit() and int(declared) > allowed:
        raise PayloadTooLarge(f"The upload is larger than {allowed} bytes.")
    return await read_multipart(
        request.headers.get("content-type"),
        request.stream(),
        storage,
        file_limits=limits,
    )
