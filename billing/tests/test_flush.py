"""The batch flush: counters and log rows reach the database exactly once, whatever
breaks in between."""

import asyncio
import contextlib
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import DatabaseError, connections

from billing import buffer, quota
from billing.models import FlushBatch, Log, Token, TokenStatus, User
from billing.tests.quota_helpers import backend, funded, totals, use  # noqa: F401
from conftest import make_channel
from core import schedule
from oneproxy.embedded import EmbeddedScheduler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("backend")]


def test_a_flush_moves_counters_and_rows_to_the_database_once():
    user, token = funded(user_quota=1000, token_quota=500)
    channel = make_channel("up", models=["gpt"], groups=[], keys=0)
    use(token, user, channel_id=channel.pk)
    use(token, user, actual=80, channel_id=channel.pk)
    use(token, user, fail=True)
    assert quota.pending_log_count() == 3
    result = quota.flush()
    assert (result.batches, result.log_rows, result.skipped) == (1, 3, False)
    assert totals(token, user) == (360, 140, 860, 140, 2)
    channel.refresh_from_db()
    assert channel.used_quota == 140
    assert token.last_used_at is not None and user.last_seen is not None
    assert sorted(Log.objects.values_list("quota", flat=True)) == [0, 60, 80]
    assert Log.objects.filter(channel=channel).count() == 2
    assert quota.pending_log_count() == 0 and FlushBatch.objects.count() == 1
    assert quota.flush().batches == 0
    assert totals(token, user) == (360, 140, 860, 140, 2)


def test_a_token_is_exhausted_at_zero_and_enabled_again_when_refunded_into_credit():
    user, token = funded(user_quota=1000, token_quota=100)

    async def hold():
        return await quota.reserve(token.pk, user.pk, 100, unlimited_token=False)

    res = async_to_sync(hold)()
    quota.flush()
    token.refresh_from_db()
    assert token.status == TokenStatus.EXHAUSTED
    async_to_sync(quota.settle)(res, 30, channel_id=None, log={})
    quota.flush()
    token.refresh_from_db()
    assert (token.status, token.remain_quota) == (TokenStatus.ENABLED, 70)


def test_a_database_error_leaves_the_batch_queued_and_the_retry_applies_it_once(monkeypatch):
    user, token = funded()
    use(token, user)
    real = buffer._flip_token_status
    calls = []

    def fail_once(ids, live):
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(ids, live)

    monkeypatch.setattr(buffer, "_flip_token_status", fail_once)
    with pytest.raises(RuntimeError):
        quota.flush()
    assert totals(token, user) == (1000, 0, 1000, 0, 0)
    assert quota.pending_log_count() == 1 and not FlushBatch.objects.exists()
    use(token, user, actual=10)
    result = quota.flush()
    assert (result.recovered, result.batches, result.log_rows) == (1, 2, 2)
    assert totals(token, user) == (930, 70, 930, 70, 2)
    assert Log.objects.count() == 2 and quota.pending_log_count() == 0


def test_a_flusher_dying_after_commit_is_finished_without_applying_again(monkeypatch):
    user, token = funded()
    use(token, user)
    store = quota.get_backend()
    real_finish = store.finish

    def die(batch_id):
        raise ConnectionError("killed before deleting the batch")

    monkeypatch.setattr(store, "finish", die)
    with pytest.raises(ConnectionError):
        quota.flush()
    monkeypatch.setattr(store, "finish", real_finish)
    assert totals(token, user) == (940, 60, 940, 60, 1)
    result = quota.flush()
    assert (result.recovered, result.batches) == (1, 0)
    assert totals(token, user) == (940, 60, 940, 60, 1)
    assert Log.objects.count() == 1 and quota.pending_log_count() == 0


def test_two_flushers_racing_on_one_batch_apply_it_once(monkeypatch):
    user, token = funded()
    use(token, user)
    store = quota.get_backend()
    assert store.cut("race-batch")
    barrier = threading.Barrier(2)
    errors = []

    def flusher():
        try:
            barrier.wait()
            buffer._flush_batch(store, "race-batch", buffer.FlushResult())
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flusher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # SQLite's in-memory test database refuses the loser at once ("table is locked")
    # instead of waiting; either way the batch stays queued until applied exactly once.
    assert len(errors) <= 1 and all(isinstance(e, DatabaseError) for e in errors)
    quota.flush()
    assert totals(token, user) == (940, 60, 940, 60, 1)
    assert Log.objects.count() == 1 and quota.pending_log_count() == 0


def test_concurrent_flushes_during_traffic_count_everything_once():
    user, token = funded(user_quota=100_000, token_quota=100_000)
    async_to_sync(quota.remaining)(token.pk, user.pk)  # seeded before the race starts
    stop = threading.Event()

    def flusher():
        while not stop.wait(0.002):
            # SQLite's in-memory test db refuses concurrent writers; the next turn retries.
            with contextlib.suppress(DatabaseError):
                quota.flush()
        connections.close_all()

    flushers = [threading.Thread(target=flusher) for _ in range(2)]
    for t in flushers:
        t.start()

    async def traffic():
        async def one(i):
            res = await quota.reserve(token.pk, user.pk, 50, unlimited_token=False)
            await quota.settle(res, i % 40, channel_id=None, log={"model": "gpt"})

        await asyncio.gather(*(one(i) for i in range(200)))

    async_to_sync(traffic)()
    stop.set()
    for t in flushers:
        t.join()
    quota.flush()
    spent = sum(i % 40 for i in range(200))
    assert totals(token, user) == (100_000 - spent, spent, 100_000 - spent, spent, 200)
    assert sum(Log.objects.values_list("quota", flat=True)) == spent


def test_a_row_of_a_deleted_token_is_kept_with_its_link_cleared():
    user, token = funded()
    use(token, user)
    Token.objects.filter(pk=token.pk).delete()
    quota.flush()
    log = Log.objects.get()
    assert (log.token_id, log.user_id, log.quota) == (None, user.pk, 60)
    user.refresh_from_db()
    assert user.used_quota == 60


def test_the_flush_is_a_periodic_job_that_the_embedded_scheduler_runs(settings):
    job = next(j for j in schedule.PERIODIC_JOBS if j.task == "billing.tasks.flush_usage")
    settings.BILLING_FLUSH_INTERVAL = 7
    assert job.interval == 7
    user, token = funded()
    use(token, user)
    EmbeddedScheduler.run_job(job)
    assert quota.pending_log_count() == 0
    assert User.objects.get(pk=user.pk).used_quota == 60


def test_graceful_shutdown_flushes_what_the_process_holds():
    from billing.tasks import flush_on_shutdown
    from core import lifecycle

    assert flush_on_shutdown in lifecycle._shutdown
    user, token = funded()
    use(token, user)
    async_to_sync(flush_on_shutdown)()
    assert quota.pending_log_count() == 0 and Log.objects.count() == 1
