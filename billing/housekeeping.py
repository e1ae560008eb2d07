"""Housekeeping services: daily usage rollups, log retention, token expiry and exhaustion.

Rollups are incremental. A watermark (an Option row, updated in the same transaction as
the rollup rows, so a crash never counts a log twice) remembers the last log id rolled
up. Log ids are not committed in id order (a flush may still be writing ids below the
newest visible one), so each run rolls up only to the highest id the *previous* run saw:
everything below it had a whole interval to commit. Dashboards lag by one interval.

Retention deletes raw logs in batches and never deletes a consume or error log that has
not been rolled up yet, so the rollups stay complete.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from core import cachebus

from .models import DailyUsage, Log, LogType, Option, Token, TokenStatus

WATERMARK_KEY = "housekeeping:usage_rollup"
ROLLED_UP_TYPES = (LogType.CONSUME, LogType.ERROR)
ROLLUP_CHUNK = 20_000  # log ids per transaction


def roll_up_usage(*, settle: bool = True) -> int:
    """Add new consume/error logs to DailyUsage; returns how many logs were rolled up.

    `settle=False` also takes the logs newer than the previous run's view (tests, and a
    final run after the writers stopped). Two concurrent runs serialise on the watermark.
    """
    total, target = 0, None
    while True:
        with transaction.atomic():
            state = _locked_watermark()
            done, seen = int(state.value["done"]), int(state.value["seen"])
            newest = Log.objects.aggregate(top=Max("pk"))["top"] or 0
            if target is None:  # fixed for the whole run, chunk after chunk
                target = seen if settle else newest
            upto = max(done, min(target, done + ROLLUP_CHUNK))
            if upto > done:
                total += _add_range(done, upto)
            # update(), not save(): no "options" cache bump for a bookkeeping row
            Option.objects.filter(key=WATERMARK_KEY).update(
                value={"done": upto, "seen": max(seen, newest)})
        if upto >= target:
            return total


def rolled_up_to() -> int:
    """The highest log id already counted in DailyUsage."""
    row = Option.objects.filter(key=WATERMARK_KEY).first()
    return int(row.value["done"]) if row else 0


def _locked_watermark() -> Option:
    Option.objects.get_or_create(key=WATERMARK_KEY, defaults={"value": {"done": 0, "seen": 0}})
    return Option.objects.select_for_update().get(key=WATERMARK_KEY)


def _add_range(low: int, high: int) -> int:
    """Fold logs with low < id <= high into DailyUsage with F() increments."""
    groups = (
        Log.objects.filter(pk__gt=low, pk__lte=high, type__in=ROLLED_UP_TYPES)
        .annotate(day=TruncDate("created_at"))
        .values("day", "model")
        .annotate(
            uid=Coalesce("user_id", Value(0)),
            tid=Coalesce("token_id", Value(0)),
            cid=Coalesce("channel_id", Value(0)),
        )
        .values("day", "model", "uid", "tid", "cid")
        .annotate(
            n=Count("pk"),
            errors=Count("pk", filter=Q(type=LogType.ERROR) | Q(status_code__gte=400)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            spent=Sum("quota"),
        )
        .order_by()
    )
    rows = 0
    for group in groups:
        _upsert(group)
        rows += group["n"]
    return rows


def _upsert(group: dict) -> None:
    where = {"day": group["day"], "user_id": group["uid"], "token_id": group["tid"],
             "channel_id": group["cid"], "model": group["model"]}
    deltas = {"requests": group["n"], "errors": group["errors"],
              "prompt_tokens": group["prompt"] or 0,
              "completion_tokens": group["completion"] or 0, "quota": group["spent"] or 0}
    updated = DailyUsage.objects.filter(**where).update(
        **{field: F(field) + value for field, value in deltas.items()})
    if not updated:  # the watermark lock makes us the only writer: no insert race
        DailyUsage.objects.create(**where, **deltas)


def retention_days() -> int:
    """Days raw logs are kept: the log_retention_days option when an operator set one,
    else the LOG_RETENTION_DAYS setting. 0 or less keeps logs forever."""
    row = Option.objects.filter(key="log_retention_days").first()
    try:
        return int(row.value) if row else int(settings.LOG_RETENTION_DAYS)
    except (TypeError, ValueError):
        return int(settings.LOG_RETENTION_DAYS)


def delete_old_logs(*, now=None, batch: int | None = None) -> int:
    """Delete logs older than the retention period, `batch` rows per statement (short
    locks on a big table); consume/error logs only once rolled up. Returns the count."""
    days = retention_days()
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    batch = batch or settings.LOG_RETENTION_BATCH
    old = Log.objects.filter(created_at__lt=cutoff).filter(
        ~Q(type__in=ROLLED_UP_TYPES) | Q(pk__lte=rolled_up_to()))
    deleted = 0
    while True:
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += Log.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted


def expire_tokens(*, now=None) -> int:
    """Mark enabled tokens past their expiry as expired; returns how many."""
    changed = Token.objects.filter(
        status=TokenStatus.ENABLED, expires_at__isnull=False,
        expires_at__lte=now or timezone.now(),
    ).update(status=TokenStatus.EXPIRED)
    if changed:
        cachebus.bump("auth")
    return changed


def mark_exhausted_tokens() -> tuple[int, int]:
    """Mark enabled limited tokens with no quota left as exhausted, and give exhausted
    ones whose quota was raised since back their enabled status. Returns (marked, back)."""
    marked = Token.objects.filter(
        status=TokenStatus.ENABLED, unlimited_quota=False, remain_quota__lte=0
    ).update(status=TokenStatus.EXHAUSTED)
    back = Token.objects.filter(status=TokenStatus.EXHAUSTED).filter(
        Q(unlimited_quota=True) | Q(remain_quota__gt=0)
    ).update(status=TokenStatus.ENABLED)
    if marked or back:
        cachebus.bump("auth")
    return marked, back
