"""Passive health: error windows, cooling, dead keys (embedded mode and, marked, Redis)."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.core import mail

from billing.models import Log, LogType, Option
from channels_app.models import Ability, ChannelStatus, KeyStatus
from conftest import make_channel
from core import cachebus, executor
from core.redis import shared_client
from relay.health import cooling, report, windows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_health(settings):
    settings.NOTIFY_EMAIL = []
    settings.NOTIFY_WEBHOOK_URL = ""
    reset_health()
    yield
    executor.wait_idle()
    cooling.clear()
    close_sync_thread_connections()


def reset_health():
    """Forget windows, cooling and cached options (conftest flushes Redis, which resets
    the cachebus versions that in-process snapshots are keyed on)."""
    from core import options

    cooling.clear()
    report._thresholds = None
    options._snapshot = None


def close_sync_thread_connections():
    """Close the connection asgiref's sync thread opened, so the test database can go."""
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


def set_options(**values):
    for key, value in values.items():
        Option.objects.update_or_create(key=key, defaults={"value": value})
    report._thresholds = None


async def fail(channel_id, model, times, status=500, **kwargs):
    for _ in range(times):
        await report.report(channel_id, None, model, ok=False, status=status, **kwargs)


async def test_the_request_that_crosses_the_error_rate_cools_the_channel_at_once():
    channel = await sync_to_async(make_channel)("flaky")
    await sync_to_async(set_options)(auto_disable_min_requests=4, auto_disable_error_rate=0.5)
    await fail(channel.pk, "gpt-4o-mini", 3)
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")
    await fail(channel.pk, "gpt-4o-mini", 1)
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")
    assert cooling.is_cooling(channel.pk, "another-model")  # the whole channel cools
    await sync_to_async(channel.refresh_from_db)()
    assert channel.status == ChannelStatus.ENABLED  # cooling is not a status change
    log = await Log.objects.filter(type=LogType.SYSTEM, channel=channel).alast()
    assert "cooling down" in log.content and "4 of the last 4" in log.content


async def test_successes_keep_the_error_rate_under_the_threshold():
    channel = await sync_to_async(make_channel)("mostly-fine")
    await sync_to_async(set_options)(auto_disable_min_requests=4, auto_disable_error_rate=0.5)
    for _ in range(6):
        await report.report(channel.pk, None, "gpt-4o-mini", ok=True)
    await fail(channel.pk, "gpt-4o-mini", 5)
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")  # 5 of 11 < 50 %


async def test_errors_on_one_model_cool_only_that_model_on_the_channel():
    channel = await sync_to_async(make_channel)("two-models", models=("good", "bad"))
    await sync_to_async(set_options)(auto_disable_min_requests=4, auto_disable_error_rate=0.5)
    for _ in range(10):
        await report.report(channel.pk, None, "good", ok=True)
    await fail(channel.pk, "bad", 4, status=404)
    assert cooling.is_cooling(channel.pk, "bad")
    assert not cooling.is_cooling(channel.pk, "good")


async def test_rate_limit_errors_cool_the_channel_down_but_never_disable_it():
    channel = await sync_to_async(make_channel)("limited")
    await sync_to_async(set_options)(auto_disable_min_requests=3, auto_disable_error_rate=0.5)
    key = await channel.keys.afirst()
    for _ in range(3):
        await report.report(channel.pk, key.pk, "gpt-4o-mini", ok=False, status=429,
                            error_code="rate_limit_exceeded")
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")
    await sync_to_async(channel.refresh_from_db)()
    await sync_to_async(key.refresh_from_db)()
    assert (channel.status, key.status) == (ChannelStatus.ENABLED, KeyStatus.ENABLED)


async def test_client_errors_say_nothing_about_the_channel():
    channel = await sync_to_async(make_channel)("strict")
    await sync_to_async(set_options)(auto_disable_min_requests=2, auto_disable_error_rate=0.5)
    await fail(channel.pk, "gpt-4o-mini", 5, status=400)
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")


