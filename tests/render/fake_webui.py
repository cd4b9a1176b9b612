"""A small stand-in for the Stable Diffusion WebUI API, served on 127.0.0.1.

It checks the img2img fields the real API requires (types and ranges) and
rejects invalid input with a FastAPI-style 422 `detail`. It returns the inverted
init image as a base64 PNG, and can fail the next requests with given status
codes to test retries.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "init_images": list,
    "prompt": str,
    "negative_prompt": str,
    "seed": int,
    "cfg_scale": (int, float),
    "denoising_strength": (int, float),
    "steps": int,
    "width": int,
    "height": int,
    "sampler_name": str,
}


@dataclass
class FakeWebUIState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    interrupts: int = 0
    failures: deque[int] = field(default_factory=deque)
    """Status codes returned for the next requests before normal handling."""
    retry_after: str | None = None
    delay: threading.Event | None = None
    """When set, img2img waits for this event (or an interrupt) before responding."""
    interrupted: threading.Event = field(default_factory=threading.Event)


def validation_errors(body: Any) -> list[dict[str, Any]]:
    """Return FastAPI-style errors for an img2img body, empty when it is valid."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "expected an object", "type": "type_error"}]
    errors = []
    for name, expected in REQUIRED_FIELDS.items():
        value = body.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, expected):
            errors.append(
                {
                    "loc": ["body", name],
                    "msg": "field required or wrong type",
                    "type": "type_error",
                }
            )
    if errors:
        return errors
    if not body["init_images"] or not all(
        isinstance(i, str) for i in body["init_images"]
    ):
        errors.append(
            {
                "loc": ["body", "init_images"],
                "msg": "expected base64 images",
                "type": "value_error",
            }
        )
    if not 0 <= body["denoising_strength"] <= 1:
        errors.append(
            {
                "loc": ["body", "denoising_strength"],
                "msg": "must be 0-1",
                "type": "value_error",
            }
        )
    if body["width"] % 8 or body["height"] % 8:
        errors.append(
            {
                "loc": ["body", "width"],
                "msg": "must be a multiple of 8",
                "type": "value_error",
            }
        )
    if body["steps"] < 1:
        errors.append(
            {
                "loc": ["body", "steps"],
                "msg": "must be at least 1",
                "type": "value_error",
            }
        )
    overrides = body.get("override_settings")
    if overrides is not None and not isinstance(
        overrides.get("sd_model_checkpoint"), str
    ):
        errors.append(
            {
                "loc": ["body", "override_settings"],
                "msg": "invalid",
                "type": "value_error",
            }
        )
    return errors


def _invert(encoded: str, width: int, height: int) -> str:
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        array = 255 - np.asarray(image.convert("RGB"))
    output = Image.fromarray(array.astype(np.uint8)).resize((width, height))
    buffer = io.BytesIO()
    output.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _handler(state: FakeWebUIState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def _send(
            self, status: int, body: Any, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path == "/sdapi/v1/interrupt":
                state.interrupts += 1
                state.interrupted.set()
                self._send(200, {})
                return
            if self.path != "/sdapi/v1/img2img":
                self._send(404, {"detail": "Not Found"})
                return
            body = json.loads(raw or b"null")
            state.requests.append(body)
            if state.failures:
                status = state.failures.popleft()
                headers = (
                    {"Retry-After": state.retry_after} if state.retry_after else None
                )
                self._send(
                    status, {"error": "busy", "detail": f"simulated {status}"}, headers
                )
                return
            errors = validation_errors(body)
            if errors:
                self._send(422, {"detail": errors})
                return
            if state.delay is not None:
                while not (state.delay.is_set() or state.interrupted.is_set()):
                    state.interrupted.wait(0.01)
            image = _invert(body["init_images"][0], body["width"], body["height"])
            self._send(200, {"images": [image], "parameters": {}, "info": "{}"})

    return Handler


class FakeWebUI:
    """Run the fake API in a background thread; use as a context manager."""

    def __init__(self) -> None:
        self.state = FakeWebUIState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeWebUI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
