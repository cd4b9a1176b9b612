"""POST /api/studio/compositions: layouts, joins, per-layout validation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from tests.studio.conftest import Actor
from tests.studio.factories import finished_job


async def compose(
    client: httpx.AsyncClient, actor: Actor, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/api/studio/compositions", headers=actor.headers, json=body
    )


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({"layout": "side-by-side"}, (128, 48)),
        ({"layout": "side-by-side", "sideBySide": {"gap": 3}}, (132, 48)),
        ({"layout": "wipe", "wipe": {"divider": "fixed"}}, (64, 48)),
        ({"layout": "crossfade", "crossfade": {"seconds": 0.5}}, (64, 48)),
        ({"layout": "pip", "pip": {"corner": "top-left"}}, (64, 48)),
    ],
)
async def test_composition_layouts(
    client: httpx.AsyncClient,
    actor: Actor,
    finished: VideoJob,
    body: dict[str, Any],
    size: tuple[int, int],
) -> None:
    response = await compose(client, actor, {"sourceJobId": finished.id, **body})

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["operation"] == "composition"
    assert data["source_job_ids"] == [finished.id]
    assert (data["width"], data["height"]) == size
    assert data["options"]["layout"] == body["layout"]
    assert data["options"]["audio"] == "generated"
    layout_keys = {"sideBySide", "wipe", "crossfade", "pip"} & set(data["options"])
    assert len(layout_keys) == 1  # only the chosen layout's settings are kept


async def test_concat_joins_jobs_in_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    first = await finished_job(app, session, actor.user, tmp_path / "a")
    second = await finished_job(
        app, session, actor.user, tmp_path / "b", frames=48, rate=Fraction(24)
    )
    await session.commit()

    response = await compose(
        client,
        actor,
        {"layout": "concat", "jobIds": [second.id, first.id], "fps": 12},
    )

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["operation"] == "concat"
    assert data["source_job_ids"] == [second.id, first.id]
    assert data["frame_count"] == 24 + 12
    assert data["fps"] == 12
    assert data["credits_reserved"] == 3
    assert data["options"] == {
        "fps": 12.0,
        "background": "#000000",
        "maxHeight": None,
        "watermark": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"layout": "concat"}, "jobIds"),
        ({"layout": "concat", "jobIds": [1]}, "jobIds"),
        ({"layout": "concat", "jobIds": [1, 2], "sourceJobId": 1}, "sourceJobId"),
        ({"layout": "concat", "jobIds": [1, 2], "audio": "source"}, "audio"),
        ({"layout": "wipe"}, "sourceJobId"),
        ({"layout": "wipe", "sourceJobId": 1, "jobIds": [1, 2]}, "jobIds"),
        ({"layout": "wipe", "sourceJobId": 1, "crossfade": {}}, "crossfade"),
        ({"layout": "pip", "sourceJobId": 1, "fps": 30}, "fps"),
        ({"layout": "concat", "jobIds": [1, 2], "fps": 0.0001}, "fps"),
        ({"layout": "pip", "sourceJobId": 1, "pip": {"scale": 0.05}}, "pip.scale"),
        (
            {"layout": "wipe", "sourceJobId": 1, "wipe": {"lineColor": "x"}},
            "wipe.lineColor",
        ),
        ({"layout": "mosaic", "sourceJobId": 1}, "layout"),
        ({"layout": "concat", "jobIds": [0, 2]}, "jobIds.0"),
    ],
)
async def test_composition_validation(
    client: httpx.AsyncClient, actor: Actor, body: dict[str, Any], field: str
) -> None:
    response = await compose(client, actor, body)

    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["validator"]


async def test_concat_with_another_users_job_is_not_found(
    client: httpx.AsyncClient,
    actor: Actor,
    stranger: Actor,
    finished: VideoJob,
) -> None:
    response = await compose(
        client, stranger, {"layout": "concat", "jobIds": [finished.id, finished.id]}
    )

    assert response.status_code == 404


async def test_studio_job_cannot_be_composed(
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
) -> None:
    studio = VideoJob(
        user_id=actor.user.id,
        generator="studio",
        status="finished",
        video_key=finished.video_key,
        width=64,
        height=48,
        fps_num=12,
        fps_den=1,
        frame_count=12,
    )
    session.add(studio)
    await session.commit()

    composed = await compose(
        client, actor, {"layout": "side-by-side", "sourceJobId": studio.id}
    )
    joined = await compose(
        client, actor, {"layout": "concat", "jobIds": [studio.id, finished.id]}
    )

    assert composed.status_code == 422
    assert "sourceJobId" in composed.json()["error"]["validator"]
    assert joined.status_code == 201, joined.text  # a studio job's video can be joined


async def test_crossfade_must_start_within_video(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await compose(
        client,
        actor,
        {
            "layout": "crossfade",
            "sourceJobId": finished.id,
            "crossfade": {"start": 5},
        },
    )

    assert response.status_code == 422
    assert "crossfade.start" in response.json()["error"]["validator"]
