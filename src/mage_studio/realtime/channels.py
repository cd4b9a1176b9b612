"""Names of the event bus channels the realtime domain publishes on."""

from __future__ import annotations


def job_channel(job_id: int) -> str:
    """Return the channel of everything about one job: status, progress, frames."""
    return f"job:{job_id}"


def user_channel(user_id: int) -> str:
    """Return the channel that signals changes of a user's jobs (the overview)."""
    return f"user:{user_id}"
