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
"""

import asyncio
import contextlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneproxy.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, RequestAborted, get_script_prefix  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402

django_application = get_asgi_application()

from oneproxy import lifecycle  # noqa: E402
from relay import after_response  # noqa: E402

FAST_PATH_PREFIXES = ("/v1/", "/healthz")


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
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
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


fast_path_application = FastPathHandler()


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifecycle.serve_lifespan(receive, send)
        return
    if scope["type"] == "http" and scope["path"].startswith(FAST_PATH_PREFIXES):
        await fast_path_application(scope, receive, send)
        return
    await django_application(scope, receive, send)
