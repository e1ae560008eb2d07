"""Fixtures for tests under oneproxy/tests/ (management API callers, importer)."""

import pytest

from .api_fixtures import anon_api, staff_api, user_api  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """API and import tests create many users; Django's real hasher costs ~1 s each here.
    The One API bcrypt verifier stays registered for the import tests."""
    if request.module.__name__.rsplit(".", 1)[-1].startswith(("test_api_", "test_import_")):
        settings.PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.MD5PasswordHasher",
            *settings.PASSWORD_HASHERS,
        ]