async def test_a_key_upstream_calls_invalid_is_disabled_at_once_with_the_reason():
    channel = await sync_to_async(make_channel)("dead-key", keys=2)
    dead, alive = [k async for k in channel.keys.order_by("pk")]
    await report.report(channel.pk, dead.pk, "gpt-4o-mini", ok=False, status=401,
                        error_code="invalid_api_key", message="Incorrect API key provided",
                        key_invalid=True)
    await sync_to_async(dead.refresh_from_db)()
    assert dead.status == KeyStatus.AUTO_DISABLED
    assert "Incorrect API key" in dead.status_reason and dead.status_changed_at
    assert await Ability.objects.filter(channel=channel).aexists()  # one key still serves
    await report.report(channel.pk, alive.pk, "gpt-4o-mini", ok=False, status=401,
                        message="account deactivated", key_invalid=True)
    await sync_to_async(channel.refresh_from_db)()
    assert channel.status == ChannelStatus.AUTO_DISABLED
    assert channel.status_reason.startswith("no usable key left")
    assert not await Ability.objects.filter(channel=channel).aexists()


async def test_a_dead_key_stays_enabled_when_the_operator_turned_auto_disable_off():
    channel = await sync_to_async(make_channel)("kept")
    await sync_to_async(set_options)(auto_disable_enabled=False)
    key = await channel.keys.afirst()
    await report.report(channel.pk, key.pk, "gpt-4o-mini", ok=False, status=401,
                        key_invalid=True)
    await sync_to_async(key.refresh_from_db)()
    assert key.status == KeyStatus.ENABLED


async def test_a_manually_disabled_key_is_not_touched_by_a_dead_key_report():
    channel = await sync_to_async(make_channel)("manual-key", keys=2)
    key = await channel.keys.afirst()
    key.status, key.status_reason = KeyStatus.DISABLED, "rotated by ops"
    await key.asave()
    await report.report(channel.pk, key.pk, "gpt-4o-mini", ok=False, status=401,
                        key_invalid=True)
    await sync_to_async(key.refresh_from_db)()
    assert (key.status, key.status_reason) == (KeyStatus.DISABLED, "rotated by ops")


def test_the_operator_is_emailed_when_a_key_is_disabled(settings):
    from channels_app import services

    settings.NOTIFY_EMAIL = ["ops@example.com"]
    settings.CELERY_TASK_ALWAYS_EAGER = True  # deliver in this process's background thread
    channel = make_channel("mail")
    key = channel.keys.get()
    services.set_key_status(key, KeyStatus.AUTO_DISABLED, "quota exhausted", automatic=True)
    executor.wait_idle()
    subjects = [m.subject for m in mail.outbox]
    assert any("is now Auto-disabled" in s and "quota exhausted" in m.body
               for s, m in zip(subjects, mail.outbox, strict=True))
    assert mail.outbox[0].to == ["ops@example.com"]


def test_cooling_ends_by_hand_and_is_logged():
    channel = make_channel("heal")
    cooling.start_cooling(channel.pk, "", "test")
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")
    assert cooling.end_cooling(channel.pk, "")
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")
    assert Log.objects.filter(channel=channel, content__contains="recovered").exists()
    assert not cooling.end_cooling(channel.pk, "")


def test_a_cooling_entry_runs_out_even_if_no_retest_ever_happens():
    entry = cooling.Cooling(1, "", "old", time.time() - 100, time.time() - 50,
                           time.time() - 1)
    cooling._put_local(1, "", entry)
    assert not cooling.is_cooling(1, "m")
    assert cooling.due_for_retest() == ([] if shared_client() else [entry])


def test_failed_retests_double_the_pause_up_to_the_maximum(settings):
    settings.HEALTH_COOLDOWN_SECONDS, settings.HEALTH_COOLDOWN_MAX = 60, 200
    pauses = [cooling._new_entry(1, "", "r", n) for n in (1, 2, 3, 4)]
    assert [round(e.retest_at - e.since) for e in pauses] == [60, 120, 200, 200]


