"""Self-service users log into the same admin and reach only their own rows; admins see
everything except managing other admins, which only root may do."""

from datetime import date

import pytest
from django.urls import reverse

from billing.models import (
    AccessToken,
    DailyUsage,
    Log,
    LogType,
    Redemption,
    Token,
    User,
    UserRole,
)
from billing.services import create_token
from conftest import make_channel, make_user


@pytest.fixture
def other_user(db):
    return make_user("mallory", quota=1)


@pytest.fixture
def others_rows(other_user):
    token, _key = create_token(other_user, "theirs", remain_quota=5)
    log = Log.objects.create(type=LogType.CONSUME, user=other_user, username="mallory",
                             token=token, model="secret-model", quota=9)  # fmt: skip
    access = AccessToken(user=other_user, name="their-pat")
    access.assign_new_key()
    access.save()
    return {"token": token, "log": log, "accesstoken": access}


def test_a_non_staff_user_logs_in_through_the_admin_login_page(client, rich_user):
    response = client.post(
        reverse("admin:login"),
        {"username": "rich", "password": "pw-rich-0123456789", "next": reverse("admin:index")},
    )
    assert response.status_code == 302
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    apps = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert apps == {"Token", "Log", "AccessToken"}


def test_a_disabled_user_cannot_log_in(client, rich_user):
    rich_user.status = "disabled"
    rich_user.save()
    response = client.post(reverse("admin:login"),
                           {"username": "rich", "password": "pw-rich-0123456789"})  # fmt: skip
    assert response.status_code == 200 and response.context["form"].errors


@pytest.mark.parametrize("model", ["token", "log", "accesstoken"])
def test_others_rows_are_absent_from_lists_and_unreachable_by_url(
    member_client, rich_user, others_rows, model
):
    own_token, _key = create_token(rich_user, "mine", remain_quota=5)
    Log.objects.create(type=LogType.CONSUME, user=rich_user, model="my-model", quota=1)
    listing = member_client.get(reverse(f"admin:billing_{model}_changelist"))
    assert listing.status_code == 200
    assert others_rows[model] not in listing.context["cl"].result_list
    html = listing.content.decode()
    assert "mallory" not in html and "secret-model" not in html and "their-pat" not in html
    target = others_rows[model].pk
    for view in ("change", "delete", "history"):
        response = member_client.get(reverse(f"admin:billing_{model}_{view}", args=[target]))
        assert response.status_code in (302, 403, 404), view
        assert "secret-model" not in response.content.decode()


def test_posting_to_someone_elses_token_changes_nothing(member_client, others_rows):
    token = others_rows["token"]
    url = reverse("admin:billing_token_change", args=[token.pk])
    response = member_client.post(url, {"name": "hijacked", "status": "disabled",
                                        "remain_quota": "0", "rpm_limit": "0",
                                        "tpm_limit": "0", "max_concurrency": "0"})  # fmt: skip
    assert response.status_code in (302, 403, 404)
    token.refresh_from_db()
    assert token.name == "theirs" and token.status == "enabled"
    delete = member_client.post(reverse("admin:billing_token_delete", args=[token.pk]),
                                {"post": "yes"})  # fmt: skip
    assert delete.status_code in (302, 403, 404)
    assert Token.objects.filter(pk=token.pk).exists()


def test_a_user_creates_a_token_for_themselves_only(member_client, rich_user, other_user):
    data = {"user": other_user.pk, "name": "mine", "status": "enabled", "expires_at_0": "",
            "expires_at_1": "", "remain_quota": "100", "allowed_models": "", "subnets": "",
            "rpm_limit": "0", "tpm_limit": "0", "max_concurrency": "0"}  # fmt: skip
    response = member_client.post(reverse("admin:billing_token_add"), data)
    assert response.status_code == 200 and response.context["rows"]
    assert Token.objects.get(name="mine").user == rich_user


def test_a_user_revokes_only_their_own_tokens_through_the_action(
    member_client, rich_user, others_rows
):
    mine, _key = create_token(rich_user, "mine", remain_quota=5)
    theirs = others_rows["token"]
    member_client.post(reverse("admin:billing_token_changelist"),
                       {"action": "revoke", "_selected_action": [mine.pk, theirs.pk]})  # fmt: skip
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("disabled", "enabled")


