from django.apps import AppConfig


class OneProxyConfig(AppConfig):
    name = "oneproxy"
    verbose_name = "OneProxy"

    def ready(self):
        from . import checks, embedded, lifecycle  # noqa: F401  (checks register themselves)

        lifecycle.on_startup(embedded.start)
        lifecycle.on_shutdown(embedded.stop)
