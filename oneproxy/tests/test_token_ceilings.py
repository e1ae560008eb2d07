"""Limits an operator sets on a user's token are ceilings: the owner may tighten them,
never loosen or clear them, through the API or the admin; the relay keeps enforcing them.
The rule itself is billing/token_policy.py."""

import datetime

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import timezone

from billing.models import Token
from billing.services import create_token
from conftest import make_channel, make_price, make_user
from relay.tests.helpers import CHAT, error_of, post

from .api_fixtures import client_for

EXPIRES = timezone.now().replace(microsecond=0) + datetime.timedelta(days=30)
LIMITS = {
    "rpm_limit": 60, "tpm_limit": 10_000, "max_concurrency": 2,
    "subnets": ["127.0.0.0/8"], "allowed_models": ["gpt-4o-mini", "gpt-4o-nano"],
    "expires_at": EXPIRES.isoformat(), "remain_quota": 1_000_000, "unlimited_quota": False,
}  # fmt: skip
LOOSER = [
    ("rpm_limit", 0), ("rpm_limit", 61), ("tpm_limit", 0), ("tpm_limit", 10_001),
    ("max_concurrency", 0), ("max_concurrency", 3), ("subnets", []),
    ("subnets", ["0.0.0.0/0"]), ("subnets", ["127.0.0.1/32", "10.0.0.1"]),
    ("allowed_models", []), ("allowed_models", ["gpt-4o-mini", "gpt-4o"]),
    ("expires_at", None), ("expires_at", (EXPIRES + datetime.timedelta(days=1)).isoformat()),
    ("unlimited_quota", True), ("remain_quota", 1_000_001),
]  # fmt: skip
TIGHTER = {
    "rpm_limit": 10, "tpm_limit": 1, "max_concurrency": 1, "subnets": ["127.0.0.1/32"],
    "allowed_models": ["gpt-4o-mini"], "remain_quota": 500,
    "expires_at": (EXPIRES - datetime.timedelta(days=1)).isoformat(),
}  # fmt: skip


def stored(token: Token) -> dict:
    token.refresh_from_db()
    values = {name: getattr(token, name) for name in LIMITS}
    values["expires_at"] = token.expires_at.isoformat() if token.expires_at else None
    return values


@pytest.fixture(params=["root", "admin"])
def operator(request, admin_user, operator_user):
    return admin_user if request.param == "root" else operator_user


@pytest.fixture
def capped(operator, rich_user):
    """A token the user made, then limited by an operator through the API (as in the
    report of issue 10)."""
    token, _key = create_token(rich_user, "mine", unlimited_quota=True)
    response = client_for(operator).patch(f"/api/tokens/{token.pk}/", LIMITS, format="json")
    assert response.status_code == 200, response.content
    return token


