"""The fixed lists of support request statuses and subjects.

Both are constants rather than tables: clients rely on the ids, and a subject list
that changes needs a release of the front end anyway.
"""

from __future__ import annotations

from enum import IntEnum


class SupportStatus(IntEnum):
    OPEN = 1
    CLOSED = 2
    UNREAD = 3  # the customer replied and no one from staff has read it yet
    READ = 4
    IN_PROGRESS = 5

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    SupportStatus.OPEN: "Open",
    SupportStatus.CLOSED: "Closed",
    SupportStatus.UNREAD: "Unread",
    SupportStatus.READ: "Read",
    SupportStatus.IN_PROGRESS: "In progress",
}

SUBJECTS: dict[int, str] = {
    1: "Render failed or stuck",
    2: "Render quality or result",
    3: "Billing and credits",
    4: "Account and login",
    5: "Upload problem",
    6: "Feature request",
    7: "Other",
}
