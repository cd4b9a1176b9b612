"""Stable Diffusion WebUI (AUTOMATIC1111) and Forge over their HTTP API.

Each frame is one `POST /sdapi/v1/img2img` call with the frame as a base64 PNG.
The model is chosen per request through `override_settings`, and is left loaded
afterwards (`override_settings_restore_afterwards: false`) so consecutive frames
do not reload it. Cancelling calls `POST /sdapi/v1/interrupt`, which makes the
running request return early.

Connection errors and 5xx responses (503 while the WebUI is busy or loading a
model) are retried with exponential backoff. 4xx responses fail at once with the
WebUI's own detail, since resending the same request cannot succeed.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import numpy as np
import structlog
from PIL import Image, UnidentifiedImageError

from mage_studio.render.backends.base import Backend
from mage_studio.render.errors import BackendError
from mage_studio.render.imaging import RGBImage, ensure_rgb, resize

log = structlog.get_logger(__name__)

IMG2IMG_PATH = "/sdapi/v1/img2img"
INTERRUPT_PATH = "/sdapi/v1/interrupt"
DEFAULT_SAMPLER = "Euler a"
MAX_DETAIL_LENGTH = 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before resending a failed request.

    Attempt n (from 0) waits `base_delay * 2**n` seconds, capped at `max_delay`;
    a `Retry-After` header in seconds replaces the computed delay up to the cap.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None:
            try:
                return min(self.max_delay, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return float(min(self.max_delay, self.base_delay * 2**attempt))


class Automatic1111Backend(Backend):
    """img2img through an SD WebUI or Forge instance started with `--api`."""

    name: ClassVar[str] = "automatic1111"
    label: ClassVar[str] = "Stable Diffusion WebUI (AUTOMATIC1111/Forge) img2img"

    def __init__(
        self,
        base_url: str,
        *,
        sampler_name: str = DEFAULT_SAMPLER,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        auth: tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a client for the WebUI at `base_url`.

        `timeout` is the read timeout of one img2img call in seconds (large
        renders can take minutes). `auth` is the user and password of the
        WebUI's `--api-auth`. `transport` and `sleep` let tests substitute the
        network and the backoff wait.
        """
        self.base_url = base_url.rstrip("/")
        self.sampler_name = sampler_name
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=10.0),
            auth=auth,
            transport=transport,
        )

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
        height, width = image.shape[:2]
        payload = self.build_payload(
            image, prompt, negative_prompt, seed, cfg, denoising, steps, model
        )
        body = self._post_with_retries(IMG2IMG_PATH, payload)
        result = _decode_first_image(body)
        if result.shape[:2] != (height, width):
            result = resize(result, width, height)
        return result

    def build_payload(
        self,
        image: RGBImage,
        prompt: str,
        negative_prompt: str,
        seed: int,
        cfg: float,
        denoising: float,
        steps: int,
        model: str | None,
    ) -> dict[str, Any]:
        """Return the JSON body of an img2img request for this frame."""
        height, width = image.shape[:2]
        payload: dict[str, Any] = {
            "init_images": [encode_png_base64(image)],
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "seed": int(seed),
            "cfg_scale": float(cfg),
            "denoising_strength": float(min(max(denoising, 0.0), 1.0)),
            "steps": int(steps),
            "width": int(width),
            "height": int(height),
            "sampler_name": self.sampler_name,
            "batch_size": 1,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        if model:
            payload["override_settings"] = {"sd_model_checkpoint": model}
            payload["override_settings_restore_afterwards"] = False
        return payload

    def interrupt(self) -> None:
        """Ask the WebUI to stop the running generation; failures are logged only."""
        try:
            response = self._client.post(INTERRUPT_PATH, timeout=10.0)
            response.raise_for_status()
        except httpx.HTTPError as error:
            log.warning(
                "automatic1111.interrupt_failed", url=self.base_url, error=str(error)
            )

    def close(self) -> None:
        self._client.close()

    def _post_with_retries(self, path: str, payload: Mapping[str, Any]) -> Any:
        last_error = ""
        for attempt in range(self.retry.attempts):
            retry_after: str | None = None
            try:
                response = self._client.post(path, json=payload)
            except httpx.TransportError as error:
                last_error = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    return _json_body(response)
                if response.status_code < 500:
                    raise _client_error(response, self.base_url)
                last_error = f"HTTP {response.status_code}: {_detail(response)}"
                retry_after = response.headers.get("retry-after")
            if attempt + 1 < self.retry.attempts:
                delay = self.retry.delay(attempt, retry_after)
                log.warning(
                    "automatic1111.retry",
                    url=self.base_url,
                    attempt=attempt + 1,
                    delay=delay,
                    error=last_error,
                )
                self._sleep(delay)
        raise BackendError(
            f"Stable Diffusion WebUI at {self.base_url} failed after "
            f"{self.retry.attempts} attempts: {last_error}",
            retryable=True,
        )


def encode_png_base64(image: RGBImage) -> str:
    """Encode an RGB frame as base64 PNG text, the form the WebUI API expects."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_base64_image(data: str) -> RGBImage:
    """Decode base64 image text (optionally a `data:` URL) to an RGB array."""
    if data.startswith("data:"):
        data = data.split(",", 1)[1]
    try:
        raw = base64.b64decode(data, validate=False)
        with Image.open(io.BytesIO(raw)) as image:
            return ensure_rgb(np.asarray(image.convert("RGB")))
    except (ValueError, UnidentifiedImageError, OSError) as error:
        raise BackendError(
            f"The WebUI returned an unreadable image: {error}", retryable=True
        ) from error


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise BackendError(
            "The WebUI returned invalid JSON.", retryable=True
        ) from error


def _decode_first_image(body: Any) -> RGBImage:
    images = body.get("images") if isinstance(body, dict) else None
    if not images or not isinstance(images[0], str):
        raise BackendError("The WebUI returned no image.", retryable=True)
    return decode_base64_image(images[0])


def _detail(response: httpx.Response) -> str:
    """Extract the WebUI's error text (FastAPI `detail`, or `error`/`errors`)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:MAX_DETAIL_LENGTH] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "error", "errors", "message"):
            if body.get(key):
                return _format_detail(body[key])[:MAX_DETAIL_LENGTH]
    return str(body)[:MAX_DETAIL_LENGTH]


def _format_detail(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                location = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(
                    f"{location}: {item['msg']}" if location else str(item["msg"])
                )
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _client_error(response: httpx.Response, base_url: str) -> BackendError:
    status = response.status_code
    detail = _detail(response)
    if status in (401, 403):
        message = f"The WebUI at {base_url} rejected the credentials (HTTP {status})."
    elif status == 404:
        message = (
            f"The WebUI at {base_url} has no img2img API (HTTP 404); "
            "start it with --api."
        )
    else:
        message = (
            f"The WebUI at {base_url} rejected the request (HTTP {status}): {detail}"
        )
    return BackendError(message, retryable=False)
