"""System checks that refuse unsafe production configurations at start-up."""

from django.conf import settings
from django.core.checks import Error, Tags, register

_WEAK_KEY_PREFIXES = ("django-insecure", "changeme", "secret")


@register(Tags.security, deploy=False)
def check_secret_key(app_configs=None, **kwargs):
    """With DEBUG off, a shared deployment (Redis or a server database) needs a real
    SECRET_KEY from the environment: a per-machine generated one would differ between
    web nodes and break their sessions."""
    if settings.DEBUG:
        return []
    key = settings.SECRET_KEY
    if len(key) < 32 or key.lower().startswith(_WEAK_KEY_PREFIXES):
        return [Error("SECRET_KEY is too short or a known placeholder.", id="oneproxy.E001")]
    shared = not settings.EMBEDDED_MODE or not settings.EMBEDDED_DATABASE
    if shared and not settings.SECRET_KEY_FROM_ENV:
        return [
            Error(
                "SECRET_KEY must be set in the environment when DATABASE_URL or REDIS_URL "
                "point at shared servers.",
                hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
                id="oneproxy.E002",
            )
        ]
    return []
