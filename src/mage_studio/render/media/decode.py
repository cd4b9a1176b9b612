"""Decoding sources to RGB frames on a constant-rate timeline."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.imaging import RGBImage, resize_cover
from mage_studio.render.media.containers import has_decoder, open_input
from mage_studio.render.media.images import (
    IMAGE_MIMETYPES,
    animation_rate,
    identify_image,
    iter_animation,
    load_still,
    probe_image,
)
from mage_studio.render.media.probe import MediaInfo
from mage_studio.render.media.timeline import (
    even_indices,
    frame_count_for,
    normalise_rate,
    resample_to_rate,
)
from mage_studio.render.media.video import (
    DecodeStats,
    frame_to_rgb,
    nominal_rate_of,
    timed_frames,
)

T = TypeVar("T")
Size = tuple[int, int]
"""(width, height) in pixels."""

DEFAULT_RATE = Fraction(25)


def output_frame_count(info: MediaInfo, rate: Fraction | None = None) -> int:
    """Return how many frames `iter_frames` yields for this source at `rate`.

    Stills give one frame. Videos and GIFs give their duration times the rate
    (the source's own rate when `rate` is None).
    """
    if info.kind == "image" or info.fps is None:
        return 1
    effective = rate or info.fps
    return max(1, frame_count_for(Fraction(info.duration), effective))


def iter_frames(
    path: Path,
    *,
    rate: Fraction | None = None,
    size: Size | None = None,
    indices: Collection[int] | None = None,
    limit: int | None = None,
) -> Iterator[tuple[int, RGBImage]]:
    """Yield (index, RGB frame) pairs of a source resampled to a constant rate.

    Rotation and pixel aspect are applied. `rate` defaults to the rate the
    container declares (pass `MediaInfo.fps` to match `probe`). `size` crops and
    scales each frame to cover (width, height). `indices` selects the output
    frames to convert (the others are still decoded), and `limit` stops after
    that many output frames. A still image yields a single frame with index 0.
    """
    kind = _source_kind(path)
    if kind == "image":
        if indices is None or 0 in indices:
            yield 0, _fit(load_still(path), size)
        return
    if kind == "gif":
        timed: Iterable[tuple[Fraction, Fraction | None, RGBImage]] = iter_animation(
            path
        )
        frames = resample_to_rate(timed, rate or _animation_rate(path), Fraction(1, 10))
        yield from _select(frames, indices, limit, lambda image: _fit(image, size))
        return
    yield from _iter_video(path, rate, size, indices, limit)


def _iter_video(
    path: Path,
    rate: Fraction | None,
    size: Size | None,
    indices: Collection[int] | None,
    limit: int | None,
) -> Iterator[tuple[int, RGBImage]]:
    with open_input(path, "video") as container:
        if not container.streams.video:
            raise InvalidMedia("The source contains no video stream.")
        stream = container.streams.video[0]
        if not has_decoder(stream):
            raise UnsupportedMedia("The video codec of the source is not supported.")
        nominal = normalise_rate(nominal_rate_of(stream) or DEFAULT_RATE)
        output_rate = rate or nominal
        stats = DecodeStats()
        timed = (
            (item.start, item.duration, item.frame)
            for item in timed_frames(container, stream, stats, nominal)
        )
        frames = resample_to_rate(timed, output_rate, 1 / nominal)
        sample_aspect = stream.sample_aspect_ratio
        yielded = 0
        for index, image in _select(
            frames,
            indices,
            limit,
            lambda frame: _fit(frame_to_rgb(frame, sample_aspect), size),
        ):
            yielded += 1
            yield index, image
        if yielded == 0 and stats.frames == 0:
            raise InvalidMedia("The source video contains no decodable frames.")


def _select(
    frames: Iterator[tuple[int, T]],
    indices: Collection[int] | None,
    limit: int | None,
    convert: Callable[[T], RGBImage],
) -> Iterator[tuple[int, RGBImage]]:
    """Convert the wanted frames once each, reusing the result for duplicates."""
    wanted = None if indices is None else set(indices)
    last_index = None if wanted is None else max(wanted, default=-1)
    cached: tuple[T, RGBImage] | None = None
    for index, payload in frames:
        if limit is not None and index >= limit:
            return
        if last_index is not None and index > last_index:
            return
        if wanted is not None and index not in wanted:
            continue
        if cached is None or cached[0] is not payload:
            cached = (payload, convert(payload))
        yield index, cached[1]


def sample_frames(
    path: Path,
    info: MediaInfo,
    count: int,
    *,
    rate: Fraction | None = None,
    size: Size | None = None,
) -> list[tuple[int, RGBImage]]:
    """Return `count` frames spread evenly over the clip, first and last included.

    Indices refer to the constant-rate timeline at `rate` (the source rate by
    default). A damaged tail may hold fewer frames than the probe promised, so
    missing picks reuse the last frame that decoded.
    """
    total = output_frame_count(info, rate)
    picks = even_indices(total, count)
    found = dict(iter_frames(path, rate=rate or info.fps, size=size, indices=picks))
    if not found:
        raise InvalidMedia("The source contains no decodable frames.")
    result: list[tuple[int, RGBImage]] = []
    last = found[min(found)]
    for index in picks:
        last = found.get(index, last)
        result.append((index, last))
    return result


def read_first_frame(path: Path, *, size: Size | None = None) -> RGBImage:
    """Decode the first displayed frame of a video, GIF or still."""
    for _, image in iter_frames(path, size=size, limit=1):
        return image
    raise InvalidMedia("The source contains no decodable frames.")


def read_last_frame(path: Path, *, size: Size | None = None) -> RGBImage:
    """Decode the whole source and return its last frame."""
    last: RGBImage | None = None
    for _, image in iter_frames(path, size=size):
        last = image
    if last is None:
        raise InvalidMedia("The source contains no decodable frames.")
    return last


def _source_kind(path: Path) -> str:
    if identify_image(path) not in IMAGE_MIMETYPES:
        return "video"
    return "gif" if probe_image(path).animated else "image"


def _animation_rate(path: Path) -> Fraction:
    return animation_rate(probe_image(path).frame_durations_ms)


def _fit(image: RGBImage, size: Size | None) -> RGBImage:
    if size is None:
        return image
    return resize_cover(image, size[0], size[1])
