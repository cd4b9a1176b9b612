"""Content oversight: every user's video jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from mage_studio.admin import content, repository
from mage_studio.admin.schemas import VideoJobFilters
from mage_studio.auth.deps import AdminUser
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import MAX_ROW_ID, Envelope, Page
from mage_studio.core.storage import StorageDep
from mage_studio.jobs.presenters import JobPresenter
from mage_studio.jobs.schemas import JobRead

router = APIRouter(route_class=DbRoute, tags=["administration: content"])

JobId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Video job id.")]


def job_presenter(request: Request) -> JobPresenter:
    return JobPresenter(request)


Presenter = Annotated[JobPresenter, Depends(job_presenter)]


@router.get("/video-jobs", response_model=Page[JobRead])
async def list_video_jobs(
    filters: Annotated[VideoJobFilters, Query()],
    _: AdminUser,
    session: DbSession,
    jobs: Presenter,
) -> Page[JobRead]:
    """List every user's video jobs, newest first.

    Filters: `userId`, `status` and `generator`. Unknown parameters are 422.
    """
    found, total = await repository.search_video_jobs(session, filters)
    return Page(
        data=[jobs.row(job) for job in found], meta=filters.page_params().meta(total)
    )


@router.post("/video-jobs/{id}/cancel", response_model=Envelope[JobRead])
async def cancel_video_job(
    id: JobId, admin: AdminUser, session: DbSession, jobs: Presenter
) -> Envelope[JobRead]:
    """Cancel any user's job, with the owner's rules: pending, queued and previewed
    jobs are cancelled at once and their reserved credits released.

    A rendering job is flagged `cancel_requested` and stops before its next frame.
    Finished, failed and cancelled jobs are 409. The change is audited.
    """
    job = await content.cancel_job(session, admin, id)
    return Envelope(data=jobs.row(job))


@router.delete("/video-jobs/{id}", status_code=204, response_class=Response)
async def delete_video_job(
    id: JobId, admin: AdminUser, session: DbSession, storage: StorageDep
) -> Response:
    """Delete any user's job and, after the commit, its files; 409 while it is
    rendering. A queued job's reserved credits are released. The deletion is
    audited."""
    await content.delete_job(session, storage, admin, id)
    return Response(status_code=204)
