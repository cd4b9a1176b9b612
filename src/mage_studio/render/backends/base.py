"""The interface every generation backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from mage_studio.render.imaging import RGBImage


class Backend(ABC):
    """An img2img generator: an RGB frame in, a generated frame of the same size out.

    Backends are called from the render thread. `interrupt()` may be called from
    another thread (the worker's heartbeat) and must return quickly.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    """Human-readable description stored with each render's metadata."""

    @abstractmethod
    def img2img(
        self,
        image: RGBImage,
        prompt: str,
        negative_prompt: str,
        seed: int,
        cfg: float,
        denoising: float,
        steps: int,
        model: str | None,
    ) -> RGBImage:
        """Return `image` transformed towards `prompt`.

        `denoising` (0-1) is how far the result may move away from `image`;
        `cfg` is how strongly the prompt steers it. Raises BackendError.
        """

    def interrupt(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Stop the generation in progress, if the backend can."""

    def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections or memory held by the backend."""
