"""The flush across real processes on Redis: a flusher SIGKILLed before its commit, and a
real Celery worker running billing.tasks.flush_usage.

Child processes get DATABASE_URL pointing at pytest-django's test database, so they see
the rows these (transactional) tests commit; SQLite's in-memory test database cannot be
shared, so these run in the PostgreSQL and MariaDB passes.
"""

import signal
import time
from pathlib import Path

import pytest
from django.db import connection

from billing import quota
from billing.models import FlushBatch, Log
from billing.quota.redis_backend import LOCK
from billing.tests.quota_helpers import funded, spawn, stop, totals, use

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="another process cannot open in-memory SQLite"
    ),
]
FLUSH_ONCE = ["-c", "import django; django.setup(); from billing import quota; quota.flush()"]


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_flusher_killed_between_taking_the_batch_and_committing_loses_nothing(tmp_path):
    user, token = funded(user_quota=10_000, token_quota=10_000)
    for actual in (10, 20, 30):
        use(token, user, actual=actual)
    marker = Path(tmp_path) / "paused"
    proc = spawn(FLUSH_ONCE, ONEPROXY_TEST_FLUSH_PAUSE_FILE=str(marker))
    try:
        assert wait_for(marker.exists), "the child flusher never reached its commit"
        assert quota.get_backend().batch_ids(), "the live deltas were taken into a batch"
        use(token, user, actual=40)  # traffic goes on while the flusher hangs
    finally:
        stop(proc, signal.SIGKILL)
    assert totals(token, user) == (10_000, 0, 10_000, 0, 0)  # its transaction rolled back
    assert not FlushBatch.objects.exists()
    assert quota.flush().skipped  # the dead flusher's lock still stands...
    quota.get_backend().sync.pexpire(LOCK, 1)  # ...until it expires (LOCK_MS)
    time.sleep(0.01)
    result = quota.flush()
    assert (result.recovered, result.batches, result.log_rows) == (1, 2, 4)
    assert totals(token, user) == (9900, 100, 9900, 100, 4)
    assert sorted(Log.objects.values_list("quota", flat=True)) == [10, 20, 30, 40]
    assert quota.pending_log_count() == 0


def test_a_real_celery_worker_flushes_exactly(settings):
    from billing.tasks import flush_usage

    user, token = funded(user_quota=10_000, token_quota=10_000)
    for actual in (5, 15):
        use(token, user, actual=actual)
    use(token, user, fail=True)
    worker = spawn(
        [
            "-m",
            "celery",
            "-A",
            "oneproxy",
            "worker",
            "--pool=solo",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
    try:
        flush_usage.delay()
        flush_usage.delay()  # a second run finds nothing more to apply
        assert wait_for(lambda: Log.objects.count() == 3), "the worker never flushed"
        assert wait_for(lambda: quota.pending_log_count() == 0)
    finally:
        stop(worker)
    assert totals(token, user) == (9980, 20, 9980, 20, 2)
    assert FlushBatch.objects.count() == 1


FLUSH_LOOP = [
    "-c",
    "import django, pathlib, sys, time; django.setup(); from billing import quota\n"
    "pathlib.Path(sys.argv[1]).touch()\n"
    "end = time.monotonic() + 4\n"
    "while time.monotonic() < end: quota.flush()",
]


def test_two_flusher_processes_racing_during_traffic_apply_everything_once(tmp_path):
    user, token = funded(user_quota=100_000, token_quota=100_000)
    ready = [Path(tmp_path) / "one", Path(tmp_path) / "two"]
    flushers = [spawn([*FLUSH_LOOP, str(path)]) for path in ready]
    try:
        assert wait_for(lambda: all(path.exists() for path in ready))
        charged, requests, end = 0, 0, time.monotonic() + 2
        while time.monotonic() < end:
            charged += use(token, user, actual=7 + requests % 5)
            requests += 1
        for proc in flushers:
            proc.wait(timeout=60)
    finally:
        for proc in flushers:
            stop(proc)
    quota.flush()
    expected = (100_000 - charged, charged, 100_000 - charged, charged, requests)
    assert totals(token, user) == expected
    assert Log.objects.count() == requests and FlushBatch.objects.count() >= 2
