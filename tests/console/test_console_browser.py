"""The console in real headless Chromium against a live server and worker.

A user pastes a token, uploads a clip, renders a preview, finalizes, moves the
zoom slider while the full render runs and watches the video play. Screenshots
go to test-artifacts/ for review.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.realtime.live import SLOW_MODEL, LiveStack, live_stack, write_clip

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 60_000


def _chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return Path(found)
    if os.environ.get("CI"):
        pytest.fail(
            "Chromium is missing: install it with `apt-get install -y chromium`"
        )
    pytest.skip("Chromium not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    _chromium_or_skip()
    with live_stack(tmp_path_factory.mktemp("console")) as live:
        yield live


@pytest.fixture
def page(stack: LiveStack) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    yield from _browser_page(sync_api)


def _browser_page(sync_api: Any) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(_chromium_or_skip()), args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.errors = []
        tab.on("pageerror", lambda error: tab.errors.append(str(error)))
        yield tab
        context.close()
        browser.close()


def _screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)


def _wait_until(page: Any, script: str, timeout: float = TIMEOUT_MS / 1000) -> Any:
    """Evaluate `script` until it returns a truthy value.

    The console's Content-Security-Policy forbids eval, which Playwright's
    `wait_for_function` uses, so the test polls with `evaluate` instead.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def _wait_status(page: Any, status: str) -> None:
    _wait_until(
        page, f"document.querySelector('#status').dataset.status === {status!r}"
    )


def test_console_renders_and_steers_a_job(
    stack: LiveStack, page: Any, tmp_path: Path
) -> None:
    clip = write_clip(tmp_path / "clip.mp4")
    page.goto(f"{stack.base_url}/deforumation-qt")

    page.fill("#token", stack.token)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Signed in')")

    page.set_input_files("#attachment", str(clip))
    page.select_option("#upload-type", "deforum")
    page.click("#upload-button")
    page.wait_for_selector("#notice:has-text('Uploaded as job')")
    job_id = int(page.input_value("#job-picker"))
    assert job_id > 0

    # A 512x512 model makes the full render last long enough to steer it.
    slow = page.locator("#model option", has_text=SLOW_MODEL).get_attribute("value")
    page.select_option("#model", slow)
    page.select_option("#preset", "zoom-in")
    page.fill("#prompt", "a lighthouse in a storm, oil painting")
    page.fill("#length", "3")
    page.fill("#fps", "12")
    page.fill("#frame-count", "2")
    page.click("#generate")
    _wait_status(page, "preview")
    page.wait_for_selector("#frame:not([hidden]), #result:not([hidden])")
    assert page.input_value("#seed") != ""
    _screenshot(page, "preview")

    page.click("#finalize")
    _wait_status(page, "processing")
    _wait_until(page, "document.querySelector('#progress').value > 0")
    page.fill("#ctl-translation_z", "0.5")
    _wait_until(
        page, "document.querySelector('#steer-state').textContent.startsWith('Sent')"
    )
    page.wait_for_selector("#live-values dt:has-text('zoom')")
    _wait_until(page, "document.querySelector('#filmstrip').children.length > 0")
    _screenshot(page, "rendering")

    _wait_status(page, "finished")
    assert page.eval_on_selector("#progress", "bar => bar.value") == 100
    _wait_until(
        page,
        "(() => { const v = document.querySelector('#result');"
        " return !v.hidden && (v.readyState >= 2 || v.currentTime > 0); })()",
    )
    assert page.locator("#links a", has_text="Video (MP4)").count() == 1
    _screenshot(page, "finished")

    steering = stack.call("GET", f"/api/video-jobs/{job_id}/steering")
    assert steering["steering"]["translation_z"] == 0.5
    assert steering["applied"]

    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    _screenshot(page, "phone", full_page=False)
    page.evaluate("document.querySelector('#controls').scrollIntoView()")
    _screenshot(page, "phone-controls", full_page=False)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert page.errors == []


def test_console_shows_validation_errors(stack: LiveStack, page: Any) -> None:
    page.goto(f"{stack.base_url}/deforumation-qt")
    page.fill("#token", stack.token)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Signed in')")
    page.set_input_files("#attachment", str(write_clip(stack.folder / "bad.mp4")))
    page.click("#upload-button")
    page.wait_for_selector("#notice:has-text('Uploaded as job')")

    page.fill("#prompt", "")
    page.fill("#length", "99")
    page.click("#generate")

    page.wait_for_selector("#error:not([hidden])")
    fields = page.inner_text("#error-fields")
    assert "length" in fields
    assert page.inner_text("#error-message")
    assert page.errors == []


def test_console_falls_back_to_polling(stack: LiveStack, page: Any) -> None:
    # A stream the server cannot open (HTTP 503) must not stop the updates.
    page.route(
        "**/events?*", lambda route: route.fulfill(status=503, body="unavailable")
    )
    page.goto(f"{stack.base_url}/deforumation-qt")
    page.fill("#token", stack.token)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Signed in')")
    page.set_input_files("#attachment", str(write_clip(stack.folder / "poll.mp4")))
    page.click("#upload-button")
    page.wait_for_selector("#notice:has-text('Uploaded as job')")
    _wait_until(
        page, "document.querySelector('#stream-state').textContent === 'polling'"
    )

    page.select_option("#preset", "zoom-in")
    page.fill("#prompt", "fog over a valley")
    page.fill("#length", "1")
    page.fill("#frame-count", "1")
    page.click("#generate")
    _wait_status(page, "preview")

    assert page.inner_text("#progress-text") == "100 %"
    assert page.errors == []
