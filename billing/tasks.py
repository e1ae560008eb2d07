"""Celery tasks of billing: the periodic quota flush (thin: it calls billing.quota.flush)."""

import logging
from dataclasses import asdict

from celery import shared_task

from core.schedule import PeriodicJob, register

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


register(PeriodicJob("billing-flush-usage", "billing.tasks.flush_usage", "BILLING_FLUSH_INTERVAL"))


async def flush_on_shutdown() -> None:
    """Lifecycle hook: flush what this process still holds before it exits."""
    from asgiref.sync import sync_to_async

    from billing import quota

    await sync_to_async(quota.flush)()
