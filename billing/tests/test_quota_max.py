"""QUOTA_MAX is a balance the quota counters carry exactly: Redis runs the quota scripts in
Lua, whose numbers are doubles (exact only up to 2^53), so no amount or balance that passed
validation may go past it, and the largest one moves through reserve and settle exactly."""

import pytest
from asgiref.sync import sync_to_async

from billing import quota
from billing.models import QUOTA_MAX, Log
from billing.services import BillingError, top_up
from billing.tests.quota_helpers import backend, funded, totals, use  # noqa: F401
from conftest import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("backend")]


def test_the_largest_balance_is_reserved_and_settled_exactly():
    user, token = funded("whale", user_quota=QUOTA_MAX, token_quota=QUOTA_MAX)
    assert use(token, user, reserve=QUOTA_MAX, actual=QUOTA_MAX - 1) == QUOTA_MAX - 1
    quota.flush()
    assert totals(token, user) == (1, QUOTA_MAX - 1, 1, QUOTA_MAX - 1, 1)


async def test_a_top_up_to_the_maximum_is_live_exactly_and_one_past_it_is_refused():
    user, token = await sync_to_async(funded)("whale", user_quota=0, token_quota=QUOTA_MAX)
    assert await quota.remaining(token.pk, user.pk) == (QUOTA_MAX, 0)  # seeded live
    await sync_to_async(top_up)(user, QUOTA_MAX - 2)
    await quota.reserve(token.pk, user.pk, 1, unlimited_token=False)
    await sync_to_async(top_up)(user, 2)  # the stored balance is now QUOTA_MAX
    assert await quota.remaining(token.pk, user.pk) == (QUOTA_MAX - 1, QUOTA_MAX - 1)
    with pytest.raises(BillingError, match="maximum"):  # the stored balance would pass it
        await sync_to_async(top_up)(user, 1)
    await sync_to_async(quota.flush)()  # the reserved 1 reaches the database
    await sync_to_async(top_up)(user, 1)
    assert await quota.remaining(token.pk, user.pk) == (QUOTA_MAX - 1, QUOTA_MAX)


@pytest.mark.parametrize("amount", [2**63, 2**64, QUOTA_MAX + 1])
def test_a_top_up_past_the_column_range_is_a_billing_error_not_a_crash(amount):
    user = make_user("u", quota=0)
    with pytest.raises(BillingError, match="maximum"):
        top_up(user, amount)
    user.refresh_from_db()
    assert user.quota == 0 and not Log.objects.exists()


@pytest.mark.parametrize("actual", [QUOTA_MAX + 1, 2**63, 2**70])
def test_a_charge_past_the_maximum_is_clamped_to_the_balance_exactly(actual):
    """Usage is the upstream's word, not validated input: an absurd count still settles
    exactly, clamped so no balance goes below zero."""
    user, token = funded("whale", user_quota=QUOTA_MAX, token_quota=QUOTA_MAX - 7)
    assert use(token, user, reserve=10, actual=actual) == QUOTA_MAX - 7
    quota.flush()
    assert totals(token, user) == (0, QUOTA_MAX - 7, 7, QUOTA_MAX - 7, 1)
