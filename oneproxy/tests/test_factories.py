"""The one set of test factories (root conftest.py): defined once, with one signature each."""

import re
from pathlib import Path

import pytest

from conftest import make_channel, make_group, make_price, make_token, make_user

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "providers", "billing", "channels_app", "relay", "oneproxy", "bench")
FACTORY_DEF = re.compile(r"^\s*def (make_(?:user|token|channel|price|group))\(", re.M)


def test_no_tests_module_defines_a_second_factory_of_users_tokens_channels_prices_or_groups():
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for package in PACKAGES
        for path in (ROOT / package).glob("**/*.py")
        for name in FACTORY_DEF.findall(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.django_db
def test_the_defaults_make_a_user_with_quota_a_funded_token_and_a_keyed_channel():
    user = make_user()
    token, key = make_token(user)
    channel = make_channel(base_url="http://127.0.0.1:9")
    assert (user.username, user.quota, user.group.name) == ("alice", 5_000_000, "default")
    assert user.check_password("pw-alice-0123456789")
    assert token.user == user and token.remain_quota == 1_000_000 and key.startswith("sk-")
    assert channel.base_url == "http://127.0.0.1:9"
    assert [k.key for k in channel.keys.all()] == ["sk-upstream-ch-0000-secret"]
    assert [g.name for g in channel.groups.all()] == ["default"]


@pytest.mark.django_db
def test_groups_are_named_or_given_and_keys_are_counted_or_listed():
    vip = make_group("vip", ratio="0.5")
    user = make_user("bob", quota=0, group="vip")
    channel = make_channel("two", groups=[vip, "default"], keys=["sk-a-0001", "sk-b-0002"])
    assert user.group == vip and str(vip.ratio) == "0.5" and user.quota == 0
    assert sorted(g.name for g in channel.groups.all()) == ["default", "vip"]
    assert sorted(k.key for k in channel.keys.all()) == ["sk-a-0001", "sk-b-0002"]
    assert make_channel("none", keys=0).keys.count() == 0
    price = make_price("gpt-4o", input="3", output="4")
    assert (str(price.input_price), str(price.output_price)) == ("3", "4")
