"""The relay's periodic job: retests of cooled-down channels.

Cooling is the relay's state (relay.health), so probing the channels whose pause is over
is the relay's job; it uses channels_app's channel test (one service for every caller).
Scheduled channel tests, which auto-disable and re-enable channels, stay in
channels_app.tasks. Registered in core.schedule, which both Celery beat and the embedded
scheduler read.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.schedule import PeriodicJob, register

from .health import cooling

logger = logging.getLogger(__name__)


@shared_task(name="relay.tasks.retest_cooling", ignore_result=True)
def retest_cooling() -> int:
    """Probe each cooled-down channel (or model) whose pause is over: a pass ends the
    cooling (through core.signals.channel_passed_test), a failure extends it, doubling
    the pause. Returns how many were probed."""
    from channels_app import services
    from channels_app.models import Channel

    probed = 0
    for entry in cooling.due_for_retest():
        channel = Channel.objects.filter(pk=entry.channel_id).first()
        if channel is None or not channel.is_routable():
            continue  # routing already avoids it; the entry runs out on its own
        try:
            result = services.test_channel(channel, model=entry.model or None)
        except services.ChannelError as exc:
            logger.warning("retest skipped: %s", exc, extra={"channel_id": channel.pk})
            continue
        probed += 1
        if not result.ok:
            cooling.start_cooling(channel.pk, entry.model, f"retest failed: {result.error}",
                                 strikes=entry.strikes + 1)
    return probed


register(PeriodicJob("channel-retests", "relay.tasks.retest_cooling",
                     "HEALTH_RETEST_INTERVAL"))
