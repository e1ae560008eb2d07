"""Every admin changelist renders 50 rows with a small constant number of queries, for the
operator and (where the page exists for them) for a self-service user."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from billing.models import (
    AccessToken,
    DailyUsage,
    FlushBatch,
    Group,
    ImportedRecord,
    Log,
    LogType,
    Option,
    Price,
    Redemption,
    Token,
    User,
)
from channels_app.models import Ability
from conftest import make_channel, make_user

ROWS = 50
QUERY_BUDGET = 10  # measured 5-8: session, user, counts, page, prefetches, filter choices


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed_fifty_of_everything(owner: User) -> None:
    groups = [Group.objects.create(name=f"g{i}") for i in range(ROWS)]
    users = [make_user(f"user{i}", quota=i * 1000, group=groups[i % 5]) for i in range(ROWS)]
    channels = [
        make_channel(f"ch{i}", models=["gpt-4o", "gpt-4o-mini"], groups=groups[:2], keys=2)
        for i in range(ROWS)
    ]
    for i, user in enumerate(users):
        token = Token(user=owner if i % 2 else user, name=f"t{i}")
        token.assign_new_key()
        token.save()
        access = AccessToken(user=user, name=f"a{i}")
        access.assign_new_key()
        access.save()
        Log.objects.create(
            type=LogType.CONSUME, user=owner, username=owner.username, token=token,
            token_name=token.name, channel=channels[i], model="gpt-4o", quota=100 + i,
        )  # fmt: skip
        Price.objects.create(model=f"model-{i}", input_price="1.25", output_price="10")
        Redemption.objects.create(quota=1000, created_by=owner, redeemed_by=user)
        DailyUsage.objects.create(day=date.today() - timedelta(days=i), model="gpt-4o")
        Option.objects.create(key=f"custom_{i}", value=i)
        FlushBatch.objects.create(batch_id=f"batch-{i}", log_rows=i, deltas=2 * i)
        ImportedRecord.objects.create(source="oneapi", kind="channel", source_id=str(i),
                                      object_id=channels[i].pk)  # fmt: skip


CHANGELISTS = [
    "billing_user", "billing_group", "billing_token", "billing_accesstoken", "billing_log",
    "billing_price", "billing_redemption", "billing_dailyusage", "channels_app_channel",
    "channels_app_channelkey", "channels_app_ability", "billing_flushbatch",
    "billing_importedrecord",
]  # fmt: skip


@pytest.mark.parametrize("name", CHANGELISTS)
def test_each_changelist_shows_fifty_rows_in_a_constant_number_of_queries(
    name, root_client, admin_user, django_assert_max_num_queries
):
    seed_fifty_of_everything(admin_user)
    url = reverse(f"admin:{name}_changelist")
    with django_assert_max_num_queries(QUERY_BUDGET):
        response = root_client.get(url)
    assert response.status_code == 200
    if name != "channels_app_ability":
        assert response.context["cl"].result_count >= ROWS
    else:
        assert Ability.objects.count() == ROWS * 2 * 2


@pytest.mark.parametrize("name", ["billing_token", "billing_log", "billing_accesstoken"])
def test_self_service_changelists_also_stay_within_the_budget(
    name, client, admin_user, django_assert_max_num_queries
):
    seed_fifty_of_everything(admin_user)
    member = User.objects.get(username="user7")
    client.force_login(member)
    with django_assert_max_num_queries(QUERY_BUDGET):
        response = client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200


def test_the_options_page_is_a_typed_form_not_raw_json(root_client):
    response = root_client.get(reverse("admin:billing_option_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="retry_times"' in html and 'type="number"' in html
    assert 'name="auto_disable_enabled"' in html and 'type="checkbox"' in html
