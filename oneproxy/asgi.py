"""ASGI entry point: Django plus the lifespan protocol for start-up and graceful shutdown.

Django does not speak ASGI lifespan itself; this wrapper runs the registered start-up hooks
(embedded background jobs) and, after the server has drained in-flight requests, the
shutdown hooks (flushing buffered quota, closing the upstream HTTP client).

Hot paths (/v1 and the probes) go through FastPathHandler. Django's ASGIHandler runs each
request in a fresh ThreadSensitiveContext, fires request_started/request_finished (whose
synchronous receivers cost thread hops) and passes through the built-in middleware, whose
hooks all run via sync_to_async: measured at ~8 ms per trivial request on this machine.
The relay makes no database query when warm, so it skips all of that; its cold-cache
loads manage their own connections.

No body is read before it may be: a /v1 request with a body is authenticated from its
headers first (an unknown key gets its 401 without a byte of the body read), and every
body is read by oneproxy.bodylimit within its route's size limit and SERVER_BODY_TIMEOUT.
A refusal made before the body was read to its end closes the connection.
"""

import asyncio
import contextlib
import logging
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneproxy.settings")

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, RequestAborted, get_script_prefix  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402

django.setup(set_prefix=False)  # what get_asgi_application() does before its handler

from core import lifecycle  # noqa: E402
from oneproxy import bodylimit  # noqa: E402
from oneproxy.middleware import new_request_id, write_access_line  # noqa: E402
from providers.errors import RelayError  # noqa: E402
from relay import after_response, auth, refusals  # noqa: E402
from relay.snapshot import snapshot  # noqa: E402

FAST_PATH_PREFIXES = ("/v1/", "/healthz")
logger = logging.getLogger(__name__)


class BoundedDjangoHandler(ASGIHandler):
    """Django's ASGI handler (admin, /api) reading the body within SERVER_ADMIN_BODY_MB."""

    async def handle(self, scope, receive, send):
        limit_mb = settings.SERVER_ADMIN_BODY_MB
        try:
            body_file = await bodylimit.read_body(scope, receive, limit_mb << 20,
                                                  settings.SERVER_BODY_TIMEOUT)
        except RequestAborted:
            return
        except bodylimit.BodyRefused as refusal:
            await self.send_response(_django_refusal(scope, refusal, limit_mb), send)
            return
        await super().handle(scope, bodylimit.Prefetched(receive, body_file), send)

    async def read_body(self, receive):
        if isinstance(receive, bodylimit.Prefetched):
            return receive.body_file
        return await super().read_body(receive)


def _django_refusal(scope: dict, refusal: bodylimit.BodyRefused, limit_mb: int) -> HttpResponse:
    """413/408 in the dialect of the path: DRF's `{"detail"}` for /api, text otherwise."""
    if isinstance(refusal, bodylimit.BodyTooLarge):
        message = _("Request body is larger than %(limit)s MB.") % {"limit": limit_mb}
    else:
        message = _("The request body was not received in time.")
    if scope["path"].startswith("/api/"):
        response = JsonResponse({"detail": message}, status=refusal.status)
    else:
        response = HttpResponse(message, status=refusal.status, content_type="text/plain")
    return _closing(response)


def _closing(response: HttpResponse) -> HttpResponse:
    """`response` for a request whose body was not read to its end: sized (the client
    may stop reading once it has that many bytes) and closing the connection, since the
    rest of the body is still on the wire."""
    response["Content-Length"] = str(len(response.content))
    response["Connection"] = "close"
    return response


class FastPathHandler(ASGIHandler):
    """Django's ASGI handler without the per-request thread context and request signals.

    It keeps Django's disconnect handling: when the client goes away, the view's task is
    cancelled, so a streaming view's `finally` closes the upstream at once. Work a view
    deferred with `relay.after_response` runs once the response is sent. Responses are
    not `close()`d (that fires request_finished synchronously); fast-path views release
    what they hold in their own `finally` blocks.
    """

    def load_middleware(self, is_async=False):
        # Django's built-in middleware runs its hooks through sync_to_async: two thread
        # hops each. The API paths need none of them (no sessions, CSRF, locale or
        # messages), only the request id.
        saved = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.FAST_PATH_MIDDLEWARE
        try:
            super().load_middleware(is_async=True)
        finally:
            settings.MIDDLEWARE = saved

    async def __call__(self, scope, receive, send):
        started = time.perf_counter()
        try:
            body_file = await self._authenticate_then_read(scope, receive)
        except RequestAborted:
            return
        except RelayError as refusal:
            await self.send_response(_relay_refusal(scope, refusal, started), send)
            return
        except Exception:  # e.g. the database down on a cold key: answered as the view would
            logger.exception("relay failed before the body was read")
            await self.send_response(_relay_refusal(scope, refusals.internal_error(), started),
                                     send)
            return
        scope_token, after = after_response.open_scope()
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                return
            await self._serve_until_disconnect(request, receive, send)
        finally:
            body_file.close()
            after_response.close_scope(scope_token)
            await after_response.run(after)

    async def _authenticate_then_read(self, scope, receive):
        """The body file, read only once the key is known and within MAX_REQUEST_BODY_MB.

        Leaves the (principal, pin) in the scope for the view (relay/auth.py). Raises the
        RelayError refusing the request (401, 413, 408) or RequestAborted."""
        if scope["path"].startswith("/v1/") and bodylimit.has_body(scope):
            snapshot.refresh()
            scope[auth.PRE_AUTHENTICATED] = await auth.AUTHENTICATION.authenticate_key(
                auth.key_from_scope(scope))
        limit_mb = settings.MAX_REQUEST_BODY_MB
        try:
            return await bodylimit.read_body(scope, receive, limit_mb << 20,
                                             settings.SERVER_BODY_TIMEOUT)
        except bodylimit.BodyTooLarge:
            raise refusals.body_too_large(limit_mb) from None
        except bodylimit.BodyTimeout:
            raise refusals.gateway(408, "request_timeout",
                                 "The request body was not received in time.") from None

    async def _serve_until_disconnect(self, request, receive, send):
        async def serve():
            response = await self.run_get_response(request)
            await self.send_response(response, send)

        serving = asyncio.create_task(serve())
        watching = asyncio.create_task(self.listen_for_disconnect(receive))
        done, _pending = await asyncio.wait(
            {serving, watching}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in (watching, serving):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                await task


def _relay_refusal(scope: dict, refusal: RelayError, started: float) -> HttpResponse:
    """The OpenAI-shaped answer to a request refused before its body was read, with the
    request id and access line RequestIdMiddleware gives the others."""
    response = refusals.error_response(refusal)
    if refusal.status == 401:
        response["WWW-Authenticate"] = auth.AUTHENTICATION.authenticate_header(None)
    request_id = new_request_id(
        (bodylimit.header(scope, b"x-request-id") or b"").decode("latin-1"))
    response["X-Request-Id"] = request_id
    write_access_line(request_id, scope["method"], scope["path"], refusal.status, started)
    return _closing(response)


django_application = BoundedDjangoHandler()
fast_path_application = FastPathHandler()


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifecycle.serve_lifespan(receive, send)
        return
    if scope["type"] == "http" and scope["path"].startswith(FAST_PATH_PREFIXES):
        await fast_path_application(scope, receive, send)
        return
    await django_application(scope, receive, send)
