"""Celery tasks of channel health: scheduled tests, balance refreshes and operator
notifications. Thin: ids in, one service call each. (Retests of cooled-down channels are
the relay's: relay.tasks.)

The periodic ones are registered in core.schedule, which both Celery beat (through
`manage.py sync_schedules`) and the embedded scheduler read.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from core import executor
from core.schedule import PeriodicJob, register

from . import notify, services
from .models import Channel, ChannelStatus

logger = logging.getLogger(__name__)

TEST_SLOTS = "channel-test"


@shared_task(name="channels_app.tasks.test_all_channels", ignore_result=True)
def test_all_channels() -> int:
    """Test every enabled and every auto-disabled channel, one task each, at most
    CHANNEL_TEST_CONCURRENCY at once. Returns how many were queued (or run)."""
    ids = list(
        Channel.objects.filter(status__in=[ChannelStatus.ENABLED, ChannelStatus.AUTO_DISABLED])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = executor.fan_out(test_channel_task, [(pk,) for pk in ids],
                         settings.CHANNEL_TEST_CONCURRENCY)
    logger.info("channel tests queued", extra={"channels": count})
    return count


@shared_task(bind=True, name="channels_app.tasks.test_channel_task", max_retries=None,
             ignore_result=True)
def test_channel_task(self, channel_id: int, model: str | None = None) -> bool | None:
    """Test one channel (see services.test_channel); waits for a free test slot."""
    lease = settings.CHANNEL_TEST_TIMEOUT * 2 + 10
    with executor.slot(TEST_SLOTS, settings.CHANNEL_TEST_CONCURRENCY, lease) as got:
        if not got:
            raise self.retry(countdown=0.5 + random.random())  # noqa: S311 - jitter only
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None or channel.status == ChannelStatus.DISABLED:
            return None
        try:
            result = services.test_channel(channel, model=model)
        except services.ChannelError as exc:
            logger.warning("channel test skipped: %s", exc, extra={"channel_id": channel_id})
            return None
        logger.info("channel tested", extra={"channel_id": channel_id, "ok": result.ok,
                                             "response_ms": result.response_ms})
        return result.ok


@shared_task(name="channels_app.tasks.refresh_balances", ignore_result=True)
def refresh_balances() -> int:
    """Refresh the balance of every channel whose provider has a balance API."""
    channels = Channel.objects.exclude(status=ChannelStatus.DISABLED).order_by("pk")
    ids = [(c.pk,) for c in channels if services.supports_balance(c)]
    return executor.fan_out(refresh_balance_task, ids, settings.CHANNEL_TEST_CONCURRENCY)


@shared_task(name="channels_app.tasks.refresh_balance_task", ignore_result=True)
def refresh_balance_task(channel_id: int) -> str | None:
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return None
    try:
        amount = services.refresh_balance(channel)
    except services.ChannelError as exc:
        logger.warning("balance refresh failed: %s", exc, extra={"channel_id": channel_id})
        return None
    return None if amount is None else str(amount)


@shared_task(name="channels_app.tasks.notify_operator", ignore_result=True)
def notify_operator(event: str, subject: str, message: str,
                    channel_id: int | None = None) -> dict:
    """Deliver one operator notification (email and webhook)."""
    return notify.send(event, subject, message, channel_id)


register(PeriodicJob("channel-tests", "channels_app.tasks.test_all_channels",
                     "CHANNEL_TEST_INTERVAL", unit_seconds=60))
register(PeriodicJob("channel-balances", "channels_app.tasks.refresh_balances",
                     "CHANNEL_BALANCE_INTERVAL", unit_seconds=60))
