"""Logs, usage rollups and options through the API."""

import datetime

import pytest

from billing.models import DailyUsage, Log, LogType
from billing.services import create_token
from conftest import make_channel, make_user
from core import options

pytestmark = pytest.mark.django_db


def _log(user, **fields):
    return Log.objects.create(type=LogType.CONSUME, user=user, username=user.username,
                              **fields)


def test_users_see_only_their_own_logs_without_channel_details(user_api, rich_user):
    channel = make_channel("c")
    mine = _log(rich_user, model="gpt-4o", quota=5, channel=channel)
    _log(make_user("bob"), model="gpt-4o")
    rows = user_api.get("/api/logs/").json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
    assert "channel" not in rows[0] and rows[0]["quota"] == 5
    assert user_api.post("/api/logs/", {}, format="json").status_code == 405  # read-only


def test_staff_filter_logs_by_type_model_and_time(staff_api, rich_user):
    _log(rich_user, model="gpt-4o")
    _log(rich_user, model="claude")
    Log.objects.create(type=LogType.TOPUP, user=rich_user, quota=9)
    assert len(staff_api.get("/api/logs/?type=consume").json()["results"]) == 2
    assert len(staff_api.get("/api/logs/?model=claude").json()["results"]) == 1
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()
    assert staff_api.get("/api/logs/", {"since": future}).json()["results"] == []
    assert "channel" in staff_api.get("/api/logs/").json()["results"][0]


def test_logs_page_by_cursor_newest_first(staff_api, rich_user):
    ids = [_log(rich_user, model=f"m{i}").pk for i in range(5)]
    page = staff_api.get("/api/logs/?page_size=2").json()
    assert [r["id"] for r in page["results"]] == ids[::-1][:2]
    second = staff_api.get(page["next"]).json()
    assert [r["id"] for r in second["results"]] == ids[::-1][2:4]


def _usage(day, user, token, model, quota, requests=1):
    DailyUsage.objects.create(day=day, user_id=user.pk, token_id=token.pk, model=model,
                              quota=quota, requests=requests, prompt_tokens=10,
                              completion_tokens=5)


def test_usage_rolls_up_by_day_model_and_token_for_the_caller_only(user_api, rich_user):
    today = datetime.date.today()
    token, _key = create_token(rich_user, "ci")
    _usage(today, rich_user, token, "gpt-4o", 100, requests=2)
    _usage(today, rich_user, token, "claude", 50)
    _usage(today - datetime.timedelta(days=1), rich_user, token, "gpt-4o", 7)
    bob = make_user("bob")
    _usage(today, bob, create_token(bob, "b")[0], "gpt-4o", 1000)
    by_day = user_api.get("/api/usage/").json()
    assert [(r["day"], r["quota"]) for r in by_day["results"]] == [
        ((today - datetime.timedelta(days=1)).isoformat(), 7), (today.isoformat(), 150)]
    assert by_day["totals"]["quota"] == 157 and by_day["totals"]["requests"] == 4
    by_model = user_api.get("/api/usage/?group_by=model,token").json()["results"]
    assert by_model == [
        {"model": "claude", "token": token.pk, "token_name": "ci", "requests": 1, "errors": 0,
         "prompt_tokens": 10, "completion_tokens": 5, "quota": 50},
        {"model": "gpt-4o", "token": token.pk, "token_name": "ci", "requests": 3, "errors": 0,
         "prompt_tokens": 20, "completion_tokens": 10, "quota": 107},
    ]


def test_usage_by_user_is_for_staff_only(user_api, staff_api, rich_user):
    token, _key = create_token(rich_user, "ci")
    _usage(datetime.date.today(), rich_user, token, "gpt-4o", 100)
    assert user_api.get("/api/usage/?group_by=user").status_code == 403
    rows = staff_api.get("/api/usage/?group_by=user").json()["results"]
    assert rows[0]["user"] == rich_user.pk and rows[0]["quota"] == 100


def test_usage_rejects_bad_parameters(user_api):
    assert "group_by" in user_api.get("/api/usage/?group_by=planet").json()
    bad = user_api.get("/api/usage/?start=2026-02-01&end=2026-01-01")
    assert bad.status_code == 400 and "start" in bad.json()


def test_options_list_typed_values_with_defaults(staff_api):
    rows = {o["key"]: o for o in staff_api.get("/api/options/").json()["results"]}
    assert rows["retry_times"] == {**rows["retry_times"], "value": 2, "default": 2,
                                   "type": "integer"}
    assert rows["auto_disable_enabled"]["type"] == "boolean"


def test_the_options_list_is_paginated_like_every_other_list(staff_api):
    from billing.option_specs import OPTION_SPECS

    options, users = staff_api.get("/api/options/"), staff_api.get("/api/users/")
    assert options.status_code == users.status_code == 200
    assert set(options.json()) == set(users.json()) == {"count", "next", "previous", "results"}
    body = options.json()
    assert body["count"] == len(OPTION_SPECS)
    assert [row["key"] for row in body["results"]] == sorted(OPTION_SPECS)[:50]
    assert staff_api.get("/api/options/?page=999").status_code == 404


def test_setting_an_option_is_typed_and_reaches_readers(staff_api,
                                                        django_capture_on_commit_callbacks):
    assert staff_api.patch("/api/options/retry_times/", {"value": "lots"},
                           format="json").status_code == 400
    assert staff_api.patch("/api/options/retry_times/", {"value": True},
                           format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.patch("/api/options/retry_times/", {"value": 4}, format="json")
    assert response.status_code == 200 and response.json()["value"] == 4
    assert options.get("retry_times") == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_api.delete("/api/options/retry_times/").status_code == 204
    assert options.get("retry_times") == 2


def test_an_unknown_option_is_404(staff_api):
    assert staff_api.get("/api/options/no_such_option/").status_code == 404
    assert staff_api.patch("/api/options/no_such_option/", {"value": 1},
                           format="json").status_code == 404
