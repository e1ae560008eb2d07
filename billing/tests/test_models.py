"""Single-row rules of the billing models and the exact quota formula."""

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing.models import Group, Price, Token, TokenStatus, User, UserRole, UserStatus
from billing.models.tokens import generate_key, hash_key
from billing.pricing import PriceSpec, quota_for, quota_to_usd
from conftest import make_user
from providers.base import Usage

NOW = timezone.now()


def token(**fields):
    return Token(name="t", remain_quota=fields.pop("remain_quota", 10), **fields)


# --- Token ---------------------------------------------------------------------------------
def test_a_new_key_is_sk_plus_48_letters_and_digits_and_only_its_hash_is_kept():
    key = generate_key()
    assert key.startswith("sk-") and len(key) == 51 and key[3:].isalnum()
    t = token()
    issued = t.assign_new_key()
    assert t.key_hash == hash_key(issued) and issued not in (t.key_hash, t.key_prefix)
    assert t.key_prefix == issued[:8]


@pytest.mark.parametrize(
    ("fields", "usable"),
    [
        ({}, True),
        ({"status": TokenStatus.DISABLED}, False),
        ({"status": TokenStatus.EXHAUSTED}, False),
        ({"expires_at": NOW - timedelta(seconds=1)}, False),
        ({"expires_at": NOW}, False),
        ({"expires_at": NOW + timedelta(hours=1)}, True),
        ({"remain_quota": 0}, False),
        ({"remain_quota": 0, "unlimited_quota": True}, True),
    ],
)
def test_a_token_is_usable_only_when_enabled_unexpired_and_funded(fields, usable):
    assert token(**fields).is_usable(NOW) is usable


def test_allowed_models_empty_means_all_otherwise_exact_names():
    assert token().allows_model("anything")
    limited = token(allowed_models=["gpt-4o"])
    assert limited.allows_model("gpt-4o")
    assert not limited.allows_model("gpt-4o-mini")


@pytest.mark.parametrize(
    ("subnets", "ip", "allowed"),
    [
        ([], "203.0.113.9", True),
        (["10.0.0.0/8"], "10.1.2.3", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["192.168.1.7"], "192.168.1.7", True),
        (["192.168.1.7"], "192.168.1.8", False),
        (["2001:db8::/32"], "2001:db8::1", True),
        (["10.0.0.0/8"], "not-an-ip", False),
    ],
)
def test_allows_ip_matches_addresses_and_cidr_networks(subnets, ip, allowed):
    assert token(subnets=subnets).allows_ip(ip) is allowed


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subnets": ["10.0.0.0/33"]}, "subnets"),
        ({"remain_quota": -1}, "remain_quota"),
        ({"expires_at": NOW - timedelta(days=1)}, "expires_at"),
        ({"allowed_models": ["ok", ""]}, "allowed_models"),
    ],
)
def test_token_validation_names_the_bad_field(rich_user, fields, field):
    bad = Token(user=rich_user, name="x", **fields)
    bad.assign_new_key()
    with pytest.raises(ValidationError) as error:
        bad.full_clean()
    assert field in error.value.message_dict


# --- Price and the quota formula -----------------------------------------------------------
def test_price_ratios_follow_one_api_ratio_one_is_two_dollars_per_million():
    price = Price(model="gpt-4o", input_price=Decimal("2.5"), output_price=Decimal("10"))
    assert price.model_ratio == Decimal("1.25")
    assert price.completion_ratio == Decimal("4")
    assert Price(model="img", per_request_price=Decimal("0.04")).model_ratio is None
    assert Price(model="free", input_price=Decimal("0"), output_price=Decimal("1")) \
        .completion_ratio is None  # fmt: skip


def test_a_price_needs_token_prices_or_a_per_request_price(db):
    with pytest.raises(ValidationError):
        Price(model="nothing").full_clean()


def test_quota_is_one_ceiling_over_the_exact_product():
    spec = PriceSpec("m", input=Decimal("0.15"), output=Decimal("0.60"))
    usage = Usage(prompt_tokens=1, completion_tokens=1)
    # (0.15 + 0.60) / 1M USD * 500000 = 0.375 quota -> 1
    assert quota_for(spec, usage, Decimal("1"), 500_000) == 1
    usage = Usage(prompt_tokens=1000, completion_tokens=500)
    exact = (Decimal(1000) * Decimal("0.15") + 500 * Decimal("0.60")) / 1_000_000 * 500_000
    assert quota_for(spec, usage, Decimal("1"), 500_000) == math.ceil(exact) == 225


def test_group_ratio_scales_before_the_single_ceiling():
    spec = PriceSpec("m", input=Decimal("3"), output=Decimal("15"))
    usage = Usage(prompt_tokens=333, completion_tokens=77)
    exact = (Decimal(333) * 3 + Decimal(77) * 15) / 1_000_000 * 500_000 * Decimal("0.8")
    assert quota_for(spec, usage, Decimal("0.8"), 500_000) == math.ceil(exact)
    assert quota_for(spec, usage, Decimal("0"), 500_000) == 0


def test_cached_tokens_are_billed_at_the_cached_price_and_default_to_the_input_price():
    with_cache = PriceSpec("m", input=Decimal("2"), output=Decimal("8"),
                           cached_input=Decimal("0.5"))  # fmt: skip
    usage = Usage(prompt_tokens=10_000, completion_tokens=1000, cached_tokens=8000)
    # 2000 uncached * 2 + 8000 * 0.5 + 1000 * 8 = 16000 USD per 1M -> 0.016 USD -> 8000
    assert quota_for(with_cache, usage, Decimal("1"), 500_000) == 8000
    no_cache_price = PriceSpec("m", input=Decimal("2"), output=Decimal("8"))
    assert quota_for(no_cache_price, usage, Decimal("1"), 500_000) == 14_000


def test_a_per_request_price_is_added_to_token_costs():
    spec = PriceSpec("dall-e-3", per_request=Decimal("0.04"))
    assert quota_for(spec, Usage(), Decimal("1"), 500_000) == 20_000
    assert quota_to_usd(20_000, 500_000) == Decimal("0.04")


# --- Users and groups ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "staff", "superuser", "admin"),
    [(UserRole.USER, False, False, False), (UserRole.ADMIN, True, False, True),
     (UserRole.ROOT, True, True, True)],
)  # fmt: skip
def test_the_role_drives_the_django_flags(db, role, staff, superuser, admin):
    user = make_user("u", role=role)
    assert (user.is_staff, user.is_superuser, user.is_admin) == (staff, superuser, admin)


def test_a_django_superuser_becomes_root_and_a_disabled_user_cannot_log_in(db):
    boss = User.objects.create_superuser("boss", password="pw-boss-0123456789")
    assert boss.role == UserRole.ROOT
    user = make_user("u")
    user.status = UserStatus.DISABLED
    user.save()
    assert not user.is_active and not user.is_usable()


def test_a_user_without_a_group_lands_in_default(db):
    user = User.objects.create_user("nogroup", password="pw-0123456789-xyz")
    assert user.group.name == "default"


def test_a_group_ratio_cannot_be_negative(db):
    with pytest.raises(ValidationError):
        Group(name="bad", ratio=Decimal("-1")).full_clean()
