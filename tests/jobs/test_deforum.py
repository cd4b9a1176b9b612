"""Deforum generate: preset merge, settings overrides, frames, extensions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import DeforumPreset, RenderModel, VideoJob
from tests.jobs.conftest import Actor
from tests.jobs.factories import (
    create_job,
    create_model,
    deforum,
    post_generate,
    reload,
    vid2vid,
)


@pytest.fixture
async def job(session: AsyncSession, owner: Actor) -> VideoJob:
    row = await create_job(
        session,
        owner.user,
        generator="deforum",
        source_kind="image",
        source_width=640,
        source_height=360,
        source_frame_count=1,
        source_fps_num=None,
        source_fps_den=None,
    )
    await session.commit()
    return row


async def finished_deforum(
    session: AsyncSession, actor: Actor, model: RenderModel, preset: DeforumPreset
) -> VideoJob:
    base = await create_job(
        session,
        actor.user,
        status="finished",
        generator="deforum",
        model_id=model.id,
        preset_id=preset.id,
        prompt="base prompt",
        negative_prompt="blurry",
        seed=4242,
        denoising=0.6,
        cfg_scale=6.0,
        width=576,
        height=320,
        fps_num=12,
        fps_den=1,
        length=3.0,
        frame_count=36,
        deforum_settings={"zoom": "0:(1.05)", "angle": "0:(2)"},
        generation_parameters={"settings": {"angle": "0:(2)"}},
        video_key="videos/2026/12/04/base.mp4",
        last_frame_key="frames/2026/12/04/base.png",
    )
    await session.commit()
    return base


async def test_deforum_merges_preset_and_overrides(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    body = deforum(
        job, model, preset, settings={"angle": "0:(3), 24:(0)", "motion_blur": 1}
    )

    response = await post_generate(client, owner.headers, body)

    assert response.status_code == 200, response.text
    row = await reload(session, job.id)
    assert row.deforum_settings == {
        "zoom": "0:(1.02)",
        "angle": "0:(3), 24:(0)",
        "diffusion_cadence": 2,
    }
    assert row.preset_id == preset.id
    assert row.generation_parameters is not None
    assert row.generation_parameters["preset"] == "zoom-in"
    assert row.generation_parameters["ignored_settings"] == ["motion_blur"]
    assert row.generation_parameters["settings"] == {"angle": "0:(3), 24:(0)"}


async def test_deforum_frames_from_length_and_fps(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    response = await post_generate(
        client,
        owner.headers,
        deforum(job, model, preset, length=2.5, fps=15, frameCount=4),
    )

    body = response.json()
    assert body["fps"] == 15
    assert body["length"] == 2.5
    assert (body["width"], body["height"]) == (512, 288)
    row = await reload(session, job.id)
    assert row.frame_count == 38
    assert row.render_frames == 4
    assert row.queue_name == "medium"


async def test_deforum_fps_defaults_to_24(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    response = await post_generate(client, owner.headers, deforum(job, model, preset))

    assert response.json()["fps"] == 24
    assert (await reload(session, job.id)).frame_count == 48


DEFORUM_INVALID = [
    ({"preset": ...}, "preset"),
    ({"preset": "spiral-of-doom"}, "preset"),
    ({"modelId": ...}, "modelId"),
    ({"prompt": ...}, "prompt"),
    ({"prompt": "a\x00b"}, "prompt"),
    ({"preset": "zoom\x00"}, "preset"),
    ({"extendFromJobId": 2**31}, "extendFromJobId"),
    ({"length": 0.5}, "length"),
    ({"length": 21}, "length"),
    ({"fps": 0}, "fps"),
    ({"fps": 61}, "fps"),
    ({"frameCount": 21}, "frameCount"),
    ({"denoising": 2}, "denoising"),
    ({"settings": "zoom"}, "settings"),
    ({"settings": {"zoom": "0:(1.0"}}, "settings.zoom"),
    ({"settings": {"angle": "0:(__import__('os'))"}}, "settings.angle"),
    ({"settings": {"strength_schedule": True}}, "settings.strength_schedule"),
    # Divides by zero at frame 30 of the 48 frames rendered.
    ({"settings": {"zoom": "0:(1/(t-30))"}}, "settings.zoom"),
    ({"settings": {"diffusion_cadence": "often"}}, "settings.diffusion_cadence"),
]


@pytest.mark.parametrize(("fields", "field"), DEFORUM_INVALID)
async def test_deforum_validation(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
    fields: dict[str, Any],
    field: str,
) -> None:
    response = await post_generate(
        client, owner.headers, deforum(job, model, preset, **fields)
    )

    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["validator"]
    assert (await reload(session, job.id)).status == "pending"


async def test_deforum_accepts_saved_settings_file(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
    samples_dir: Path,
) -> None:
    text = (samples_dir / "deforum" / "eudk_deforum_settings.txt").read_text()
    saved = json.loads(text)

    response = await post_generate(
        client, owner.headers, deforum(job, model, preset, settings=saved)
    )

    assert response.status_code == 200, response.text
    row = await reload(session, job.id)
    assert row.deforum_settings is not None
    assert row.deforum_settings["translation_x"] == saved["translation_x"]
    assert row.deforum_settings["animation_mode"] == "3D"
    # The file is a 3D animation, where Deforum ignores the 2D zoom.
    assert row.deforum_settings["zoom"] == "0:(1.02)"
    assert row.generation_parameters is not None
    ignored = row.generation_parameters["ignored_settings"]
    assert "sampler" in ignored
    assert "zoom" in ignored
    assert "fps" in ignored
    assert "seed" in ignored
    assert "translation_x" not in ignored


async def test_extension_inherits_base(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    base = await finished_deforum(session, owner, model, preset)
    body = {"videoId": job.id, "type": "deforum", "extendFromJobId": base.id}

    response = await post_generate(client, owner.headers, body)

    assert response.status_code == 200, response.text
    data = response.json()
    assert data["seed"] == 4242
    assert (data["width"], data["height"]) == (576, 320)
    assert data["fps"] == 12
    assert data["length"] == 3.0
    row = await reload(session, job.id)
    assert row.extend_from_job_id == base.id
    assert row.model_id == model.id
    assert row.prompt == "base prompt"
    assert row.negative_prompt == "blurry"
    assert row.denoising == 0.6
    assert row.deforum_settings == {"zoom": "0:(1.05)", "angle": "0:(2)"}
    assert row.frame_count == 36


async def test_extension_overrides(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    base = await finished_deforum(session, owner, model, preset)
    other_model = await create_model(session)
    await session.commit()
    body = {
        "videoId": job.id,
        "type": "deforum",
        "extendFromJobId": base.id,
        "prompt": "the forest burns",
        "negative_prompt": "text",
        "length": 2,
        "seed": 7,
        "denoising": 0.3,
        "modelId": other_model.id,
        "fps": 30,
    }

    response = await post_generate(client, owner.headers, body)

    assert response.status_code == 200, response.text
    row = await reload(session, job.id)
    assert row.prompt == "the forest burns"
    assert row.negative_prompt == "text"
    assert row.seed == 7
    assert row.denoising == 0.3
    assert row.frame_count == 24
    assert row.model_id == model.id
    assert row.fps_num == 12
    assert row.generation_parameters is not None
    assert row.generation_parameters["ignored_settings"] == ["modelId", "fps"]


@pytest.mark.parametrize(
    ("base_values", "message"),
    [
        ({"generator": "vid2vid"}, "Only deforum jobs can be extended"),
        ({"status": "preview"}, "Only finished jobs can be extended."),
    ],
)
async def test_extension_base_rules(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
    base_values: dict[str, Any],
    message: str,
) -> None:
    base = await finished_deforum(session, owner, model, preset)
    for key, value in base_values.items():
        setattr(base, key, value)
    await session.commit()

    response = await post_generate(
        client,
        owner.headers,
        {"videoId": job.id, "type": "deforum", "extendFromJobId": base.id},
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"]["extendFromJobId"] == [message]


@pytest.mark.parametrize(
    ("base_generator", "message"),
    [
        ("deforum", "Cannot extend deforum jobs with vid2vid"),
        ("vid2vid", "Only deforum jobs can be extended"),
    ],
)
async def test_vid2vid_cannot_extend(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    base_generator: str,
    message: str,
) -> None:
    base = await create_job(
        session, owner.user, status="finished", generator=base_generator
    )
    await session.commit()

    response = await post_generate(
        client, owner.headers, vid2vid(job, model, extendFromJobId=base.id)
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"]["extendFromJobId"] == [message]


async def test_extending_other_users_job_is_404(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    stranger: Actor,
    job: VideoJob,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    base = await finished_deforum(session, stranger, model, preset)

    for base_id in (base.id, 999999):
        response = await post_generate(
            client,
            owner.headers,
            {"videoId": job.id, "type": "deforum", "extendFromJobId": base_id},
        )
        assert response.status_code == 404


async def test_job_cannot_extend_itself(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    base = await finished_deforum(session, owner, model, preset)
    base.status = "preview"
    await session.commit()

    response = await post_generate(
        client,
        owner.headers,
        {"videoId": base.id, "type": "deforum", "extendFromJobId": base.id},
    )

    assert response.status_code == 422
