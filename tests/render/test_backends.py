"""Preview stylisation and the SD WebUI client against a fake WebUI."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from fake_webui import FakeWebUI
from render_factories import make_frame

from mage_studio.render.backends import (
    Automatic1111Backend,
    PreviewBackend,
    RetryPolicy,
    create_backend,
)
from mage_studio.render.backends.automatic1111 import (
    decode_base64_image,
    encode_png_base64,
)
from mage_studio.render.errors import BackendError

FRAME = make_frame(3, 64, 48)
ARGS = {
    "negative_prompt": "",
    "seed": 1,
    "cfg": 7.0,
    "denoising": 0.6,
    "steps": 20,
    "model": None,
}


def _preview(prompt: str, **overrides: object) -> np.ndarray:
    arguments = {**ARGS, **overrides}
    return PreviewBackend().img2img(FRAME, prompt, **arguments)  # type: ignore[arg-type]


def test_preview_is_deterministic() -> None:
    assert np.array_equal(_preview("a lighthouse"), _preview("a lighthouse"))


def test_preview_differs_by_prompt() -> None:
    outputs = [
        _preview(p) for p in ("a lighthouse", "a red fox", "neon city", "a forest")
    ]

    for first in range(len(outputs)):
        for second in range(first + 1, len(outputs)):
            difference = np.abs(
                outputs[first].astype(int) - outputs[second].astype(int)
            ).mean()
            assert difference > 5


def test_preview_seed_changes_output() -> None:
    assert not np.array_equal(
        _preview("a lighthouse", seed=1), _preview("a lighthouse", seed=2)
    )


def test_preview_denoising_blends_with_input() -> None:
    untouched = _preview("a lighthouse", denoising=0.0)
    half = _preview("a lighthouse", denoising=0.5)
    full = _preview("a lighthouse", denoising=1.0)

    assert np.array_equal(untouched, FRAME)
    assert (
        np.abs(half.astype(int) - FRAME.astype(int)).mean()
        < np.abs(full.astype(int) - FRAME.astype(int)).mean()
    )


def test_preview_cfg_changes_contrast() -> None:
    gentle = _preview("a lighthouse", cfg=2.0, denoising=1.0)
    strong = _preview("a lighthouse", cfg=20.0, denoising=1.0)

    assert strong.std() > gentle.std()


def test_preview_keeps_shape_and_type() -> None:
    output = _preview("a lighthouse")

    assert output.shape == FRAME.shape
    assert output.dtype == np.uint8


def test_create_backend_names() -> None:
    assert isinstance(create_backend("preview"), PreviewBackend)
    with pytest.raises(ValueError, match="needs the WebUI URL"):
        create_backend("automatic1111")
    with pytest.raises(ValueError, match="unknown render backend"):
        create_backend("diffusers")


@pytest.fixture
def webui() -> Iterator[FakeWebUI]:
    with FakeWebUI() as server:
        yield server


def _client(
    webui: FakeWebUI, attempts: int = 4, delays: list[float] | None = None
) -> Automatic1111Backend:
    recorded = delays if delays is not None else []
    return Automatic1111Backend(
        webui.url,
        retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0),
        sleep=recorded.append,
        timeout=10.0,
    )


def test_img2img_sends_required_fields(webui: FakeWebUI) -> None:
    backend = _client(webui)

    output = backend.img2img(
        FRAME, "a lighthouse", "blurry", 42, 7.5, 0.35, 20, "sd15-base.safetensors"
    )
    request = webui.state.requests[0]

    assert output.shape == FRAME.shape
    assert np.abs(output.astype(int) - (255 - FRAME.astype(int))).max() <= 1
    assert request["prompt"] == "a lighthouse"
    assert request["negative_prompt"] == "blurry"
    assert request["seed"] == 42
    assert request["cfg_scale"] == 7.5
    assert request["denoising_strength"] == 0.35
    assert request["steps"] == 20
    assert (request["width"], request["height"]) == (64, 48)
    assert request["sampler_name"] == "Euler a"
    assert request["override_settings"] == {
        "sd_model_checkpoint": "sd15-base.safetensors"
    }
    assert request["override_settings_restore_afterwards"] is False
    assert np.array_equal(decode_base64_image(request["init_images"][0]), FRAME)


def test_img2img_without_model_has_no_override(webui: FakeWebUI) -> None:
    _client(webui).img2img(FRAME, "a lighthouse", **{**ARGS, "model": None})  # type: ignore[arg-type]

    assert "override_settings" not in webui.state.requests[0]


def test_retries_busy_503_with_backoff(webui: FakeWebUI) -> None:
    webui.state.failures.extend([503, 503, 500])
    delays: list[float] = []

    output = _client(webui, delays=delays).img2img(FRAME, "a lighthouse", **ARGS)  # type: ignore[arg-type]

    assert output.shape == FRAME.shape
    assert len(webui.state.requests) == 4
    assert delays == [0.5, 1.0, 2.0]


def test_retry_after_header_used(webui: FakeWebUI) -> None:
    webui.state.failures.append(503)
    webui.state.retry_after = "3"
    delays: list[float] = []

    _client(webui, delays=delays).img2img(FRAME, "a lighthouse", **ARGS)  # type: ignore[arg-type]

    assert delays == [3.0]


def test_retries_exhausted_is_retryable(webui: FakeWebUI) -> None:
    webui.state.failures.extend([503] * 5)

    with pytest.raises(
        BackendError, match="failed after 3 attempts: HTTP 503"
    ) as raised:
        _client(webui, attempts=3).img2img(FRAME, "a lighthouse", **ARGS)  # type: ignore[arg-type]

    assert raised.value.retryable
    assert len(webui.state.requests) == 3


def test_validation_error_not_retried(webui: FakeWebUI) -> None:
    backend = _client(webui)
    payload_steps = {**ARGS, "steps": 0}

    with pytest.raises(
        BackendError, match=r"HTTP 422.*steps: must be at least 1"
    ) as raised:
        backend.img2img(FRAME, "a lighthouse", **payload_steps)  # type: ignore[arg-type]

    assert not raised.value.retryable
    assert len(webui.state.requests) == 1


def test_connection_refused_retried_then_retryable() -> None:
    with FakeWebUI() as server:
        url = server.url
    delays: list[float] = []
    backend = Automatic1111Backend(
        url, retry=RetryPolicy(attempts=3), sleep=delays.append, timeout=5.0
    )

    with pytest.raises(BackendError, match="ConnectError") as raised:
        backend.img2img(FRAME, "a lighthouse", **ARGS)  # type: ignore[arg-type]

    assert raised.value.retryable
    assert delays == [0.5, 1.0]


def test_interrupt_stops_running_request(webui: FakeWebUI) -> None:
    webui.state.delay = threading.Event()
    backend = _client(webui)
    result: list[np.ndarray] = []
    worker = threading.Thread(
        target=lambda: result.append(backend.img2img(FRAME, "a lighthouse", **ARGS))  # type: ignore[arg-type]
    )
    worker.start()
    deadline = time.monotonic() + 5
    while not webui.state.requests and time.monotonic() < deadline:
        time.sleep(0.01)

    backend.interrupt()
    worker.join(timeout=5)

    assert webui.state.interrupts == 1
    assert len(result) == 1


def test_interrupt_failure_is_only_logged() -> None:
    with FakeWebUI() as server:
        url = server.url

    Automatic1111Backend(url, timeout=1.0).interrupt()


def test_png_base64_round_trip() -> None:
    assert np.array_equal(decode_base64_image(encode_png_base64(FRAME)), FRAME)
    assert np.array_equal(
        decode_base64_image("data:image/png;base64," + encode_png_base64(FRAME)), FRAME
    )
    with pytest.raises(BackendError, match="unreadable"):
        decode_base64_image("bm90IGFuIGltYWdl")
