import os

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oneproxy.httpguard import GuardedHttpToolsProtocol


def default_workers() -> int:
    """One worker in embedded mode: its in-process caches and quota counters cannot see a
    sibling process's changes. With Redis, WEB_CONCURRENCY or one per core."""
    if settings.EMBEDDED_MODE:
        return 1
    return settings.WEB_CONCURRENCY or os.cpu_count() or 1


class Command(BaseCommand):
    help = "Serve OneProxy with uvicorn (uvloop + httptools) on 0.0.0.0:$PORT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--workers", type=int, default=None)

    def handle(self, *args, host, port, workers, **options):
        if settings.EMBEDDED_MODE and workers and workers > 1:
            raise CommandError(
                "Embedded mode (no REDIS_URL) serves with one worker: each process would "
                "keep its own quota balances and caches. Set REDIS_URL to run several."
            )
        uvicorn.run(
            "oneproxy.asgi:application",
            host=host,
            port=port,
            workers=workers or default_workers(),
            loop="uvloop",
            # httptools with SERVER_MAX_HEADER_BYTES and SERVER_HEADER_TIMEOUT, which
            # uvicorn's own httptools protocol does not have.
            http=GuardedHttpToolsProtocol,
            lifespan="on",
            access_log=False,  # RequestIdMiddleware writes access lines with the request id
            log_config=None,  # keep Django's JSON logging
            proxy_headers=True,
            forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            timeout_graceful_shutdown=settings.GRACEFUL_TIMEOUT,
        )
