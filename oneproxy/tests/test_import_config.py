"""export_config / import_config: a JSON backup that restores, with secrets on request."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from billing.models import Group, Option, Price
from channels_app.models import Ability, Channel, ChannelKey, KeyStatus
from conftest import make_channel

pytestmark = pytest.mark.django_db


def export(*args) -> dict:
    out = io.StringIO()
    call_command("export_config", *args, stdout=out)
    return json.loads(out.getvalue())


def restore(tmp_path, data, *args) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    out = io.StringIO()
    call_command("import_config", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def configured(db):
    vip = Group.objects.create(name="vip", ratio="0.8", description="paying")
    Price.objects.create(model="gpt-4o", input_price="2.5", output_price="10")
    Option.objects.create(key="retry_times", value=4)
    channel = make_channel("main", keys=2, groups=[vip], priority=3,
                           config={"api_version": "v1", "secret_key": "s3cr3t"},
                           model_mapping={"gpt-4o": "gpt-4o-2024-08-06"})
    return channel


def test_an_export_leaves_keys_and_credentials_out_by_default(configured):
    data = export()
    text = json.dumps(data)
    assert "sk-upstream" not in text and "s3cr3t" not in text
    [channel] = data["channels"]
    assert channel["config"] == {"api_version": "v1"} and "keys" not in channel
    assert channel["groups"] == ["vip"] and channel["models"] == ["gpt-4o-mini"]
    assert {"name": "vip", "ratio": "0.8000", "description": "paying"} in data["groups"]
    assert data["prices"] == [{"model": "gpt-4o", "provider": "", "input_price": "2.500000",
                               "output_price": "10.000000", "cached_input_price": None,
                               "per_request_price": None}]
    assert data["options"] == {"retry_times": 4}


def test_a_backup_with_secrets_rebuilds_an_empty_gateway(configured, tmp_path):
    data = export("--include-secrets")
    assert data["channels"][0]["keys"] == [k.key for k in configured.keys.all()]
    Channel.objects.all().delete()
    Price.objects.all().delete()
    Option.objects.all().delete()
    report = restore(tmp_path, data)
    assert "channels: 1 imported" in report, report
    channel = Channel.objects.get(name="main")
    assert channel.config == {"api_version": "v1", "secret_key": "s3cr3t"}
    assert channel.keys.count() == 2 and channel.priority == 3
    assert Ability.objects.filter(channel=channel, group__name="vip").exists()
    assert str(Price.objects.get(model="gpt-4o").output_price) == "10.000000"
    assert Option.objects.get(key="retry_times").value == 4


def test_restoring_the_same_file_twice_changes_nothing(configured, tmp_path):
    data = export("--include-secrets")
    first = restore(tmp_path, data)
    assert "updated" not in first and "imported" not in first.replace("Import finished.", "")
    assert "channels: 1 unchanged" in first


def test_restoring_without_secrets_keeps_existing_keys_and_credentials(configured, tmp_path):
    ChannelKey.objects.filter(channel=configured).update(status=KeyStatus.AUTO_DISABLED)
    data = export()
    data["channels"][0]["priority"] = 9
    report = restore(tmp_path, data)
    assert "channels: 1 updated" in report
    configured.refresh_from_db()
    assert configured.priority == 9 and configured.config["secret_key"] == "s3cr3t"
    assert set(configured.keys.values_list("status", flat=True)) == {KeyStatus.AUTO_DISABLED}


def test_a_new_channel_without_keys_is_reported_not_created(configured, tmp_path):
    data = export()
    data["channels"][0]["name"] = "brand-new"
    report = restore(tmp_path, data)
    assert "new channel without keys" in report
    assert not Channel.objects.filter(name="brand-new").exists()


def test_invalid_rows_are_skipped_with_their_field_errors(configured, tmp_path):
    data = export()
    data["prices"].append({"model": "bad"})
    data["channels"][0]["type"] = "nope"
    data["options"]["retry_times"] = "many"
    report = restore(tmp_path, data)
    assert "invalid: {'input_price'" in report and "invalid: {'type'" in report
    assert "options: 1 skipped" in report and "wrong type" in report


def test_a_dry_run_changes_nothing(configured, tmp_path):
    data = export()
    data["groups"][-1]["ratio"] = "0.5"
    assert "groups: 1 updated, 1 unchanged" in restore(tmp_path, data, "--dry-run")
    assert str(Group.objects.get(name="vip").ratio) == "0.8000"


def test_a_file_that_is_not_an_export_is_refused(tmp_path):
    with pytest.raises(CommandError, match="not a OneProxy config export"):
        restore(tmp_path, {"channels": []})
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_config", str(tmp_path / "missing.json"))
