"""Reserve / settle / refund semantics of billing.quota, on both backends."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from billing import quota
from billing.models import Log, Token, TokenStatus, User
from billing.services import top_up
from billing.tests.quota_helpers import backend, funded  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("backend")]


async def _funded(**kwargs):
    return await sync_to_async(funded)(**kwargs)


async def test_reserve_takes_the_amount_from_token_and_user():
    user, token = await _funded(user_quota=1000, token_quota=600)
    res = await quota.reserve(token.pk, user.pk, 250, unlimited_token=False)
    assert res == quota.Reservation(token.pk, user.pk, 250, False)
    assert await quota.remaining(token.pk, user.pk) == (350, 750)


async def test_reserve_refuses_when_the_token_is_short_and_changes_nothing():
    user, token = await _funded(user_quota=1000, token_quota=100)
    with pytest.raises(quota.InsufficientQuota) as err:
        await quota.reserve(token.pk, user.pk, 101, unlimited_token=False)
    assert (err.value.scope, err.value.remaining) == ("token", 100)
    assert await quota.remaining(token.pk, user.pk) == (100, 1000)


async def test_reserve_refuses_when_the_user_is_short():
    user, token = await _funded(user_quota=50, token_quota=1000)
    with pytest.raises(quota.InsufficientQuota) as err:
        await quota.reserve(token.pk, user.pk, 60, unlimited_token=False)
    assert (err.value.scope, err.value.remaining) == ("user", 50)
    assert await quota.remaining(token.pk, user.pk) == (1000, 50)


async def test_an_unlimited_token_only_checks_the_user():
    user, token = await _funded(user_quota=500, token_quota=0, unlimited=True)
    res = await quota.reserve(token.pk, user.pk, 400, unlimited_token=True)
    assert await quota.settle(res, 450, channel_id=None, log={"model": "m"}) == 450
    assert await quota.remaining(token.pk, user.pk) == (0, 50)


async def test_zero_is_a_valid_amount_and_negative_ones_are_refused():
    user, token = await _funded(user_quota=0, token_quota=0)
    res = await quota.reserve(token.pk, user.pk, 0, unlimited_token=False)
    assert res.amount == 0
    with pytest.raises(ValueError, match="non-negative"):
        await quota.reserve(token.pk, user.pk, -1, unlimited_token=False)
    with pytest.raises(ValueError, match="non-negative"):
        await quota.settle(res, -5, channel_id=None, log={})


async def test_settle_below_the_reservation_gives_the_difference_back():
    user, token = await _funded(user_quota=1000, token_quota=1000)
    res = await quota.reserve(token.pk, user.pk, 300, unlimited_token=False)
    assert await quota.settle(res, 120, channel_id=None, log={"model": "m"}) == 120
    assert await quota.remaining(token.pk, user.pk) == (880, 880)


async def test_settle_above_the_reservation_charges_the_extra():
    user, token = await _funded(user_quota=1000, token_quota=1000)
    res = await quota.reserve(token.pk, user.pk, 100, unlimited_token=False)
    assert await quota.settle(res, 400, channel_id=None, log={"model": "m"}) == 400
    assert await quota.remaining(token.pk, user.pk) == (600, 600)


async def test_settle_clamps_so_no_balance_goes_below_zero():
    user, token = await _funded(user_quota=1000, token_quota=150)
    res = await quota.reserve(token.pk, user.pk, 100, unlimited_token=False)
    charged = await quota.settle(res, 900, channel_id=None, log={"model": "m"})
    assert charged == 150
    assert await quota.remaining(token.pk, user.pk) == (0, 850)
    await sync_to_async(quota.flush)()
    log = await Log.objects.aget(token=token)
    assert log.quota == 150


async def test_refund_returns_the_whole_reservation_and_logs_quota_zero():
    user, token = await _funded(user_quota=1000, token_quota=1000)
    res = await quota.reserve(token.pk, user.pk, 300, unlimited_token=False)
    await quota.refund(res, log={"model": "m", "status_code": 502, "error": "upstream down"})
    assert await quota.remaining(token.pk, user.pk) == (1000, 1000)
    assert quota.pending_log_count() == 1
    await sync_to_async(quota.flush)()
    log = await Log.objects.aget(token=token)
    assert (log.quota, log.type, log.status_code, log.user_id) == (0, "error", 502, user.pk)


async def test_settle_refuses_an_unknown_log_field_and_charges_nothing():
    user, token = await _funded(user_quota=1000, token_quota=1000)
    res = await quota.reserve(token.pk, user.pk, 100, unlimited_token=False)
    with pytest.raises(ValueError, match="unknown Log fields: colour"):
        await quota.settle(res, 50, channel_id=None, log={"colour": "red"})
    assert await quota.remaining(token.pk, user.pk) == (900, 900)
    assert quota.pending_log_count() == 0


async def test_a_warm_call_never_reads_the_database(monkeypatch):
    user, token = await _funded(user_quota=1000, token_quota=1000)
    await quota.remaining(token.pk, user.pk)

    def no_database(*args):
        raise AssertionError("the warm path read the database")

    monkeypatch.setattr(quota, "read_seeds", no_database)
    res = await quota.reserve(token.pk, user.pk, 10, unlimited_token=False)
    await quota.settle(res, 5, channel_id=None, log={"model": "m"})
    await quota.refund(await quota.reserve(token.pk, user.pk, 1, unlimited_token=False), log={})
    assert await quota.remaining(token.pk, user.pk) == (995, 995)


async def test_a_top_up_takes_effect_on_the_very_next_reserve():
    user, token = await _funded(user_quota=100, token_quota=10_000)
    with pytest.raises(quota.InsufficientQuota):
        await quota.reserve(token.pk, user.pk, 500, unlimited_token=False)
    await sync_to_async(top_up)(user, 1000)
    await quota.reserve(token.pk, user.pk, 500, unlimited_token=False)
    assert await quota.remaining(token.pk, user.pk) == (9500, 600)


async def test_an_admin_quota_edit_takes_effect_on_the_very_next_reserve():
    user, token = await _funded(user_quota=1000, token_quota=1000)
    res = await quota.reserve(token.pk, user.pk, 100, unlimited_token=False)
    await quota.settle(res, 100, channel_id=None, log={})

    def admin_edit():
        fresh = User.objects.get(pk=user.pk)
        fresh.quota = 50
        fresh.save()
        tok = Token.objects.get(pk=token.pk)
        tok.remain_quota = 30
        tok.save()

    await sync_to_async(admin_edit)()
    # The edit is absolute: the 100 used before it, not flushed yet, does not eat into it.
    assert await quota.remaining(token.pk, user.pk) == (30, 50)
    with pytest.raises(quota.InsufficientQuota):
        await quota.reserve(token.pk, user.pk, 31, unlimited_token=False)
    await quota.reserve(token.pk, user.pk, 30, unlimited_token=False)
    await sync_to_async(quota.flush)()
    user_row = await User.objects.aget(pk=user.pk)
    token_row = await Token.objects.aget(pk=token.pk)
    assert (user_row.quota, user_row.used_quota) == (20, 100)
    assert (token_row.remain_quota, token_row.used_quota) == (0, 100)
    assert token_row.status == TokenStatus.EXHAUSTED


async def test_a_token_topped_up_in_the_admin_is_enabled_again():
    user, token = await _funded(user_quota=1000, token_quota=100)
    res = await quota.reserve(token.pk, user.pk, 100, unlimited_token=False)
    await quota.settle(res, 100, channel_id=None, log={})
    await sync_to_async(quota.flush)()
    tok = await Token.objects.aget(pk=token.pk)
    assert tok.status == TokenStatus.EXHAUSTED
    tok.remain_quota = 500
    await sync_to_async(tok.save)()
    tok = await Token.objects.aget(pk=token.pk)
    assert tok.status == TokenStatus.ENABLED
    await quota.reserve(token.pk, user.pk, 500, unlimited_token=False)


async def test_a_token_made_unlimited_takes_effect_on_the_next_reserve():
    user, token = await _funded(user_quota=1000, token_quota=0)
    with pytest.raises(quota.InsufficientQuota):
        await quota.reserve(token.pk, user.pk, 10, unlimited_token=False)
    tok = await Token.objects.aget(pk=token.pk)
    tok.unlimited_quota = True
    await sync_to_async(tok.save)()
    await quota.reserve(token.pk, user.pk, 10, unlimited_token=True)


def test_a_save_racing_a_flush_keeps_the_flushed_usage():
    user, token = funded(user_quota=1000, token_quota=1000)
    loaded = User.objects.get(pk=user.pk)  # e.g. the admin form, loaded before the flush

    async def use():
        res = await quota.reserve(token.pk, user.pk, 300, unlimited_token=False)
        await quota.settle(res, 200, channel_id=None, log={})

    asyncio.run(use())
    quota.flush()
    loaded.display_name = "Alice"
    loaded.save()
    row = User.objects.get(pk=user.pk)
    assert (row.quota, row.used_quota, row.request_count) == (800, 200, 1)
    assert asyncio.run(quota.remaining(token.pk, user.pk)) == (800, 800)


def test_many_threads_and_tasks_never_overdraw():
    user, token = funded(user_quota=10_000, token_quota=700)
    ok = []

    async def burst():
        async def one():
            try:
                res = await quota.reserve(token.pk, user.pk, 7, unlimited_token=False)
            except quota.InsufficientQuota:
                return
            ok.append(await quota.settle(res, 7, channel_id=None, log={}))

        await asyncio.gather(*(one() for _ in range(40)))

    threads = [threading.Thread(target=asyncio.run, args=(burst(),)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asyncio.run(sync_to_async(connections.close_all)())  # the seeding thread's connection
    assert len(ok) == 100 and sum(ok) == 700
    assert asyncio.run(quota.remaining(token.pk, user.pk)) == (0, 9300)


async def test_a_log_row_keeps_its_fields_and_decimal_price_snapshot():
    from decimal import Decimal

    user, token = await _funded(user_quota=1000, token_quota=1000)
    res = await quota.reserve(token.pk, user.pk, 10, unlimited_token=False)
    log = {
        "model": "gpt",
        "price": {"input": Decimal("1.5")},
        "channels_tried": [3, 4],
        "is_stream": True,
        "request_id": "req-1",
        "client_ip": "10.0.0.1",
    }
    await quota.settle(res, 7, channel_id=None, log=log)
    await sync_to_async(quota.flush)()
    row = await Log.objects.aget(request_id="req-1")
    assert (row.quota, row.type, row.token_id, row.user_id) == (7, "consume", token.pk, user.pk)
    assert row.price == {"input": "1.5"} and row.channels_tried == [3, 4]
    assert row.is_stream and row.client_ip == "10.0.0.1" and row.created_at is not None
