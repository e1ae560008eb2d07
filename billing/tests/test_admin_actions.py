"""Billing admin workflows: keys shown once, revoking, top-ups, redemption codes, CSV
exports, typed options, price ratios, and field errors for bad input."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from billing.models import Log, LogType, Option, Price, Redemption, Token, TokenStatus, User
from billing.models.tokens import hash_key
from billing.option_specs import load_all
from conftest import make_user


def post_action(client, name, action, objects, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(reverse(f"admin:{name}_changelist"), data)


def token_form(**overrides):
    data = {
        "name": "ci", "status": "enabled", "expires_at_0": "", "expires_at_1": "",
        "remain_quota": "1000", "allowed_models": "gpt-4o, gpt-4o-mini",
        "subnets": "10.0.0.0/8\n192.168.1.7", "rpm_limit": "0", "tpm_limit": "0",
        "max_concurrency": "0",
    }  # fmt: skip
    return data | overrides


def csv_rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_creating_a_token_shows_the_full_key_once_with_a_copy_button(operator_client, rich_user):
    response = operator_client.post(
        reverse("admin:billing_token_add"), token_form(user=rich_user.pk)
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    ((name, key),) = response.context["rows"]
    token = Token.objects.get()
    assert key.startswith("sk-") and len(key) == 51
    assert token.key_hash == hash_key(key) and token.user == rich_user
    assert token.allowed_models == ["gpt-4o", "gpt-4o-mini"]
    assert token.subnets == ["10.0.0.0/8", "192.168.1.7"]
    html = response.content.decode()
    assert key in html and "copy-key" in html
    listing = operator_client.get(reverse("admin:billing_token_changelist")).content.decode()
    assert key not in listing and f"{token.key_prefix}…" in listing


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subnets", "10.0.0.0/33, 1.2.3.4"),
        ("subnets", "not-an-ip"),
        ("remain_quota", "-5"),
        ("expires_at_0", "2001-01-01"),
    ],
)
def test_bad_token_input_is_a_field_error_and_saves_nothing(
    operator_client, rich_user, field, value
):
    data = token_form(user=rich_user.pk, **{field: value})
    if field == "expires_at_0":
        data["expires_at_1"] = "00:00:00"
    response = operator_client.post(reverse("admin:billing_token_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field.removesuffix("_0") in errors
    assert not Token.objects.exists()


def test_revoking_tokens_disables_them(operator_client, rich_user):
    from billing.services import create_token

    tokens = [create_token(rich_user, f"t{i}", remain_quota=5)[0] for i in range(3)]
    post_action(operator_client, "billing_token", "revoke", tokens[:2])
    statuses = dict(Token.objects.values_list("name", "status"))
    assert statuses == {"t0": TokenStatus.DISABLED, "t1": TokenStatus.DISABLED,
                        "t2": TokenStatus.ENABLED}  # fmt: skip


def test_regenerating_keys_shows_each_new_key_once_and_old_keys_stop_matching(
    operator_client, rich_user
):
    from billing.services import create_token

    token, old_key = create_token(rich_user, "t", remain_quota=5)
    response = post_action(operator_client, "billing_token", "regenerate_keys", [token])
    ((_name, new_key),) = response.context["rows"]
    token.refresh_from_db()
    assert token.key_hash == hash_key(new_key) != hash_key(old_key)


def test_topping_up_users_asks_for_an_amount_then_writes_top_up_logs(operator_client):
    users = [make_user(f"u{i}", quota=10) for i in range(2)]
    form_page = post_action(operator_client, "billing_user", "top_up", users)
    assert form_page.status_code == 200 and "quota" in form_page.context["form"].fields
    done = post_action(operator_client, "billing_user", "top_up", users, apply="1",
                       quota="500000", note="invoice 42")  # fmt: skip
    assert done.status_code == 302
    assert set(User.objects.filter(pk__in=[u.pk for u in users]).values_list("quota", flat=True)) \
        == {500_010}  # fmt: skip
    logs = Log.objects.filter(type=LogType.TOPUP)
    assert logs.count() == 2 and {log.content for log in logs} == {"invoice 42"}
    assert "$1.0000" in str(next(iter(get_messages(done.wsgi_request))))


def test_a_bad_top_up_amount_is_refused_on_the_field(operator_client):
    user = make_user("u", quota=10)
    response = post_action(operator_client, "billing_user", "top_up", [user], apply="1",
                           quota="-3")  # fmt: skip
    assert "quota" in response.context["form"].errors
    user.refresh_from_db()
    assert user.quota == 10 and not Log.objects.exists()


def test_creating_tokens_for_users_shows_each_key_once(operator_client):
    users = [make_user(f"u{i}") for i in range(2)]
    response = post_action(operator_client, "billing_user", "create_tokens", users)
    rows = response.context["rows"]
    assert len(rows) == 2
    for (_label, key), user in zip(rows, users, strict=True):
        assert Token.objects.get(key_hash=hash_key(key)).user == user


def test_generating_codes_downloads_them_as_csv(operator_client, operator_user):
    url = reverse("admin:billing_redemption_generate")
    assert operator_client.get(url).status_code == 200
    response = operator_client.post(url, {"count": "5", "quota": "250000", "name": "promo"})
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = csv_rows(response)
    assert header == ["code", "name", "quota", "status"] and len(rows) == 5
    stored = set(Redemption.objects.values_list("code", flat=True))
    assert {row[0] for row in rows} == stored
    assert Redemption.objects.filter(created_by=operator_user, quota=250000).count() == 5


@pytest.mark.parametrize("data", [{"count": "0", "quota": "1"}, {"count": "2", "quota": "-1"},
                                  {"count": "5000", "quota": "1"}])  # fmt: skip
def test_bad_code_generation_input_is_refused(operator_client, data):
    response = operator_client.post(reverse("admin:billing_redemption_generate"), data)
    assert response.status_code == 200 and response.context["form"].errors
    assert not Redemption.objects.exists()


def test_selected_codes_download_as_csv(operator_client):
    codes = [Redemption.objects.create(quota=100) for _ in range(3)]
    response = post_action(operator_client, "billing_redemption", "download_csv", codes[:2])
    _header, *rows = csv_rows(response)
    assert {row[0] for row in rows} == {c.code for c in codes[:2]}


def test_logs_export_as_a_streamed_csv(operator_client, rich_user):
    logs = [
        Log.objects.create(
            type=LogType.CONSUME,
            user=rich_user,
            username="rich",
            model="gpt-4o",
            quota=10 + i,
            prompt_tokens=i,
        )  # fmt: skip
        for i in range(3)
    ]
    response = post_action(operator_client, "billing_log", "export_csv", logs)
    assert response.streaming
    header, *rows = csv_rows(response)
    assert header[:3] == ["created_at", "type", "username"]
    assert sorted(int(row[header.index("quota")]) for row in rows) == [10, 11, 12]


def test_logs_cannot_be_added_or_edited_in_the_admin(operator_client, rich_user):
    log = Log.objects.create(type=LogType.CONSUME, user=rich_user, model="m", quota=1)
    assert operator_client.get(reverse("admin:billing_log_add")).status_code == 403
    page = operator_client.get(reverse("admin:billing_log_change", args=[log.pk]))
    assert page.status_code == 200 and b'name="quota"' not in page.content


def test_the_options_form_saves_typed_values(operator_client):
    url = reverse("admin:billing_option_changelist")
    data = {key: str(value) for key, value in load_all().items() if not isinstance(value, bool)}
    data |= {"retry_times": "4", "auto_disable_error_rate": "0.25", "display_in_usd": "on"}
    response = operator_client.post(url, data)
    assert response.status_code == 302
    assert Option.objects.get(key="retry_times").value == 4
    assert Option.objects.get(key="auto_disable_error_rate").value == 0.25
    assert Option.objects.get(key="auto_disable_enabled").value is False  # unticked box
    assert load_all()["retry_times"] == 4


def test_a_bad_option_value_is_a_field_error(operator_client):
    url = reverse("admin:billing_option_changelist")
    data = {key: str(value) for key, value in load_all().items() if not isinstance(value, bool)}
    response = operator_client.post(url, data | {"retry_times": "-1"})
    assert response.status_code == 200 and "retry_times" in response.context["form"].errors
    assert not Option.objects.filter(key="retry_times").exists()


def test_the_price_list_shows_one_api_ratios_beside_usd_prices(operator_client):
    Price.objects.create(model="gpt-4o", input_price="2.5", output_price="10")
    html = operator_client.get(reverse("admin:billing_price_changelist")).content.decode()
    assert "1.25" in html and ">4<" in html


def test_deleting_a_user_with_tokens_keeps_their_logs(root_client):
    from billing.services import create_token

    user = make_user("leaver", quota=5)
    token, _key = create_token(user, "t", remain_quota=5)
    log = Log.objects.create(type=LogType.CONSUME, user=user, username="leaver", token=token,
                             token_name="t", model="m", quota=3)  # fmt: skip
    url = reverse("admin:billing_user_delete", args=[user.pk])
    assert root_client.post(url, {"post": "yes"}).status_code == 302
    log.refresh_from_db()
    assert (log.user_id, log.token_id, log.username, log.quota) == (None, None, "leaver", 3)
    assert not Token.objects.exists()


def test_a_negative_user_quota_is_a_field_error(operator_client):
    user = make_user("u", quota=10)
    url = reverse("admin:billing_user_change", args=[user.pk])
    data = {"username": "u", "display_name": "", "email": "", "role": "user",
            "status": "enabled", "group": user.group_id, "quota": "-1"}  # fmt: skip
    response = operator_client.post(url, data)
    assert response.status_code == 200
    assert "quota" in response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.quota == 10


def test_a_token_expiring_in_the_future_is_accepted(operator_client, rich_user):
    tomorrow = timezone.localtime() + timedelta(days=1)
    data = token_form(user=rich_user.pk, expires_at_0=tomorrow.strftime("%Y-%m-%d"),
                      expires_at_1="12:00:00")  # fmt: skip
    response = operator_client.post(reverse("admin:billing_token_add"), data)
    assert response.status_code == 200 and "rows" in response.context
    assert Token.objects.get().expires_at > timezone.now()


def test_quota_is_shown_as_units_and_usd_on_lists_and_forms(operator_client):
    from billing.services import create_token

    user = make_user("u", quota=1_250_000)
    token, _key = create_token(user, "t", remain_quota=250_000)
    listing = operator_client.get(reverse("admin:billing_user_changelist")).content.decode()
    assert "1,250,000 ($2.5000)" in listing
    form = operator_client.get(reverse("admin:billing_user_change", args=[user.pk]))
    assert "1,250,000 ($2.5000)" in form.content.decode()
    token_page = operator_client.get(reverse("admin:billing_token_change", args=[token.pk]))
    assert "250,000 ($0.5000)" in token_page.content.decode()
