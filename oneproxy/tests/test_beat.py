"""The beat schedule sync lives at the top (it loads the Celery app); the apps below only
register their jobs in core.schedule."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
TOP_IMPORT = re.compile(r"^\s*(?:from|import) oneproxy\b", re.M)


def test_channels_app_code_imports_nothing_from_the_top_layer():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "channels_app").glob("**/*.py")
        if "tests" not in path.parts and TOP_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.django_db
def test_sync_schedules_writes_every_registered_job_into_the_beat_tables():
    from django_celery_beat.models import PeriodicTask

    from core.schedule import PERIODIC_JOBS

    out = io.StringIO()
    call_command("sync_schedules", stdout=out)
    rows = dict(PeriodicTask.objects.values_list("name", "task"))
    assert rows == {job.name: job.task for job in PERIODIC_JOBS}
    assert out.getvalue().startswith("created: ")
