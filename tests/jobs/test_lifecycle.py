"""Finalize, cancel and delete: legal and illegal transitions, races, credits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.storage import Storage, new_key
from mage_studio.errors import NotFound
from mage_studio.jobs import charges, service
from mage_studio.jobs.models import DeforumPreset, RenderKind, RenderModel, VideoJob
from mage_studio.jobs.transitions import RaceLost, compare_and_set
from tests.billing.factories import available
from tests.jobs.conftest import Actor, make_actor
from tests.jobs.factories import (
    create_job,
    create_model,
    create_preset,
    deforum,
    post_generate,
    reload,
    vid2vid,
)


async def previewed(
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    body: dict[str, Any],
) -> VideoJob:
    """Generate a preview and pretend a worker finished it."""
    response = await post_generate(client, actor.headers, body)
    assert response.status_code == 200, response.text
    job = await reload(session, body["videoId"])
    await charges.settle_render(session, job, 1, Settings())
    job.status = "preview"
    await session.commit()
    return job


async def test_finalize_queues_full_render(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    preview = await previewed(client, session, owner, vid2vid(job, model, seed=77))
    revision = preview.revision
    credits_before = (await available(session, owner.user.id))[1]

    response = await client.post(
        "/api/finalize", headers=owner.headers, json={"videoId": job.id}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "status", "progress", "job_time", "retries", "queued_at",
        "estimated_time_left",
    }  # fmt: skip
    assert body["status"] == "approved"
    assert isinstance(body["queued_at"], int)
    row = await reload(session, job.id)
    assert row.seed == 77
    assert row.queue_name == "low"
    assert row.priority == 2
    assert row.render_kind == "full"
    assert row.render_frames == 12
    assert row.credits_reserved == 24
    assert row.revision > revision
    assert (await available(session, owner.user.id))[1] == credits_before - 24


async def test_finalize_from_pending_with_parameters(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
) -> None:
    row = await create_job(
        session,
        owner.user,
        model_id=model.id,
        seed=5,
        generation_parameters={"type": "vid2vid", "modelId": model.id},
    )
    await session.commit()

    response = await client.post(
        "/finalize", headers=owner.headers, json={"videoId": row.id}
    )

    assert response.status_code == 200, response.text
    assert (await reload(session, row.id)).seed == 5


async def test_finalize_pending_without_parameters_is_409(
    client: httpx.AsyncClient, owner: Actor, job: VideoJob
) -> None:
    response = await client.post(
        "/api/finalize", headers=owner.headers, json={"videoId": job.id}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == 1013


@pytest.mark.parametrize("status", ["approved", "processing", "finished"])
async def test_finalize_illegal_from_status(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    status: str,
) -> None:
    row = await create_job(
        session,
        owner.user,
        status=status,
        model_id=model.id,
        generation_parameters={"type": "vid2vid"},
    )
    await session.commit()

    response = await client.post(
        "/api/finalize", headers=owner.headers, json={"videoId": row.id}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == 1013


async def test_finalize_other_users_job_is_404(
    client: httpx.AsyncClient, stranger: Actor, job: VideoJob
) -> None:
    response = await client.post(
        "/api/finalize", headers=stranger.headers, json={"videoId": job.id}
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"videoId": "x"}, "videoId"),
        ({"length": 30}, "length"),
        ({"seed": 2**40}, "seed"),
        ({"modelId": 0}, "modelId"),
        ({"prompt": "a\x00b"}, "prompt"),
        ({"preset": "zoom\x00"}, "preset"),
    ],
)
async def test_finalize_validation(
    client: httpx.AsyncClient,
    owner: Actor,
    job: VideoJob,
    fields: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(
        "/api/finalize", headers=owner.headers, json={"videoId": job.id, **fields}
    )

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_finalize_insufficient_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    model: RenderModel,
) -> None:
    poor = await make_actor(session, settings, credits=5)
    row = await create_job(session, poor.user)
    await session.commit()
    await previewed(client, session, poor, vid2vid(row, model))

    response = await client.post(
        "/api/finalize", headers=poor.headers, json={"videoId": row.id}
    )

    assert response.status_code == 402
    assert response.json()["error"]["code"] == 1011
    assert (await reload(session, row.id)).status == "preview"


async def test_finalize_deforum_overrides(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    row = await create_job(session, owner.user, generator="deforum")
    other_model = await create_model(session, credits_per_frame=1)
    other_preset = await create_preset(session, settings={"angle": "0:(5)"})
    await session.commit()
    await previewed(
        client,
        session,
        owner,
        deforum(row, model, preset, seed=99, settings={"translation_x": "0:(2)"}),
    )

    response = await client.post(
        "/api/finalize",
        headers=owner.headers,
        json={
            "videoId": row.id,
            "modelId": other_model.id,
            "prompt": "a new prompt",
            "preset": other_preset.slug,
            "length": 3,
        },
    )

    assert response.status_code == 200, response.text
    fresh = await reload(session, row.id)
    assert fresh.model_id == other_model.id
    assert fresh.prompt == "a new prompt"
    assert fresh.preset_id == other_preset.id
    assert fresh.deforum_settings == {"angle": "0:(5)", "translation_x": "0:(2)"}
    assert fresh.frame_count == 72
    assert fresh.render_frames == 72
    assert fresh.credits_reserved == 72
    assert fresh.seed == 99


async def test_finalize_deforum_seed_override_and_unknown_preset(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    row = await create_job(session, owner.user, generator="deforum")
    await session.commit()
    await previewed(client, session, owner, deforum(row, model, preset, seed=99))

    bad = await client.post(
        "/api/finalize",
        headers=owner.headers,
        json={"videoId": row.id, "preset": "no-such-preset"},
    )
    good = await client.post(
        "/api/finalize", headers=owner.headers, json={"videoId": row.id, "seed": 3}
    )

    assert bad.status_code == 422
    assert "preset" in bad.json()["error"]["validator"]
    assert good.status_code == 200
    assert (await reload(session, row.id)).seed == 3


async def test_finalize_keeps_extension(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    base = await create_job(
        session,
        owner.user,
        status="finished",
        generator="deforum",
        model_id=model.id,
        preset_id=preset.id,
        prompt="base",
        seed=31,
        deforum_settings={"zoom": "0:(1.1)"},
    )
    row = await create_job(session, owner.user, generator="deforum")
    await session.commit()
    await previewed(
        client,
        session,
        owner,
        {"videoId": row.id, "type": "deforum", "extendFromJobId": base.id},
    )

    response = await client.post(
        "/api/finalize", headers=owner.headers, json={"videoId": row.id}
    )

    assert response.status_code == 200, response.text
    fresh = await reload(session, row.id)
    assert fresh.extend_from_job_id == base.id
    assert fresh.seed == 31
    assert fresh.deforum_settings == {"zoom": "0:(1.1)"}


@pytest.mark.parametrize("status", ["pending", "preview"])
async def test_cancel_idle_job(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    status: str,
) -> None:
    row = await create_job(session, owner.user, status=status, progress=40.0)
    await session.commit()

    response = await client.post(f"/api/cancelJob/{row.id}", headers=owner.headers)

    assert response.status_code == 200
    assert response.json() == {
        "status": "cancelled",
        "progress": 0,
        "job_time": 0,
        "estimated_time_left": 0,
        "cancel_requested": False,
    }
    fresh = await reload(session, row.id)
    assert fresh.status == "cancelled"
    assert fresh.progress == 0


async def test_cancel_queued_job_releases_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    await post_generate(client, owner.headers, vid2vid(job, model, frameCount=4))
    assert (await available(session, owner.user.id))[1] == 992

    response = await client.post(f"/cancelJob/{job.id}", headers=owner.headers)

    assert response.status_code == 200
    assert (await reload(session, job.id)).status == "cancelled"
    assert (await reload(session, job.id)).credits_reserved == 0
    assert (await available(session, owner.user.id))[1] == 1000


async def test_cancel_processing_job_requests_stop(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    row = await create_job(session, owner.user, status="processing")
    await session.commit()

    response = await client.post(f"/api/cancelJob/{row.id}", headers=owner.headers)
    again = await client.post(f"/api/cancelJob/{row.id}", headers=owner.headers)

    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    assert again.status_code == 200
    fresh = await reload(session, row.id)
    assert fresh.status == "processing"
    assert fresh.cancel_requested is True
    assert fresh.attempt == 1


@pytest.mark.parametrize("status", ["finished", "error", "cancelled"])
async def test_cancel_final_job_is_409(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, status: str
) -> None:
    row = await create_job(session, owner.user, status=status)
    await session.commit()

    response = await client.post(f"/api/cancelJob/{row.id}", headers=owner.headers)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == 1013


async def test_cancel_other_users_job_is_404(
    client: httpx.AsyncClient, stranger: Actor, job: VideoJob
) -> None:
    response = await client.post(f"/api/cancelJob/{job.id}", headers=stranger.headers)

    assert response.status_code == 404


async def test_compare_and_set_loses_to_claim(
    app: FastAPI, session: AsyncSession, owner: Actor
) -> None:
    row = await create_job(session, owner.user, status="approved")
    await session.commit()
    # The API loaded the job; then a worker claims it before the API writes.
    async with app.state.database.session() as worker:
        await worker.execute(
            update(VideoJob)
            .where(VideoJob.id == row.id, VideoJob.status == "approved")
            .values(status="processing", attempt=VideoJob.attempt + 1)
        )

    with pytest.raises(RaceLost):
        await compare_and_set(session, row, status="cancelled")

    assert row.status == "processing"
    assert row.attempt == 1


async def test_cancel_after_lost_race_requests_stop(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    row = await create_job(session, owner.user, status="approved")
    await session.commit()
    calls = 0
    original = compare_and_set

    async def claimed_first(db: AsyncSession, job: VideoJob, **values: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await db.execute(
                update(VideoJob)
                .where(VideoJob.id == job.id)
                .values(status="processing", attempt=1)
                # Another process would not update this session's objects.
                .execution_options(synchronize_session=False)
            )
        await original(db, job, **values)

    monkeypatch.setattr("mage_studio.jobs.service.compare_and_set", claimed_first)

    response = await client.post(f"/api/cancelJob/{row.id}", headers=owner.headers)

    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    fresh = await reload(session, row.id)
    assert fresh.status == "processing"
    assert fresh.cancel_requested is True


async def test_delete_job_removes_files(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    storage: Storage = app.state.storage
    keys = [new_key("tests", "mp4"), new_key("tests", "png")]
    for key in keys:
        await storage.save_bytes(key, b"data")
    row = await create_job(
        session,
        owner.user,
        status="finished",
        source_key=keys[0],
        thumbnail_key=keys[1],
    )
    await session.commit()

    response = await client.delete(f"/api/video-jobs/{row.id}", headers=owner.headers)

    assert response.status_code == 204
    assert await session.get(VideoJob, row.id, populate_existing=True) is None
    for key in keys:
        assert not await storage.exists(key)


async def test_delete_queued_job_releases_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    await post_generate(client, owner.headers, vid2vid(job, model))

    response = await client.delete(f"/api/video-jobs/{job.id}", headers=owner.headers)

    assert response.status_code == 204
    assert (await available(session, owner.user.id))[1] == 1000


async def test_delete_processing_job_is_409(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    row = await create_job(session, owner.user, status="processing")
    await session.commit()

    response = await client.delete(f"/api/video-jobs/{row.id}", headers=owner.headers)

    assert response.status_code == 409
    assert await reload(session, row.id) is not None


async def test_delete_other_users_job_is_404(
    client: httpx.AsyncClient, stranger: Actor, job: VideoJob
) -> None:
    response = await client.delete(
        f"/api/video-jobs/{job.id}", headers=stranger.headers
    )

    assert response.status_code == 404


async def test_settle_charges_frames_done(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    await post_generate(client, owner.headers, vid2vid(job, model, frameCount=5))
    row = await reload(session, job.id)

    charged = await charges.settle_render(session, row, 2, settings)
    await session.commit()

    assert charged == 4
    assert row.credits_reserved == 0
    assert (await available(session, owner.user.id))[1] == 996


async def test_release_returns_whole_hold(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    await post_generate(client, owner.headers, vid2vid(job, model, frameCount=5))
    row = await reload(session, job.id)

    await charges.release_render(session, row)
    await session.commit()

    assert (await available(session, owner.user.id))[1] == 1000
    assert charges.hold_key(row, RenderKind.FULL).startswith("full-r")


async def test_reused_job_id_holds_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    # SQLite assigns the id of a deleted newest row to the next insert, so a new
    # job may carry the id of a deleted job whose hold is already settled.
    first = await client.post(
        "/api/generate", headers=owner.headers, json=vid2vid(job, model, frameCount=5)
    )
    deleted = await client.delete(f"/api/video-jobs/{job.id}", headers=owner.headers)
    session.expunge(job)
    reused = await create_job(session, owner.user, id=job.id)
    await session.commit()

    second = await client.post(
        "/api/generate",
        headers=owner.headers,
        json=vid2vid(reused, model, frameCount=5),
    )

    assert first.status_code == 200, first.text
    assert deleted.status_code == 204
    assert second.status_code == 200, second.text
    assert (await reload(session, reused.id)).credits_reserved == 10
    assert await available(session, owner.user.id) == (0, 990)


async def test_admin_variants_act_on_any_owner(
    app: FastAPI, session: AsyncSession, owner: Actor, stranger: Actor
) -> None:
    queued = await create_job(session, owner.user, status="approved")
    done = await create_job(session, owner.user, status="finished")
    await session.commit()

    with pytest.raises(NotFound):
        await service.cancel(session, stranger.user, queued.id)
    cancelled = await service.cancel(session, stranger.user, queued.id, any_owner=True)
    await service.delete_job(
        session, app.state.storage, stranger.user, done.id, any_owner=True
    )
    await session.commit()

    assert cancelled.status == "cancelled"
    assert await session.get(VideoJob, done.id, populate_existing=True) is None
