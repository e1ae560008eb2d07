"""Housekeeping Celery tasks (thin: each calls one service of billing.housekeeping).

Registered in core.schedule, so Celery beat (via `manage.py sync_schedules`) and the
embedded scheduler both run them.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.schedule import PeriodicJob, register

from . import housekeeping

logger = logging.getLogger(__name__)


@shared_task(name="billing.jobs.roll_up_usage", ignore_result=True)
def roll_up_usage() -> int:
    """Fold new consume logs into the daily usage rollups."""
    count = housekeeping.roll_up_usage()
    logger.info("usage rolled up", extra={"logs": count})
    return count


@shared_task(name="billing.jobs.token_upkeep", ignore_result=True)
def token_upkeep() -> dict:
    """Expire tokens past their expiry; mark exhausted ones (and restore refilled ones)."""
    expired = housekeeping.expire_tokens()
    exhausted, restored = housekeeping.mark_exhausted_tokens()
    result = {"expired": expired, "exhausted": exhausted, "restored": restored}
    logger.info("token upkeep", extra=result)
    return result


@shared_task(name="billing.jobs.purge_old_logs", ignore_result=True)
def purge_old_logs() -> int:
    """Delete raw logs past the retention period (rolled up first, so totals stay)."""
    housekeeping.roll_up_usage()
    deleted = housekeeping.delete_old_logs()
    logger.info("old logs deleted", extra={"logs": deleted})
    return deleted


@shared_task(name="billing.jobs.release_stale_reservations", ignore_result=True)
def release_stale_reservations() -> int:
    """Give back pre-charges whose request never settled (its process died)."""
    from django.conf import settings

    from . import quota

    released = quota.release_stale(settings.QUOTA_RESERVATION_TTL)
    if released:
        logger.warning("stale reservations released", extra={"reservations": released})
    return released


register(PeriodicJob("usage-rollup", "billing.jobs.roll_up_usage", "HOUSEKEEPING_INTERVAL"))
register(PeriodicJob("token-upkeep", "billing.jobs.token_upkeep", "HOUSEKEEPING_INTERVAL"))
register(PeriodicJob("stale-reservations", "billing.jobs.release_stale_reservations",
                     "HOUSEKEEPING_INTERVAL"))
register(PeriodicJob("log-retention", "billing.jobs.purge_old_logs", "LOG_RETENTION_INTERVAL"))
