"""Catalog routes: render models, Deforum presets and the read-only JSON:API views."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from mage_studio.auth.deps import CurrentUser
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope, PageParams, page_params
from mage_studio.errors import NotFound
from mage_studio.jobs import repository
from mage_studio.jobs.models import Generator, RenderModel
from mage_studio.jobs.params import MAX_ID
from mage_studio.jobs.presenters import JobPresenter
from mage_studio.jobs.schemas import (
    JsonApiDocument,
    JsonApiList,
    JsonApiResource,
    PresetRead,
    RenderModelRead,
)

router = APIRouter(route_class=DbRoute, tags=["catalog"])

JSON_API = "application/vnd.api+json"
_GENERATORS = {
    Generator.VID2VID.value: "Restyle every frame of a clip or image (img2img).",
    Generator.DEFORUM.value: "Animate from a still with Deforum motion presets.",
}


class JsonApiResponse(JSONResponse):
    media_type = JSON_API


def _json_api_responses(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {200: {"content": {JSON_API: {"schema": schema}}}}


@router.get("/api/models", response_model=Envelope[list[RenderModelRead]])
async def list_models(user: CurrentUser, session: DbSession) -> Envelope[list[Any]]:
    """List the enabled Stable Diffusion models and their per-frame credit rate."""
    rows = await repository.list_models(session, enabled=True)
    return Envelope(data=[RenderModelRead.model_validate(row) for row in rows])


@router.get("/api/deforum/presets", response_model=Envelope[list[PresetRead]])
async def list_presets(user: CurrentUser, session: DbSession) -> Envelope[list[Any]]:
    """List the Deforum motion presets and the schedule values each one sets."""
    rows = await repository.list_presets(session)
    return Envelope(data=[PresetRead.model_validate(row) for row in rows])


def _model_resource(model: RenderModel) -> JsonApiResource:
    attributes = RenderModelRead.model_validate(model).model_dump(exclude={"id"})
    return JsonApiResource(type="model-files", id=str(model.id), attributes=attributes)


@router.get(
    "/api/v1/model-files",
    response_model=JsonApiList,
    response_class=JsonApiResponse,
    responses=_json_api_responses(JsonApiList),
)
async def model_files(
    user: CurrentUser,
    session: DbSession,
    enabled: Annotated[int | None, Query(alias="filter[enabled]", ge=0, le=1)] = None,
) -> JsonApiList:
    """JSON:API list of models; `filter[enabled]=1` keeps the enabled ones."""
    rows = await repository.list_models(
        session, enabled=None if enabled is None else bool(enabled)
    )
    return JsonApiList(data=[_model_resource(row) for row in rows])


@router.get(
    "/api/v1/generators",
    response_model=JsonApiList,
    response_class=JsonApiResponse,
    responses=_json_api_responses(JsonApiList),
)
async def generators(user: CurrentUser) -> JsonApiList:
    """JSON:API list of the generators a job can use."""
    return JsonApiList(
        data=[
            JsonApiResource(
                type="generators",
                id=name,
                attributes={"name": name, "description": description},
            )
            for name, description in _GENERATORS.items()
        ]
    )


@router.get(
    "/api/v1/video-jobs",
    response_model=JsonApiList,
    response_class=JsonApiResponse,
    responses=_json_api_responses(JsonApiList),
)
async def v1_video_jobs(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
) -> JsonApiList:
    """JSON:API list of the caller's jobs, newest first."""
    jobs = JobPresenter(request)
    rows, total = await repository.list_user_jobs(
        session, user.id, offset=page.offset, limit=page.per_page
    )
    return JsonApiList(
        data=[_job_resource(jobs, job) for job in rows],
        meta=page.meta(total).model_dump(),
    )


@router.get(
    "/api/v1/video-jobs/{id}",
    response_model=JsonApiDocument,
    response_class=JsonApiResponse,
    responses=_json_api_responses(JsonApiDocument),
)
async def v1_video_job(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> JsonApiDocument:
    """JSON:API document of one of the caller's jobs."""
    job = await repository.get_user_job(session, user, id)
    if job is None:
        raise NotFound("Video job not found.")
    return JsonApiDocument(data=_job_resource(JobPresenter(request), job))


def _job_resource(jobs: JobPresenter, job: Any) -> JsonApiResource:
    attributes = jobs.row(job).model_dump(mode="json", exclude={"id"})
    return JsonApiResource(type="video-jobs", id=str(job.id), attributes=attributes)
