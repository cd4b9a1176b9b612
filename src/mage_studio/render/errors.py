"""Errors raised by the render package.

Messages are full sentences written for the end user: the server and the worker
forward them unchanged (upload rejections, job `error` texts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RenderError(Exception):
    """Base class of every expected render failure.

    `retryable` is True when another attempt of the same job may succeed (a busy
    backend) and False when it cannot (a corrupt source file).
    """

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MediaError(RenderError):
    """A media file that cannot be used as a source, soundtrack or output."""


class UnsupportedMedia(MediaError):
    """The file is not a video, image or audio format that the studio accepts.

    Examples: a renamed text file, a `.mov` without a video stream.
    """


class InvalidMedia(MediaError):
    """A file in a supported format that is damaged: truncated, empty or undecodable."""


class ScheduleError(RenderError, ValueError):
    """A Deforum schedule string that cannot be parsed or evaluated."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """One invalid Deforum setting: the key as the client sent it and a message."""

    field: str
    message: str


class SettingsError(RenderError, ValueError):
    """Deforum settings with one or more invalid values."""

    def __init__(self, problems: Sequence[SettingsProblem]) -> None:
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(f"Invalid Deforum settings: {summary}")
        self.problems = list(problems)


class BackendError(RenderError):
    """A failure of the generation backend, with `retryable` set per failure."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RenderCancelled(RenderError):
    """The job was cancelled, raised before the next frame starts."""

    def __init__(self, frames_rendered: int) -> None:
        super().__init__(f"The render was cancelled after {frames_rendered} frames.")
        self.frames_rendered = frames_rendered
