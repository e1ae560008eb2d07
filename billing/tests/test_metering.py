"""billing.metering's verbs against a real quota backend (in-process and, in Redis
passes, Redis): estimate, price lookup, pre-charge, settle, refund and the log row."""

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from billing import metering, quota
from billing.models import Log
from billing.pricing import PriceSpec
from billing.tests.quota_helpers import backend, funded  # noqa: F401
from providers.base import Endpoint, Usage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("backend")]
# 10 USD per 1M input tokens, 20 per 1M output: at 500,000 quota per USD, 5 and 10 a token.
PRICE = PriceSpec("gpt-4o-mini", input=Decimal("10"), output=Decimal("20"))
TRAIL = metering.Trail(channel_id=None, channels_tried=(7, 9), elapsed_ms=42, ttfb_ms=12)


def meter_for(user, token, **fields) -> metering.Meter:
    values = {"model": PRICE.model, "price": PRICE, "endpoint": Endpoint.chat_completions,
              "group_ratio": Decimal("1"), "request_id": "req-1", "client_ip": "10.0.0.1",
              **fields}
    return metering.Meter(token_id=token.pk, token_name=token.name, user_id=user.pk,
                          username=user.username, group="default",
                          unlimited_token=token.unlimited_quota, **values)


async def _funded(**kwargs):
    user, token = await sync_to_async(funded)(**kwargs)
    return user, token


async def _flushed_log(request_id="req-1") -> Log:
    await sync_to_async(quota.flush)()
    return await Log.objects.aget(request_id=request_id)


async def test_the_estimate_prices_the_prompt_and_max_tokens_of_every_choice(settings):
    settings.QUOTA_PER_USD = 500_000
    user, token = await _funded()
    meter = meter_for(user, token, prompt_tokens=10, max_tokens=4, n=2)
    assert metering.estimate(meter, pre_consume_tokens=500) == 10 * 5 + 8 * 10
    no_max = meter_for(user, token, prompt_tokens=10)
    assert metering.estimate(no_max, pre_consume_tokens=3) == 10 * 5 + 3 * 10
    embeddings = meter_for(user, token, prompt_tokens=10, endpoint=Endpoint.embeddings)
    assert metering.estimate(embeddings, pre_consume_tokens=500) == 10 * 5


async def test_a_per_request_price_counts_once_per_generated_image(settings):
    settings.QUOTA_PER_USD = 500_000
    user, token = await _funded()
    image = PriceSpec("dall-e-3", per_request=Decimal("0.04"))
    meter = meter_for(user, token, model="dall-e-3", price=image, n=3,
                      endpoint=Endpoint.images_generations)
    assert metering.charge(meter, Usage()) == 3 * 20_000


def test_the_default_price_applies_only_to_unpriced_models_when_enabled():
    prices = {PRICE.model: PRICE}
    options = {"default_price_enabled": False, "default_input_price": 1,
               "default_output_price": "2.5"}
    assert metering.price_for(PRICE.model, prices, options) is PRICE
    assert metering.price_for("other", prices, options) is None
    fallback = metering.price_for("other", prices, {**options, "default_price_enabled": True})
    assert fallback == PriceSpec("other", input=Decimal("1"), output=Decimal("2.5"))


async def test_pre_charge_reserves_the_amount_from_the_token_and_its_user():
    user, token = await _funded(user_quota=1000, token_quota=600)
    reservation = await metering.pre_charge(meter_for(user, token), 250)
    assert reservation.amount == 250
    assert await quota.remaining(token.pk, user.pk) == (350, 750)


async def test_pre_charge_takes_nothing_when_the_user_is_short():
    user, token = await _funded(user_quota=50, token_quota=1000)
    with pytest.raises(quota.InsufficientQuota) as err:
        await metering.pre_charge(meter_for(user, token), 60)
    assert (err.value.scope, err.value.remaining) == ("user", 50)
    assert await quota.remaining(token.pk, user.pk) == (1000, 50)


