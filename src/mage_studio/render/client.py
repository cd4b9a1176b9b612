"""HTTP client of the worker protocol (`/api/workers/*`) and of signed media URLs.

Every call retries connection errors, 429 and 5xx responses with exponential
backoff (honouring `Retry-After`) and then raises ApiUnavailable. Other error
responses map to one exception each: 401/403 to WorkerUnauthorized (the token is
wrong or revoked, so the worker must stop), 409 and 404 on a job route to JobLost
(another worker owns the job now, so drop it), any other 4xx to RequestRejected.

Media URLs are fetched without the worker token: they carry their own signature,
and S3 presigned URLs reject requests that also send an Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

import httpx
import structlog

from mage_studio import __version__
from mage_studio.queue.schemas import (
    CLAIM_PATH,
    FAIL_PATH,
    FRAMES_PATH,
    HEARTBEAT_PATH,
    RESULT_FILE_FIELDS,
    RESULT_PATH,
    ClaimRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    JobAck,
    JobSpec,
)
from mage_studio.render.errors import MediaError

log = structlog.get_logger(__name__)

USER_AGENT = f"mage-studio-worker/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DOWNLOAD_CHUNK = 1024 * 1024
_TOKEN = re.compile(r"[!-~]+")
"""A bearer token: printable ASCII without spaces, as HTTP headers require."""
CLAIM_READ_MARGIN_SECONDS = 30.0
"""Extra read time on top of a claim's long-poll `wait`, for a busy server."""


class WorkerApiError(Exception):
    """Base class of the client's errors; `message` is a readable sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkerUnauthorized(WorkerApiError):
    """The API rejected the worker token (401 or 403): the worker must stop."""


class JobLost(WorkerApiError):
    """The attempt no longer owns the job (409, or 404 when the job was deleted)."""


class RequestRejected(WorkerApiError):
    """The API rejected a request with a 4xx other than 401, 403, 404 and 409."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ApiUnavailable(WorkerApiError):
    """Connection errors or 429/5xx responses outlasted the retries."""


