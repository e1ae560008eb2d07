"""Housekeeping: incremental daily rollups, log retention, token expiry and exhaustion."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import housekeeping, tasks
from billing.models import DailyUsage, Log, LogType, Option, TokenStatus
from billing.services import create_token
from conftest import make_channel

pytestmark = pytest.mark.django_db


def consume(user, token, channel, *, model="gpt-4o-mini", quota=100, age_days=0, **fields):
    return Log.objects.create(
        type=fields.pop("type", LogType.CONSUME), user=user, token=token, channel=channel,
        model=model, quota=quota, prompt_tokens=10, completion_tokens=5,
        created_at=timezone.now() - timedelta(days=age_days), **fields)


@pytest.fixture
def usage(rich_user):
    token, _ = create_token(rich_user, "app", remain_quota=1000)
    return rich_user, token, make_channel("ch")


def test_a_rollup_counts_each_log_once_per_day_user_token_channel_and_model(usage):
    user, token, channel = usage
    consume(user, token, channel)
    consume(user, token, channel)
    consume(user, token, channel, model="other")
    consume(user, token, channel, type=LogType.ERROR, quota=0, status_code=502)
    consume(user, token, channel, age_days=1)
    Log.objects.create(type=LogType.TOPUP, user=user, quota=999)  # not usage
    assert housekeeping.roll_up_usage(settle=False) == 5
    assert housekeeping.roll_up_usage(settle=False) == 0  # nothing twice
    today = DailyUsage.objects.get(day=timezone.localdate(), model="gpt-4o-mini")
    assert (today.user_id, today.token_id, today.channel_id) == (user.pk, token.pk, channel.pk)
    assert (today.requests, today.errors, today.quota) == (3, 1, 200)
    assert (today.prompt_tokens, today.completion_tokens) == (30, 15)
    assert DailyUsage.objects.count() == 3


def test_a_rollup_adds_to_existing_rows_as_new_logs_arrive(usage):
    user, token, channel = usage
    consume(user, token, channel)
    housekeeping.roll_up_usage(settle=False)
    consume(user, token, channel, quota=50)
    housekeeping.roll_up_usage(settle=False)
    row = DailyUsage.objects.get()
    assert (row.requests, row.quota) == (2, 150)


def test_the_scheduled_rollup_waits_one_run_for_late_committing_logs(usage):
    user, token, channel = usage
    consume(user, token, channel)
    assert housekeeping.roll_up_usage() == 0  # first sight: only remembered
    consume(user, token, channel)
    assert housekeeping.roll_up_usage() == 1  # the log seen by the previous run
    assert housekeeping.roll_up_usage() == 1
    assert DailyUsage.objects.get().requests == 2


def test_rollups_of_deleted_users_and_channels_keep_zero_ids(usage):
    user, token, channel = usage
    Log.objects.create(type=LogType.CONSUME, model="m", quota=7)
    housekeeping.roll_up_usage(settle=False)
    row = DailyUsage.objects.get()
    assert (row.user_id, row.token_id, row.channel_id, row.quota) == (0, 0, 0, 7)


def test_the_rollup_watermark_row_does_not_bump_the_options_cache(usage):
    from core import cachebus

    housekeeping.roll_up_usage()
    (before,) = cachebus.versions("options")
    housekeeping.roll_up_usage()
    assert cachebus.versions("options") == (before,)


def test_retention_deletes_old_logs_in_batches_and_keeps_the_rollups(usage, settings):
    settings.LOG_RETENTION_DAYS = 30
    user, token, channel = usage
    for _ in range(5):
        consume(user, token, channel, age_days=40)
    recent = consume(user, token, channel, age_days=1)
    housekeeping.roll_up_usage(settle=False)
    assert housekeeping.delete_old_logs(batch=2) == 5
    assert list(Log.objects.values_list("pk", flat=True)) == [recent.pk]
    assert sum(DailyUsage.objects.values_list("requests", flat=True)) == 6


def test_retention_never_deletes_logs_that_are_not_rolled_up_yet(usage, settings):
    settings.LOG_RETENTION_DAYS = 30
    user, token, channel = usage
    old = consume(user, token, channel, age_days=40)
    note = Log.objects.create(type=LogType.SYSTEM, content="old note",
                              created_at=timezone.now() - timedelta(days=40))
    assert housekeeping.delete_old_logs() == 1  # only the system note
    assert not Log.objects.filter(pk=note.pk).exists()
    assert Log.objects.filter(pk=old.pk).exists()


def test_the_retention_job_rolls_up_first_so_old_usage_is_never_lost(usage, settings):
    settings.LOG_RETENTION_DAYS = 30
    user, token, channel = usage
    consume(user, token, channel, age_days=40)
    tasks.purge_old_logs.run()  # first run: only remembers the newest log
    assert Log.objects.count() == 1
    tasks.purge_old_logs.run()
    assert Log.objects.count() == 0
    assert DailyUsage.objects.get().requests == 1


def test_the_retention_option_overrides_the_setting_and_zero_keeps_everything(
        usage, settings):
    settings.LOG_RETENTION_DAYS = 30
    user, token, channel = usage
    Log.objects.create(type=LogType.SYSTEM, created_at=timezone.now() - timedelta(days=40))
    Option.objects.create(key="log_retention_days", value=0)
    assert housekeeping.retention_days() == 0
    assert housekeeping.delete_old_logs() == 0
    Option.objects.filter(key="log_retention_days").update(value=60)
    assert housekeeping.delete_old_logs() == 0
    Option.objects.filter(key="log_retention_days").update(value=10)
    assert housekeeping.delete_old_logs() == 1


def test_tokens_past_their_expiry_are_marked_expired(rich_user):
    past, _ = create_token(rich_user, "old", remain_quota=10)
    past.expires_at = timezone.now() - timedelta(minutes=1)
    past.save()
    future, _ = create_token(rich_user, "new", remain_quota=10,
                             expires_at=timezone.now() + timedelta(days=1))
    assert housekeeping.expire_tokens() == 1
    past.refresh_from_db()
    future.refresh_from_db()
    assert (past.status, future.status) == (TokenStatus.EXPIRED, TokenStatus.ENABLED)


def test_empty_tokens_are_exhausted_and_refilled_ones_come_back(rich_user):
    empty, _ = create_token(rich_user, "empty", remain_quota=0)
    unlimited, _ = create_token(rich_user, "free", remain_quota=0, unlimited_quota=True)
    assert tasks.token_upkeep.run() == {"expired": 0, "exhausted": 1, "restored": 0}
    empty.refresh_from_db()
    unlimited.refresh_from_db()
    assert (empty.status, unlimited.status) == (TokenStatus.EXHAUSTED, TokenStatus.ENABLED)
    empty.remain_quota = 500
    empty.save()
    assert housekeeping.mark_exhausted_tokens() == (0, 1)
    empty.refresh_from_db()
    assert empty.status == TokenStatus.ENABLED


def test_token_changes_invalidate_the_auth_cache(rich_user, django_capture_on_commit_callbacks):
    from core import cachebus

    create_token(rich_user, "empty", remain_quota=0)
    (before,) = cachebus.versions("auth")
    with django_capture_on_commit_callbacks(execute=True):
        housekeeping.mark_exhausted_tokens()
    assert cachebus.versions("auth")[0] > before



def test_every_billing_job_names_its_task_by_the_path_the_embedded_scheduler_imports():
    import importlib.util

    from django.utils.module_loading import import_string

    from core.schedule import PERIODIC_JOBS
    from oneproxy.celery import app

    jobs = [job for job in PERIODIC_JOBS if job.task.startswith("billing.")]
    assert {job.name for job in jobs} == {"billing-flush-usage", "usage-rollup", "token-upkeep",
                                          "stale-reservations", "log-retention"}
    for job in jobs:
        assert job.task.startswith("billing.tasks.")
        assert import_string(job.task).name == app.tasks[job.task].name == job.task
    assert importlib.util.find_spec("billing.jobs") is None


def test_the_migration_points_beat_rows_of_the_old_jobs_module_at_billing_tasks():
    from importlib import import_module

    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    migration = import_module("billing.migrations.0010_housekeeping_task_names")
    every = IntervalSchedule.objects.create(every=7, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="usage-rollup", task="billing.jobs.roll_up_usage",
                                interval=every)
    PeriodicTask.objects.create(name="mine", task="myapp.tasks.other", interval=every)
    migration.forwards(apps, None)
    tasks_by_name = dict(PeriodicTask.objects.values_list("name", "task"))
    assert tasks_by_name["usage-rollup"] == "billing.tasks.roll_up_usage"
    assert tasks_by_name["mine"] == "myapp.tasks.other"
    migration.backwards(apps, None)
    assert PeriodicTask.objects.get(name="usage-rollup").task == "billing.jobs.roll_up_usage"
