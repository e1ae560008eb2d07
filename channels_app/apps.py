from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels_app"
    verbose_name = _("Channels")

    def ready(self):
        # checks and routing upkeep register themselves; tasks register the periodic jobs
        # (channel tests, retests, balances) for beat and the embedded scheduler.
        from . import checks, signals, tasks  # noqa: F401
