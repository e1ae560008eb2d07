"""Fixtures of the /v1 relay tests: a clean relay per test (defined in helpers.py)."""

from __future__ import annotations

from relay.tests.helpers import fresh_relay  # noqa: F401  (autouse: a clean relay per test)


