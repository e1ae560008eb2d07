"""Channel tasks in embedded mode (in-process, bounded by a thread pool) and the beat
schedule sync."""

import asyncio
import threading
import time

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from channels_app import tasks
from channels_app.models import ChannelStatus
from conftest import make_channel
from core import executor, options
from core.schedule import PeriodicJob
from oneproxy.beat import load_jobs, sync_schedules
from providers.tests.fakes.openai_server import FakeOpenAI
from providers.tests.fakes.server import Recorded, ServerThread


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.NOTIFY_EMAIL = []
    settings.NOTIFY_WEBHOOK_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True  # embedded mode, whatever REDIS_URL says
    options._snapshot = None
    yield
    executor.wait_idle()


class CountingOpenAI(FakeOpenAI):
    """Fake OpenAI that takes `pause` seconds per answer and remembers peak concurrency."""

    pause = 0.2

    def reset(self):
        super().reset()
        self.in_flight = self.peak = 0

    async def handle(self, req: Recorded):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.pause)
            return await super().handle(req)
        finally:
            self.in_flight -= 1


@pytest.fixture(scope="module")
def counting():
    server = ServerThread(CountingOpenAI()).start()
    server.app.url = server.url
    yield server.app
    server.stop()


def test_every_job_of_the_issue_is_registered_for_beat_and_the_embedded_scheduler():
    from core.schedule import PERIODIC_JOBS

    # App loading alone registers them: the embedded scheduler never runs Celery's
    # autodiscovery.
    names = {job.name for job in PERIODIC_JOBS}
    assert {"channel-tests", "channel-retests", "channel-balances", "usage-rollup",
            "token-upkeep", "log-retention"} <= names
    tests_job = next(j for j in load_jobs() if j.name == "channel-tests")
    assert tests_job.unit_seconds == 60 and tests_job.interval_setting == "CHANNEL_TEST_INTERVAL"


class SleepyTask:
    """A task body that records how many copies of it run at the same moment."""

    name = "sleepy"

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.runs = 0

    def run(self, seconds):
        with self.lock:
            self.in_flight += 1
            self.runs += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(seconds)
        with self.lock:
            self.in_flight -= 1


def test_fan_out_runs_every_task_but_never_more_than_the_limit_at_once():
    task = SleepyTask()
    assert executor.fan_out(task, [(0.05,)] * 7, limit=3) == 7
    assert (task.runs, task.peak) == (7, 3)


# The in-memory SQLite test database locks whole tables between threads (a file database
# in WAL mode with a busy timeout, as served, does not), so on SQLite the tests run one at
# a time here; the PostgreSQL and MariaDB passes run them two at a time.
@pytest.mark.django_db(transaction=True)
def test_the_scheduled_run_tests_enabled_and_auto_disabled_channels_with_bounded_concurrency(
        counting, settings):
    settings.CHANNEL_TEST_CONCURRENCY = 1 if connection.vendor == "sqlite" else 2
    counting.reset()
    channels = [make_channel(f"c{i}", base_url=counting.url) for i in range(6)]
    channels[0].status = ChannelStatus.AUTO_DISABLED
    channels[0].save()
    channels[1].status = ChannelStatus.DISABLED
    channels[1].save()
    started = time.monotonic()
    assert tasks.test_all_channels.run() == 5
    elapsed = time.monotonic() - started
    assert len(counting.requests) == 5  # the manually disabled one is never tested
    limit = settings.CHANNEL_TEST_CONCURRENCY
    assert counting.peak == limit
    assert elapsed >= -(-5 // limit) * counting.pause  # 5 tests, `limit` at a time
    for channel in channels:
        channel.refresh_from_db()
    assert channels[0].status == ChannelStatus.ENABLED  # came back
    assert channels[1].status == ChannelStatus.DISABLED and channels[1].tested_at is None
    assert all(c.tested_at for c in channels if c.pk != channels[1].pk)


@pytest.mark.django_db
def test_a_task_for_a_deleted_or_manually_disabled_channel_does_nothing(fake_openai):
    channel = make_channel("off", base_url=fake_openai.url, status=ChannelStatus.DISABLED)
    assert tasks.test_channel_task.run(channel.pk) is None
    assert tasks.test_channel_task.run(999_999) is None
    assert fake_openai.requests == []


@pytest.mark.django_db
def test_balance_refresh_only_queries_providers_with_a_balance_api(fake_openai):
    make_channel("claude", type="anthropic", base_url=fake_openai.url)
    make_channel("oa", type="openai", base_url=fake_openai.url)
    assert tasks.refresh_balances.run() == 1
    assert [r.path for r in fake_openai.requests] == ["/dashboard/billing/credit_grants"]


@pytest.mark.django_db
def test_the_webhook_gets_a_json_notification(fake_openai, settings):
    settings.NOTIFY_WEBHOOK_URL = fake_openai.url + "/hook"
    from channels_app import notify

    sent = notify.send("channel_status", "channel x is now Enabled", "passed", 7)
    body = fake_openai.last.json()
    assert fake_openai.last.path == "/hook"
    assert body["event"] == "channel_status" and body["channel_id"] == 7
    assert body["subject"] == "channel x is now Enabled"
    assert sent == {"email": False, "webhook": False}  # the fake answers 404: logged


JOB = PeriodicJob("demo-job", "channels_app.tasks.refresh_balances", "DEMO_INTERVAL")


@pytest.mark.django_db
def test_sync_creates_missing_schedules_and_follows_settings_changes(settings):
    settings.DEMO_INTERVAL = 30
    assert sync_schedules([JOB]).created == ["demo-job"]
    task = PeriodicTask.objects.get(name="demo-job")
    assert (task.task, task.interval.every, task.interval.period) == (
        "channels_app.tasks.refresh_balances", 30, IntervalSchedule.SECONDS)
    assert sync_schedules([JOB]).unchanged == ["demo-job"]
    settings.DEMO_INTERVAL = 45
    assert sync_schedules([JOB]).updated == ["demo-job"]
    assert PeriodicTask.objects.get(name="demo-job").interval.every == 45


@pytest.mark.django_db
def test_an_interval_or_pause_set_in_the_admin_survives_a_resync(settings):
    settings.DEMO_INTERVAL = 30
    sync_schedules([JOB])
    task = PeriodicTask.objects.get(name="demo-job")
    task.interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task.enabled = False
    task.save()
    settings.DEMO_INTERVAL = 45
    assert sync_schedules([JOB]).kept == ["demo-job"]
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period, task.enabled) == (
        5, IntervalSchedule.MINUTES, False)


@pytest.mark.django_db
def test_a_job_whose_task_moved_follows_it_even_when_the_admin_changed_its_interval(settings):
    # channel-retests moved from channels_app.tasks to relay.tasks: beat must not keep
    # sending the old, no longer registered name.
    settings.DEMO_INTERVAL = 30
    sync_schedules([PeriodicJob("demo-job", "channels_app.tasks.gone", "DEMO_INTERVAL")])
    task = PeriodicTask.objects.get(name="demo-job")
    task.interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task.save()
    assert sync_schedules([JOB]).kept == ["demo-job"]
    task.refresh_from_db()
    assert (task.task, task.interval.every, task.interval.period) == (
        JOB.task, 5, IntervalSchedule.MINUTES)
