"""The /v1 endpoints: `async def` Django views calling DRF policy classes, one code path
for all of them.

The policies (relay/auth.py: API-key authentication, token admission, model permission)
are DRF's BaseAuthentication and BasePermission, called as an APIView calls them. The
views are not adrf APIViews because adrf runs `initial()` (and with it every policy)
through sync_to_async: a hop to Django's one shared thread on every request, which would
serialise all /v1 traffic of a process. The policies read only the in-process snapshot;
errors are OpenAI-shaped; RequestIdMiddleware adds X-Request-Id to every response.
"""

from __future__ import annotations

import logging
import time

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from billing import quota
from providers.base import Endpoint
from providers.errors import RelayError
from relay import auth, exchange, metrics, pipeline, refusals, schemas, throttle
from relay.refusals import error_response
from relay.snapshot import ChannelRoute, Principal, RoutingTable, snapshot

logger = logging.getLogger(__name__)
JSON_TYPES = ("", "application/json", "application/x-www-form-urlencoded", "text/plain")


def endpoint_view(endpoint: Endpoint):
    """The view serving `POST /v1/<endpoint.path>`."""

    async def view(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return error_response(refusals.method_not_allowed(request.method, request.path))
        return await _respond(request, endpoint, _relay)

    view.__name__ = f"relay_{endpoint.value}"
    return csrf_exempt(view)


async def _respond(request: HttpRequest, endpoint: Endpoint, handler, *args) -> HttpResponse:
    """Run `handler`, turning any failure into an OpenAI error; record metrics."""
    started = time.perf_counter()
    request.relay_model = "-"
    try:
        response = await handler(request, endpoint, started, *args)
    except RelayError as err:
        response = error_response(err)
        if err.status == 401:
            response["WWW-Authenticate"] = auth.AUTHENTICATION.authenticate_header(request)
    except quota.QuotaUnavailable:
        response = error_response(refusals.gateway(503, "quota_unavailable",
                                                 "Quota service busy; retry shortly."))
    except Exception:
        logger.exception("relay failed")
        response = error_response(refusals.internal_error())
    metrics.child(metrics.REQUESTS, endpoint.value, request.relay_model,
                  str(response.status_code)).inc()
    metrics.child(metrics.LATENCY, endpoint.value).observe(time.perf_counter() - started)
    return response


async def _relay(request: HttpRequest, endpoint: Endpoint, started: float) -> HttpResponse:
    if auth.PRE_AUTHENTICATED not in getattr(request, "scope", {}):
        snapshot.refresh()  # else the ASGI entry refreshed when it checked the key
    principal = await auth.admit(request)
    req = read_request(request, endpoint)
    auth.check_model(request, req.model)
    table = await snapshot.routing()
    pinned = _routable(table, principal, req.model, request.pinned_channel)
    request.relay_model = req.model
    options = await snapshot.options()
    ex = exchange.begin(getattr(request, "request_id", ""), started,
                        request.META.get("REMOTE_ADDR", ""), principal, req,
                        await snapshot.prices(), options)
    await throttle.TokenRateThrottle().allow_request(request)  # counts only priced ones
    await exchange.pre_charge(ex, options["pre_consume_tokens"])
    return await pipeline.run(ex, table, pinned, options["retry_times"])


def _routable(table: RoutingTable, principal: Principal, model: str,
              pinned_id: int | None) -> ChannelRoute | None:
    """The pinned channel, or None once some channel serves `model` in the principal's
    group; raises the 400/503 that says why not."""
    if pinned_id is not None:
        pinned = table.channels.get(pinned_id)
        if pinned is None:
            raise refusals.pinned_channel_unavailable(pinned_id)
        return pinned
    if not table.candidates(principal.group, model):
        hint = table.unavailable_hint(principal.group, model, operator=principal.is_admin)
        raise refusals.no_channel(principal.group, model, hint)
    return None


def read_request(request: HttpRequest, endpoint: Endpoint) -> schemas.RelayRequest:
    """The validated body; 413 over MAX_REQUEST_BODY_MB, 415 for a wrong content type."""
    limit_mb = settings.MAX_REQUEST_BODY_MB
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > limit_mb << 20:
        raise refusals.body_too_large(limit_mb)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise refusals.body_too_large(limit_mb) from None
    if len(raw) > limit_mb << 20:
        raise refusals.body_too_large(limit_mb)
    content_type = request.META.get("CONTENT_TYPE", "")
    if endpoint.is_multipart:
        try:
            return schemas.parse_multipart(endpoint, raw, request.META, content_type,
                                           request.upload_handlers)
        except SuspiciousOperation as exc:
            raise refusals.bad_request(str(exc), code="invalid_multipart") from None
    if content_type.partition(";")[0].strip().lower() not in JSON_TYPES:
        raise refusals.unsupported_media_type(content_type, "application/json")
    return schemas.parse_json(endpoint, raw)


# ---- models --------------------------------------------------------------------------

async def _visible_models(request: HttpRequest) -> dict[str, dict]:
    """Model objects this token and its owner's group may use, by id."""
    snapshot.refresh()
    principal = await auth.admit(request)
    table = await snapshot.routing()
    out = {}
    for model in table.models_by_group.get(principal.group, ()):
        if principal.allowed_models and model not in principal.allowed_models:
            continue
        owner = table.candidates(principal.group, model)[0][0].provider
        out[model] = {"id": model, "object": "model", "created": 0, "owned_by": owner}
    return out


async def _list(request: HttpRequest, endpoint: Endpoint, started: float) -> HttpResponse:
    models = await _visible_models(request)
    body = {"object": "list", "data": list(models.values())}
    return HttpResponse(orjson.dumps(body), content_type="application/json")


async def _retrieve(request: HttpRequest, endpoint: Endpoint, started: float,
                    model_id: str) -> HttpResponse:
    models = await _visible_models(request)
    if model_id not in models:
        raise refusals.model_not_found(model_id)
    return HttpResponse(orjson.dumps(models[model_id]), content_type="application/json")


@csrf_exempt
async def list_models(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return error_response(refusals.method_not_allowed(request.method, request.path))
    return await _respond(request, Endpoint.models, _list)


@csrf_exempt
async def retrieve_model(request: HttpRequest, model_id: str) -> HttpResponse:
    if request.method != "GET":
        return error_response(refusals.method_not_allowed(request.method, request.path))
    return await _respond(request, Endpoint.models, _retrieve, model_id)


@csrf_exempt
async def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other /v1 path: 404 in the OpenAI shape."""
    return error_response(refusals.not_found(request.path))
