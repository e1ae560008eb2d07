"""Users, groups, tokens, prices and redemptions through the API."""

import pytest

from billing.models import Group, Log, LogType, Price, Redemption, Token, User, UserRole
from billing.models.tokens import hash_key
from billing.services import create_token, generate_redemptions
from conftest import make_user
from core import cachebus

from .api_fixtures import client_for

pytestmark = pytest.mark.django_db


# --- tokens ------------------------------------------------------------------------------
def test_a_new_token_shows_its_key_once(user_api, rich_user):
    response = user_api.post("/api/tokens/", {"name": "ci", "remain_quota": 1000,
                                              "allowed_models": ["gpt-4o"],
                                              "subnets": ["10.0.0.0/8"]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    key = body["key"]
    assert key.startswith("sk-") and len(key) == 51
    token = Token.objects.get(pk=body["id"])
    assert token.key_hash == hash_key(key) and token.user == rich_user
    again = user_api.get(f"/api/tokens/{token.pk}/").json()
    assert "key" not in again and again["key_prefix"] == key[:8]
    listed = user_api.get("/api/tokens/").json()["results"]
    assert all("key" not in t for t in listed)


def test_a_user_cannot_create_a_token_for_someone_else(user_api, rich_user):
    other = make_user("bob")
    body = user_api.post("/api/tokens/", {"name": "x", "user": other.pk}, format="json").json()
    assert Token.objects.get(pk=body["id"]).user == rich_user


def test_staff_can_create_a_token_for_any_user(staff_api, rich_user):
    body = staff_api.post("/api/tokens/", {"name": "x", "user": rich_user.pk},
                          format="json").json()
    assert Token.objects.get(pk=body["id"]).user == rich_user


def test_bad_token_fields_get_field_errors(user_api):
    response = user_api.post("/api/tokens/", {"name": "x", "subnets": ["not-an-ip"],
                                              "remain_quota": -5,
                                              "expires_at": "2001-01-01T00:00:00Z"},
                             format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"subnets", "remain_quota"}
    past = user_api.post("/api/tokens/", {"name": "x", "expires_at": "2001-01-01T00:00:00Z"},
                         format="json")
    assert past.status_code == 400 and "expires_at" in past.json()


def test_regenerate_replaces_the_key_and_shows_the_new_one(user_api, rich_user,
                                                           django_capture_on_commit_callbacks):
    token, old = create_token(rich_user, "t")
    with django_capture_on_commit_callbacks(execute=True):
        response = user_api.post(f"/api/tokens/{token.pk}/regenerate/")
    assert response.status_code == 200
    new = response.json()["key"]
    token.refresh_from_db()
    assert new != old and token.key_hash == hash_key(new)
    assert cachebus.versions("auth")[0] > 0


def test_disabling_a_token_invalidates_the_auth_cache(user_api, rich_user,
                                                      django_capture_on_commit_callbacks):
    token, _key = create_token(rich_user, "t")
    before = cachebus.versions("auth")[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = user_api.patch(f"/api/tokens/{token.pk}/", {"status": "disabled"},
                                  format="json")
    assert response.status_code == 200
    assert Token.objects.get(pk=token.pk).status == "disabled"
    assert cachebus.versions("auth")[0] != before


def test_put_is_not_offered_so_nothing_is_wiped_by_accident(user_api, rich_user):
    token, _key = create_token(rich_user, "t")
    assert user_api.put(f"/api/tokens/{token.pk}/", {"name": "x"}, format="json"
                        ).status_code == 405


# --- users -------------------------------------------------------------------------------
def test_staff_create_a_user_who_can_then_log_in(staff_api):
    response = staff_api.post("/api/users/", {"username": "carol", "password": "a-Long-pass-42",
                                              "quota": 777, "group": "default"}, format="json")
    assert response.status_code == 201, response.json()
    assert "password" not in response.json()
    carol = User.objects.get(username="carol")
    assert carol.check_password("a-Long-pass-42") and carol.quota == 777


def test_a_weak_password_is_a_field_error(staff_api):
    response = staff_api.post("/api/users/", {"username": "dan", "password": "123"},
                              format="json")
    assert response.status_code == 400 and "password" in response.json()


def test_a_balance_changes_only_through_topup(staff_api, rich_user):
    response = staff_api.patch(f"/api/users/{rich_user.pk}/", {"quota": 1}, format="json")
    assert response.status_code == 400 and "quota" in response.json()


def test_topup_adds_quota_and_writes_a_log_row(staff_api, rich_user):
    response = staff_api.post(f"/api/users/{rich_user.pk}/topup/", {"quota": 1000},
                              format="json")
    assert response.status_code == 200
    assert response.json() == {"user": rich_user.pk, "quota": 5_001_000, "added": 1000}
    log = Log.objects.get(type=LogType.TOPUP, user=rich_user)
    assert log.quota == 1000 and "root" in log.content


def test_topup_rejects_a_non_positive_amount(staff_api, rich_user):
    response = staff_api.post(f"/api/users/{rich_user.pk}/topup/", {"quota": 0}, format="json")
    assert response.status_code == 400 and "quota" in response.json()


def test_users_see_only_themselves_and_cannot_top_up(user_api, rich_user):
    make_user("bob")
    listed = user_api.get("/api/users/").json()["results"]
    assert [u["username"] for u in listed] == ["rich"]
    me = user_api.get("/api/users/me/").json()
    assert me["quota"] == 5_000_000
    assert user_api.post(f"/api/users/{rich_user.pk}/topup/", {"quota": 5},
                         format="json").status_code == 403
    assert user_api.patch(f"/api/users/{rich_user.pk}/", {"display_name": "x"},
                          format="json").status_code == 403


def test_an_admin_cannot_create_or_edit_root_users(admin_user):
    operator = make_user("operator", role=UserRole.ADMIN)
    api = client_for(operator)
    made = api.post("/api/users/", {"username": "eve", "role": "root"}, format="json")
    assert made.status_code == 400 and "role" in made.json()
    edited = api.patch(f"/api/users/{admin_user.pk}/", {"display_name": "x"}, format="json")
    assert edited.status_code == 403  # not a bad value: an account admins do not manage
    assert api.delete(f"/api/users/{admin_user.pk}/").status_code == 403


def test_users_filter_by_group_and_search(staff_api, vip_user, rich_user):
    assert [u["username"] for u in staff_api.get("/api/users/?group=vip").json()["results"]] == [
        "vip"]
    assert staff_api.get("/api/users/?search=ric").json()["count"] == 1


# --- groups and prices --------------------------------------------------------------------
def test_groups_are_created_with_a_numeric_ratio(staff_api):
    response = staff_api.post("/api/groups/", {"name": "vip", "ratio": 0.8}, format="json")
    assert response.status_code == 201
    assert response.json()["ratio"] == 0.8


def test_a_group_in_use_cannot_be_deleted(staff_api, vip_user):
    group = Group.objects.get(name="vip")
    response = staff_api.delete(f"/api/groups/{group.pk}/")
    assert response.status_code == 409 and "vip" in response.json()["detail"]
    default = Group.objects.get(name="default")
    assert staff_api.delete(f"/api/groups/{default.pk}/").status_code == 400


def test_prices_round_trip_as_numbers(staff_api, user_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post("/api/prices/", {"model": "gpt-4o", "input_price": 2.5,
                                                   "output_price": "10"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["input_price"] == 2.5 and response.json()["output_price"] == 10
    assert str(Price.objects.get(model="gpt-4o").input_price) == "2.500000"
    assert cachebus.versions("prices")[0] > 0
    assert user_api.get("/api/prices/?model=gpt-4o").json()["count"] == 1


def test_a_price_needs_token_or_request_prices(staff_api):
    response = staff_api.post("/api/prices/", {"model": "m"}, format="json")
    assert response.status_code == 400 and "input_price" in response.json()


# --- redemptions --------------------------------------------------------------------------
def test_staff_generate_codes_that_users_redeem_once(staff_api, user_api, rich_user):
    response = staff_api.post("/api/redemptions/generate/", {"count": 3, "quota": 500},
                              format="json")
    assert response.status_code == 201
    codes = [r["code"] for r in response.json()]
    assert len(set(codes)) == 3
    redeemed = user_api.post("/api/redeem/", {"code": codes[0]}, format="json")
    assert redeemed.status_code == 200
    assert redeemed.json() == {"added": 500, "quota": 5_000_500}
    again = user_api.post("/api/redeem/", {"code": codes[0]}, format="json")
    assert again.status_code == 400 and "code" in again.json()
    assert Redemption.objects.get(code=codes[0]).redeemed_by == rich_user


def test_a_used_code_cannot_be_reactivated(staff_api, rich_user):
    (code,) = generate_redemptions(1, 10)
    client_for(rich_user).post("/api/redeem/", {"code": code.code}, format="json")
    response = staff_api.patch(f"/api/redemptions/{code.pk}/", {"status": "unused"},
                               format="json")
    assert response.status_code == 400 and "status" in response.json()


def test_a_single_code_can_be_created_with_a_chosen_code(staff_api, admin_user):
    response = staff_api.post("/api/redemptions/", {"code": "WELCOME-2026", "quota": 50},
                              format="json")
    assert response.status_code == 201
    assert Redemption.objects.get(code="WELCOME-2026").created_by == admin_user
    dup = staff_api.post("/api/redemptions/", {"code": "WELCOME-2026", "quota": 50},
                         format="json")
    assert dup.status_code == 400 and "code" in dup.json()
