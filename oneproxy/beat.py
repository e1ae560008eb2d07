"""Mirror core.schedule.PERIODIC_JOBS into django-celery-beat's tables, so operators
see, pause and re-time the jobs in the admin (Periodic tasks) while beat runs them.

Each managed PeriodicTask carries a marker line in its description with the interval last
written from settings. A re-sync updates the interval only while it still equals that
value: an interval the operator edited in the admin survives every later sync, while the
task path always follows the code (a job whose task moved keeps running).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction

MARKER = "synced interval: {seconds}s"
_MARKER_RE = re.compile(r"synced interval: (\d+)s")


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited by an operator: left alone
    unchanged: list[str] = field(default_factory=list)


def load_jobs() -> list:
    """Import every app's tasks module (they register their periodic jobs), as the
    Celery app's autodiscovery does."""
    from core import schedule
    from oneproxy.celery import app

    app.loader.import_default_modules()
    return list(schedule.PERIODIC_JOBS)


def sync_schedules(jobs=None) -> SyncReport:
    """Create missing periodic tasks and follow settings changes where nobody edited the
    interval by hand. Never touches `enabled` (an operator's pause stays)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    report = SyncReport()
    with transaction.atomic():
        for job in jobs if jobs is not None else load_jobs():
            schedule, _ = IntervalSchedule.objects.get_or_create(
                every=job.interval, period=IntervalSchedule.SECONDS)
            description = _description(job)
            task = PeriodicTask.objects.filter(name=job.name).first()
            if task is None:
                PeriodicTask.objects.create(name=job.name, task=job.task, interval=schedule,
                                            description=description)
                report.created.append(job.name)
            elif _interval_seconds(task) == job.interval and task.task == job.task:
                report.unchanged.append(job.name)
            elif _interval_seconds(task) != _synced_seconds(task):
                if task.task != job.task:  # the task moved: keep the interval, follow it
                    task.task = job.task
                    task.save(update_fields=["task"])
                report.kept.append(job.name)
            else:
                task.task, task.interval, task.description = job.task, schedule, description
                task.save()
                report.updated.append(job.name)
    return report


def _description(job) -> str:
    return (f"{job.task} every {job.interval_setting}"
            f"{' minutes' if job.unit_seconds == 60 else ' seconds'}. "
            + MARKER.format(seconds=job.interval))


def _interval_seconds(task) -> int | None:
    interval = task.interval
    if interval is None:
        return None
    return int(interval.schedule.run_every.total_seconds())


def _synced_seconds(task) -> int | None:
    match = _MARKER_RE.search(task.description or "")
    return int(match.group(1)) if match else None
