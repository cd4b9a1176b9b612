"""Opening media files with PyAV and turning its failures into MediaError subclasses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
import av.stream

from mage_studio.render.errors import InvalidMedia, MediaError, UnsupportedMedia

AV_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    LookupError,  # av.error.DecoderNotFoundError and unknown codec names
    UnicodeError,  # undecodable metadata in some containers
)
"""Exceptions PyAV raises for damaged or unsupported input."""

# Leading bytes of the formats the studio accepts, so that a file that looks like
# one of them but fails to open is reported as damaged instead of unsupported.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "RIFF (WAV/AVI/WebP)"),
    (4, b"ftyp", "MP4/MOV"),
    (4, b"moov", "MOV"),
    (4, b"mdat", "MOV"),
    (4, b"wide", "MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"OggS", "Ogg"),
    (0, b"ID3", "MP3"),
    (0, b"\xff\xfb", "MP3"),
    (0, b"\xff\xf3", "MP3"),
    (0, b"\xff\xf2", "MP3"),
    (0, b"\xff\xf1", "AAC"),
    (0, b"\xff\xf9", "AAC"),
    (0, b"GIF8", "GIF"),
    (0, b"\x89PNG", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
)


def sniff_format(path: Path) -> str | None:
    """Return the format a file's leading bytes claim, or None when none matches."""
    with path.open("rb") as handle:
        head = handle.read(16)
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def open_failure(path: Path, error: BaseException, what: str) -> MediaError:
    """Build the error for a file that PyAV or Pillow could not open.

    A file whose header claims a supported format is damaged (InvalidMedia),
    and anything else is not media that the studio accepts (UnsupportedMedia).
    """
    claimed = sniff_format(path)
    if claimed is not None:
        return InvalidMedia(
            f"The {what} file looks like {claimed} but is damaged and cannot be read."
        )
    return UnsupportedMedia(
        f"The {what} file is not in a supported format ({type(error).__name__})."
    )


@contextmanager
def open_input(
    path: Path, what: str = "media"
) -> Iterator[av.container.InputContainer]:
    """Open `path` for reading, raising a MediaError subclass when PyAV cannot.

    `what` names the file in messages ("video", "soundtrack").
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        container = av.open(str(path), "r", metadata_errors="replace")
    except AV_ERRORS as error:
        raise open_failure(path, error, what) from error
    try:
        yield container
    finally:
        container.close()


def has_decoder(stream: av.stream.Stream) -> bool:
    """Return whether FFmpeg can decode `stream`.

    PyAV leaves `codec_context` as None when no decoder exists for the stream's
    codec (a damaged header can name an unknown codec), and decoding such a
    stream crashes the process, so every decoding path checks this first.
    """
    context: object = stream.codec_context
    return context is not None


def time_base_of(value: Fraction | None) -> Fraction:
    """Return a stream's time base, failing clearly when the container has none."""
    if value is None or value <= 0:
        raise InvalidMedia("The file has a stream without a time base.")
    return value
