"""Authentication for /api/: `Authorization: Bearer <personal access token>` or a session.

Personal access tokens are billing.AccessToken rows; only a SHA-256 of the key is stored.
A token authenticates as its owner and carries exactly the owner's rights: what those are
is `billing.roles`' rule, which also decides who may create a token for whom (an admin
never gets one of root's or another admin's).
"""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from billing.models import AccessToken
from billing.models.access import ACCESS_KEY_PREFIX

# Refresh `last_used_at` at most this often, so API calls are not one write each.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AccessTokenAuthentication(authentication.BaseAuthentication):
    """Bearer personal access tokens. Other bearer keys (e.g. relay `sk-` keys) are not
    ours: they fall through to the next authenticator and end up a 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        key = header[1]
        if not key.startswith(ACCESS_KEY_PREFIX):
            raise exceptions.AuthenticationFailed(_("Not a personal access token."))
        token = (
            AccessToken.objects.select_related("user", "user__group")
            .filter(key_hash=AccessToken.hash(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid access token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User is disabled."))
        self._touch(token)
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 when unauthenticated.
        return self.keyword

    @staticmethod
    def _touch(token: AccessToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "oneproxy.api.auth.AccessTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (opat_...), created in the admin or "
            "with `manage.py create_access_token <username>`.",
        }
