"""Celery tasks of billing, thin: each calls one service (billing.quota, billing.housekeeping).

The periodic quota flush, and housekeeping: usage rollups, token upkeep, log retention and
stale reservations. All are registered in core.schedule, so Celery beat (via
`manage.py sync_schedules`) and the embedded scheduler both run them.

Each task's name is its dotted path (the embedded scheduler imports it by that name). The
housekeeping tasks lived in `billing/jobs.py` until issue 11; migration 0010 renames the
django-celery-beat rows that still name them there.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task

from core.schedule import PeriodicJob, register

from . import housekeeping

logger = logging.getLogger(__name__)


@shared_task(name="billing.tasks.flush_usage")
def flush_usage() -> dict:
    """Apply queued quota deltas and log rows to the database exactly once (see
    billing.buffer). Skips quietly when another worker is flushing."""
    from billing import quota

    result = asdict(quota.flush())
    if result["batches"] or result["recovered"]:
        logger.info("quota flush", extra=result)
    return result


@shared_task(name="billing.tasks.roll_up_usage", ignore_result=True)
def roll_up_usage() -> int:
    """Fold new consume logs into the daily usage rollups."""
    count = housekeeping.roll_up_usage()
    logger.info("usage rolled up", extra={"logs": count})
    return count


@shared_task(name="billing.tasks.token_upkeep", ignore_result=True)
def token_upkeep() -> dict:
    """Expire tokens past their expiry; mark exhausted ones (and restore refilled ones)."""
    expired = housekeeping.expire_tokens()
    exhausted, restored = housekeeping.mark_exhausted_tokens()
    result = {"expired": expired, "exhausted": exhausted, "restored": restored}
    logger.info("token upkeep", extra=result)
    return result


@shared_task(name="billing.tasks.purge_old_logs", ignore_result=True)
def purge_old_logs() -> int:
    """Delete raw logs past the retention period (rolled up first, so totals stay)."""
    housekeeping.roll_up_usage()
    deleted = housekeeping.delete_old_logs()
    logger.info("old logs deleted", extra={"logs": deleted})
    return deleted


@shared_task(name="billing.tasks.release_stale_reservations", ignore_result=True)
def release_stale_reservations() -> int:
    """Give back pre-charges whose request never settled (its process died)."""
    from django.conf import settings

    from . import quota

    released = quota.release_stale(settings.QUOTA_RESERVATION_TTL)
    if released:
        logger.warning("stale reservations released", extra={"reservations": released})
    return released


register(PeriodicJob("billing-flush-usage", "billing.tasks.flush_usage", "BILLING_FLUSH_INTERVAL"))
register(PeriodicJob("usage-rollup", "billing.tasks.roll_up_usage", "HOUSEKEEPING_INTERVAL"))
register(PeriodicJob("token-upkeep", "billing.tasks.token_upkeep", "HOUSEKEEPING_INTERVAL"))
register(PeriodicJob("stale-reservations", "billing.tasks.release_stale_reservations",
                     "HOUSEKEEPING_INTERVAL"))
register(PeriodicJob("log-retention", "billing.tasks.purge_old_logs", "LOG_RETENTION_INTERVAL"))


async def flush_on_shutdown() -> None:
    """Lifecycle hook: flush what this process still holds before it exits."""
    from asgiref.sync import sync_to_async

    from billing import quota

    await sync_to_async(quota.flush)()
