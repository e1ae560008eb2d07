"""The housekeeping tasks moved from billing/jobs.py to billing/tasks.py (issue 11): point
the django-celery-beat rows that name them, operator-edited ones included, at the new
names, so beat keeps running them."""

from django.db import migrations

RENAMED = {
    f"billing.jobs.{name}": f"billing.tasks.{name}"
    for name in ("roll_up_usage", "token_upkeep", "purge_old_logs", "release_stale_reservations")
}


def _rename(apps, mapping: dict[str, str]) -> None:
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    for old, new in mapping.items():
        periodic_task.objects.filter(task=old).update(task=new)


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_token_ceilings_and_quota_range"),
        ("django_celery_beat", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
