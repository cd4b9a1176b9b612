"""Queue positions and ETAs, simulated over the live workers.

The simulation replays what the workers will do. Whenever a worker becomes free (a
min-heap of free times, seeded with the remaining time of the job it runs), it takes
the first queued job in strict claim order that its queues, generators and models
allow. Jobs that no live worker can run are simulated on one stand-in worker, and
with no live worker at all every job is, so positions and estimates exist even while
workers restart. Each job's cost is its frame count times the measured seconds per
frame of its (generator, model, size class).

Totals: `estimated_time_processing_jobs` is the time until every running job is done
and `estimated_time_for_all_jobs` the time until the last queued job is done, both
wall-clock seconds with the workers running in parallel.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

JobClass = tuple[str, str, str | None]  # (queue name, generator, model name)


class QueuedJob(NamedTuple):
    """An approved job, listed in strict claim order.

    Tuples rather than dataclasses: a snapshot builds one per queued job.
    """

    id: int
    queue_name: str
    generator: str
    model: str | None
    cost: float


@dataclass(frozen=True)
class RunningJob:
    id: int
    remaining: float
    worker_name: str | None


@dataclass(frozen=True)
class LiveWorker:
    """A worker seen recently; empty lists mean "any"."""

    name: str
    queues: frozenset[str]
    generators: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()

    def can_run(self, job_class: JobClass) -> bool:
        queue_name, generator, model = job_class
        if self.queues and queue_name not in self.queues:
            return False
        if self.generators and generator not in self.generators:
            return False
        # The claim matches model names, so a job without a model only goes to a
        # worker that accepts any model.
        return not self.models or (model is not None and model in self.models)


class Placement(NamedTuple):
    position: int
    estimated_time: float
    start_in: float
    finish_in: float


@dataclass
class Simulation:
    placements: dict[int, Placement] = field(default_factory=dict)
    total_jobs_processing: int = 0
    total_jobs_in_queue: int = 0
    estimated_time_processing_jobs: float = 0.0
    estimated_time_for_all_jobs: float = 0.0


@dataclass
class _Slot:
    """One simulated worker and the job classes it can take."""

    classes: list[JobClass]
    free_at: float


def _build_slots(
    workers: Sequence[LiveWorker],
    running: Sequence[RunningJob],
    classes: Iterable[JobClass],
) -> list[_Slot]:
    classes = list(classes)
    busy = {job.worker_name: job.remaining for job in running if job.worker_name}
    slots = [
        _Slot(
            classes=[job_class for job_class in classes if worker.can_run(job_class)],
            free_at=busy.get(worker.name, 0.0),
        )
        for worker in workers
    ]
    covered = {job_class for slot in slots for job_class in slot.classes}
    orphans = [job_class for job_class in classes if job_class not in covered]
    if orphans:
        slots.append(_Slot(classes=orphans, free_at=0.0))
    return slots


def simulate(
    queued: Sequence[QueuedJob],
    running: Sequence[RunningJob],
    workers: Sequence[LiveWorker],
) -> Simulation:
    """Place every queued job (given in claim order) on the simulated workers."""
    waiting: dict[JobClass, deque[int]] = {}
    for index, job in enumerate(queued):
        job_class = (job.queue_name, job.generator, job.model)
        waiting.setdefault(job_class, deque()).append(index)

    slots = _build_slots(workers, running, waiting)
    order = itertools.count()
    heap = [(slot.free_at, next(order), slot) for slot in slots if slot.classes]
    heapq.heapify(heap)

    result = Simulation(
        total_jobs_processing=len(running),
        total_jobs_in_queue=len(queued),
        estimated_time_processing_jobs=max((j.remaining for j in running), default=0),
    )
    last_finish = result.estimated_time_processing_jobs
    while heap:
        free_at, _, slot = heapq.heappop(heap)
        next_index = _next_job(waiting, slot, slots)
        if next_index is None:
            continue  # Nothing left this worker can run.
        job = queued[next_index]
        finish = free_at + job.cost
        result.placements[job.id] = Placement(next_index + 1, job.cost, free_at, finish)
        last_finish = max(last_finish, finish)
        heapq.heappush(heap, (finish, next(order), slot))
    result.estimated_time_for_all_jobs = last_finish
    return result


def _next_job(
    waiting: dict[JobClass, deque[int]], slot: _Slot, slots: list[_Slot]
) -> int | None:
    """Pop the first job in claim order among the classes `slot` can run."""
    classes = slot.classes
    if not classes:
        return None
    if len(classes) == 1:
        best = classes[0]
    else:
        best = min(classes, key=lambda job_class: waiting[job_class][0])
    queue = waiting[best]
    index = queue.popleft()
    if not queue:
        # Rare (once per class), so every slot is pruned here, not per job.
        for other in slots:
            if best in other.classes:
                other.classes = [c for c in other.classes if c != best]
    return index
