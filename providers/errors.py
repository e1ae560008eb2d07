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
# Markup in a "message" means a proxy's error page, never a provider's own words.
_MARKUP = re.compile(r"<\s*(?:!doctype|html|head|body|title|h1|center|div|p|hr|pre)\b",
                     re.IGNORECASE)
DETAIL_LIMIT = 8 * 1024  # characters of an upstream body kept for the operator's log row


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets or key-like tokens (addresses are kept)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` without the given secrets, URLs, hostnames, IPs or key-like tokens.

    Used on every upstream message before it reaches a client or a log line shown to users,
    so neither the channel key nor the upstream address leaks.
    """
    text = _URL.sub("[upstream]", redact(text, secrets))
    text = _HOST.sub("[upstream]", text)
    return _IPV4.sub("[upstream]", text)


def detail_of(body: bytes | str, secrets: Iterable[str] = ()) -> str:
    """The upstream's raw answer for the operator's log row: bounded, keys redacted.
    Never shown to clients or users (see `RelayError.detail`)."""
    if isinstance(body, bytes):
        body = body[:DETAIL_LIMIT * 4].decode("utf-8", "replace")
    return redact(body[:DETAIL_LIMIT], secrets)


def invalid_response_message(status: int) -> str:
    """What a client is told when the upstream's answer is not the provider's own."""
    return f"The upstream returned an invalid response (HTTP {status})."


def looks_like_markup(text: str) -> bool:
    """True when `text` holds HTML (an error page of some proxy in front of the provider)."""
    return bool(_MARKUP.search(text))


class RelayError(Exception):
    """A failure the relay turns into an OpenAI-shaped error response.

    `status` is the HTTP status to send the client; `upstream_status` the one received.
    `retryable` drives failover to another channel; `disable_key` tells the caller the key
    is dead (invalid, deactivated, out of quota) and should be auto-disabled.
    `retry_after` (seconds) becomes the response's Retry-After header. `detail` is the
    upstream's raw answer (bounded, keys redacted) for the operator's log row only; it is
    never part of the client's error body.
    """

    def __init__(self, status: int, code: str, message: str, *, type: str = "upstream_error",
                 param: str | None = None, retryable: bool = False, disable_key: bool = False,
                 upstream_status: int | None = None, retry_after: int | None = None,
                 detail: str = "") -> None:
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
        self.detail = detail

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
    """`(message, code, type)` from an upstream error body in a provider's JSON shape.

    Knows OpenAI/Anthropic `{"error": {...}}`, string `error`, and the `message`, `msg`,
    `error_msg`, `detail` variants other vendors use. Anything else (an HTML page, plain
    text, JSON that is no error object, a message made of markup) gives an empty message:
    such bodies come from proxies and may name internal hosts, so clients never see them.
    """
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return "", "", None
    if not isinstance(data, dict):
        return "", "", None
    err = data.get("error", data)
    if isinstance(err, str):
        message, code, err_type = err, str(data.get("code") or ""), None
    elif isinstance(err, dict):
        message = str(next((err[k] for k in ("message", "msg", "error_msg", "detail")
                            if err.get(k)), ""))
        code = str(err.get("code") or "")
        err_type = err.get("type") if isinstance(err.get("type"), str) else None
    else:
        return "", "", None
    return ("" if looks_like_markup(message) else message[:2000]), code, err_type


def looks_like_dead_key(code: str, err_type: str | None, message: str) -> bool:
    """True when the upstream says the key or its account can no longer be used."""
    if code in KEY_DEAD_CODES or (err_type or "") in KEY_DEAD_CODES:
        return True
    lowered = message.lower()
    return any(phrase in lowered for phrase in KEY_DEAD_PHRASES)


def from_upstream(status: int, message: str, code: str, err_type: str | None,
                  secrets: Iterable[str] = (), *, detail: str = "") -> RelayError:
    """Classify an upstream failure into a RelayError (status policy shared by adaptors).

    An empty `message` (the body was not the provider's) becomes a short generic one;
    `detail` (the raw body, for operators) is attached as given.

    - dead key (401/402/403, or 429 insufficient_quota): 502 to the client, retryable on
      another channel, `disable_key` set. The client's own token is fine, so it must not see
      401 from us for a channel problem.
    - 429 and 5xx: retryable; 429 stays 429, 5xx becomes 502 unless 503/504.
    - 404/408/409 (model missing on this channel, timeouts, conflicts): retryable.
    - other 4xx (bad request, too large): not retryable, status passed through.
    """
    err = _classify(status, scrub(message, secrets) or invalid_response_message(status),
                    code, looks_like_dead_key(code, err_type, message))
    err.detail = detail
    return err


def _classify(status: int, clean: str, code: str, dead_key: bool) -> RelayError:
    dead = dead_key and status in (400, 401, 402, 403, 429)
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


def error_from_body(status: int, body: bytes, secrets: Iterable[str] = ()) -> RelayError:
    """RelayError for an upstream error answer of any shape (the adaptors' default)."""
    message, code, err_type = decode_error_body(body)
    return from_upstream(status, message, code, err_type, secrets,
                         detail=detail_of(body, secrets))


def invalid_answer(status: int, body: bytes | str, secrets: Iterable[str] = (), *,
                   message: str = "", code: str = "bad_upstream_response") -> RelayError:
    """A success status whose body is not the endpoint's answer (HTML, invalid JSON, a
    foreign object, a non-JSON stream event): a retryable 502 like any upstream fault.
    `message` is the provider's own words when it sent its error shape, else generic."""
    return RelayError(502, code, scrub(message, secrets) or invalid_response_message(status),
                      retryable=True, upstream_status=status, detail=detail_of(body, secrets))
