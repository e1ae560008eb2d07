from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from core import lifecycle
        from core import options as runtime_options

        # signals: cache invalidation on every change; tasks: the periodic quota flush
        # and housekeeping (rollups, retention, token upkeep), registered in core.schedule
        from . import option_specs, signals, tasks  # noqa: F401
        from .quota import hooks

        # Quota: live balances dropped on edits and top-ups, a flush on shutdown.
        hooks.connect()
        lifecycle.on_shutdown(tasks.flush_on_shutdown)
        # Runtime options: core.options reads them through billing's loader.
        runtime_options.register_loader(option_specs.load_all)
