"""Who may manage whom through /api/ (billing.roles), with an admin's access token and with
an admin's session: the same rule as the admin site."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from billing.models import Log, LogType, Token, TokenStatus, User, UserRole
from billing.services import create_token
from conftest import make_user

from .api_fixtures import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "a-new-long-passphrase-8421"


@pytest.fixture
def other_admin(db):
    return make_user("admin2", role=UserRole.ADMIN, quota=100)


@pytest.fixture(params=["access token", "session"])
def admin_api(request, operator_user):
    """The operator (role admin) calling /api/ by access token, then by session."""
    if request.param == "access token":
        return client_for(operator_user)
    client = APIClient()
    client.force_login(operator_user)
    return client


def test_an_admin_cannot_create_an_admin_or_root(admin_api):
    for role in (UserRole.ADMIN, UserRole.ROOT):
        made = admin_api.post("/api/users/", {"username": f"new-{role}", "role": role},
                              format="json")
        assert made.status_code == 400 and "role" in made.json()
    assert not User.objects.filter(username__startswith="new-").exists()


def test_an_admin_cannot_change_another_admins_password(admin_api, other_admin):
    response = admin_api.patch(f"/api/users/{other_admin.pk}/", {"password": PASSWORD},
                               format="json")
    assert response.status_code == 403
    other_admin.refresh_from_db()
    assert not other_admin.check_password(PASSWORD)


def test_an_admin_cannot_demote_disable_or_delete_another_admin(admin_api, other_admin):
    url = f"/api/users/{other_admin.pk}/"
    for change in ({"role": "user"}, {"status": "disabled"}, {"display_name": "x"}):
        assert admin_api.patch(url, change, format="json").status_code == 403, change
    assert admin_api.delete(url).status_code == 403
    other_admin.refresh_from_db()
    assert (other_admin.role, other_admin.status) == (UserRole.ADMIN, "enabled")


def test_an_admin_cannot_edit_or_delete_root(admin_api, admin_user):
    url = f"/api/users/{admin_user.pk}/"
    assert admin_api.patch(url, {"password": PASSWORD}, format="json").status_code == 403
    assert admin_api.delete(url).status_code == 403
    admin_user.refresh_from_db()
    assert not admin_user.check_password(PASSWORD)


def test_an_admin_cannot_top_up_root_another_admin_or_themselves(
    admin_api, admin_user, other_admin, operator_user
):
    for target in (admin_user, other_admin, operator_user):
        response = admin_api.post(f"/api/users/{target.pk}/topup/", {"quota": 5000},
                                  format="json")
        assert response.status_code == 403, target.username
    assert not Log.objects.filter(type=LogType.TOPUP).exists()


def test_an_admin_still_manages_users(admin_api, rich_user):
    url = f"/api/users/{rich_user.pk}/"
    assert admin_api.post(f"{url}topup/", {"quota": 5}, format="json").status_code == 200
    assert admin_api.patch(url, {"password": PASSWORD}, format="json").status_code == 200
    assert admin_api.patch(url, {"status": "disabled"}, format="json").status_code == 200
    rich_user.refresh_from_db()
    assert rich_user.check_password(PASSWORD) and rich_user.quota == 5_000_005


def test_an_admin_changes_their_own_password_but_not_their_role_status_or_group(
    admin_api, operator_user, vip_user
):
    url = f"/api/users/{operator_user.pk}/"
    for change in ({"role": "root"}, {"status": "disabled"}, {"group": "vip"}):
        response = admin_api.patch(url, change, format="json")
        assert response.status_code == 403, change
    change = {"password": PASSWORD, "current_password": "pw-operator-0123456789"}
    assert admin_api.patch(url, change, format="json").status_code == 200
    operator_user.refresh_from_db()
    assert operator_user.role == UserRole.ADMIN and operator_user.check_password(PASSWORD)


def test_a_user_changes_their_own_password_only(user_api, rich_user):
    url = f"/api/users/{rich_user.pk}/"
    change = {"password": PASSWORD, "current_password": "pw-rich-0123456789"}
    assert user_api.patch(url, change, format="json").status_code == 200
    assert user_api.patch(url, {"display_name": "x"}, format="json").status_code == 403
    rich_user.refresh_from_db()
    assert rich_user.check_password(PASSWORD)


@pytest.mark.parametrize("current", [None, "wrong-password-123"])
def test_changing_your_own_password_needs_the_current_one(staff_api, admin_user, current):
    change = {"password": PASSWORD} | ({"current_password": current} if current else {})
    response = staff_api.patch(f"/api/users/{admin_user.pk}/", change, format="json")
    assert response.status_code == 400 and "current_password" in response.json()
    admin_user.refresh_from_db()
    assert not admin_user.check_password(PASSWORD)


def test_an_admin_cannot_create_relay_tokens_owned_by_root_or_another_admin(
    admin_api, admin_user, other_admin
):
    for owner in (admin_user, other_admin):
        response = admin_api.post("/api/tokens/", {"name": "x", "user": owner.pk},
                                  format="json")
        assert response.status_code == 400 and "user" in response.json(), owner.username
    assert not Token.objects.exists()


def test_an_admin_creates_relay_tokens_for_users_and_themselves(
    admin_api, operator_user, rich_user
):
    for owner in (rich_user, operator_user):
        response = admin_api.post("/api/tokens/", {"name": "x", "user": owner.pk},
                                  format="json")
        assert response.status_code == 201 and response.json()["key"].startswith("sk-")


def test_an_admin_sees_but_cannot_change_regenerate_or_revoke_root_relay_tokens(
    admin_api, admin_user
):
    token, key = create_token(admin_user, "root's")
    url = f"/api/tokens/{token.pk}/"
    assert admin_api.get(url).status_code == 200
    assert admin_api.patch(url, {"status": "disabled"}, format="json").status_code == 403
    assert admin_api.post(f"{url}regenerate/").status_code == 403
    assert admin_api.delete(url).status_code == 403
    token.refresh_from_db()
    assert token.status == TokenStatus.ENABLED and token.key_prefix == key[:len(token.key_prefix)]


def test_root_manages_admins(staff_api, operator_user):
    url = f"/api/users/{operator_user.pk}/"
    assert staff_api.post(f"{url}topup/", {"quota": 5}, format="json").status_code == 200
    assert staff_api.patch(url, {"role": "user"}, format="json").status_code == 200
    made = staff_api.post("/api/users/", {"username": "ops2", "role": "admin"}, format="json")
    assert made.status_code == 201
    assert staff_api.delete(f"/api/users/{made.json()['id']}/").status_code == 204


def test_an_admin_cannot_fund_their_own_account_with_codes_they_made(admin_api, operator_user):
    made = admin_api.post("/api/redemptions/generate/", {"count": 1, "quota": 9000},
                          format="json")
    code = made.json()[0]["code"]
    response = admin_api.post("/api/redeem/", {"code": code}, format="json")
    assert response.status_code == 400 and "code" in response.json()
    operator_user.refresh_from_db()
    assert operator_user.quota == 0


def test_codes_made_by_an_admin_top_up_users(admin_api, user_api, rich_user):
    made = admin_api.post("/api/redemptions/generate/", {"count": 1, "quota": 9000},
                          format="json")
    response = user_api.post("/api/redeem/", {"code": made.json()[0]["code"]}, format="json")
    assert response.status_code == 200 and response.json()["added"] == 9000


def test_an_admins_access_token_from_the_console_acts_with_that_admins_rights_only(
    operator_user, capsys
):
    call_command("create_access_token", operator_user.username)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {capsys.readouterr().out.strip()}")
    made = api.post("/api/users/", {"username": "ops2", "role": "admin"}, format="json")
    assert made.status_code == 400 and "role" in made.json()
    assert api.post("/api/users/", {"username": "u2"}, format="json").status_code == 201
