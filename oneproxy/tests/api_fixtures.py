"""Fixtures for the management API tests: callers authenticated by access token."""

import pytest
from rest_framework.test import APIClient

from billing.models import AccessToken


def client_for(user) -> APIClient:
    """An API client sending `Authorization: Bearer <a new access token of user>`."""
    token = AccessToken(user=user, name="test")
    key = token.assign_new_key()
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def staff_api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def user_api(rich_user):
    return client_for(rich_user)


@pytest.fixture
def anon_api():
    return APIClient()
