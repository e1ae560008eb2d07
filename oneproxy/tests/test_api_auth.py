"""Who gets in: access tokens, sessions, and the staff/owner boundaries."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from billing.models import AccessToken, Token, UserStatus
from billing.services import create_token
from conftest import make_user

from .api_fixtures import client_for

pytestmark = pytest.mark.django_db


def test_it_answers_401_with_a_bearer_challenge_without_credentials(anon_api):
    response = anon_api.get("/api/tokens/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "detail" in response.json()


def test_it_rejects_an_unknown_access_token_with_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer opat_not-a-real-key")
    assert client.get("/api/tokens/").status_code == 401


def test_it_does_not_accept_a_relay_client_key_as_an_access_token(rich_user):
    _token, key = create_token(rich_user, "relay key")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/tokens/").status_code == 401


def test_it_refuses_the_access_token_of_a_disabled_user(rich_user):
    client = client_for(rich_user)
    rich_user.status = UserStatus.DISABLED
    rich_user.save()
    assert client.get("/api/users/me/").status_code == 401


def test_it_records_when_an_access_token_was_last_used(user_api, rich_user):
    assert user_api.get("/api/users/me/").status_code == 200
    assert AccessToken.objects.get(user=rich_user).last_used_at is not None


def test_a_session_login_works_too(rich_user):
    client = APIClient()
    assert client.login(username="rich", password="pw-rich-0123456789")
    response = client.get("/api/users/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "rich"


def test_a_session_write_needs_a_csrf_token(rich_user):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="rich", password="pw-rich-0123456789")
    assert client.post("/api/tokens/", {"name": "x"}, format="json").status_code == 403


def test_non_staff_users_get_403_on_operator_resources(user_api):
    for path in ("/api/channels/", "/api/redemptions/", "/api/options/"):
        assert user_api.get(path).status_code == 403, path
    assert user_api.post("/api/groups/", {"name": "x"}, format="json").status_code == 403
    assert user_api.post("/api/prices/", {"model": "m"}, format="json").status_code == 403


def test_users_see_only_their_own_tokens_and_get_404_for_others(user_api, rich_user):
    other = make_user("bob")
    mine, _key = create_token(rich_user, "mine")
    theirs, _key = create_token(other, "theirs")
    listed = [t["id"] for t in user_api.get("/api/tokens/").json()["results"]]
    assert listed == [mine.pk]
    assert user_api.get(f"/api/tokens/{theirs.pk}/").status_code == 404
    assert user_api.delete(f"/api/tokens/{theirs.pk}/").status_code == 404
    assert Token.objects.filter(pk=theirs.pk).exists()


def test_staff_see_every_token(staff_api, rich_user):
    create_token(rich_user, "one")
    create_token(make_user("bob"), "two")
    assert staff_api.get("/api/tokens/").json()["count"] == 2


def test_create_access_token_prints_a_key_that_authenticates(rich_user, capsys):
    call_command("create_access_token", "rich", "--name", "ci")
    key = capsys.readouterr().out.strip()
    assert key.startswith("opat_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/users/me/").json()["username"] == "rich"
    assert AccessToken.objects.get(user=rich_user).name == "ci"


def test_create_access_token_fails_clearly_for_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_access_token", "ghost")
