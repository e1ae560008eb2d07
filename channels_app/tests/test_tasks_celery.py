"""Channel health with a real Celery worker and beat, as separate processes, on Redis.

The worker and beat get DATABASE_URL pointing at pytest-django's test database, so they
see the rows these (transactional) tests commit. SQLite's in-memory test database cannot
be shared with another process, so these run in the PostgreSQL and MariaDB passes.
"""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from channels_app import services, tasks
from channels_app.models import ChannelStatus
from conftest import make_channel
from core import options
from core.schedule import PERIODIC_JOBS
from oneproxy.beat import sync_schedules

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite",
                       reason="another process cannot open the in-memory SQLite test DB"),
]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_database_url() -> str:
    """DATABASE_URL of the database this test runs on (pytest-django's test_* one)."""
    db = connection.settings_dict
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[connection.vendor]
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"{scheme}://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or ''}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "SECRET_KEY": settings.SECRET_KEY, "RUN_EMBEDDED_JOBS": "false",
           "LOG_LEVEL": "WARNING", "DATA_DIR": str(settings.DATA_DIR)}
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "oneproxy", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def processes():
    """Start Celery processes by their arguments; each is stopped by its own id after."""
    started: list[subprocess.Popen] = []
    yield lambda *args: started.append(start(*args)) or started[-1]
    for proc in started:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.NOTIFY_EMAIL = []
    options._snapshot = None
    yield


def wait_for(predicate, timeout=45.0, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"celery exited: {proc.stdout.read().decode()[-3000:]}")
        time.sleep(0.2)
    return False


def status_of(channel):
    channel.refresh_from_db()
    return channel.status


def test_a_worker_brings_an_auto_disabled_channel_back_but_not_a_manual_one(
        processes, fake_openai):
    auto = make_channel("auto", base_url=fake_openai.url)
    manual = make_channel("manual", base_url=fake_openai.url)
    services.set_channel_status(auto, ChannelStatus.AUTO_DISABLED, "failed earlier")
    services.set_channel_status(manual, ChannelStatus.DISABLED, "operator says no")
    worker = processes("worker", "--pool=solo", "--without-heartbeat", "-l", "WARNING")
    tasks.test_channel_task.delay(manual.pk)
    tasks.test_channel_task.delay(auto.pk)
    assert wait_for(lambda: status_of(auto) == ChannelStatus.ENABLED, procs=[worker])
    assert status_of(manual) == ChannelStatus.DISABLED
    assert manual.status_reason == "operator says no"
    keys = {r.headers["authorization"] for r in fake_openai.requests}
    assert keys == {"Bearer " + auto.keys.get().key}  # the manual one was never even called


def test_beat_schedules_the_tests_and_the_worker_heals_only_auto_disabled_channels(
        processes, fake_openai):
    auto = make_channel("auto", base_url=fake_openai.url)
    manual = make_channel("manual", base_url=fake_openai.url)
    healthy = make_channel("healthy", base_url=fake_openai.url)
    services.set_channel_status(auto, ChannelStatus.AUTO_DISABLED, "failed earlier")
    services.set_channel_status(manual, ChannelStatus.DISABLED, "operator says no")
    job = next(j for j in PERIODIC_JOBS if j.name == "channel-tests")
    sync_schedules([job])
    # What an operator does in the admin: run the channel tests every second.
    PeriodicTask.objects.filter(name="channel-tests").update(
        interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS))
    worker = processes("worker", "--pool=solo", "--without-heartbeat", "-l", "WARNING")
    beat = processes("beat", "-l", "WARNING", "--max-interval", "1",
                     "-s", str(settings.DATA_DIR / "test-beat-schedule"))
    assert wait_for(lambda: status_of(auto) == ChannelStatus.ENABLED, procs=[worker, beat])
    assert wait_for(lambda: bool(status_of(healthy) and healthy.tested_at),
                    procs=[worker, beat])
    assert status_of(manual) == ChannelStatus.DISABLED and manual.tested_at is None
