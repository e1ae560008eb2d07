"""Shared fixtures: clean caches per test, Redis availability, personas and the one set
of factories (make_group, make_user, make_token, make_channel, make_price): every app's
tests import them from here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import pytest
from asgiref.sync import SyncToAsync
from django.core.cache import cache
from django.db import connections

from core import cachebus
from core.backend import uses_redis
from core.redis import shared_client

# Real fake upstream servers (OpenAI, Anthropic wire formats) for every app's tests.
pytest_plugins = ["providers.tests.fakes.fixtures"]


def pytest_collection_modifyitems(config, items):
    if uses_redis():
        return
    skip = pytest.mark.skip(reason="needs REDIS_URL: runs in CI's PostgreSQL and MariaDB passes")
    for item in items:
        if "redis" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _close_sync_thread_connections():
    """After each test, close the database connections that async code opened through
    sync_to_async: outside a request they live in asgiref's one sync thread, where
    nothing else closes them, and PostgreSQL will not drop a test database in use."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests render admin pages without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _quiet_access_log(settings):
    """Access lines are buffered and would land after pytest's summary; the tests of the
    access log switch it back on."""
    settings.ACCESS_LOG = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; Django's real hasher costs about a second each here. The
    other hashers (One API's bcrypt verifier among them) stay registered after it."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def _clean_caches():
    """Every test starts with empty caches and, with Redis, an empty test database."""
    cache.clear()
    cachebus._local_versions.clear()
    client = shared_client()
    if client is not None:
        client.flushdb()
    yield


@pytest.fixture
def default_group(db):
    from billing.models import Group

    return Group.objects.get_or_create(name="default")[0]


# --- Factories: plain functions that create real rows -----------------------------------
# The first argument names the row; everything else is a keyword with a default that
# serves a request: a user with quota, a token with quota, a channel with an enabled key.
def make_group(name: str = "default", *, ratio: str | None = None):
    """The group `name`; given a `ratio`, it is set (created or updated) to it."""
    from billing.models import Group

    if ratio is None:
        return Group.objects.get_or_create(name=name)[0]
    return Group.objects.update_or_create(name=name, defaults={"ratio": Decimal(ratio)})[0]


def make_user(username: str = "alice", *, quota: int = 5_000_000, group="default", **fields):
    """A user with $10 of quota in `group` (a Group or a group name); the password is
    `pw-<username>-0123456789`."""
    from billing.models import User

    group = group if not isinstance(group, str) else make_group(group)
    return User.objects.create_user(username=username,
                                    password=f"pw-{username}-0123456789",
                                    quota=quota, group=group, **fields)


def make_token(user, *, name: str = "app", remain_quota: int = 1_000_000, **fields):
    """A relay token of `user` through billing's service: returns (token, full key)."""
    from billing.services import create_token

    return create_token(user, name, remain_quota=remain_quota, **fields)


def make_channel(name: str = "ch", *, base_url: str = "", type: str = "openai",
                 models: Iterable[str] = ("gpt-4o-mini",), groups: Iterable = ("default",),
                 keys: int | Sequence[str] = 1, **fields):
    """An enabled channel at `base_url` (empty: the provider's default) serving `models`
    to `groups` (Groups or names). `keys` is how many enabled keys to generate
    (`sk-upstream-<name>-0000-secret`...) or the list of key strings."""
    from channels_app.models import Channel, ChannelKey

    channel = Channel.objects.create(type=type, name=name, base_url=base_url,
                                     model_names=list(models), **fields)
    if isinstance(keys, int):
        keys = [f"sk-upstream-{name}-{index:04d}-secret" for index in range(keys)]
    for key in keys:
        ChannelKey.objects.create(channel=channel, key=key)
    channel.groups.set([g if not isinstance(g, str) else make_group(g) for g in groups])
    return channel


def make_price(model: str = "gpt-4o-mini", *, input: str = "1", output: str = "2", **fields):
    """The price row of `model` (created or updated), in USD per million tokens."""
    from billing.models import Price

    defaults = {"input_price": Decimal(input), "output_price": Decimal(output), **fields}
    return Price.objects.update_or_create(model=model, defaults=defaults)[0]


@pytest.fixture
def rich_user(db):
    """A user of the default group with $10 of quota."""
    return make_user("rich", quota=5_000_000)


@pytest.fixture
def vip_user(db):
    """A user in the `vip` group (ratio 0.8) with $10 of quota."""
    from billing.models import Group

    vip = Group.objects.get_or_create(name="vip", defaults={"ratio": "0.8"})[0]
    return make_user("vip", quota=5_000_000, group=vip)


@pytest.fixture
def broke_user(db):
    """A user with no quota at all."""
    return make_user("broke", quota=0)


@pytest.fixture
def admin_user(db):
    from billing.models import User, UserRole

    return User.objects.create_user(
        username="root", password="root-pw-0123456789", role=UserRole.ROOT
    )


# --- Admin personas ------------------------------------------------------------------
@pytest.fixture
def operator_user(db):
    """An admin (not root): manages everything except other admins."""
    from billing.models import UserRole

    return make_user("operator", quota=0, role=UserRole.ADMIN)


@pytest.fixture
def root_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def operator_client(client, operator_user):
    client.force_login(operator_user)
    return client


@pytest.fixture
def member_client(client, rich_user):
    """A self-service user (not staff) logged into the admin."""
    client.force_login(rich_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_relay_snapshot():
    """The relay's in-process caches (tokens, routing, prices) never outlive a test: rows
    created in a rolled-back test bump no cache version, so ids could be reused."""
    from relay.snapshot import snapshot

    snapshot.reset()
    yield
    snapshot.reset()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Tests start from an empty price list. Migration billing.0007 seeds real prices for
    operators; tests create the prices they need (billing/tests/test_seed_prices.py checks
    the seed itself)."""
    with django_db_blocker.unblock():
        from billing.models import Price

        Price.objects.all().delete()
