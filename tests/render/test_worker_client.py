"""The worker protocol client against an in-process fake of the API."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import httpx
import pytest
from fake_worker_api import API_URL, FakeWorkerApi, HeartbeatScript, job_spec

from mage_studio.queue.schemas import ClaimRequest, FailRequest, HeartbeatRequest
from mage_studio.render.client import (
    ApiUnavailable,
    DownloadFailed,
    JobLost,
    RequestRejected,
    RetryPolicy,
    WorkerClient,
    WorkerUnauthorized,
)
from mage_studio.render.errors import MediaError

FAST_RETRY = RetryPolicy(attempts=3, base=0.01, max_delay=0.01)


class Sleeps:
    """Records backoff delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def api() -> FakeWorkerApi:
    return FakeWorkerApi()


async def test_claim_returns_spec_then_none(api: FakeWorkerApi) -> None:
    api.add_job(7, frame_count=3)
    request = ClaimRequest(worker_name="gpu-1", queues=["low"], wait=0)

    async with api.client() as client:
        spec = await client.claim(request)
        empty = await client.claim(request)

    assert spec is not None
    assert spec.job_id == 7
    assert spec.params.frame_count == 3
    assert empty is None
    assert api.claims[0]["worker_name"] == "gpu-1"
    assert api.claims[0]["queues"] == ["low"]


async def test_retries_503_then_succeeds(api: FakeWorkerApi) -> None:
    api.status_script["/api/workers/jobs/1/heartbeat"] = deque([503, 503])
    sleeps = Sleeps()
    body = HeartbeatRequest(attempt=1, progress=50, frames_done=2, frames_total=4)

    async with api.client(sleep=sleeps) as client:
        response = await client.heartbeat(1, body, policy=RetryPolicy(attempts=3))

    assert response.cancel_requested is False
    assert len(api.heartbeats[1]) == 1
    assert len(sleeps.delays) == 2


def test_retry_after_header_is_capped() -> None:
    policy = RetryPolicy(attempts=3, base=1, max_delay=10)

    assert policy.delay(1, "4") == 4
    assert policy.delay(1, "3600") == 10
    assert 0.75 <= policy.delay(1, "Wed, 21 Oct 2015 07:28:00 GMT") <= 1.25


def test_backoff_never_exceeds_max_delay() -> None:
    policy = RetryPolicy(attempts=20, base=1, max_delay=30)

    delays = [policy.delay(attempt) for attempt in range(1, 20)]

    assert max(delays) <= 30
    assert delays[0] <= 1.25


async def test_retries_exhausted_raise_unavailable(api: FakeWorkerApi) -> None:
    api.status_script["/api/workers/jobs/1/fail"] = deque([500, 502, 504])

    async with api.client(sleep=Sleeps()) as client:
        with pytest.raises(ApiUnavailable, match="HTTP 504"):
            await client.fail(1, FailRequest(attempt=1), policy=FAST_RETRY)


async def test_connection_errors_retried_then_unavailable() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    client = WorkerClient(
        API_URL, "mwt_x", transport=httpx.MockTransport(refuse), sleep=Sleeps()
    )
    async with client:
        with pytest.raises(ApiUnavailable, match="ConnectError"):
            await client.fail(1, FailRequest(attempt=1), policy=FAST_RETRY)

    assert calls == 3


async def test_unauthorized_token(api: FakeWorkerApi) -> None:
    api.valid_token = "mwt_other"

    async with api.client() as client:
        with pytest.raises(WorkerUnauthorized, match="valid worker token"):
            await client.claim(ClaimRequest(worker_name="gpu-1", wait=0))


async def test_conflict_means_job_lost(api: FakeWorkerApi) -> None:
    api.scripts[3] = HeartbeatScript(lost_after=1)

    async with api.client() as client:
        with pytest.raises(JobLost, match="Job 3"):
            await client.heartbeat(3, HeartbeatRequest(attempt=1))


async def test_other_client_errors_rejected(api: FakeWorkerApi) -> None:
    api.status_script["/api/workers/claim"] = deque([422])

    async with api.client() as client:
        with pytest.raises(RequestRejected) as raised:
            await client.claim(ClaimRequest(worker_name="gpu-1", wait=0))

    assert raised.value.status_code == 422


def test_token_must_be_one_printable_word() -> None:
    with pytest.raises(ValueError, match="printable"):
        WorkerClient(API_URL, "mwt_abc\nsecond line")


