"""Shared fixtures and factories for the quota, flush and exactness tests."""

import pytest

from billing import quota
from billing.models import Token
from billing.services import create_token
from conftest import make_user


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    """Run the test once on the in-process backend and, in Redis passes, once on Redis."""
    if request.param == "memory":
        settings.REDIS_URL = ""
    quota.reset_memory_backend()
    yield request.param
    quota.reset_memory_backend()


def make_token(user, name="t", *, remain=0, unlimited=False) -> Token:
    token, _key = create_token(user, name, remain_quota=remain, unlimited_quota=unlimited)
    return token


def funded(username="alice", *, user_quota=1000, token_quota=1000, unlimited=False):
    user = make_user(username, quota=user_quota)
    return user, make_token(user, username + "-key", remain=token_quota, unlimited=unlimited)
