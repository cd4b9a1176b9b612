"""The event stream of one job, fed by real worker reports, over a live server."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.events import publish_job_event
from mage_studio.users.models import User
from tests.factories import auth_headers, create_admin, create_user
from tests.realtime.factories import (
    create_job,
    create_worker_token,
    events_url,
    open_stream,
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
    b"\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01"
    b"\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def _claimed_job(
    http: httpx.AsyncClient, session: AsyncSession, owner: User
) -> tuple[VideoJob, dict[str, str]]:
    """Queue a Deforum job and claim it through the worker API."""
    job = await create_job(session, owner, status=JobStatus.APPROVED.value)
    worker = {"Authorization": f"Bearer {await create_worker_token(session)}"}
    await session.commit()
    claim = await http.post(
        "/api/workers/claim",
        json={"worker_name": "gpu-rt", "wait": 0},
        headers=worker,
    )
    assert claim.status_code == 200, claim.text
    assert claim.json()["job_id"] == job.id
    return job, worker


async def _finish(session: AsyncSession, job: VideoJob) -> None:
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job.id)
        .values(status=JobStatus.FINISHED.value, progress=100.0, revision=9)
    )
    await session.commit()


async def test_stream_follows_worker_reports(
    http: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
) -> None:
    job, worker = await _claimed_job(http, session, owner)
    url = events_url(job.id)

    async with open_stream(http, url, headers=owner_headers) as sse:
        snapshot = await sse.next()
        heartbeat = await http.post(
            f"/api/workers/jobs/{job.id}/heartbeat",
            json={
                "attempt": 1,
                "frames_done": 6,
                "frames_total": 24,
                "eta_seconds": 9,
                "applied": {"4": {"zoom": 1.01}, "5": {"zoom": 1.02}},
            },
            headers=worker,
        )
        assert heartbeat.status_code == 200, heartbeat.text
        progress = await sse.next()
        frame = await http.post(
            f"/api/workers/jobs/{job.id}/frames",
            data={"attempt": "1", "index": "5"},
            files={"frame": ("f.png", PNG, "image/png")},
            headers=worker,
        )
        assert frame.status_code == 200, frame.text
        preview = await sse.next()
        result = await http.post(
            f"/api/workers/jobs/{job.id}/result",
            data={"attempt": "1", "frames_rendered": "24"},
            files={"video": ("out.mp4", b"mp4 bytes", "video/mp4")},
            headers=worker,
        )
        assert result.status_code == 200, result.text
        final = await sse.next()
        after = await sse.rest()

    assert snapshot.event == "snapshot"
    assert snapshot.retry is not None
    assert snapshot.data["status"] == "processing"
    assert snapshot.data["final"] is False
    assert progress.event == "progress"
    assert progress.data["progress"] == 25
    assert progress.data["frames_done"] == 6
    assert progress.data["applied"] == {"frame": 5, "values": {"zoom": 1.02}}
    assert preview.event == "frame"
    assert preview.data["index"] == 5
    assert "/frames/" in preview.data["url"]
    assert final.event == "final"
    assert final.id == "final"
    assert final.data["status"] == "finished"
    assert final.data["urls"]["video"] is not None
    assert after == []
    assert [progress.id, preview.id] == sorted([progress.id, preview.id])


async def test_progress_burst_is_coalesced(
    app: FastAPI,
    http: httpx.AsyncClient,
    session: AsyncSession,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:
    app.state.settings.sse_throttle_seconds = 600.0
    url = events_url(job.id)

    async with open_stream(http, url, headers=owner_headers) as sse:
        assert (await sse.next()).event == "snapshot"
        for percent in range(1, 51):
            await publish_job_event(
                app, job.id, {"type": "progress", "progress": float(percent)}
            )
        await _finish(session, job)
        await publish_job_event(app, job.id, {"type": "status", "status": "finished"})
        events = await sse.rest()

    names = [event.event for event in events]
    assert names[-1] == "final"
    assert names.count("progress") <= 2
    assert events[-1].data["status"] == "finished"
    assert events[-1].data["progress"] == 100


async def test_resume_gets_missed_final_state(
    app: FastAPI,
    http: httpx.AsyncClient,
    session: AsyncSession,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:
    url = events_url(job.id)

    async with open_stream(http, url, headers=owner_headers) as sse:
        await sse.next()
        await publish_job_event(app, job.id, {"type": "progress", "progress": 10.0})
        seen = await sse.next()
    assert seen.event == "progress"
    assert seen.id is not None

    # While the client is away: more progress, then the job finishes.
    await publish_job_event(app, job.id, {"type": "progress", "progress": 90.0})
    await _finish(session, job)
    await publish_job_event(app, job.id, {"type": "status", "status": "finished"})

    resumed = {**owner_headers, "Last-Event-ID": seen.id}
    async with open_stream(http, url, headers=resumed) as sse:
        events = await sse.rest()
    assert events[-1].event == "final"
    assert events[-1].data["status"] == "finished"
    assert "snapshot" not in [event.event for event in events]

    done = await http.get(
        url,
        headers={
            **owner_headers,
            "Accept": "text/event-stream",
            "Last-Event-ID": "final",
        },
    )
    assert done.status_code == 204


async def test_unknown_last_event_id_gets_a_fresh_snapshot(
    http: httpx.AsyncClient,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:
    headers = {**owner_headers, "Last-Event-ID": "1-1"}

    async with open_stream(http, events_url(job.id), headers=headers) as sse:
        first = await sse.next()

    assert first.event == "snapshot"
    assert first.data["id"] == job.id


async def test_token_in_query_opens_the_stream(
    http: httpx.AsyncClient,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:
    token = owner_headers["Authorization"].split()[1]

    async with open_stream(http, f"{events_url(job.id)}?token={token}") as sse:
        first = await sse.next()

    assert first.event == "snapshot"


async def test_admin_may_watch_any_job(
    http: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    job: VideoJob,
) -> None:
    admin = await create_admin(session)
    await session.commit()

    async with open_stream(
        http,
        events_url(job.id),
        headers=auth_headers(settings, admin),
    ) as sse:
        assert (await sse.next()).data["id"] == job.id


@pytest.mark.parametrize("who", ["stranger", "anonymous", "bad-token"])
async def test_others_cannot_watch_a_job(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    job: VideoJob,
    who: str,
) -> None:
    stranger = await create_user(session)
    await session.commit()
    url = events_url(job.id)
    headers = {"Accept": "text/event-stream"}
    if who == "stranger":
        url += "?token=" + auth_headers(settings, stranger)["Authorization"][7:]
    elif who == "bad-token":
        url += "?token=not-a-token"

    response = await client.get(url, headers=headers)

    expected = 404 if who == "stranger" else 401
    assert response.status_code == expected
    assert response.json()["error"]["code"] == expected


async def test_without_event_stream_accept_the_state_comes_as_json(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
) -> None:
    job = await create_job(session, owner, status=JobStatus.PREVIEW.value)
    await session.commit()

    response = await client.get(events_url(job.id), headers=owner_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "preview"
    assert body["final"] is False
    assert set(body["urls"]) >= {"video", "preview_img", "last_frame"}


async def test_open_stream_holds_no_database_connection(
    app: FastAPI,
    http: httpx.AsyncClient,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:

    pool = app.state.database.engine.pool
    # The queue's leader may keep one connection for its advisory lock.
    before = pool.checkedout() if hasattr(pool, "checkedout") else 0

    async with open_stream(http, events_url(job.id), headers=owner_headers) as sse:
        await sse.next()
        if hasattr(pool, "checkedout"):
            assert pool.checkedout() <= before
        # On SQLite an open transaction would hold the write lock: a write from
        # another connection would wait for it.
        async with asyncio.timeout(5):
            changed = await http.patch(
                f"/api/video-jobs/{job.id}/steering",
                json={"translation_z": 0.2},
                headers=owner_headers,
            )
        assert changed.status_code == 200, changed.text
        steering = await sse.next()

    assert steering.event == "steering"
    assert steering.data["steering"]["translation_z"] == 0.2


async def test_query_token_is_redacted_from_the_request_log(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:
    token = owner_headers["Authorization"][7:]
    caplog.set_level(logging.INFO)

    response = await client.get(f"{events_url(job.id)}?token={token}")

    assert response.status_code == 200
    logged = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "http_request"
    ]
    assert logged
    assert all(token not in str(entry) for entry in logged)
    assert "token=[redacted]" in logged[-1]["path"]
    server_records = [r for r in caplog.records if r.name.startswith("mage_studio")]
    assert all(token not in str(record.msg) for record in server_records)


async def test_idle_stream_sends_keepalive_comments(
    app: FastAPI,
    http: httpx.AsyncClient,
    job: VideoJob,
    owner_headers: dict[str, str],
) -> None:
    app.state.settings.sse_ping_seconds = 0.2

    async with open_stream(http, events_url(job.id), headers=owner_headers) as sse:
        await sse.next()
        comment = await sse.comment()

    assert comment.startswith("ping")


async def test_stream_ends_when_job_is_deleted(
    app: FastAPI,
    http: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
) -> None:
    job = await create_job(session, owner, status=JobStatus.PREVIEW.value)
    await session.commit()

    async with open_stream(http, events_url(job.id), headers=owner_headers) as sse:
        await sse.next()
        await session.delete(job)
        await session.commit()
        await publish_job_event(app, job.id, {"type": "status", "status": "gone"})
        events = await sse.rest()

    assert [event.event for event in events] == ["gone"]
    assert events[0].id == "final"


async def test_json_state_includes_newest_frame(
    http: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
) -> None:
    job, worker = await _claimed_job(http, session, owner)
    uploaded = await http.post(
        f"/api/workers/jobs/{job.id}/frames",
        data={"attempt": "1", "index": "3"},
        files={"frame": ("f.png", PNG, "image/png")},
        headers=worker,
    )
    assert uploaded.status_code == 200, uploaded.text

    response = await http.get(events_url(job.id), headers=owner_headers)

    assert response.status_code == 200
    frame = response.json()["frame"]
    assert frame is not None
    assert frame["index"] == 3
    assert frame["content_type"] == "image/png"
