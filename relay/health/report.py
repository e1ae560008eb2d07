"""Judging each upstream attempt: the relay calls `report()` after every one.

A success is counted (windows.record_success, no waiting). A failure is recorded at once;
when it takes a window to the error-rate threshold (options auto_disable_error_rate over
at least auto_disable_min_requests attempts) the channel, or the model on it, starts
cooling before this returns. A key upstream called invalid is handed to channels_app
through core.signals.key_rejected, since no retry will revive it.
"""

from __future__ import annotations

import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from core import signals

from . import cooling, windows

logger = logging.getLogger(__name__)

# Client mistakes say nothing about the upstream's health (One API's misfire, D.2 #5).
IGNORED_STATUSES = frozenset({400, 413, 422})

_thresholds: tuple[float, float, int] | None = None  # (loaded at, error rate, min requests)
THRESHOLDS_TTL = 5.0


def thresholds() -> tuple[float, int]:
    """(error rate, minimum requests) from the runtime options, cached for a few seconds."""
    global _thresholds
    now = time.monotonic()
    if _thresholds is None or now - _thresholds[0] > THRESHOLDS_TTL:
        from billing.models import Option
        from core import options

        opts = options.get_options()
        # The AUTO_DISABLE_ERROR_RATE setting is the default an operator's option overrides.
        stored = Option.objects.filter(key="auto_disable_error_rate").exists()
        rate = opts["auto_disable_error_rate"] if stored else settings.AUTO_DISABLE_ERROR_RATE
        _thresholds = (now, float(rate), int(opts["auto_disable_min_requests"]))
    return _thresholds[1], _thresholds[2]


def crossed(counts: list[tuple[int, int]], rate: float, minimum: int) -> int | None:
    """Index of the first scope whose window reaches `rate` over at least `minimum`
    attempts (channel before model), or None. A rate of 0 or less turns this off."""
    if rate <= 0:
        return None
    for index, (total, errors) in enumerate(counts):
        if total >= max(1, minimum) and errors / total >= rate:
            return index
    return None


async def report(channel_id: int, key_id: int | None, model: str, *, ok: bool,
                 status: int | None = None, error_code: str = "", message: str = "",
                 key_invalid: bool = False) -> None:
    """Record one upstream attempt. Never raises: health bookkeeping must not fail a request.

    `key_invalid` disables the key at once (when the option allows). A failure that takes
    a window to the error-rate threshold cools the channel (or the model on it) down
    before this returns, so the very next routing decision of every process avoids it.
    Rate-limit errors count like other errors: they cool, they never disable.
    """
    if ok:
        windows.record_success(channel_id, model)
        return
    if status in IGNORED_STATUSES:
        return
    try:
        if key_invalid and key_id is not None and await _disable_key(key_id, status, message):
            return
        counts = await windows.record(channel_id, model, True)
        rate, minimum = thresholds() if _thresholds_fresh() else \
            await sync_to_async(thresholds)()
        index = crossed(counts, rate, minimum)
        if index is None:
            return
        scope_model = "" if index == 0 else model
        if cooling.active_entry(channel_id, "") is None and \
                cooling.active_entry(channel_id, scope_model) is None:
            total, errors = counts[index]
            reason = _reason(errors, total, status, error_code, message)
            await cooling.start_cooling_async(channel_id, scope_model, reason)
    except Exception:  # noqa: BLE001 - health must never break the relay
        logger.exception("health report failed", extra={"channel_id": channel_id})


def _thresholds_fresh() -> bool:
    return _thresholds is not None and time.monotonic() - _thresholds[0] <= THRESHOLDS_TTL


def _reason(errors: int, total: int, status, code: str, message: str) -> str:
    last = " ".join(str(p) for p in (status, code, message[:200]) if p)
    return f"{errors} of the last {total} requests failed (last: {last or 'error'})"


async def _disable_key(key_id: int, status, message: str) -> bool:
    """Ask the key's owner (channels_app's receiver) to take it out of service; True when
    it did."""
    reason = f"upstream rejected the key ({status or 'error'}): {message[:300]}"
    responses = await sync_to_async(signals.key_rejected.send)(
        sender=cooling.Cooling, key_id=key_id, reason=reason)
    return signals.any_true(responses)