@pytest.mark.redis
async def test_cooling_is_shared_through_redis_and_bumps_the_cooling_version_only():
    channel = await sync_to_async(make_channel)("shared")
    await sync_to_async(set_options)(auto_disable_min_requests=2, auto_disable_error_rate=0.5)
    before = await sync_to_async(cachebus.versions)("routing", "cooling")
    await fail(channel.pk, "gpt-4o-mini", 2)
    after = await sync_to_async(cachebus.versions)("routing", "cooling")
    assert after[0] == before[0] and after[1] > before[1]  # the routing table stays
    cooling._set_local({})  # what another web process holds before it hears the news
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")
    await sync_to_async(cooling.refresh)()
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")
    await sync_to_async(cooling.end_cooling)(channel.pk, "")
    final = await sync_to_async(cachebus.versions)("routing", "cooling")
    assert final[0] == before[0] and final[1] > after[1]


@pytest.mark.redis
async def test_a_cooling_change_does_not_reload_the_relays_routing_table():
    from relay.snapshot import snapshot

    channel = await sync_to_async(make_channel)("table-stays")
    snapshot.refresh()
    table = await snapshot.routing()
    loads = snapshot.loads
    await sync_to_async(cooling.start_cooling)(channel.pk, "", "errors")
    await sync_to_async(cooling.end_cooling)(channel.pk, "")
    snapshot.refresh()
    assert await snapshot.routing() is table and snapshot.loads == loads


@pytest.mark.redis
async def test_the_listener_picks_up_cooling_started_elsewhere():
    channel = await sync_to_async(make_channel)("pushed")
    cooling.is_cooling(channel.pk, "x")  # starts this process's listener
    client = shared_client()
    entry = cooling._new_entry(channel.pk, "", "set by another process", 1)
    from dataclasses import asdict

    import orjson

    client.hset(cooling.COOLING_KEY, entry.field, orjson.dumps(asdict(entry)))
    client.publish(cachebus.PUBSUB_CHANNEL, "cooling")
    deadline = time.monotonic() + 2
    while not cooling.is_cooling(channel.pk, "x") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cooling.is_cooling(channel.pk, "x")


async def test_the_error_rate_setting_applies_until_an_operator_sets_the_option(settings):
    settings.AUTO_DISABLE_ERROR_RATE = 1.0
    channel = await sync_to_async(make_channel)("strict-rate")
    await sync_to_async(set_options)(auto_disable_min_requests=4)
    await report.report(channel.pk, None, "gpt-4o-mini", ok=True)
    await fail(channel.pk, "gpt-4o-mini", 3)
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")  # 3 of 4 < 100 %
    await sync_to_async(set_options)(auto_disable_error_rate=0.5)
    await fail(channel.pk, "gpt-4o-mini", 1)
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")


@pytest.mark.redis
async def test_successes_reach_redis_in_one_batch_about_a_second_later():
    channel = await sync_to_async(make_channel)("batched")
    for _ in range(50):
        await report.report(channel.pk, None, "gpt-4o-mini", ok=True)
    client = shared_client()
    key = windows.window_key(channel.pk, "gpt-4o-mini")
    assert not client.exists(key)  # no round trip per success
    deadline = time.monotonic() + windows.SUCCESS_FLUSH_SECONDS + 2
    while not client.exists(key) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for scope_key in (key, windows.window_key(channel.pk, "")):
        counts = client.hgetall(scope_key)
        assert sum(int(v) for f, v in counts.items() if f.endswith(b":n")) == 50


@pytest.mark.redis
async def test_a_failure_is_judged_with_the_successes_not_yet_flushed():
    channel = await sync_to_async(make_channel)("judged", models=("good", "bad"))
    await sync_to_async(set_options)(auto_disable_min_requests=4, auto_disable_error_rate=0.5)
    for _ in range(6):
        await report.report(channel.pk, None, "good", ok=True)
    await fail(channel.pk, "bad", 4, status=502)  # 4 of 10 on the channel: under 50 %
    assert cooling.is_cooling(channel.pk, "bad") and not cooling.is_cooling(channel.pk, "good")
    counts = shared_client().hgetall(windows.window_key(channel.pk, ""))
    assert sum(int(v) for f, v in counts.items() if f.endswith(b":n")) == 10
