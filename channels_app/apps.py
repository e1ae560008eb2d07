from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels_app"
    verbose_name = _("Channels")

    def ready(self):
        # checks, routing upkeep and the receivers of the relay's reports (core.signals)
        # register themselves; tasks register the periodic jobs (channel tests and
        # balances) for beat and the embedded scheduler.
        from . import checks, receivers, signals, tasks  # noqa: F401
