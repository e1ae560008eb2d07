"""ASGI entry point: Django plus the lifespan protocol for start-up and graceful shutdown.

Django does not speak ASGI lifespan itself; this wrapper runs the registered start-up hooks
(embedded background jobs) and, after the server has drained in-flight requests, the
shutdown hooks (flushing buffered quota, closing the upstream HTTP client).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneproxy.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from oneproxy import lifecycle  # noqa: E402


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifecycle.serve_lifespan(receive, send)
        return
    await django_application(scope, receive, send)