@pytest.mark.parametrize(
    "url",
    ["admin:billing_user_changelist", "admin:billing_group_changelist",
     "admin:channels_app_channel_changelist", "admin:billing_price_changelist",
     "admin:billing_redemption_changelist", "admin:billing_option_changelist",
     "admin:channels_app_ability_changelist", "admin:billing_dailyusage_changelist",
     "admin:billing_redemption_generate", "admin:billing_flushbatch_changelist",
     "admin:billing_importedrecord_changelist"],
)  # fmt: skip
def test_operator_pages_are_closed_to_self_service_users(member_client, url):
    response = member_client.get(reverse(url))
    assert response.status_code in (302, 403)


def test_operator_objects_are_closed_by_url_too(member_client, other_user):
    channel = make_channel("private")
    for url in (reverse("admin:billing_user_change", args=[other_user.pk]),
                reverse("admin:channels_app_channel_change", args=[channel.pk])):  # fmt: skip
        assert member_client.get(url).status_code == 403


def test_the_account_page_shows_the_balance_and_redeems_a_code(member_client, rich_user):
    code = Redemption.objects.create(quota=250_000)
    page = member_client.get(reverse("admin:account"))
    assert "5,000,000 ($10.0000)" in page.content.decode()
    response = member_client.post(reverse("admin:account"), {"code": code.code})
    assert response.status_code == 302
    rich_user.refresh_from_db()
    assert rich_user.quota == 5_250_000
    again = member_client.post(reverse("admin:account"), {"code": code.code})
    assert again.status_code == 200 and "code" in again.context["form"].errors
    rich_user.refresh_from_db()
    assert rich_user.quota == 5_250_000


def test_the_dashboard_shows_a_user_only_their_own_usage(member_client, rich_user, other_user):
    today = date.today()
    DailyUsage.objects.create(day=today, user_id=rich_user.pk, model="mine-model",
                              requests=3, quota=30)  # fmt: skip
    DailyUsage.objects.create(day=today, user_id=other_user.pk, model="their-model",
                              requests=7, quota=70)  # fmt: skip
    response = member_client.get(reverse("admin:dashboard"))
    data = response.context["data"]
    assert data["totals"]["requests"] == 3
    assert "their-model" not in response.content.decode()
    assert "channels" not in data and "top_users" not in data


def test_an_admin_sees_admins_but_only_root_changes_them(operator_client, client, admin_user):
    peer = make_user("peer", role=UserRole.ADMIN)
    plain = make_user("plain")
    url = reverse("admin:billing_user_change", args=[peer.pk])
    page = operator_client.get(url)
    assert page.status_code == 200 and b'name="username"' not in page.content  # read-only
    posted = operator_client.post(url, {"username": "peer", "role": "user", "status": "enabled",
                                        "group": peer.group_id, "quota": "0"})  # fmt: skip
    assert posted.status_code == 403
    assert operator_client.post(reverse("admin:billing_user_delete", args=[peer.pk]),
                                {"post": "yes"}).status_code == 403  # fmt: skip
    plain_page = operator_client.get(reverse("admin:billing_user_change", args=[plain.pk]))
    assert b'name="username"' in plain_page.content and b'name="role"' not in plain_page.content
    client.force_login(admin_user)
    root_page = client.get(url)
    assert b'name="role"' in root_page.content


def test_an_admin_cannot_create_an_admin_or_root_user(operator_client, client, admin_user):
    data = {"username": "sneaky", "password1": "pw-sneaky-0123456789",
            "password2": "pw-sneaky-0123456789", "usable_password": "true",
            "role": UserRole.ROOT, "quota": "0"}  # fmt: skip
    response = operator_client.post(reverse("admin:billing_user_add"), data)
    assert response.status_code == 302
    sneaky = User.objects.get(username="sneaky")
    assert (sneaky.role, sneaky.is_staff, sneaky.is_superuser) == (UserRole.USER, False, False)
    client.force_login(admin_user)
    response = client.post(reverse("admin:billing_user_add"), data | {"username": "boss2"})
    assert response.status_code == 302
    assert User.objects.get(username="boss2").role == UserRole.ROOT