class DownloadFailed(WorkerApiError):
    """A media URL responded with a 4xx, so retrying the same URL cannot succeed.

    `retryable` is False for 404 and 410 (the file is gone) and True otherwise
    (for example an expired signature, which the next claim's URL replaces).
    `status_code` is the HTTP status, or None when no request was sent.
    """

    def __init__(
        self, message: str, *, retryable: bool, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code

    @property
    def file_gone(self) -> bool:
        """Whether the server reported the file as missing (404 or 410)."""
        return self.status_code in (404, 410)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: `base`, 2 x `base`, ... up to `max_delay`."""

    attempts: int = 5
    """Tries in total, the first one included."""
    base: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Return the seconds to wait after failed try number `attempt` (1-based)."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay)
            except ValueError:
                pass  # an HTTP date; fall back to the backoff
        backoff = self.base * 2.0 ** (attempt - 1) * random.uniform(0.75, 1.25)
        return min(backoff, self.max_delay)


NO_RETRY = RetryPolicy(attempts=1)
HEARTBEAT_RETRY = RetryPolicy(attempts=3, base=0.5, max_delay=5.0)
REPORT_RETRY = RetryPolicy(attempts=8, base=1.0, max_delay=30.0)
"""Results and failures: about two minutes of retries, since a lost report wastes
the render (the lease then expires and the job runs again)."""
DOWNLOAD_RETRY = RetryPolicy(attempts=5, base=1.0, max_delay=20.0)

RequestBuilder = Callable[[ExitStack], dict[str, Any]]
"""Returns the keyword arguments of one try; files it opens go on the ExitStack."""


def check_token(token: str) -> None:
    """Raise ValueError unless `token` can be sent as a bearer token."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("the worker token must be one word of printable characters")


class WorkerClient:
    """Async client of one API for one worker token.

    `url_rewrites` maps URL prefixes to replacements for media downloads, so a
    worker beside the API can fetch `https://public.example/...` links over
    loopback. Pass `transport` to route the API calls elsewhere (tests, or the
    API process's own app).
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        download_transport: httpx.AsyncBaseTransport | None = None,
        url_rewrites: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        check_token(token)
        self.api_url = api_url.rstrip("/")
        self.url_rewrites = dict(url_rewrites or {})
        self._sleep = sleep
        limits = httpx.Timeout(timeout, connect=10.0, write=max(timeout, 300.0))
        self._api = httpx.AsyncClient(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            timeout=limits,
            transport=transport,
        )
        self._media = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=limits,
            transport=download_transport,
            follow_redirects=True,
        )

    async def close(self) -> None:
        await self._api.aclose()
        await self._media.aclose()

    async def __aenter__(self) -> WorkerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- protocol calls ---------------------------------------------------------------

    async def claim(
        self, request: ClaimRequest, *, policy: RetryPolicy = NO_RETRY
    ) -> JobSpec | None:
        """Long-poll for a job; return its spec, or None when nothing came in time."""
        timeout = httpx.Timeout(request.wait + CLAIM_READ_MARGIN_SECONDS, connect=10.0)
        response = await self._call(
            "POST",
            CLAIM_PATH,
            lambda _: {"json": request.model_dump(mode="json"), "timeout": timeout},
            policy=policy,
        )
        if response.status_code == 204:
            return None
        return JobSpec.model_validate(response.json())

    async def heartbeat(
        self,
        job_id: int,
        body: HeartbeatRequest,
        *,
        policy: RetryPolicy = HEARTBEAT_RETRY,
    ) -> HeartbeatResponse:
        """Extend the lease and report progress; returns cancel flag and steering."""
        response = await self._call(
            "POST",
            HEARTBEAT_PATH.format(job_id=job_id),
            lambda _: {"json": body.model_dump(mode="json")},
            policy=policy,
            job_id=job_id,
        )
        return HeartbeatResponse.model_validate(response.json())

    async def send_frame(
        self,
        job_id: int,
        attempt: int,
        index: int,
        data: bytes,
        content_type: str = "image/jpeg",
    ) -> None:
        """Upload the newest rendered frame for live previews (one try only)."""
        extension = content_type.rsplit("/", 1)[-1]
        await self._call(
            "POST",
            FRAMES_PATH.format(job_id=job_id),
            lambda _: {
                "data": {"attempt": str(attempt), "index": str(index)},
                "files": {"frame": (f"frame.{extension}", data, content_type)},
            },
            policy=NO_RETRY,
            job_id=job_id,
        )

    async def submit_result(
        self,
        job_id: int,
        attempt: int,
        *,
        frames_rendered: int,
        metadata: Mapping[str, Any],
        files: Mapping[str, Path],
        policy: RetryPolicy = REPORT_RETRY,
    ) -> JobAck:
        """Upload the output files and metadata (multipart), streamed from disk.

        NOTE: when an upload succeeded but its response was lost, the retry gets 409
        and raises JobLost although the job was completed by this worker.
        """
        unknown = set(files) - set(RESULT_FILE_FIELDS)
        if unknown:
            raise ValueError(f"unknown result files: {sorted(unknown)}")

        def build(stack: ExitStack) -> dict[str, Any]:
            opened: dict[str, tuple[str, IO[bytes], str]] = {}
            for field, path in files.items():
                handle = stack.enter_context(path.open("rb"))
                opened[field] = (path.name, handle, _content_type(path))
            return {
                "data": {
                    "attempt": str(attempt),
                    "frames_rendered": str(frames_rendered),
                    "metadata": json.dumps(dict(metadata)),
                },
                "files": opened,
            }

        response = await self._call(
            "POST",
            RESULT_PATH.format(job_id=job_id),
            build,
            policy=policy,
            job_id=job_id,
        )
        return JobAck.model_validate(response.json())

    async def fail(
        self, job_id: int, body: FailRequest, *, policy: RetryPolicy = REPORT_RETRY
    ) -> JobAck:
        """Report a failed, cancelled or released attempt."""
        response = await self._call(
            "POST",
            FAIL_PATH.format(job_id=job_id),
            lambda _: {"json": body.model_dump(mode="json")},
            policy=policy,
            job_id=job_id,
        )
        return JobAck.model_validate(response.json())

    # --- media ------------------------------------------------------------------------

    async def download(
        self,
        url: str,
        destination: Path,
        *,
        max_bytes: int,
        policy: RetryPolicy = DOWNLOAD_RETRY,
    ) -> Path:
        """Stream a signed media URL into `destination`, at most `max_bytes` long.

        Raises MediaError when the file is larger than `max_bytes`, DownloadFailed
        on a 4xx response and ApiUnavailable when connection errors or 5xx
        responses outlast the retries. A partial file is removed.
        """
        target = self.media_url(url)
        for attempt in range(1, policy.attempts + 1):
            try:
                await self._download_once(target, destination, max_bytes)
                return destination
            except _Retry as retry:
                await asyncio.to_thread(destination.unlink, missing_ok=True)
                if attempt >= policy.attempts:
                    raise ApiUnavailable(
                        f"Downloading {_describe(target)} failed: {retry.reason}"
                    ) from retry
                delay = policy.delay(attempt, retry.retry_after)
                log.warning(
                    "media_download_retry",
                    url=_describe(target),
                    attempt=attempt,
                    error=retry.reason,
                    delay=round(delay, 2),
                )
                await self._sleep(delay)
            except BaseException:
                await asyncio.to_thread(destination.unlink, missing_ok=True)
                raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def media_url(self, url: str) -> str:
        """Return the URL to fetch: rewritten by prefix, relative ones on the API."""
        for prefix, replacement in self.url_rewrites.items():
            if url.startswith(prefix):
                return replacement + url[len(prefix) :]
        if url.startswith("/"):
            return urljoin(self.api_url + "/", url.lstrip("/"))
        return url

    async def _download_once(self, url: str, destination: Path, max_bytes: int) -> None:
        if not url.startswith(("http://", "https://")):
            raise DownloadFailed(
                f"The media URL {_describe(url)} is not an HTTP(S) URL.",
                retryable=False,
            )
        try:
            async with self._media.stream("GET", url) as response:
                if response.status_code in RETRY_STATUSES:
                    raise _Retry(
                        f"HTTP {response.status_code}",
                        response.headers.get("Retry-After"),
                    )
                if response.status_code >= 400:
                    raise DownloadFailed(
                        f"Downloading {_describe(url)} failed with HTTP "
                        f"{response.status_code}.",
                        retryable=response.status_code not in (404, 410),
                        status_code=response.status_code,
                    )
                _check_length(response, max_bytes)
                await _write_stream(response, destination, max_bytes)
        except httpx.TransportError as exc:
            raise _Retry(_transport_error(exc)) from exc

    # --- plumbing ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        build: RequestBuilder,
        *,
        policy: RetryPolicy,
        job_id: int | None = None,
    ) -> httpx.Response:
        """Send a request, retrying per `policy`, and map error responses to errors."""
        for attempt in range(1, policy.attempts + 1):
            retry_after: str | None = None
            try:
                with ExitStack() as stack:
                    response = await self._api.request(method, path, **build(stack))
            except httpx.TransportError as exc:
                reason = _transport_error(exc)
            else:
                if response.status_code not in RETRY_STATUSES:
                    _raise_for_status(response, job_id)
                    return response
                reason = f"HTTP {response.status_code}: {_error_message(response)}"
                retry_after = response.headers.get("Retry-After")
            if attempt >= policy.attempts:
                raise ApiUnavailable(f"{method} {path} failed: {reason}")
            delay = policy.delay(attempt, retry_after)
            log.warning(
                "worker_api_retry",
                path=path,
                attempt=attempt,
                error=reason,
                delay=round(delay, 2),
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _raise_for_status(response: httpx.Response, job_id: int | None) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _error_message(response)
    if status in (401, 403):
        raise WorkerUnauthorized(f"The API rejected the worker token: {message}")
    if job_id is not None and status in (404, 409):
        raise JobLost(f"Job {job_id} is no longer this worker's: {message}")
    raise RequestRejected(
        f"{response.request.method} {response.request.url.path} was rejected "
        f"with HTTP {status}: {message}",
        status,
    )


def _error_message(response: httpx.Response) -> str:
    """Return `error.message` of the API's error shape, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message: str = error["message"]
            validator = error.get("validator")
            return f"{message} {validator}" if validator else message
    return str(body)[:200]


def _transport_error(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_length(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise MediaError(
            f"The media file is {int(declared)} bytes, more than the worker's "
            f"limit of {max_bytes} bytes."
        )


async def _write_stream(
    response: httpx.Response, destination: Path, max_bytes: int
) -> None:
    written = 0
    with destination.open("wb") as file:
        async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise MediaError(
                    f"The media file is larger than the worker's limit of "
                    f"{max_bytes} bytes."
                )
            file.write(chunk)


def _describe(url: str) -> str:
    """Return the URL without its query, which contains the signature."""
    return url.split("?", 1)[0]


_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def _content_type(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
