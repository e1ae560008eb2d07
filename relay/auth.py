"""Client authentication and admission for /v1, answered from the in-process snapshot.

The key comes from `Authorization: Bearer sk-...`, `x-api-key` or `api-key`. One API's
`sk-KEY-<channel id>` form pins a channel (admins only). Each refusal has its own code.
"""

from __future__ import annotations

import time

from billing.models.tokens import hash_key
from relay import errors
from relay.snapshot import Principal, snapshot

TOKEN_ENABLED = "enabled"
TOKEN_EXPIRED = "expired"
TOKEN_EXHAUSTED = "exhausted"
USER_ENABLED = "enabled"


def key_from_meta(meta: dict) -> str:
    """The raw API key a client sent, or "" if none."""
    auth = meta.get("HTTP_AUTHORIZATION", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else auth.strip()
    return (meta.get("HTTP_X_API_KEY") or meta.get("HTTP_API_KEY") or "").strip()


def split_pin(key: str) -> tuple[str, int | None]:
    """`sk-abc-12` -> (`sk-abc`, 12); a key without a numeric suffix -> (key, None)."""
    head, sep, tail = key.rpartition("-")
    if sep and head.startswith("sk-") and len(head) > 3 and tail.isdigit():
        return head, int(tail)
    return key, None


async def authenticate(meta: dict) -> tuple[Principal, int | None]:
    """The principal behind the request's key and the pinned channel id, if any.

    Raises RelayError: 401 missing/unknown/disabled/expired/exhausted key, 403 disabled
    user, client IP not allowed, or a pin by a non-admin.
    """
    raw = key_from_meta(meta)
    if not raw:
        raise errors.missing_key()
    key, pinned = split_pin(raw)
    principal = await snapshot.principal(hash_key(key))
    if principal is None:
        raise errors.invalid_key()
    check_admission(principal, meta.get("REMOTE_ADDR", ""))
    if pinned is not None and not principal.is_admin:
        raise errors.pin_not_allowed()
    return principal, pinned


def check_admission(principal: Principal, client_ip: str, now: float | None = None) -> None:
    """Raise the RelayError refusing this principal, if any (token, user, IP)."""
    status = principal.token_status
    if status == TOKEN_EXPIRED or (principal.expires_at is not None
                                   and principal.expires_at <= (now or time.time())):
        raise errors.token_expired()
    if status == TOKEN_EXHAUSTED:
        raise errors.token_exhausted()
    if status != TOKEN_ENABLED:
        raise errors.token_disabled()
    if principal.user_status != USER_ENABLED:
        raise errors.user_disabled()
    if not principal.allows_ip(client_ip):
        raise errors.ip_not_allowed(client_ip or "an unknown address")


def check_model(principal: Principal, model: str) -> None:
    """403 when the token is limited to other models."""
    if principal.allowed_models and model not in principal.allowed_models:
        raise errors.model_not_allowed(model)
