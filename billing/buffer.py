"""The batch flush: queued quota deltas and log rows reach the database exactly once.

    1. take the flush lock (Redis SET NX PX, or a process lock in embedded mode): two
       flushers never work at once;
    2. finish leftover batches first: a batch whose FlushBatch row exists was applied
       (its flusher died after commit) and is only deleted; one without is applied;
    3. cut: atomically move the live deltas and rows into a new batch with a fresh id;
    4. apply the batch in ONE transaction that also inserts its FlushBatch row, with F()
       updates and a bulk insert of the log rows; then delete the batch.

A crash or a database error anywhere leaves the batch in place for the next flush; the
FlushBatch row tells whether the database already holds it. Counter updates are
additions, so the order in which batches land does not matter.
"""

import logging
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import F

from core import cachebus

from .models import FlushBatch, Log, Token, TokenStatus, User
from .quota import rows
from .quota.seed import TOKEN

logger = logging.getLogger(__name__)

# Tests only: the flusher writes this file and sleeps just before committing, so a test
# can SIGKILL it between taking the batch and the commit.
PAUSE_ENV = "ONEPROXY_TEST_FLUSH_PAUSE_FILE"


@dataclass
class FlushResult:
    batches: int = 0  # batches applied to the database by this flush
    recovered: int = 0  # leftover batches of an earlier flush finished here
    log_rows: int = 0
    skipped: bool = False  # another flusher held the lock


def new_batch_id() -> str:
    return f"{int(time.time())}-{uuid.uuid4().hex}"


def flush_backend(backend) -> FlushResult:
    """Run steps 1-4 against a quota backend; raises on a database error (the batch stays
    queued and the next flush retries it)."""
    handle = backend.try_lock()
    if handle is None:
        return FlushResult(skipped=True)
    result = FlushResult()
    try:
        for batch_id in backend.batch_ids():
            result.recovered += 1
            _flush_batch(backend, batch_id, result)
        batch_id = new_batch_id()
        if backend.cut(batch_id):
            _flush_batch(backend, batch_id, result)
    finally:
        backend.unlock(handle)
    return result


def _flush_batch(backend, batch_id: str, result: FlushResult) -> None:
    if not FlushBatch.objects.filter(pk=batch_id).exists():
        batch = backend.read_batch(batch_id)
        try:
            apply_batch(batch_id, batch.counters, batch.logs, live=backend.peek)
        except IntegrityError:
            # A concurrent flusher committed the same batch first; anything else re-raises.
            if not FlushBatch.objects.filter(pk=batch_id).exists():
                raise
        else:
            result.batches += 1
            result.log_rows += len(batch.logs)
    backend.finish(batch_id)


def apply_batch(batch_id: str, counters: dict, logs: list, *, live=None) -> None:
    """Apply one batch in one transaction, recording it in FlushBatch. `live(kind, id)`
    gives a live balance (or None) to decide token status by."""
    with transaction.atomic():
        FlushBatch.objects.create(batch_id=batch_id, log_rows=len(logs), deltas=len(counters))
        touched = _apply_counters(counters)
        Log.objects.bulk_create(_log_objects(logs), batch_size=500)
        flipped = _flip_token_status(touched, live or (lambda kind, pk: None))
        _pause_for_tests()
    if flipped:
        cachebus.bump("auth")


def _group(counters: dict) -> dict:
    grouped = defaultdict(dict)
    for name, value in counters.items():
        kind, entity_id = rows.split_field(name)
        grouped[kind[0], entity_id][kind] = int(value)
    return grouped


# letter -> (model label, summed counters -> column, latest-time counters -> column)
_PLANS = {
    "t": (
        "billing.Token",
        {rows.TOKEN_REMAIN: "remain_quota", rows.TOKEN_USED: "used_quota"},
        {rows.TOKEN_SEEN: "last_used_at"},
    ),
    "u": (
        "billing.User",
        {rows.USER_QUOTA: "quota", rows.USER_USED: "used_quota", rows.USER_COUNT: "request_count"},
        {rows.USER_SEEN: "last_seen"},
    ),
    "c": ("channels_app.Channel", {rows.CHANNEL_USED: "used_quota"}, {}),
}


def _apply_counters(counters: dict) -> list[int]:
    """One UPDATE ... SET col = col + delta per token, user and channel; returns the
    token ids touched."""
    touched = []
    for (letter, entity_id), values in _group(counters).items():
        label, sums, times = _PLANS[letter]
        updates = {col: F(col) + values[k] for k, col in sums.items() if values.get(k)}
        updates |= {col: rows.ms_to_datetime(values[k]) for k, col in times.items() if k in values}
        if updates:
            apps.get_model(label).objects.filter(pk=entity_id).update(**updates)
        if letter == "t":
            touched.append(entity_id)
    return touched


def _log_objects(entries: list) -> list[Log]:
    """Decode queued rows; a row pointing at a since-deleted user, token or channel keeps
    its denormalised names with the link cleared (as SET_NULL would have done)."""
    Channel = apps.get_model("channels_app.Channel")  # noqa: N806
    decoded = []
    for entry in entries:
        if isinstance(entry, str):
            entry = entry.encode()
        quota, _tab, raw = entry.partition(b"\t")
        decoded.append(rows.decode_row(raw) | {"quota": int(quota)})
    for column, model in (("user_id", User), ("token_id", Token), ("channel_id", Channel)):
        wanted = {row[column] for row in decoded if row.get(column)}
        existing = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for row in decoded:
            if row.get(column) and row[column] not in existing:
                row[column] = None
    return [Log(**row) for row in decoded]


def _flip_token_status(token_ids: list[int], live) -> int:
    """Exhausted when the balance reached 0; enabled again once it is positive (or the
    token became unlimited). The live balance (database + usage not yet flushed) decides
    when known, so a refund still in flight does not lock a token out until next flush."""
    if not token_ids:
        return 0
    emptied, refilled = [], []
    limited = Token.objects.filter(pk__in=token_ids, unlimited_quota=False)
    for pk, status, stored in limited.values_list("pk", "status", "remain_quota"):
        balance = live(TOKEN, pk)
        balance = stored if balance is None else balance
        if status == TokenStatus.ENABLED and balance <= 0:
            emptied.append(pk)
        elif status == TokenStatus.EXHAUSTED and balance > 0:
            refilled.append(pk)
    unlimited = Token.objects.filter(
        pk__in=token_ids, unlimited_quota=True, status=TokenStatus.EXHAUSTED
    ).values_list("pk", flat=True)
    refilled += list(unlimited)
    changed = Token.objects.filter(pk__in=emptied).update(status=TokenStatus.EXHAUSTED)
    return changed + Token.objects.filter(pk__in=refilled).update(status=TokenStatus.ENABLED)


def _pause_for_tests() -> None:
    path = os.environ.get(PAUSE_ENV)
    if path:
        with open(path, "w") as marker:
            marker.write(str(os.getpid()))
        time.sleep(120)
