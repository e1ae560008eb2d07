"""The admin dashboard: built from the daily rollups and channel rows only, drawn as SVG."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import dashboard
from billing.models import DailyUsage, Log, LogType
from channels_app.models import ChannelStatus
from conftest import make_channel, make_user


@pytest.fixture
def usage(db):
    today = timezone.localdate()
    alice, bob = make_user("alice"), make_user("bob")
    good = make_channel("good", response_ms=420)
    flaky = make_channel("flaky", status=ChannelStatus.AUTO_DISABLED)
    make_channel("off", status=ChannelStatus.DISABLED)
    rows = [
        (today, alice, good, "gpt-4o", 10, 0, 1000, 500, 5000),
        (today, bob, flaky, "claude", 20, 5, 100, 100, 9000),
        (today - timedelta(days=3), alice, good, "gpt-4o", 4, 0, 10, 10, 400),
        (today - timedelta(days=45), bob, good, "old-model", 99, 0, 1, 1, 99999),
    ]
    for day, user, channel, model, requests, errors, prompt, completion, quota in rows:
        DailyUsage.objects.create(
            day=day, user_id=user.pk, channel_id=channel.pk, model=model, requests=requests,
            errors=errors, prompt_tokens=prompt, completion_tokens=completion, quota=quota,
        )  # fmt: skip
    # Raw logs that a log scan would count: the dashboard must ignore them.
    Log.objects.create(type=LogType.CONSUME, user=alice, model="from-raw-logs", quota=10**9)
    return {"today": today, "alice": alice, "bob": bob, "good": good, "flaky": flaky}


def test_totals_and_daily_series_cover_the_last_thirty_days(usage):
    data = dashboard.build(today=usage["today"])
    assert data["totals"]["requests"] == 34
    assert data["totals"]["tokens"] == 1720
    assert data["totals"]["quota"] == 14400
    bars = data["requests_chart"]["bars"]
    assert len(bars) == 30 and bars[-1]["value"] == 30 and bars[-4]["value"] == 4
    assert bars[-1]["h"] == max(bar["h"] for bar in bars)  # tallest day, full height


def test_top_models_and_users_are_ranked_by_quota(usage):
    data = dashboard.build(today=usage["today"])
    assert [row["label"] for row in data["top_models"]] == ["claude", "gpt-4o"]
    assert data["top_models"][0]["pct"] == 100.0
    assert [row["label"] for row in data["top_users"]] == ["bob", "alice"]


def test_channel_health_shows_statuses_error_rates_and_latency(usage):
    from channels_app.dashboard import channel_health

    health = channel_health(usage["today"])
    counts = {row["status"]: row["n"] for row in health["counts"]}
    assert counts == {"enabled": 1, "disabled": 1, "auto_disabled": 1}
    first = health["rows"][0]
    assert first["channel"] == usage["flaky"] and first["error_pct"] == 25.0
    good = next(row for row in health["rows"] if row["channel"] == usage["good"])
    assert (good["error_pct"], good["latency_ms"]) == (0.0, 420)


def test_the_dashboard_page_draws_svg_charts_without_reading_raw_logs(root_client, usage):
    with CaptureQueriesContext(connection) as queries:
        response = root_client.get(reverse("admin:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg viewBox") >= 3 and 'class="bar"' in html
    assert "from-raw-logs" not in html and "old-model" not in html
    assert not any("billing_log" in q["sql"] for q in queries.captured_queries)
    assert len(queries.captured_queries) <= 12
