"""Who may manage whom in the admin (billing.roles): an admin manages users and their own
password and tokens; root's and other admins' accounts, balances and tokens are root's."""

import re

import pytest
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from billing.models import AccessToken, Token, TokenStatus, User, UserRole
from billing.models.tokens import hash_key
from billing.services import create_token
from conftest import make_user

from .test_admin_actions import post_action, token_form

pytestmark = pytest.mark.django_db

ACCESS_ADD = reverse("admin:billing_accesstoken_add")


@pytest.fixture
def other_admin(db):
    return make_user("admin2", role=UserRole.ADMIN, quota=100)


def test_an_admin_who_adds_an_access_token_for_root_gets_no_root_powers_on_the_api(
    operator_client, admin_user
):
    """The attack from issue 10: choose root as the owner, use the key on /api."""
    response = operator_client.post(ACCESS_ADD, {"user": admin_user.pk, "name": "mine now"})
    assert response.status_code == 200  # the form again, with an error on the owner
    assert "user" in response.context["adminform"].form.errors
    assert not AccessToken.objects.filter(user=admin_user).exists()
    for key in re.findall(r"opat_[\w-]+", response.content.decode()):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        api.post("/api/users/", {"username": "evil", "role": "root"}, format="json")
    assert not User.objects.filter(username="evil").exists()


def test_an_admin_cannot_add_an_access_token_for_another_admin(operator_client, other_admin):
    response = operator_client.post(ACCESS_ADD, {"user": other_admin.pk, "name": "x"})
    assert "user" in response.context["adminform"].form.errors
    assert not AccessToken.objects.exists()


def test_an_admin_adds_access_tokens_for_users_and_for_themselves(
    operator_client, operator_user, rich_user
):
    for owner in (rich_user, operator_user):
        response = operator_client.post(ACCESS_ADD, {"user": owner.pk, "name": "ok"})
        ((_name, key),) = response.context["rows"]
        assert key.startswith("opat_")
    assert AccessToken.objects.filter(user__in=[rich_user, operator_user]).count() == 2


def _access_token(user, name):
    token = AccessToken(user=user, name=name)
    token.assign_new_key()
    token.save()
    return token


def test_access_tokens_of_root_and_other_admins_are_invisible_to_an_admin(
    operator_client, operator_user, admin_user, other_admin, rich_user
):
    hidden = [_access_token(admin_user, "root-pat"), _access_token(other_admin, "admin2-pat")]
    _access_token(operator_user, "own-pat")
    _access_token(rich_user, "user-pat")
    listing = operator_client.get(reverse("admin:billing_accesstoken_changelist"))
    names = {t.name for t in listing.context["cl"].result_list}
    assert names == {"own-pat", "user-pat"}
    for token in hidden:
        page = operator_client.get(reverse("admin:billing_accesstoken_change", args=[token.pk]))
        assert page.status_code == 302  # answered like a missing row
        delete = reverse("admin:billing_accesstoken_delete", args=[token.pk])
        operator_client.post(delete, {"post": "yes"})
    assert AccessToken.objects.filter(pk__in=[t.pk for t in hidden]).count() == 2


def test_root_sees_every_access_token(root_client, operator_user):
    _access_token(operator_user, "admin-pat")
    listing = root_client.get(reverse("admin:billing_accesstoken_changelist"))
    assert [t.name for t in listing.context["cl"].result_list] == ["admin-pat"]


def test_an_admin_cannot_make_root_or_another_admin_the_owner_of_a_relay_token(
    operator_client, admin_user, other_admin
):
    for owner in (admin_user, other_admin):
        response = operator_client.post(reverse("admin:billing_token_add"),
                                        token_form(user=owner.pk))
        assert "user" in response.context["adminform"].form.errors
    assert not Token.objects.exists()


def test_the_token_owner_autocomplete_offers_an_admin_only_users_and_themselves(
    operator_client, operator_user, admin_user, other_admin, rich_user
):
    query = {"app_label": "billing", "model_name": "token", "field_name": "user", "term": ""}
    response = operator_client.get(reverse("admin:autocomplete"), query)
    offered = {row["text"] for row in response.json()["results"]}
    assert offered == {operator_user.username, rich_user.username}


def test_an_admin_can_see_but_not_change_revoke_or_regenerate_root_relay_tokens(
    operator_client, admin_user
):
    token, key = create_token(admin_user, "root's")
    change = reverse("admin:billing_token_change", args=[token.pk])
    assert operator_client.get(change).status_code == 200  # read-only view
    operator_client.post(change, token_form(name="renamed", status="disabled"))
    for action in ("revoke", "regenerate_keys"):
        response = post_action(operator_client, "billing_token", action, [token])
        assert "sk-" not in response.content.decode()
    token.refresh_from_db()
    assert (token.name, token.status) == ("root's", TokenStatus.ENABLED)
    assert token.key_hash == hash_key(key)


