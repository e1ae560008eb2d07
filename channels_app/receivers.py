"""What channels_app does when the relay reports on upstreams (core.signals).

The relay owns health and cooling but no rows; these receivers turn its reports into
channels_app's own services: a rejected key is disabled (and its channel auto-disabled
when no usable key is left), and each start or end of a cooling period becomes a SYSTEM
log row and an operator notification. Connected when the app is ready (apps.py).
"""

from __future__ import annotations

from django.dispatch import receiver

from core import signals

from . import services


@receiver(signals.key_rejected, dispatch_uid="channels_app.disable_rejected_key")
def disable_rejected_key(sender: object, *, key_id: int, reason: str,
                         **kwargs: object) -> bool:
    """True when the key is now out of service (see services.auto_disable_key)."""
    return services.auto_disable_key(key_id, reason)


@receiver(signals.cooling_changed, dispatch_uid="channels_app.record_cooling")
def record_cooling(sender: object, *, channel_id: int, model: str, reason: str,
                   started: bool, **kwargs: object) -> None:
    services.record_health_event(channel_id, model, reason, started=started)
