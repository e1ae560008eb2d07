import atexit

from django.apps import AppConfig


class OneProxyConfig(AppConfig):
    name = "oneproxy"
    verbose_name = "OneProxy"

    def ready(self):
        from core import lifecycle

        from . import checks, embedded  # noqa: F401  (checks register themselves)
        from .logging import access_log

        lifecycle.on_startup(embedded.start)
        lifecycle.on_shutdown(embedded.stop)
        lifecycle.on_shutdown(access_log.flush)
        atexit.register(access_log.flush)
