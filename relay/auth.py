"""The /v1 policies as DRF policy classes, answered from the in-process snapshot.

`ApiKeyAuthentication` finds the caller: the key comes from `Authorization: Bearer
sk-...`, `x-api-key` or `api-key`, and One API's `sk-KEY-<channel id>` form pins a
channel. `TokenAdmission` decides whether that caller may be served at all (token
status and expiry, owner status, client IP, who may pin) and `ModelAllowed` whether it
may use the model it asked for (an object permission: the model is the object). Each
refusal raises a RelayError with its own code, so the views answer in OpenAI's shape.

The views call these the way an APIView would (authenticate, then check permissions),
but await the authentication: a cold key is loaded from the database in a worker thread,
while a warm one costs no query and no thread hop.
"""

from __future__ import annotations

import time

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from billing.models.tokens import hash_key
from relay import refusals
from relay.snapshot import Principal, snapshot

TOKEN_ENABLED = "enabled"
TOKEN_EXPIRED = "expired"
TOKEN_EXHAUSTED = "exhausted"
USER_ENABLED = "enabled"

_KEY_HEADERS = {b"authorization": "HTTP_AUTHORIZATION", b"x-api-key": "HTTP_X_API_KEY",
                b"api-key": "HTTP_API_KEY"}
# Scope key under which the ASGI entry point leaves the (principal, pin) it found before
# reading the body (oneproxy/asgi.py), so the view does not authenticate twice.
PRE_AUTHENTICATED = "oneproxy.authenticated"


def key_from_meta(meta: dict) -> str:
    """The raw API key a client sent, or "" if none."""
    auth = meta.get("HTTP_AUTHORIZATION", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else auth.strip()
    return (meta.get("HTTP_X_API_KEY") or meta.get("HTTP_API_KEY") or "").strip()


def key_from_scope(scope: dict) -> str:
    """The raw API key in an ASGI scope's headers, read as `key_from_meta` reads META."""
    meta = {}
    for name, value in scope.get("headers", ()):
        field = _KEY_HEADERS.get(name)
        if field and field not in meta:
            meta[field] = value.decode("latin-1")
    return key_from_meta(meta)


def split_pin(key: str) -> tuple[str, int | None]:
    """`sk-abc-12` -> (`sk-abc`, 12); a key without a numeric suffix -> (key, None)."""
    head, sep, tail = key.rpartition("-")
    if sep and head.startswith("sk-") and len(head) > 3 and tail.isdigit():
        return head, int(tail)
    return key, None


class ApiKeyAuthentication(BaseAuthentication):
    """The principal behind the request's API key, and the channel it pins (or None)."""

    async def authenticate(self, request: HttpRequest) -> tuple[Principal, int | None]:
        """Raises RelayError 401 for a missing or unknown key; never returns None (no
        other scheme follows)."""
        known = getattr(request, "scope", {}).get(PRE_AUTHENTICATED)
        if known is not None:
            return known
        return await self.authenticate_key(key_from_meta(request.META))

    async def authenticate_key(self, raw: str) -> tuple[Principal, int | None]:
        """The principal and pin for the raw key `raw`; raises RelayError 401."""
        if not raw:
            raise refusals.missing_key()
        key, pinned = split_pin(raw)
        principal = await snapshot.principal(hash_key(key))
        if principal is None:
            raise refusals.invalid_key()
        return principal, pinned

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="OneProxy"'


class TokenAdmission(BasePermission):
    """The token is usable, its owner enabled, the client IP allowed and a pin (if
    any) made by an admin. `request.principal` / `request.pinned_channel` are set by the
    view from ApiKeyAuthentication."""

    def has_permission(self, request: HttpRequest, view=None) -> bool:
        principal: Principal = request.principal
        check_admission(principal, request.META.get("REMOTE_ADDR", ""))
        if request.pinned_channel is not None and not principal.is_admin:
            raise refusals.pin_not_allowed()
        return True


class ModelAllowed(BasePermission):
    """The token may use the requested model (tokens may be limited to a list)."""

    def has_object_permission(self, request: HttpRequest, view, obj: str) -> bool:
        principal: Principal = request.principal
        if principal.allowed_models and obj not in principal.allowed_models:
            raise refusals.model_not_allowed(obj)
        return True


def check_admission(principal: Principal, client_ip: str, now: float | None = None) -> None:
    """Raise the RelayError refusing this principal, if any (token, user, IP)."""
    status = principal.token_status
    if status == TOKEN_EXPIRED or (principal.expires_at is not None
                                   and principal.expires_at <= (now or time.time())):
        raise refusals.token_expired()
    if status == TOKEN_EXHAUSTED:
        raise refusals.token_exhausted()
    if status != TOKEN_ENABLED:
        raise refusals.token_disabled()
    if principal.user_status != USER_ENABLED:
        raise refusals.user_disabled()
    if not principal.allows_ip(client_ip):
        raise refusals.ip_not_allowed(client_ip or "an unknown address")


AUTHENTICATION = ApiKeyAuthentication()
ADMISSION = TokenAdmission()
MODEL_ALLOWED = ModelAllowed()


async def admit(request: HttpRequest) -> Principal:
    """Authenticate `request` and check admission, as an APIView's `initial()` would;
    sets `request.principal` and `request.pinned_channel`. Raises RelayError."""
    request.principal, request.pinned_channel = await AUTHENTICATION.authenticate(request)
    ADMISSION.has_permission(request)
    return request.principal


def check_model(request: HttpRequest, model: str) -> None:
    MODEL_ALLOWED.has_object_permission(request, None, model)
