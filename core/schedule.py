"""The periodic jobs, listed once.

Both runners read this list: django-celery-beat (via `manage.py sync_schedules`) when
REDIS_URL is set, and the in-process scheduler of oneproxy.embedded when it is not.
Each entry names a Celery task and the setting that holds its interval in seconds.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str  # dotted path of a Celery task
    interval_setting: str  # name of a setting holding the interval
    unit_seconds: int = 1  # the setting's unit: 60 for settings given in minutes

    @property
    def interval(self) -> int:
        return max(1, int(getattr(settings, self.interval_setting)) * self.unit_seconds)


PERIODIC_JOBS: list[PeriodicJob] = []


def register(job: PeriodicJob) -> PeriodicJob:
    """Add a job (apps call this from their tasks module); re-registering replaces it."""
    PERIODIC_JOBS[:] = [j for j in PERIODIC_JOBS if j.name != job.name] + [job]
    return job