async def test_settle_charges_the_exact_usage_and_writes_one_log_row(settings):
    settings.QUOTA_PER_USD = 500_000
    user, token = await _funded(user_quota=1000, token_quota=1000)
    meter = meter_for(user, token, is_stream=True)
    reservation = await metering.pre_charge(meter, 300)
    trail = metering.Trail(None, (9,), 42, 12)
    charged = await metering.settle(meter, reservation, Usage(10, 3, 4), trail, status=200)
    assert charged == 6 * 5 + 4 * 5 + 3 * 10  # cached input at the input price
    assert await quota.remaining(token.pk, user.pk) == (1000 - charged, 1000 - charged)
    row = await _flushed_log()
    assert (row.type, row.quota, row.status_code, row.channels_tried) == (
        "consume", charged, 200, [9])
    assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (10, 3, 4)
    assert (row.token_id, row.user_id, row.username, row.token_name) == (
        token.pk, user.pk, user.username, token.name)
    assert (row.elapsed_ms, row.ttfb_ms, row.is_stream, row.client_ip) == (
        42, 12, True, "10.0.0.1")
    assert row.price == {"model": PRICE.model, "input": "10", "output": "20",
                         "cached_input": None, "per_request": None, "group_ratio": "1"}


async def test_settle_clamps_an_overrun_so_no_balance_goes_below_zero(settings):
    settings.QUOTA_PER_USD = 500_000
    user, token = await _funded(user_quota=1000, token_quota=100)
    meter = meter_for(user, token)
    reservation = await metering.pre_charge(meter, 40)
    charged = await metering.settle(meter, reservation, Usage(1000, 0), TRAIL, status=200)
    assert charged == 100
    assert await quota.remaining(token.pk, user.pk) == (0, 900)
    assert (await _flushed_log()).quota == 100


async def test_refund_gives_the_whole_reservation_back_and_logs_the_error():
    user, token = await _funded(user_quota=1000, token_quota=1000)
    meter = meter_for(user, token)
    reservation = await metering.pre_charge(meter, 300)
    await metering.refund(meter, reservation, TRAIL, status=502,
                          error="bad_gateway: upstream failed", detail="<html>oops</html>")
    assert await quota.remaining(token.pk, user.pk) == (1000, 1000)
    row = await _flushed_log()
    assert (row.type, row.quota, row.status_code, row.channels_tried) == (
        "error", 0, 502, [7, 9])
    assert (row.error, row.content) == ("bad_gateway: upstream failed", "<html>oops</html>")


def test_the_log_row_cuts_a_long_error_and_keeps_an_empty_client_ip_as_none():
    meter = metering.Meter(token_id=1, token_name="t", user_id=2, username="u", group="g",
                           group_ratio=Decimal("0.5"), unlimited_token=False, model="m",
                           price=PRICE, endpoint=Endpoint.embeddings)
    row = metering.log_row(meter, metering.Trail(), usage=None, status=500, error="x" * 3000)
    assert len(row["error"]) == 2000 and row["client_ip"] is None
    assert (row["prompt_tokens"], row["channel_id"], row["ttfb_ms"]) == (0, None, None)
    assert row["price"]["group_ratio"] == "0.5"


def test_a_warm_pre_charge_settle_and_refund_make_no_database_query(django_assert_num_queries):
    user, token = funded(user_quota=1000, token_quota=1000)
    meter = meter_for(user, token)

    async def one_of_each():
        await metering.settle(meter, await metering.pre_charge(meter, 10), Usage(1, 1), TRAIL,
                              status=200)
        await metering.refund(meter, await metering.pre_charge(meter, 10), TRAIL, status=500,
                              error="boom")

    async_to_sync(one_of_each)()  # seeds both balances
    with django_assert_num_queries(0):
        async_to_sync(one_of_each)()
