"""Pre-charges whose process died are given back (Redis journal of open reservations),
and a request that outlives the release is still billed exactly once."""

import contextlib
import signal
import socket
import threading
import time
import urllib.request

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection

from billing import quota
from billing.models import Log
from billing.quota import get_backend
from billing.tasks import release_stale_reservations
from billing.tests.quota_helpers import funded, spawn, stop, totals

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]
NOTE = {"model": "gpt-4o-mini", "request_id": "req-1", "is_stream": True, "secret": "x"}


async def _reserve(token, user, amount=700):
    return await quota.reserve(token.pk, user.pk, amount, unlimited_token=False, note=NOTE)


@sync_to_async
def _flushed():
    quota.flush()
    return list(Log.objects.order_by("pk"))


async def test_a_stale_reservation_is_given_back_with_an_error_row():
    user, token = await sync_to_async(funded)(user_quota=10_000, token_quota=5_000)
    await _reserve(token, user)
    assert quota.release_stale(3600) == 0  # still young: its request may be running
    assert quota.release_stale(0) == 1
    assert quota.release_stale(0) == 0  # once only
    assert await quota.remaining(token.pk, user.pk) == (5_000, 10_000)
    [log] = await _flushed()
    assert (log.type, log.quota, log.status_code) == ("error", 0, 500)
    assert log.error == quota.RELEASED
    assert (log.model, log.request_id, log.is_stream) == ("gpt-4o-mini", "req-1", True)
    assert await sync_to_async(totals)(token, user) == (5_000, 0, 10_000, 0, 0)


async def test_a_settle_after_the_release_charges_in_full_once():
    user, token = await sync_to_async(funded)(user_quota=10_000, token_quota=5_000)
    res = await _reserve(token, user)
    quota.release_stale(0)
    assert await quota.settle(res, 300, channel_id=None, log={"model": "gpt-4o-mini"}) == 300
    assert await quota.remaining(token.pk, user.pk) == (4_700, 9_700)
    logs = await _flushed()
    assert [(log.type, log.quota) for log in logs] == [("error", 0), ("consume", 300)]
    assert await sync_to_async(totals)(token, user) == (4_700, 300, 9_700, 300, 1)


async def test_a_settle_after_the_release_never_overdraws():
    user, token = await sync_to_async(funded)(user_quota=1_000, token_quota=1_000)
    res = await _reserve(token, user, amount=900)
    quota.release_stale(0)
    await _reserve(token, user, amount=800)  # another request took the returned quota
    assert await quota.settle(res, 900, channel_id=None, log={"model": "m"}) == 200
    assert await quota.remaining(token.pk, user.pk) == (0, 0)


async def test_a_refund_after_the_release_gives_nothing_back_twice():
    user, token = await sync_to_async(funded)(user_quota=10_000, token_quota=5_000)
    res = await _reserve(token, user)
    quota.release_stale(0)
    await quota.refund(res, log={"model": "gpt-4o-mini", "error": "late", "status_code": 502})
    assert await quota.remaining(token.pk, user.pk) == (5_000, 10_000)
    assert [log.error for log in await _flushed()] == [quota.RELEASED]


async def test_settled_and_refunded_reservations_are_not_released(settings):
    user, token = await sync_to_async(funded)(user_quota=10_000, token_quota=5_000)
    settled, refunded = await _reserve(token, user), await _reserve(token, user)
    await quota.settle(settled, 100, channel_id=None, log={"model": "m"})
    await quota.refund(refunded, log={"model": "m", "error": "e", "status_code": 502})
    settings.QUOTA_RESERVATION_TTL = 0
    assert await sync_to_async(release_stale_reservations)() == 0
    assert await quota.remaining(token.pk, user.pk) == (4_900, 9_900)


def test_a_web_worker_killed_mid_request_leaves_no_quota_behind(fake_openai):
    """SIGKILL a real server while its request waits on the upstream: the pre-charge it
    held in Redis comes back through release_stale, with a log row saying why."""
    user, key = _slow_world(fake_openai)
    port = _free_port()
    proc = spawn(["manage.py", "serve", "--port", str(port), "--host", "127.0.0.1",
                  "--workers", "1"])
    try:
        _wait_until_up(port)
        client = threading.Thread(target=_chat, args=(port, key), daemon=True)
        client.start()
        assert _wait_for(lambda: get_backend().open_reservations())
        assert async_to_sync(quota.remaining)(*_ids(user))[1] < 1_000_000  # pre-charged
    finally:
        stop(proc, signal.SIGKILL)
        _wait_for(_no_other_sessions, 10)  # the dead server's, or the test DB cannot drop
    assert quota.release_stale(0) == 1
    assert async_to_sync(quota.remaining)(*_ids(user)) == (500_000, 1_000_000)
    quota.flush()
    [log] = Log.objects.all()
    assert (log.type, log.model, log.error) == ("error", "gpt-4o-mini", quota.RELEASED)
    user.refresh_from_db()
    assert (user.quota, user.used_quota) == (1_000_000, 0)


def _slow_world(fake_openai):
    from conftest import make_channel, make_price, make_token, make_user

    make_price()
    make_channel(base_url=fake_openai.url)
    user = make_user(quota=1_000_000)
    fake_openai.variant, fake_openai.delay = "slow_first_byte", 30.0
    return user, make_token(user, remain_quota=500_000)[1]


def _ids(user) -> tuple[int, int]:
    return user.tokens.get().pk, user.pk


def _no_other_sessions() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.1)
    return None


def _wait_until_up(port: int) -> None:
    def up():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except OSError:
            return None

    assert _wait_for(up, 60), "the server did not start"


def _chat(port: int, key: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}',
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with contextlib.suppress(OSError):  # the server dies under it
        urllib.request.urlopen(request, timeout=60).read()