def test_an_admin_cannot_top_up_root_another_admin_or_themselves(
    operator_client, operator_user, admin_user, other_admin, rich_user
):
    targets = [admin_user, other_admin, operator_user]
    post_action(operator_client, "billing_user", "top_up", [*targets, rich_user],
                apply="1", quota="5000", note="")
    quotas = dict(User.objects.values_list("username", "quota"))
    assert [quotas[u.username] for u in targets] == [u.quota for u in targets]
    assert quotas[rich_user.username] == rich_user.quota  # the whole action is refused


def test_an_admin_tops_up_users(operator_client, rich_user, broke_user):
    post_action(operator_client, "billing_user", "top_up", [rich_user, broke_user],
                apply="1", quota="5000", note="")
    broke_user.refresh_from_db()
    assert broke_user.quota == 5000


def test_an_admin_cannot_create_relay_tokens_for_root_or_admins_with_the_user_action(
    operator_client, admin_user, other_admin
):
    response = post_action(operator_client, "billing_user", "create_tokens",
                           [admin_user, other_admin])
    assert "sk-" not in response.content.decode()
    assert not Token.objects.exists()


def test_an_admin_cannot_delete_another_admin_with_the_bulk_action(
    operator_client, other_admin
):
    post_action(operator_client, "billing_user", "delete_selected", [other_admin], post="yes")
    assert User.objects.filter(pk=other_admin.pk).exists()


def test_an_admin_cannot_set_another_admins_password_in_the_admin(operator_client, other_admin):
    url = reverse("admin:auth_user_password_change", args=[other_admin.pk])
    data = {"password1": "a-new-long-passphrase-8421", "password2": "a-new-long-passphrase-8421"}
    assert operator_client.post(url, data).status_code == 403
    other_admin.refresh_from_db()
    assert not other_admin.check_password("a-new-long-passphrase-8421")


def test_an_admin_adds_accounts_of_role_user_only_in_the_admin(operator_client, default_group):
    password = "a-new-long-passphrase-8421"
    data = {"username": "newbie", "password1": password, "password2": password,
            "role": "admin", "group": default_group.pk, "quota": "0"}
    operator_client.post(reverse("admin:billing_user_add"), data)
    assert User.objects.get(username="newbie").role == UserRole.USER


def _periodic_task():
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    return PeriodicTask.objects.create(name="demo-job", task="demo.task", interval=every)


def test_admin_role_operators_see_and_pause_periodic_tasks(operator_client):
    task = _periodic_task()
    changelist = "django_celery_beat_periodictask"
    assert operator_client.get(reverse(f"admin:{changelist}_changelist")).status_code == 200
    apps = operator_client.get(reverse("admin:index")).context["app_list"]
    assert "django_celery_beat" in {app["app_label"] for app in apps}
    post_action(operator_client, changelist, "disable_tasks", [task])
    task.refresh_from_db()
    assert task.enabled is False
    interval = reverse("admin:django_celery_beat_intervalschedule_change", args=[task.interval_id])
    assert operator_client.get(interval).status_code == 200


def test_self_service_users_do_not_see_periodic_tasks(member_client):
    _periodic_task()
    url = reverse("admin:django_celery_beat_periodictask_changelist")
    assert member_client.get(url).status_code == 403


# The README's table of who may do what to whom, row by row, against billing.roles.
TARGETS = ("root", "admin", "self", "user")
RULES = {
    # predicate: (targets root may, admin may, user may)
    "may_manage": ({"root", "admin", "self", "user"}, {"user"}, set()),
    "may_set_password": ({"root", "admin", "self", "user"}, {"self", "user"}, {"self"}),
    "may_own_tokens_of": ({"root", "admin", "self", "user"}, {"self", "user"}, {"self"}),
    "may_see_relay_tokens_of": (set(TARGETS), set(TARGETS), {"self"}),
}


@pytest.mark.parametrize("predicate", RULES)
@pytest.mark.parametrize("actor_index, actor_role", list(enumerate(["root", "admin", "user"])))
def test_the_role_table_in_the_readme_is_what_billing_roles_says(
    predicate, actor_index, actor_role
):
    from billing import roles

    actor = make_user(f"actor-{actor_role}", role=actor_role)
    others = {"root": make_user("r2", role="root"), "admin": make_user("a2", role="admin"),
              "user": make_user("u2"), "self": actor}
    allowed = {t for t in TARGETS if getattr(roles, predicate)(actor, others[t])}
    assert allowed == RULES[predicate][actor_index]


def test_only_root_and_the_console_give_the_admin_or_root_role():
    from billing import roles

    assert roles.assignable_roles(make_user("r", role="root")) == ("user", "admin", "root")
    assert roles.assignable_roles(roles.CONSOLE) == ("user", "admin", "root")
    assert roles.assignable_roles(make_user("a", role="admin")) == ("user",)
    assert roles.assignable_roles(make_user("u")) == ()


def test_user_roles_take_their_values_from_core_roles():
    from core import roles as core_roles

    assert (UserRole.USER, UserRole.ADMIN, UserRole.ROOT) == (
        core_roles.USER, core_roles.ADMIN, core_roles.ROOT)