async def test_submit_result_sends_files_and_metadata(
    api: FakeWorkerApi, tmp_path: Path
) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(b"v" * 1000)
    thumbnail = tmp_path / "thumbnail.jpg"
    thumbnail.write_bytes(b"jpeg")

    async with api.client() as client:
        ack = await client.submit_result(
            9,
            2,
            frames_rendered=12,
            metadata={"timings": {"seconds_per_frame": 0.5}},
            files={"video": video, "thumbnail": thumbnail},
        )

    assert ack.status == "finished"
    result = api.results[9]
    assert result["attempt"] == 2
    assert result["frames_rendered"] == 12
    assert result["metadata"] == {"timings": {"seconds_per_frame": 0.5}}
    assert result["files"] == {"video": b"v" * 1000, "thumbnail": b"jpeg"}


async def test_result_upload_retried_with_files_reopened(
    api: FakeWorkerApi, tmp_path: Path
) -> None:
    api.status_script["/api/workers/jobs/9/result"] = deque([503])
    video = tmp_path / "video.mp4"
    video.write_bytes(b"frames")

    async with api.client(sleep=Sleeps()) as client:
        await client.submit_result(
            9, 1, frames_rendered=1, metadata={}, files={"video": video}
        )

    assert api.results[9]["files"] == {"video": b"frames"}


async def test_download_writes_file(api: FakeWorkerApi, tmp_path: Path) -> None:
    url = api.add_media("clip.mp4", b"x" * 5000)

    async with api.client() as client:
        path = await client.download(url, tmp_path / "source.mp4", max_bytes=5000)

    assert path.read_bytes() == b"x" * 5000


async def test_download_over_limit_removed(api: FakeWorkerApi, tmp_path: Path) -> None:
    url = api.add_media("clip.mp4", b"x" * 5000)
    destination = tmp_path / "source.mp4"

    async with api.client() as client:
        with pytest.raises(MediaError, match="4999 bytes"):
            await client.download(url, destination, max_bytes=4999)

    assert not destination.exists()


async def test_download_limit_without_content_length(tmp_path: Path) -> None:
    async def chunks() -> object:
        for _ in range(10):
            yield b"y" * 1000

    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # type: ignore[arg-type]

    destination = tmp_path / "source.mp4"
    client = WorkerClient(
        API_URL, "mwt_x", download_transport=httpx.MockTransport(stream)
    )

    async with client:
        with pytest.raises(MediaError, match="limit of 2500 bytes"):
            await client.download(f"{API_URL}/media/x", destination, max_bytes=2500)

    assert not destination.exists()


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (403, True)])
async def test_download_client_errors(
    api: FakeWorkerApi, tmp_path: Path, status: int, retryable: bool
) -> None:
    api.status_script["/media/clip.mp4"] = deque([status])
    url = api.add_media("clip.mp4", b"data")

    async with api.client() as client:
        with pytest.raises(DownloadFailed) as raised:
            await client.download(url, tmp_path / "s.mp4", max_bytes=100)

    assert raised.value.retryable is retryable
    assert "signature" not in raised.value.message


async def test_download_retries_server_errors(
    api: FakeWorkerApi, tmp_path: Path
) -> None:
    api.status_script["/media/clip.mp4"] = deque([502])
    url = api.add_media("clip.mp4", b"data")

    async with api.client(sleep=Sleeps()) as client:
        path = await client.download(
            url, tmp_path / "s.mp4", max_bytes=100, policy=FAST_RETRY
        )

    assert path.read_bytes() == b"data"


def test_media_url_rewrites_and_relative_links() -> None:
    client = WorkerClient(
        "http://127.0.0.1:8000",
        "mwt_x",
        url_rewrites={"https://studio.example": "http://127.0.0.1:8000"},
    )

    assert (
        client.media_url("https://studio.example/api/files/a.mp4?signature=s")
        == "http://127.0.0.1:8000/api/files/a.mp4?signature=s"
    )
    assert (
        client.media_url("/api/files/b.png") == "http://127.0.0.1:8000/api/files/b.png"
    )
    assert client.media_url("https://cdn.example/c.mp4") == "https://cdn.example/c.mp4"


def test_fake_spec_is_a_valid_job_spec() -> None:
    from mage_studio.queue.schemas import JobSpec

    spec = JobSpec.model_validate(job_spec(1, source_url=f"{API_URL}/media/a"))

    assert spec.source is not None
