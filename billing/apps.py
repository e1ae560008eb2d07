from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from core import lifecycle

        # signals: cache invalidation on every change; tasks: the periodic quota flush;
        # jobs: housekeeping (rollups, retention, token upkeep)
        from . import jobs, signals, tasks  # noqa: F401
        from .quota import hooks

        # Quota: live balances dropped on edits and top-ups, a flush on shutdown.
        hooks.connect()
        lifecycle.on_shutdown(tasks.flush_on_shutdown)
