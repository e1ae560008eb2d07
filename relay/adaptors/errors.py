"""The one relay error type and the helpers that build it from upstream answers (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

# Upstream error codes/messages meaning the key (or its account) can no longer work, so the
# caller should disable the key rather than keep retrying it.
KEY_DEAD_CODES = frozenset({
    "invalid_api_key", "insufficient_quota", "account_deactivated", "billing_not_active",
    "authentication_error", "billing_error", "invalid_authentication", "access_terminated",
})
KEY_DEAD_PHRASES = (
    "incorrect api key", "invalid api key", "api key not valid", "invalid x-api-key",
    "account has been deactivated", "credit balance is too low", "exceeded your current quota",
    "account is not active", "organization has been disabled", "api key expired",
)

_URL = re.compile(r"\b(?:https?|wss?)://[^\s\"'<>)]+", re.IGNORECASE)
_HOST = re.compile(
    r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|net|org|io|ai|cn|dev|cloud|co|app|tech|xyz|us|uk|de|jp|sh|so|me|info|local)"
    r"(?::\d+)?\b",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_KEYLIKE = re.compile(r"\b(?:sk|ak|key)-[A-Za-z0-9_\-*.]{6,}")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` without the given secrets, URLs, hostnames, IPs or key-like tokens.

    Used on every upstream message before it reaches a client or a log line shown to users,
    so neither the channel key nor the upstream address leaks.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = _URL.sub("[upstream]", text)
    text = _HOST.sub("[upstream]", text)
    text = _IPV4.sub("[upstream]", text)
    return _KEYLIKE.sub("[redacted]", text)


class RelayError(Exception):
    """A failure the relay turns into an OpenAI-shaped error response.

    `status` is the HTTP status to send the client; `upstream_status` the one received.
    `retryable` drives failover to another channel; `disable_key` tells the caller the key
    is dead (invalid, deactivated, out of quota) and should be auto-disabled.
    `retry_after` (seconds) becomes the response's Retry-After header.
    """

    def __init__(self, status: int, code: str, message: str, *, type: str = "upstream_error",
                 param: str | None = None, retryable: bool = False, disable_key: bool = False,
                 upstream_status: int | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = type
        self.param = param
        self.retryable = retryable
        self.disable_key = disable_key
        self.upstream_status = upstream_status
        self.retry_after = retry_after

    @property
    def key_invalid(self) -> bool:
        """Alias of `disable_key`, read as a question."""
        return self.disable_key

    def to_dict(self) -> dict[str, Any]:
        """OpenAI error body: `{"error": {"message", "type", "code", "param"}}`."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code,
                          "param": self.param}}

    def __repr__(self) -> str:
        return (f"RelayError({self.status}, {self.code!r}, {self.message!r}, "
                f"retryable={self.retryable}, disable_key={self.disable_key})")


def decode_error_body(body: bytes) -> tuple[str, str, str | None]:
    """Best-effort `(message, code, type)` from an upstream error body of any vendor shape.

    Knows OpenAI/Anthropic `{"error": {...}}`, string `error`, and the `message`, `msg`,
    `error_msg`, `detail` variants other vendors use; falls back to the raw text.
    """
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body[:500].decode("utf-8", "replace").strip(), "", None
    if not isinstance(data, dict):
        return str(data or "")[:500], "", None
    err = data.get("error", data)
    if isinstance(err, str):
        return err, str(data.get("code") or ""), None
    if not isinstance(err, dict):
        return str(err), "", None
    message = next((err[k] for k in ("message", "msg", "error_msg", "detail") if err.get(k)), "")
    code = err.get("code") or ""
    return str(message), str(code), err.get("type") if isinstance(err.get("type"), str) else None


def looks_like_dead_key(code: str, err_type: str | None, message: str) -> bool:
    """True when the upstream says the key or its account can no longer be used."""
    if code in KEY_DEAD_CODES or (err_type or "") in KEY_DEAD_CODES:
        return True
    lowered = message.lower()
    return any(phrase in lowered for phrase in KEY_DEAD_PHRASES)


def from_upstream(status: int, message: str, code: str, err_type: str | None,
                  secrets: Iterable[str] = ()) -> RelayError:
    """Classify an upstream failure into a RelayError (status policy shared by adaptors).

    - dead key (401/402/403, or 429 insufficient_quota): 502 to the client, retryable on
      another channel, `disable_key` set. The client's own token is fine, so it must not see
      401 from us for a channel problem.
    - 429 and 5xx: retryable; 429 stays 429, 5xx becomes 502 unless 503/504.
    - 404/408/409 (model missing on this channel, timeouts, conflicts): retryable.
    - other 4xx (bad request, too large): not retryable, status passed through.
    """
    clean = scrub(message, secrets) or f"upstream returned HTTP {status}"
    dead = looks_like_dead_key(code, err_type, message) and status in (400, 401, 402, 403, 429)
    if dead or status in (401, 402, 403):
        return RelayError(502, code or "upstream_auth_failed", clean, retryable=True,
                          disable_key=dead or status == 401, upstream_status=status)
    if status == 429:
        return RelayError(429, code or "upstream_rate_limited", clean, retryable=True,
                          upstream_status=status)
    if status >= 500:
        out = status if status in (503, 504) else 502
        return RelayError(out, code or "upstream_server_error", clean, retryable=True,
                          upstream_status=status)
    if status in (404, 408, 409):
        return RelayError(status, code or "upstream_unavailable", clean, retryable=True,
                          upstream_status=status)
    return RelayError(status, code or "invalid_request", clean, type="invalid_request_error",
                      retryable=False, upstream_status=status)
