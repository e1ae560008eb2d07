"""Fixtures of the /v1 relay tests: a clean relay per test and a priced, routed setup."""

from __future__ import annotations

import pytest

from billing import quota
from channels_app import health
from relay import client as relay_client
from relay.snapshot import snapshot


@pytest.fixture(autouse=True)
def _fresh_relay(settings):
    """Every test starts with empty relay caches, balances, health and a new client."""
    settings.RELAY_CACHE_CHECK_MS = 0
    settings.RUN_EMBEDDED_JOBS = False
    snapshot.reset()
    quota.reset_memory_backend()
    health.clear()
    relay_client.set_client_factory(None)
    yield
    snapshot.reset()
    relay_client.set_client_factory(None)
