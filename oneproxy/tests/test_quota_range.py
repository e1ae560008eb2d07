"""Every quota amount and balance stays within QUOTA_MAX (billing/models/quota_range.py):
a bigger one is a 400 naming the field (API), a field error (admin), a skip or a clamp with
a note (imports), and a top-up or redemption that would push a balance past it is refused
with nothing changed. Never a 500, never a float balance."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.models import QUOTA_MAX, Log, Option, Redemption, Token, User
from billing.option_specs import load_all
from billing.services import create_token
from conftest import make_user

from .oneapi_source import oneapi_database, seed

pytestmark = pytest.mark.django_db

TOO_BIG = [2**63, QUOTA_MAX + 1]


def balance(user) -> int:
    user.refresh_from_db(fields=["quota"])
    assert type(user.quota) is int
    return user.quota


# --- The management API ----------------------------------------------------------------
@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_api_refuses_a_new_users_quota_past_the_maximum(staff_api, amount):
    response = staff_api.post("/api/users/", {"username": "big", "quota": amount},
                              format="json")
    assert response.status_code == 400 and list(response.json()) == ["quota"]
    assert not User.objects.filter(username="big").exists()
    ok = staff_api.post("/api/users/", {"username": "max", "quota": QUOTA_MAX}, format="json")
    assert ok.status_code == 201 and ok.json()["quota"] == QUOTA_MAX


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_api_refuses_a_top_up_past_the_maximum(staff_api, rich_user, amount):
    response = staff_api.post(f"/api/users/{rich_user.pk}/topup/", {"quota": amount},
                              format="json")
    assert response.status_code == 400 and list(response.json()) == ["quota"]
    assert balance(rich_user) == 5_000_000


def test_the_api_refuses_a_top_up_that_would_overflow_the_balance(staff_api):
    user = make_user("full", quota=QUOTA_MAX - 10)
    response = staff_api.post(f"/api/users/{user.pk}/topup/", {"quota": 11}, format="json")
    assert response.status_code == 400
    assert "maximum" in response.json()["quota"][0]
    assert balance(user) == QUOTA_MAX - 10 and not Log.objects.exists()
    exact = staff_api.post(f"/api/users/{user.pk}/topup/", {"quota": 10}, format="json")
    assert exact.status_code == 200 and exact.json()["quota"] == QUOTA_MAX == balance(user)


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_api_refuses_a_token_quota_past_the_maximum(user_api, rich_user, amount):
    created = user_api.post("/api/tokens/", {"name": "big", "remain_quota": amount},
                            format="json")
    assert created.status_code == 400 and list(created.json()) == ["remain_quota"]
    token, _key = create_token(rich_user, "mine", remain_quota=5)
    patched = user_api.patch(f"/api/tokens/{token.pk}/", {"remain_quota": amount},
                             format="json")
    assert patched.status_code == 400 and list(patched.json()) == ["remain_quota"]
    token.refresh_from_db()
    assert token.remain_quota == 5


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_api_refuses_redemption_codes_worth_more_than_the_maximum(staff_api, amount):
    one = staff_api.post("/api/redemptions/", {"name": "big", "quota": amount}, format="json")
    assert one.status_code == 400 and list(one.json()) == ["quota"]
    batch = staff_api.post("/api/redemptions/generate/", {"count": 2, "quota": amount},
                           format="json")
    assert batch.status_code == 400 and list(batch.json()) == ["quota"]
    assert not Redemption.objects.exists()


def test_redeeming_a_code_that_would_overflow_the_balance_is_refused(client):
    from .api_fixtures import client_for

    user = make_user("full", quota=QUOTA_MAX - 1)
    code = Redemption.objects.create(quota=2)
    response = client_for(user).post("/api/redeem/", {"code": code.code}, format="json")
    assert response.status_code == 400 and "maximum" in response.json()["code"][0]
    code.refresh_from_db()
    assert balance(user) == QUOTA_MAX - 1 and code.status == "unused"
    client.force_login(user)
    page = client.post(reverse("admin:account"), {"code": code.code})
    assert page.status_code == 200 and "maximum" in str(page.context["form"].errors["code"])
    assert balance(user) == QUOTA_MAX - 1


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_api_refuses_a_quota_option_past_the_maximum(staff_api, amount):
    url = "/api/options/quota_for_new_user/"
    response = staff_api.patch(url, {"value": amount}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["value"]
    assert "0 to" in response.json()["value"][0]
    assert staff_api.patch(url, {"value": -1}, format="json").status_code == 400
    assert not Option.objects.filter(key="quota_for_new_user").exists()
    assert staff_api.patch(url, {"value": QUOTA_MAX}, format="json").status_code == 200


# --- The admin ---------------------------------------------------------------------------
@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_admin_refuses_a_new_users_quota_past_the_maximum(operator_client, amount):
    data = {"username": "big", "password1": "pw-big-0123456789", "password2":
            "pw-big-0123456789", "quota": str(amount), "usable_password": "true"}
    response = operator_client.post(reverse("admin:billing_user_add"), data)
    assert response.status_code == 200
    assert "quota" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="big").exists()


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_admin_refuses_a_top_up_past_the_maximum(operator_client, amount):
    user = make_user("u", quota=10)
    response = operator_client.post(reverse("admin:billing_user_changelist"), {
        "action": "top_up", "_selected_action": [user.pk], "apply": "1", "quota": str(amount),
    })  # fmt: skip
    assert response.status_code == 200 and "quota" in response.context["form"].errors
    assert balance(user) == 10 and not Log.objects.exists()


def test_the_admin_refuses_a_top_up_that_would_overflow_a_selected_balance(operator_client):
    low, full = make_user("low", quota=0), make_user("full", quota=QUOTA_MAX - 5)
    response = operator_client.post(reverse("admin:billing_user_changelist"), {
        "action": "top_up", "_selected_action": [low.pk, full.pk], "apply": "1", "quota": "6",
    })  # fmt: skip
    assert response.status_code == 200
    errors = str(response.context["form"].errors["quota"])
    assert "full" in errors and "low" not in errors and "maximum" in errors
    assert (balance(low), balance(full)) == (0, QUOTA_MAX - 5) and not Log.objects.exists()


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_admin_refuses_a_token_quota_past_the_maximum(member_client, amount):
    data = {"name": "big", "status": "enabled", "expires_at_0": "", "expires_at_1": "",
            "remain_quota": str(amount), "allowed_models": "", "subnets": "",
            "rpm_limit": "0", "tpm_limit": "0", "max_concurrency": "0"}
    response = member_client.post(reverse("admin:billing_token_add"), data)
    assert response.status_code == 200
    assert "remain_quota" in response.context["adminform"].form.errors
    assert not Token.objects.exists()


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_admin_refuses_redemption_codes_worth_more_than_the_maximum(operator_client,
                                                                       amount):
    one = operator_client.post(reverse("admin:billing_redemption_add"),
                               {"name": "big", "quota": str(amount), "status": "unused"})
    assert one.status_code == 200 and "quota" in one.context["adminform"].form.errors
    batch = operator_client.post(reverse("admin:billing_redemption_generate"),
                                 {"count": "2", "quota": str(amount), "name": "big"})
    assert batch.status_code == 200 and "quota" in batch.context["form"].errors
    assert not Redemption.objects.exists()


@pytest.mark.parametrize("amount", TOO_BIG)
def test_the_admin_refuses_a_quota_option_past_the_maximum(operator_client, amount):
    data = {key: str(value) for key, value in load_all().items() if not isinstance(value, bool)}
    response = operator_client.post(reverse("admin:billing_option_changelist"),
                                    data | {"quota_for_new_user": str(amount)})
    assert response.status_code == 200
    assert "quota_for_new_user" in response.context["form"].errors
    assert not Option.objects.filter(key="quota_for_new_user").exists()


# --- The import commands -----------------------------------------------------------------
def test_import_config_skips_a_quota_option_past_the_maximum(tmp_path):
    out = io.StringIO()
    call_command("export_config", stdout=out)
    data = json.loads(out.getvalue()) | {"options": {"quota_for_new_user": 2**63}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    out = io.StringIO()
    call_command("import_config", str(path), stdout=out)
    assert "options: 1 skipped" in out.getvalue() and "0 to" in out.getvalue()
    assert not Option.objects.filter(key="quota_for_new_user").exists()


def test_import_oneapi_lowers_amounts_past_the_maximum_and_says_so(tmp_path):
    rows = seed("http://127.0.0.1:9")
    rows["users"][1]["quota"] = 2**63 - 1  # Go's int64 maximum, as some installs use
    rows["tokens"][0]["remain_quota"] = 2**63 - 1
    out = io.StringIO()
    with oneapi_database("sqlite", tmp_path, rows) as dsn:
        call_command("import_oneapi", "--dsn", dsn, stdout=out)
    assert balance(User.objects.get(username="alice")) == QUOTA_MAX
    assert Token.objects.get(name="alice-main").remain_quota == QUOTA_MAX
    assert f"2 quota amounts were above the maximum and were lowered to {QUOTA_MAX}" \
        in out.getvalue()
