"""The routing index stays exactly equal to what the channels allow, after every kind of
change: save, model list edit, status change, key disable, group change, delete."""

import pytest

from billing.models import Group
from channels_app import services
from channels_app.models import Ability, Channel, ChannelKey, ChannelStatus, KeyStatus
from conftest import make_channel

pytestmark = pytest.mark.django_db


def expected_index() -> set[tuple[str, str, int, int]]:
    """Recompute the index from first principles: enabled channels with an enabled key,
    every (group, served model)."""
    rows = set()
    for channel in Channel.objects.prefetch_related("groups", "keys"):
        if channel.status != ChannelStatus.ENABLED:
            continue
        if not any(key.status == KeyStatus.ENABLED for key in channel.keys.all()):
            continue
        for group in channel.groups.all():
            for model in channel.served_models():
                rows.add((group.name, model, channel.pk, channel.priority))
    return rows


def actual_index() -> set[tuple[str, str, int, int]]:
    return set(Ability.objects.values_list("group__name", "model", "channel_id", "priority"))


def assert_exact():
    assert actual_index() == expected_index()


@pytest.fixture
def groups():
    return (
        Group.objects.get_or_create(name="default")[0],
        Group.objects.create(name="vip", ratio="0.8"),
    )


def test_a_new_channel_is_indexed_for_each_group_and_model(groups):
    channel = make_channel("a", models=["gpt-4o", "gpt-4o-mini"], groups=groups)
    assert len(actual_index()) == 4
    assert {row[2] for row in actual_index()} == {channel.pk}
    assert_exact()


def test_editing_models_mapping_and_priority_reindexes_on_save(groups):
    channel = make_channel("a", models=["gpt-4o"])
    channel.model_names = ["gpt-4o-mini"]
    channel.model_mapping = {"gpt-4": "gpt-4o-mini"}
    channel.priority = 9
    channel.save()
    assert {row[1] for row in actual_index()} == {"gpt-4o-mini", "gpt-4"}
    assert {row[3] for row in actual_index()} == {9}
    assert_exact()


@pytest.mark.parametrize("status", [ChannelStatus.DISABLED, ChannelStatus.AUTO_DISABLED])
def test_a_disabled_channel_leaves_the_index_and_returns_when_enabled(groups, status):
    channel = make_channel("a", groups=groups)
    other = make_channel("b", groups=groups)
    services.set_channel_status(channel, status, "test")
    assert {row[2] for row in actual_index()} == {other.pk}
    assert_exact()
    services.set_channel_status(channel, ChannelStatus.ENABLED, "back")
    assert {row[2] for row in actual_index()} == {channel.pk, other.pk}
    assert_exact()


def test_disabling_the_last_enabled_key_removes_the_channel(groups):
    channel = make_channel("a", keys=2)
    first, second = channel.keys.all()
    first.status = KeyStatus.DISABLED
    first.save()
    assert actual_index()  # one key left
    services.set_key_status(second, KeyStatus.AUTO_DISABLED, "401")
    assert actual_index() == set()
    assert_exact()
    second.status = KeyStatus.ENABLED
    second.save()
    assert_exact()
    assert actual_index()


def test_deleting_the_last_key_or_adding_one_back_keeps_the_index_exact(groups):
    channel = make_channel("a", keys=1)
    channel.keys.get().delete()
    assert actual_index() == set()
    ChannelKey.objects.create(channel=channel, key="sk-again-0000000000")
    assert_exact()
    assert actual_index()


def test_group_changes_add_and_remove_rows(groups):
    default, vip = groups
    channel = make_channel("a", groups=[default])
    channel.groups.add(vip)
    assert {row[0] for row in actual_index()} == {"default", "vip"}
    channel.groups.remove(default)
    assert {row[0] for row in actual_index()} == {"vip"}
    channel.groups.clear()
    assert actual_index() == set()
    assert_exact()


def test_deleting_a_channel_or_a_group_removes_its_rows(groups):
    default, vip = groups
    gone = make_channel("gone", groups=groups)
    kept = make_channel("kept", groups=groups)
    gone.delete()
    assert {row[2] for row in actual_index()} == {kept.pk}
    vip.delete()
    assert {row[0] for row in actual_index()} == {"default"}
    assert_exact()


def test_many_random_changes_never_leave_the_index_stale(groups):
    channels = [make_channel(f"c{i}", models=[f"m{i % 3}"], keys=2) for i in range(6)]
    channels[0].groups.add(groups[1])
    services.set_channel_status(channels[1], ChannelStatus.DISABLED, "x")
    channels[2].keys.update(status=KeyStatus.DISABLED)  # queryset update sends no signal
    services.rebuild_routing(channels[2])  # ... so bulk tools must call the service
    channels[3].model_names = ["m9"]
    channels[3].save()
    channels[4].delete()
    services.set_channel_status(channels[1], ChannelStatus.ENABLED, "y")
    assert_exact()
