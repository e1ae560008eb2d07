"""Tell the operator about channel events: email through Django's email backend to
NOTIFY_EMAIL, and a JSON POST to NOTIFY_WEBHOOK_URL when set.

`send()` delivers now and never raises (a broken mail server must not break a status
change); `send_later()` hands delivery to a background worker (Celery with Redis, a
thread in embedded mode) so the caller never waits on SMTP or a slow webhook.
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10.0


def payload(event: str, subject: str, message: str, channel_id: int | None) -> dict:
    """The webhook body: stable keys a chat bot or pager can template on."""
    return {
        "event": event,
        "subject": subject,
        "message": message,
        "channel_id": channel_id,
        "time": timezone.now().isoformat(),
    }


def send(event: str, subject: str, message: str, channel_id: int | None = None) -> dict:
    """Deliver one notification now; returns {"email": bool, "webhook": bool} (delivered)."""
    sent = {"email": False, "webhook": False}
    if settings.NOTIFY_EMAIL:
        try:
            send_mail(f"[OneProxy] {subject}", message, None, list(settings.NOTIFY_EMAIL))
            sent["email"] = True
        except Exception:  # noqa: BLE001 - any backend failure is only logged
            logger.exception("notification email failed", extra={"event": event})
    if settings.NOTIFY_WEBHOOK_URL:
        try:
            response = httpx.post(settings.NOTIFY_WEBHOOK_URL,
                                  json=payload(event, subject, message, channel_id),
                                  timeout=WEBHOOK_TIMEOUT)
            response.raise_for_status()
            sent["webhook"] = True
        except httpx.HTTPError:
            logger.warning("notification webhook failed", exc_info=True,
                           extra={"event": event})
    return sent


def send_later(event: str, subject: str, message: str, channel_id: int | None = None) -> None:
    """Queue `send` off the caller's path (nothing to do when no target is configured)."""
    if not (settings.NOTIFY_EMAIL or settings.NOTIFY_WEBHOOK_URL):
        return
    from core import executor

    from . import tasks

    executor.submit(tasks.notify_operator, event, subject, message, channel_id)
