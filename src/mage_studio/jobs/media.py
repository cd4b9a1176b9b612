"""Server-side use of the render package's media probes: uploads and soundtracks.

Files are validated by decoding them (in a thread), never by their name or the
client's Content-Type, and are published to storage only once they passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import structlog

from mage_studio.errors import UnsupportedMedia, ValidationFailed
from mage_studio.render.errors import InvalidMedia, MediaError
from mage_studio.render.errors import UnsupportedMedia as UnsupportedMediaFile
from mage_studio.render.media.audio import AudioInfo, probe_audio
from mage_studio.render.media.probe import MediaInfo, probe_upload

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Storage extensions by probed MIME type; downloads take their Content-Type from it.
_EXTENSIONS = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/ogg": "ogv",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
}


def extension_for(mimetype: str) -> str:
    return _EXTENSIONS.get(mimetype, "bin")


async def probe_source(path: Path, field: str = "attachment") -> MediaInfo:
    """Decode an uploaded video or image completely and return its properties.

    Raises 415 for files that are not a supported video or image (renamed text,
    audio-only MOV) and 422 on `field` for damaged ones (truncated, undecodable).
    """
    return await _probe(
        probe_upload,
        path,
        field,
        event="upload_probe_failed",
        message="The file could not be decoded as a video or image.",
    )


async def probe_soundtrack(path: Path, field: str = "soundtrack") -> AudioInfo:
    """Decode a soundtrack completely (MP3, AAC, M4A, WAV incl. 24-bit and float)."""
    return await _probe(
        probe_audio,
        path,
        field,
        event="soundtrack_probe_failed",
        message="The soundtrack could not be decoded as audio.",
    )


async def _probe(
    probe: Callable[[Path], T], path: Path, field: str, *, event: str, message: str
) -> T:
    """Run `probe` in a thread, turning any decoding failure into a 415 or 422."""
    try:
        return await asyncio.to_thread(probe, path)
    except MediaError as exc:
        raise _media_error(exc, field) from exc
    except Exception as exc:
        log.warning(event, field=field, error=repr(exc))
        raise ValidationFailed.field(field, message) from exc


def _media_error(exc: MediaError, field: str) -> Exception:
    if isinstance(exc, UnsupportedMediaFile):
        return UnsupportedMedia(f"{field}: {exc.message}")
    if isinstance(exc, InvalidMedia):
        return ValidationFailed({field: [exc.message]}, f"{field}: {exc.message}")
    return ValidationFailed({field: [exc.message]}, f"{field}: {exc.message}")


def fraction_parts(rate: Fraction | None) -> tuple[int | None, int | None]:
    if rate is None:
        return None, None
    return rate.numerator, rate.denominator
