"""The relay's own refusals in OpenAI's error shape, `{"error": {message, type, code, param}}`.

Every refusal the relay itself decides (auth, admission, bad input, routing) is built here,
each with its own code and status, as a `RelayError` (the one error type, which callers
import from `providers.errors`, never from here), so a view turns any failure into a
response the same way.
"""

from __future__ import annotations

import orjson
from django.http import HttpResponse

from providers.errors import RelayError

INVALID = "invalid_request_error"
GATEWAY = "oneproxy_error"


def gateway(status: int, code: str, message: str, *, param: str | None = None,
            type: str | None = None, retry_after: int | None = None) -> RelayError:
    """A refusal decided by OneProxy (never retried on another channel)."""
    kind = type or (INVALID if status < 500 else GATEWAY)
    return RelayError(status, code, message, type=kind, param=param, retryable=False,
                      retry_after=retry_after)


def error_response(error: RelayError) -> HttpResponse:
    """The JSON error response for `error`; the request id header is added by middleware."""
    response = HttpResponse(orjson.dumps(error.to_dict()), status=error.status,
                            content_type="application/json")
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    # Django logs every 4xx/5xx through a thread hop; the access line already says it all.
    response._has_been_logged = True
    return response


# ---- the catalogue: one function per refusal, so messages stay consistent -------------

def missing_key() -> RelayError:
    return gateway(401, "missing_api_key",
                   "No API key provided. Send it as 'Authorization: Bearer sk-...'.")


def invalid_key() -> RelayError:
    return gateway(401, "invalid_api_key", "Incorrect API key provided.")


def token_disabled() -> RelayError:
    return gateway(401, "token_disabled", "This API key has been disabled.")


def token_expired() -> RelayError:
    return gateway(401, "token_expired", "This API key has expired.")


def token_exhausted() -> RelayError:
    return gateway(401, "token_exhausted", "This API key has used up its quota.")


def user_disabled() -> RelayError:
    return gateway(403, "user_disabled", "The account owning this API key is disabled.")


def ip_not_allowed(ip: str) -> RelayError:
    return gateway(403, "ip_not_allowed",
                   f"Requests from {ip} are not allowed for this API key.")


def pin_not_allowed() -> RelayError:
    return gateway(403, "channel_pin_not_allowed", "Only admins may pin a channel.")


def pinned_channel_unavailable(channel_id: int) -> RelayError:
    return gateway(400, "invalid_channel", f"Channel {channel_id} does not exist or is not "
                   "enabled.")


def model_not_allowed(model: str) -> RelayError:
    return gateway(403, "model_not_allowed", f"This API key may not use the model '{model}'.",
                   param="model")


def model_not_priced(model: str) -> RelayError:
    return gateway(403, "model_price_not_set",
                   f"The model '{model}' has no price set; ask the operator to add one.",
                   param="model")


def insufficient_quota(scope: str, remaining: int, needed: int) -> RelayError:
    owner = "API key" if scope == "token" else "account"
    return gateway(403, "insufficient_quota",
                   f"Not enough quota on this {owner}: {remaining} left, this request needs "
                   f"up to {needed}.", type="insufficient_quota")


def no_channel(group: str, model: str, hint: str = "") -> RelayError:
    message = f"No available channel for model '{model}' in group '{group}'."
    return gateway(503, "model_not_available", f"{message} {hint}".strip(), param="model")


def endpoint_not_supported(model: str, path: str) -> RelayError:
    return gateway(400, "unsupported_endpoint",
                   f"The model '{model}' cannot be used with /v1/{path}.", param="model")


def all_channels_failed(last: RelayError, tried: int) -> RelayError:
    """The final error after failover: the last upstream error, saying how many tried."""
    noun = "channel" if tried == 1 else "channels"
    return RelayError(last.status, last.code, f"{last.message} (tried {tried} {noun})",
                      type=last.type, param=last.param, retryable=False,
                      upstream_status=last.upstream_status, detail=last.detail)


def not_found(path: str) -> RelayError:
    return gateway(404, "unknown_url", f"Unknown request URL: {path}. Please check the URL "
                   "and method.")


def method_not_allowed(method: str, path: str) -> RelayError:
    return gateway(405, "method_not_allowed", f"{method} is not allowed on {path}.")


def model_not_found(model: str) -> RelayError:
    return gateway(404, "model_not_found", f"The model '{model}' does not exist or you do not "
                   "have access to it.", param="model")


def body_too_large(limit_mb: int) -> RelayError:
    return gateway(413, "request_too_large", f"Request body is larger than {limit_mb} MB.")


def unsupported_media_type(content_type: str, expected: str) -> RelayError:
    return gateway(415, "unsupported_content_type",
                   f"Content type '{content_type or 'none'}' is not supported here; send "
                   f"{expected}.")


def bad_request(message: str, param: str | None = None, code: str = "invalid_request"
                ) -> RelayError:
    return gateway(400, code, message, param=param)


def internal_error() -> RelayError:
    return gateway(500, "internal_error", "The gateway failed to handle this request.")
