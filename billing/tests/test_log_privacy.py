"""What self-service users may learn from their own log rows: their requests, never which
channel (upstream account) served them; operators keep every detail."""

import csv
import io

import pytest
from django.urls import reverse

from billing.models import Log, LogType
from conftest import make_channel
from oneproxy.tests.api_fixtures import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def served_row(rich_user):
    channel = make_channel(name="azure-eastus-secret-account")
    return Log.objects.create(
        type=LogType.CONSUME, user=rich_user, username=rich_user.username, model="gpt-4o-mini",
        channel=channel, channels_tried=[channel.pk, 987654], quota=10, token_name="app",
    )


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_a_user_does_not_see_the_channel_on_their_log_detail_page(member_client, served_row):
    url = reverse("admin:billing_log_change", args=[served_row.pk])
    page = member_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "azure-eastus-secret-account" not in html
    assert "987654" not in html and "channels tried" not in html.lower()


def test_an_operator_sees_the_channel_on_the_log_detail_page(operator_client, served_row):
    url = reverse("admin:billing_log_change", args=[served_row.pk])
    html = operator_client.get(url).content.decode()
    assert "azure-eastus-secret-account" in html and "987654" in html


def test_a_users_csv_export_has_no_channel_column(member_client, served_row):
    response = member_client.post(reverse("admin:billing_log_changelist"), {
        "action": "export_csv", "_selected_action": [served_row.pk]})
    header, row = _csv(response)
    assert "channel_id" not in header
    assert str(served_row.channel_id) not in row


def test_an_operators_csv_export_keeps_the_channel_column(operator_client, served_row):
    response = operator_client.post(reverse("admin:billing_log_changelist"), {
        "action": "export_csv", "_selected_action": [served_row.pk]})
    header, row = _csv(response)
    assert row[header.index("channel_id")] == str(served_row.channel_id)


def test_a_user_cannot_probe_channel_ids_by_filtering_their_logs(rich_user, served_row):
    api = client_for(rich_user)
    hit = api.get("/api/logs/", {"channel": served_row.channel_id})
    miss = api.get("/api/logs/", {"channel": served_row.channel_id + 1})
    assert hit.status_code == miss.status_code == 400
    assert "channel" in hit.json()


def test_a_user_cannot_filter_the_admin_log_list_by_channel(member_client, served_row):
    url = reverse("admin:billing_log_changelist")
    hit = member_client.get(url, {"channel__id__exact": served_row.channel_id})
    miss = member_client.get(url, {"channel__id__exact": served_row.channel_id + 1})
    assert hit.status_code == miss.status_code == 400
