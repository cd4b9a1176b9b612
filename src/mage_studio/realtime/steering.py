"""Live steering of Deforum renders: validate, merge and store DeforumationQT values.

The values live in the job's `steering` column. Workers receive them with every
heartbeat (see the queue domain) and apply them from their next frame. They
report the values they used per frame, which are kept on the render attempt
(`RenderRun.applied_steering`) so a steered render can be reproduced.
"""

from __future__ import annotations

from typing import Any, get_args

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.errors import Conflict, ValidationFailed, validation_errors
from mage_studio.jobs import service as jobs
from mage_studio.jobs.models import Generator, JobStatus, VideoJob
from mage_studio.queue.schemas import SteeringValues
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

STEERABLE = frozenset({JobStatus.APPROVED.value, JobStatus.PROCESSING.value})
_RANGE_ERRORS = {
    "greater_than_equal",
    "less_than_equal",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "finite_number",
}


class SteeringNotAllowed(Conflict):
    """The job cannot be steered: not a Deforum job, or not queued or rendering."""

    message = "Live steering needs a queued or rendering Deforum job."


def _range_message(name: str) -> str | None:
    info = SteeringValues.model_fields.get(name)
    if info is None:
        return None
    low = high = None
    for rule in info.metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    if low is None or high is None:
        return None
    kind = "an integer" if int in get_args(info.annotation) else "a number"
    return f"{name} must be {kind} from {_number(low)} to {_number(high)}."


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    validator = validation_errors(exc.errors())
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ()))
        if error.get("type") == "extra_forbidden":
            validator[name] = ["Unknown steering value."]
        elif error.get("type") == "bool_type":
            validator[name] = [f"{name} must be true or false."]
        elif error.get("type") in _RANGE_ERRORS:
            message = _range_message(name)
            if message is not None:
                validator[name] = [message]
    return validator


def parse_changes(body: Any) -> dict[str, Any]:
    """Return the steering values a PATCH body sets (null clears a value).

    Raises a 422 with the client's field names when a value is out of range,
    of the wrong type or unknown.
    """
    if not isinstance(body, dict):
        raise ValidationFailed.field("body", "The body must be a JSON object.")
    try:
        # Strict: JSON true, false and strings do not pass as numbers.
        values = SteeringValues.model_validate(body, strict=True)
    except ValidationError as exc:
        raise ValidationFailed(_messages(exc)) from exc
    return {name: getattr(values, name) for name in values.model_fields_set}


def current_values(job: VideoJob) -> SteeringValues:
    """Return the job's stored values (defaults when none or unreadable)."""
    try:
        return SteeringValues.model_validate(job.steering or {})
    except ValidationError:
        log.warning("steering_values_invalid", job_id=job.id)
        return SteeringValues()


async def update_steering(
    session: AsyncSession, user: User, job_id: int, body: Any
) -> VideoJob:
    """Merge the values of `body` into the steering of the caller's Deforum job.

    404 for another user's job, 422 for invalid values, 409 unless the job is a
    Deforum job that is queued or rendering. The row is locked so two changes
    made at once are both kept.
    """
    job = await jobs.get_owned_job(session, user, job_id, for_update=True)
    changes = parse_changes(body)
    if job.generator != Generator.DEFORUM.value:
        raise SteeringNotAllowed("Live steering applies to Deforum jobs only.")
    if job.status not in STEERABLE:
        raise SteeringNotAllowed(
            f"Live steering needs a queued or rendering job; this one is {job.status}."
        )

    merged = current_values(job).model_copy(update=changes)
    job.steering = merged.model_dump(exclude_none=True)
    await session.flush()
    log.info("job_steered", job_id=job.id, fields=sorted(changes))
    return job


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"