@pytest.mark.parametrize(("field", "value"), LOOSER)
def test_a_user_cannot_loosen_an_operators_limit_through_the_api(capped, user_api, field,
                                                                 value):
    before = stored(capped)
    response = user_api.patch(f"/api/tokens/{capped.pk}/", {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field] and "operator" in response.json()[field][0]
    assert stored(capped) == before


def test_a_user_cannot_clear_every_limit_at_once(capped, user_api):
    cleared = {"rpm_limit": 0, "tpm_limit": 0, "max_concurrency": 0, "subnets": [],
               "allowed_models": [], "expires_at": None, "unlimited_quota": True}
    response = user_api.patch(f"/api/tokens/{capped.pk}/", cleared, format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(cleared)


def test_a_user_may_tighten_an_operators_limits_and_rename_the_token(capped, user_api):
    response = user_api.patch(f"/api/tokens/{capped.pk}/", {**TIGHTER, "name": "renamed"},
                              format="json")
    assert response.status_code == 200, response.content
    assert {k: v for k, v in stored(capped).items() if k in TIGHTER} == TIGHTER
    # Tighter is not the new ceiling: the user may go back up to what the operator set.
    again = user_api.patch(f"/api/tokens/{capped.pk}/", {"rpm_limit": 60}, format="json")
    assert again.status_code == 200


def test_the_api_shows_the_owner_the_ceilings(capped, user_api):
    body = user_api.get(f"/api/tokens/{capped.pk}/").json()
    assert body["ceilings"]["rpm_limit"] == 60 and body["ceilings"]["remain_quota"] == 1_000_000
    response = user_api.patch(f"/api/tokens/{capped.pk}/", {"ceilings": {}}, format="json")
    assert response.status_code == 200 and Token.objects.get(pk=capped.pk).ceilings


def test_an_operator_may_loosen_or_clear_its_limits(capped, operator, user_api):
    staff = client_for(operator)
    response = staff.patch(f"/api/tokens/{capped.pk}/", {"rpm_limit": 0, "subnets": []},
                           format="json")
    assert response.status_code == 200
    mine = user_api.patch(f"/api/tokens/{capped.pk}/",
                          {"rpm_limit": 1000, "subnets": ["10.0.0.0/8"]}, format="json")
    assert mine.status_code == 200
    still = user_api.patch(f"/api/tokens/{capped.pk}/", {"tpm_limit": 0}, format="json")
    assert still.status_code == 400


def test_limits_on_a_token_an_operator_created_for_the_user_are_ceilings(operator, rich_user,
                                                                        user_api):
    response = client_for(operator).post(
        "/api/tokens/", {"user": rich_user.pk, "name": "given", **LIMITS}, format="json"
    )
    assert response.status_code == 201, response.content
    patch = user_api.patch(f"/api/tokens/{response.json()['id']}/", {"rpm_limit": 0},
                           format="json")
    assert patch.status_code == 400 and list(patch.json()) == ["rpm_limit"]


def test_a_token_an_operator_disabled_stays_disabled_for_its_owner(capped, operator,
                                                                   user_api):
    client_for(operator).patch(f"/api/tokens/{capped.pk}/", {"status": "disabled"},
                               format="json")
    response = user_api.patch(f"/api/tokens/{capped.pk}/", {"status": "enabled"},
                              format="json")
    assert response.status_code == 400 and list(response.json()) == ["status"]
    assert Token.objects.get(pk=capped.pk).status == "disabled"


def test_a_token_an_operator_revoked_in_the_admin_stays_disabled(client, operator, rich_user,
                                                                 user_api):
    token, _key = create_token(rich_user, "mine", remain_quota=5)
    client.force_login(operator)
    client.post(reverse("admin:billing_token_changelist"),
                {"action": "revoke", "_selected_action": [token.pk]})
    response = user_api.patch(f"/api/tokens/{token.pk}/", {"status": "enabled"},
                              format="json")
    assert response.status_code == 400
    assert Token.objects.get(pk=token.pk).status == "disabled"


def test_a_users_own_tokens_and_unlimited_fields_are_their_choice(rich_user, user_api):
    token, _key = create_token(rich_user, "mine", rpm_limit=5, subnets=["10.0.0.0/8"])
    loose = {"rpm_limit": 0, "subnets": [], "unlimited_quota": True, "status": "disabled"}
    response = user_api.patch(f"/api/tokens/{token.pk}/", loose, format="json")
    assert response.status_code == 200
    again = user_api.patch(f"/api/tokens/{token.pk}/", {"status": "enabled"}, format="json")
    assert again.status_code == 200


def test_ceilings_bind_an_admin_on_their_own_token_that_root_limited(admin_user,
                                                                    operator_user):
    token, _key = create_token(operator_user, "theirs", unlimited_quota=True)
    client_for(admin_user).patch(f"/api/tokens/{token.pk}/", {"rpm_limit": 5}, format="json")
    response = client_for(operator_user).patch(f"/api/tokens/{token.pk}/", {"rpm_limit": 0},
                                               format="json")
    assert response.status_code == 400


# --- The admin form follows the same rule ------------------------------------------------
def admin_form(token: Token, **overrides) -> dict:
    """The change form's POST data for `token` as stored, with `overrides` (admin widgets:
    comma-separated lists, a split date and time, a checkbox only when ticked)."""
    token.refresh_from_db()
    local = timezone.localtime(token.expires_at) if token.expires_at else None
    data = {
        "name": token.name, "status": token.status,
        "expires_at_0": local.strftime("%Y-%m-%d") if local else "",
        "expires_at_1": local.strftime("%H:%M:%S") if local else "",
        "remain_quota": token.remain_quota, "allowed_models": ", ".join(token.allowed_models),
        "subnets": ", ".join(token.subnets), "rpm_limit": token.rpm_limit,
        "tpm_limit": token.tpm_limit, "max_concurrency": token.max_concurrency,
    }  # fmt: skip
    if token.unlimited_quota:
        data["unlimited_quota"] = "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not False}


ADMIN_LOOSER = [
    ("rpm_limit", 0), ("tpm_limit", 20_000), ("max_concurrency", 0), ("subnets", ""),
    ("subnets", "192.168.0.0/16"), ("allowed_models", ""), ("allowed_models", "gpt-4o"),
    ("expires_at_0", ""), ("unlimited_quota", "on"), ("remain_quota", 2_000_000),
]  # fmt: skip


@pytest.fixture
def capped_in_admin(client, operator, rich_user):
    """A token the user made, then limited by an operator through the admin change form."""
    token, _key = create_token(rich_user, "mine", unlimited_quota=True)
    client.force_login(operator)
    limits = {k: v for k, v in LIMITS.items() if k not in ("expires_at", "unlimited_quota")}
    limits = {k: ", ".join(v) if isinstance(v, list) else v for k, v in limits.items()}
    local = timezone.localtime(EXPIRES)
    response = client.post(
        reverse("admin:billing_token_change", args=[token.pk]),
        admin_form(token, **limits, user=rich_user.pk, unlimited_quota=False,
                   expires_at_0=local.strftime("%Y-%m-%d"),
                   expires_at_1=local.strftime("%H:%M:%S")),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.logout()
    return token


@pytest.mark.parametrize(("field", "value"), ADMIN_LOOSER)
def test_a_user_cannot_loosen_an_operators_limit_in_the_admin(capped_in_admin, client,
                                                              rich_user, field, value):
    before = stored(capped_in_admin)
    client.force_login(rich_user)
    overrides = {field: value, "expires_at_1": ""} if field == "expires_at_0" else {field: value}
    response = client.post(reverse("admin:billing_token_change", args=[capped_in_admin.pk]),
                           admin_form(capped_in_admin, **overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field.removesuffix("_0")] and "operator" in str(errors)
    assert stored(capped_in_admin) == before


def test_a_user_may_tighten_an_operators_limits_in_the_admin(capped_in_admin, client,
                                                             rich_user, user_api):
    client.force_login(rich_user)
    response = client.post(
        reverse("admin:billing_token_change", args=[capped_in_admin.pk]),
        admin_form(capped_in_admin, rpm_limit=30, subnets="127.0.0.1", remain_quota=10,
                   allowed_models="gpt-4o-mini"),
    )
    assert response.status_code == 302
    capped_in_admin.refresh_from_db()
    assert (capped_in_admin.rpm_limit, capped_in_admin.subnets) == (30, ["127.0.0.1"])
    # The admin's ceilings are the API's: the same token refuses the API's loosening too.
    assert user_api.patch(f"/api/tokens/{capped_in_admin.pk}/", {"rpm_limit": 0},
                          format="json").status_code == 400


# --- The relay still enforces the limits -----------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_after_a_refused_patch_the_relay_still_refuses_models_outside_the_list(
    async_client, fake_openai
):
    def world():
        make_price()
        make_price("gpt-4o")
        make_channel(base_url=fake_openai.url, models=("gpt-4o-mini", "gpt-4o"))
        root = make_user("root", role="root")
        user = make_user("member", quota=5_000_000)
        token, key = create_token(user, "mine", unlimited_quota=True)
        limited = client_for(root).patch(f"/api/tokens/{token.pk}/",
                                         {"allowed_models": ["gpt-4o-mini"]}, format="json")
        assert limited.status_code == 200
        cleared = client_for(user).patch(f"/api/tokens/{token.pk}/", {"allowed_models": []},
                                         format="json")
        assert cleared.status_code == 400
        return key

    key = await sync_to_async(world)()
    response = await post(async_client, "/v1/chat/completions", {**CHAT, "model": "gpt-4o"},
                          key)
    assert response.status_code == 403 and error_of(response)["code"] == "model_not_allowed"
    served = await post(async_client, "/v1/chat/completions", CHAT, key)
    assert served.status_code == 200


def test_the_admin_form_tells_the_owner_each_ceiling(capped_in_admin, client, rich_user):
    client.force_login(rich_user)
    page = client.get(reverse("admin:billing_token_change", args=[capped_in_admin.pk]))
    fields = page.context["adminform"].form.fields
    assert "choose from 1 to 60" in str(fields["rpm_limit"].help_text)
    assert "127.0.0.0/8" in str(fields["subnets"].help_text)
    assert "cannot be unlimited" in str(fields["unlimited_quota"].help_text)
    assert "gpt-4o-nano" in str(fields["allowed_models"].help_text)
    assert "empty means" not in str(fields["allowed_models"].help_text).lower()
