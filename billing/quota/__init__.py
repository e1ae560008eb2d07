"""Quota counters for the hot path (see notes/interfaces.md).

Live balances of tokens and users move atomically in Redis (Lua) when REDIS_URL is set,
else in this process under a lock. Every move is also recorded as a pending delta, so a
live balance always equals `database value + pending deltas`; billing.buffer flushes the
deltas and the queued log rows to the database exactly once. A balance is seeded from the
database on first use (one query), so a warm call makes no database query. Admin edits,
top-ups and redemptions drop the live balance (billing.quota.hooks) and the very next call
reseeds it.
"""

import asyncio
import secrets

import orjson
from asgiref.sync import sync_to_async

from core.backend import PerMode, uses_redis

from . import rows
from .base import InsufficientQuota, QuotaUnavailable, Reservation
from .memory import MemoryBackend
from .seed import BALANCE_FIELD, TOKEN, USER, read_seeds

__all__ = [
    "InsufficientQuota",
    "QuotaUnavailable",
    "Reservation",
    "flush",
    "forget_token",
    "forget_user",
    "pending_log_count",
    "refund",
    "release_stale",
    "remaining",
    "reserve",
    "settle",
]

SEED_ATTEMPTS = 20


def _redis_backend(url: str):
    from .redis_backend import RedisBackend

    return RedisBackend(url)


_backends = PerMode(MemoryBackend, _redis_backend)
# The Redis backend when REDIS_URL is set, else the in-process one (bound: no extra call).
get_backend = _backends.get
# Tests only: forget every in-process balance, delta and row.
reset_memory_backend = _backends.reset_memory


async def _with_seeding(call, backend):
    from .base import NeedSeed

    for attempt in range(SEED_ATTEMPTS):
        try:
            return await call()
        except NeedSeed as need:
            gen, batch_ids = await backend.snapshot()
            seeds = await sync_to_async(read_seeds)(need.keys, batch_ids)
            if not await backend.install(gen, seeds):
                await asyncio.sleep(0.001 * attempt)  # a flush moved the counters: retry
    raise QuotaUnavailable("quota counters kept moving while seeding; try again")


def _check(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


async def reserve(token_id: int, user_id: int, amount: int, *, unlimited_token: bool,
                  note: dict | None = None):
    """Take `amount` from the token (unless unlimited) and the user, both or neither.

    Returns a Reservation; raises InsufficientQuota (scope "token" checked first) when
    either balance is below `amount`. `amount` may be 0. `note` (Log fields such as the
    model and request id) goes into the log row if the reservation is ever released
    because its process died (`release_stale`)."""
    _check("amount", amount)
    backend = get_backend()
    res_id = secrets.token_hex(8)
    encoded = orjson.dumps(note or {}, default=str)
    await _with_seeding(
        lambda: backend.reserve(token_id, user_id, amount, unlimited_token, res_id, encoded),
        backend,
    )
    return Reservation(token_id, user_id, amount, unlimited_token, res_id)


RELEASED = "reservation released: the process serving this request stopped before it ended"


def release_stale(older_than_seconds: float) -> int:
    """Give back the reservations held longer than `older_than_seconds` (their process
    died between reserve and settle: killed, OOM, power loss), each with an error log row.
    A request still running past that age is settled later as if nothing had been
    reserved, so nothing is lost or counted twice either way. Returns how many were
    released (always 0 without Redis: in-process reservations die with their process)."""
    if not uses_redis():
        return 0
    backend = get_backend()
    now = rows.now_ms()
    cutoff = now - int(older_than_seconds * 1000)
    released = 0
    for reservation, taken_ms, note in backend.open_reservations():
        if taken_ms > cutoff:
            continue
        log = {**_note_fields(note), "status_code": 500, "error": RELEASED}
        if backend.release(reservation, _row(reservation, log, None, "error"), now):
            released += 1
    return released


def _note_fields(note: bytes) -> dict:
    try:
        fields = orjson.loads(note)
    except orjson.JSONDecodeError:
        return {}
    return {k: v for k, v in fields.items() if k in ("model", "request_id", "client_ip",
                                                        "group_name", "is_stream")}


def _row(reservation: Reservation, log: dict, channel_id: int | None, default_type: str):
    log = {k: v for k, v in log.items() if k != "quota"}
    log.setdefault("type", default_type)
    if not {"user", "user_id"} & set(log):
        log["user_id"] = reservation.user_id
    if not {"token", "token_id"} & set(log):
        log["token_id"] = reservation.token_id
    if channel_id and not {"channel", "channel_id"} & set(log):
        log["channel_id"] = channel_id
    return rows.encode_row(log)


async def settle(reservation: Reservation, actual: int, *, channel_id: int | None, log: dict):
    """Charge `actual` instead of the reserved amount and queue the log row.

    The extra over the reservation is clamped so no balance goes below zero; returns the
    quota really charged, which is also the log row's `quota`. Adds the charge to the
    token's, user's and channel's used quota and 1 to the user's request count, all in one
    atomic step. Raises ValueError on a negative `actual` or an unknown log field."""
    _check("actual", actual)
    row = _row(reservation, log, channel_id, "consume")
    backend = get_backend()
    now = rows.now_ms()
    return await _with_seeding(
        lambda: backend.settle(reservation, actual, channel_id, row, now), backend
    )


async def refund(reservation: Reservation, *, log: dict) -> None:
    """Give the whole reservation back and queue the (failure) log row with quota 0."""
    row = _row(reservation, log, log.get("channel_id"), "error")
    await get_backend().refund(reservation, row, rows.now_ms())


async def remaining(token_id: int, user_id: int) -> tuple[int, int]:
    """The live (token, user) balances, seeding them if needed."""
    backend = get_backend()
    return await _with_seeding(lambda: backend.remaining(token_id, user_id), backend)


def forget_token(token_id: int) -> None:
    """Drop a token's live balance: the next call reseeds it from the database (plus the
    deltas not yet flushed). Call it after changing Token.remain_quota with update()."""
    get_backend().forget(TOKEN, token_id)


def forget_user(user_id: int) -> None:
    """Like forget_token, for User.quota."""
    get_backend().forget(USER, user_id)


def pending_balance_delta(kind: str, entity_id: int) -> int:
    """Sync: the deltas of a balance (TOKEN or USER) not yet in the database, read
    consistently with the FlushBatch ledger. An absolute edit of the balance column saves
    `value - pending`, so once the flush lands the database holds exactly `value`."""
    from billing.models import FlushBatch

    backend = get_backend()
    name = rows.field(BALANCE_FIELD[kind], entity_id)
    for _attempt in range(SEED_ATTEMPTS):
        gen, batch_ids = backend.snapshot_sync()
        applied = set(FlushBatch.objects.filter(pk__in=batch_ids).values_list("pk", flat=True))
        total = backend.pending_sum(name, [b for b in batch_ids if b not in applied], gen)
        if total is not None:
            return total
    raise QuotaUnavailable("quota counters kept moving; try the edit again")


def flush():
    """Apply the queued deltas and log rows to the database exactly once (sync).
    Returns a billing.buffer.FlushResult."""
    from billing.buffer import flush_backend

    return flush_backend(get_backend())


def pending_log_count() -> int:
    """Log rows queued and not yet in the database."""
    return get_backend().pending_log_count()
