"""Generation backends behind one img2img interface."""

from __future__ import annotations

from mage_studio.render.backends.automatic1111 import Automatic1111Backend, RetryPolicy
from mage_studio.render.backends.base import Backend
from mage_studio.render.backends.preview import PreviewBackend

BACKEND_NAMES = ("preview", "automatic1111")


def create_backend(
    name: str, *, url: str | None = None, sampler_name: str | None = None
) -> Backend:
    """Create a backend by the name used in `--backend` and MAGE_RENDER_BACKEND.

    `url` is required for automatic1111 (the WebUI's base URL).
    """
    if name == "preview":
        return PreviewBackend()
    if name == "automatic1111":
        if not url:
            raise ValueError("the automatic1111 backend needs the WebUI URL")
        if sampler_name:
            return Automatic1111Backend(url, sampler_name=sampler_name)
        return Automatic1111Backend(url)
    # NOTE: "diffusers" (in-process Stable Diffusion on a local CUDA GPU) is not
    # implemented yet, so it is rejected here like an unknown name.
    raise ValueError(
        f"unknown render backend {name!r} (available: {', '.join(BACKEND_NAMES)})"
    )


__all__ = [
    "BACKEND_NAMES",
    "Automatic1111Backend",
    "Backend",
    "PreviewBackend",
    "RetryPolicy",
    "create_backend",
]
