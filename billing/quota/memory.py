"""The in-process quota backend for embedded mode (no Redis).

One lock guards balances, pending deltas and taken batches. It is held only for a few
dictionary operations, never across I/O, so the event loop, the admin's threads and the
embedded flusher thread can all use it. State lives in this process: a hard kill loses the
deltas and log rows not yet flushed (at most BILLING_FLUSH_INTERVAL seconds of usage).
"""

import threading

from . import rows
from .base import InsufficientQuota, NeedSeed, Pending
from .seed import BALANCE_FIELD, TOKEN, USER


def _keys(token_id: int, user_id: int, unlimited: bool) -> list[tuple[str, int]]:
    return [(USER, user_id)] if unlimited else [(TOKEN, token_id), (USER, user_id)]


def _scope(kind: str) -> str:
    return "token" if kind == TOKEN else "user"


class MemoryBackend:
    def __init__(self):
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._balances: dict[tuple[str, int], int] = {}
        self._live = Pending.empty()
        self._batches: dict[str, Pending] = {}
        self._gen = 0

    # --- hot path -------------------------------------------------------------------
    def _require(self, keys) -> None:
        missing = [key for key in keys if key not in self._balances]
        if missing:
            raise NeedSeed(missing)

    def _move(self, key: tuple[str, int], delta: int) -> None:
        """Move a balance and its pending delta together (the balance only if seeded)."""
        if not delta:
            return
        if key in self._balances:
            self._balances[key] += delta
        name = rows.field(BALANCE_FIELD[key[0]], key[1])
        self._live.counters[name] = self._live.counters.get(name, 0) + delta

    def _add(self, kind: str, entity_id: int, value: int) -> None:
        name = rows.field(kind, entity_id)
        self._live.counters[name] = self._live.counters.get(name, 0) + value

    async def reserve(self, token_id, user_id, amount, unlimited, res_id="", note=b"") -> None:
        # No journal: open reservations live and die with this process, as its balances do.
        keys = _keys(token_id, user_id, unlimited)
        with self._lock:
            self._require(keys)
            for key in keys:
                if self._balances[key] < amount:
                    raise InsufficientQuota(_scope(key[0]), self._balances[key])
            for key in keys:
                self._move(key, -amount)

    async def settle(self, res, actual, channel_id, row, now) -> int:
        keys = _keys(res.token_id, res.user_id, res.unlimited_token)
        with self._lock:
            self._require(keys)
            charged = actual
            if actual > res.amount:
                room = max(0, min(self._balances[key] for key in keys))
                charged = res.amount + min(actual - res.amount, room)
            for key in keys:
                self._move(key, res.amount - charged)
            self._add(rows.TOKEN_USED, res.token_id, charged)
            self._add(rows.USER_USED, res.user_id, charged)
            self._add(rows.USER_COUNT, res.user_id, 1)
            if channel_id:
                self._add(rows.CHANNEL_USED, channel_id, charged)
            self._touch(res, now)
            self._live.logs.append(b"%d\t" % charged + row)
        return charged

    async def refund(self, res, row, now) -> None:
        with self._lock:
            for key in _keys(res.token_id, res.user_id, res.unlimited_token):
                self._move(key, res.amount)
            self._touch(res, now)
            self._live.logs.append(b"0\t" + row)

    def _touch(self, res, now: int) -> None:
        self._live.counters[rows.field(rows.TOKEN_SEEN, res.token_id)] = now
        self._live.counters[rows.field(rows.USER_SEEN, res.user_id)] = now

    async def remaining(self, token_id, user_id) -> tuple[int, int]:
        keys = [(TOKEN, token_id), (USER, user_id)]
        with self._lock:
            self._require(keys)
            return self._balances[keys[0]], self._balances[keys[1]]

    # --- seeding and invalidation ------------------------------------------------------
    async def snapshot(self) -> tuple[int, list[str]]:
        return self.snapshot_sync()

    def snapshot_sync(self) -> tuple[int, list[str]]:
        with self._lock:
            return self._gen, list(self._batches)

    def pending_sum(self, name: str, batch_ids: list[str], gen: int) -> int | None:
        """The live delta of counter `name` plus its value in the given batches, or None
        when batches were taken or finished since `gen`."""
        with self._lock:
            if gen != self._gen:
                return None
            total = self._live.counters.get(name, 0)
            return total + sum(self._batches[b].counters.get(name, 0) for b in batch_ids)

    async def install(self, gen: int, seeds) -> bool:
        with self._lock:
            if gen != self._gen:
                return False
            for seed in seeds:
                key = (seed.kind, seed.entity_id)
                if key not in self._balances:
                    self._balances[key] = self._seed_value(seed)
            return True

    def _seed_value(self, seed) -> int:
        if seed.db_value is None:
            return 0
        name = rows.field(BALANCE_FIELD[seed.kind], seed.entity_id)
        pending = self._live.counters.get(name, 0)
        for batch_id in seed.unapplied:
            pending += self._batches[batch_id].counters.get(name, 0)
        return seed.db_value + pending

    def peek(self, kind: str, entity_id: int) -> int | None:
        """The live balance if seeded, else None (sync, for the flush)."""
        with self._lock:
            return self._balances.get((kind, entity_id))

    def forget(self, kind: str, entity_id: int) -> None:
        with self._lock:
            self._balances.pop((kind, entity_id), None)
            self._gen += 1

    # --- flush side -------------------------------------------------------------------
    def try_lock(self):
        return self._flush_lock if self._flush_lock.acquire(blocking=False) else None

    def unlock(self, handle) -> None:
        handle.release()

    def batch_ids(self) -> list[str]:
        with self._lock:
            return list(self._batches)

    def read_batch(self, batch_id: str) -> Pending:
        with self._lock:
            batch = self._batches[batch_id]
            return Pending(dict(batch.counters), list(batch.logs))

    def cut(self, batch_id: str) -> bool:
        with self._lock:
            if self._live.is_empty():
                return False
            self._batches[batch_id] = self._live
            self._live = Pending.empty()
            self._gen += 1
            return True

    def finish(self, batch_id: str) -> None:
        with self._lock:
            self._batches.pop(batch_id, None)
            self._gen += 1

    def pending_log_count(self) -> int:
        with self._lock:
            return len(self._live.logs) + sum(len(b.logs) for b in self._batches.values())
