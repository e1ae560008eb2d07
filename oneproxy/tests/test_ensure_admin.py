import io

import pytest
from django.core.management import call_command

from billing.models import User, UserRole

pytestmark = pytest.mark.django_db


def _run(monkeypatch, **env):
    for name in ("ONEPROXY_ADMIN_USERNAME", "ONEPROXY_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_it_generates_and_prints_a_random_password_once(monkeypatch):
    output = _run(monkeypatch)
    password = output.split("Generated password (shown once): ")[1].strip()
    admin = User.objects.get(username="admin")
    assert len(password) >= 16 and password != "123456"
    assert admin.check_password(password)
    assert admin.role == UserRole.ROOT and admin.is_superuser and admin.is_staff


def test_running_it_again_changes_nothing_and_prints_no_password(monkeypatch):
    _run(monkeypatch)
    again = _run(monkeypatch)
    assert "password" not in again.lower().replace("password unchanged", "")
    assert User.objects.filter(is_superuser=True).count() == 1


def test_credentials_come_from_the_environment_when_given(monkeypatch):
    output = _run(
        monkeypatch, ONEPROXY_ADMIN_USERNAME="ops", ONEPROXY_ADMIN_PASSWORD="s3cret-pass-phrase"
    )
    assert "Generated password" not in output
    assert User.objects.get(username="ops").check_password("s3cret-pass-phrase")


def test_the_admin_login_works_with_the_printed_credentials(monkeypatch, client):
    output = _run(monkeypatch)
    password = output.split("Generated password (shown once): ")[1].strip()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": password}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
