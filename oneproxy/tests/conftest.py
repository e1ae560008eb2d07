"""Fixtures for tests under oneproxy/tests/ (management API callers, importer)."""

from .api_fixtures import anon_api, staff_api, user_api  # noqa: F401
