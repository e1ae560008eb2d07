"""The Redis quota backend: every balance move is one Lua script (billing/quota/lua.py),
so balances, pending deltas and queued log rows can never disagree. The hot path uses an
asyncio client per event loop; the flush, seeding from the admin and the hooks use a
synchronous client. Pending work survives any crash of the web or worker processes."""

import secrets
import weakref

from core.redis import blocking_async_client, sync_client

from . import lua, rows
from .base import InsufficientQuota, NeedSeed, Pending, Reservation
from .hotpath import HotScripts
from .seed import BALANCE_FIELD, TOKEN, USER

PREFIX = "oneproxy:q:"
LIVE, LOGS, BATCHES, GEN, LOCK, RES = (
    PREFIX + k for k in ("live", "logs", "batches", "gen", "lock", "res"))
SEED_TTL = 24 * 3600  # idle balances age out; the next use reseeds them exactly
LOCK_MS = 120_000  # a flusher that dies holding the lock blocks others this long at most
MAX_CONNECTIONS = 64  # per event loop (per server worker)
SCRIPTS = ("RESERVE", "SETTLE", "REFUND", "INSTALL", "PENDING_SUM", "FORGET", "CUT", "FINISH")
HOT = ("RESERVE", "SETTLE", "REFUND")  # run per request: bare EVALSHA (hotpath.py)


def balance_key(kind: str, entity_id: int) -> str:
    return f"{PREFIX}bal:{kind}:{entity_id}"


def batch_keys(batch_id: str) -> tuple[str, str]:
    base = f"{PREFIX}batch:{batch_id}"
    return base + ":d", base + ":l"


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBackend:
    def __init__(self, url: str):
        self.url = url
        self.sync = sync_client(url, socket_timeout=30)
        self._sync_scripts = {
            name: self.sync.register_script(getattr(lua, name)) for name in SCRIPTS
        }
        self._unlock = self.sync.register_script(lua.UNLOCK)
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _scripts(self) -> dict:
        """The async scripts bound to the running event loop's client."""
        import asyncio

        loop = asyncio.get_running_loop()
        scripts = self._loops.get(loop)
        if scripts is None:
            # Concurrent requests wait for a free connection rather than fail.
            client = blocking_async_client(self.url, max_connections=MAX_CONNECTIONS,
                                           timeout=30, socket_timeout=30)
            scripts = {name: client.register_script(getattr(lua, name)) for name in SCRIPTS}
            scripts["client"] = client
            scripts["hot"] = HotScripts(self.url, {name: getattr(lua, name) for name in HOT},
                                        MAX_CONNECTIONS, timeout=30)
            self._loops[loop] = scripts
        return scripts

    # --- hot path -------------------------------------------------------------------
    @staticmethod
    def _balance_args(token_id, user_id):
        return (
            [balance_key(TOKEN, token_id), balance_key(USER, user_id)],
            [rows.field(rows.TOKEN_REMAIN, token_id), rows.field(rows.USER_QUOTA, user_id)],
        )

    @staticmethod
    def _check(reply, token_id, user_id) -> list:
        status = _decode(reply[0])
        if status == "seed":
            keys = [(TOKEN, token_id)] if int(reply[1]) else []
            raise NeedSeed(keys + ([(USER, user_id)] if int(reply[2]) else []))
        if status == "short":
            raise InsufficientQuota(_decode(reply[1]), int(reply[2]))
        return reply

    async def reserve(self, token_id, user_id, amount, unlimited, res_id="", note=b"{}") -> None:
        keys, fields = self._balance_args(token_id, user_id)
        limited = "" if unlimited else "1"
        entry = b"%d\t%d\t%d\t%s\t%d\t%s" % (token_id, user_id, amount, limited.encode(),
                                               rows.now_ms(), note)
        reply = await self._scripts()["hot"].run(
            "RESERVE", [*keys, LIVE, RES], [amount, limited, *fields, res_id, entry]
        )
        self._check(reply, token_id, user_id)

    async def settle(self, res, actual, channel_id, row, now) -> int:
        keys, fields = self._balance_args(res.token_id, res.user_id)
        args = [
            res.amount,
            actual,
            "" if res.unlimited_token else "1",
            *fields,
            rows.field(rows.TOKEN_USED, res.token_id),
            rows.field(rows.USER_USED, res.user_id),
            rows.field(rows.USER_COUNT, res.user_id),
            rows.field(rows.TOKEN_SEEN, res.token_id),
            rows.field(rows.USER_SEEN, res.user_id),
            rows.field(rows.CHANNEL_USED, channel_id) if channel_id else "",
            now,
            row,
            res.id,
        ]
        reply = await self._scripts()["hot"].run("SETTLE", [*keys, LIVE, LOGS, RES], args)
        return int(self._check(reply, res.token_id, res.user_id)[1])

    @classmethod
    def _refund_args(cls, res, row, now) -> tuple[list, list]:
        keys, fields = cls._balance_args(res.token_id, res.user_id)
        args = [
            res.amount,
            "" if res.unlimited_token else "1",
            *fields,
            rows.field(rows.TOKEN_SEEN, res.token_id),
            rows.field(rows.USER_SEEN, res.user_id),
            now,
            row,
            res.id,
        ]
        return [*keys, LIVE, LOGS, RES], args

    async def refund(self, res, row, now) -> None:
        keys, args = self._refund_args(res, row, now)
        await self._scripts()["hot"].run("REFUND", keys, args)

    def open_reservations(self) -> list[tuple[Reservation, int, bytes]]:
        """Every reservation not settled or refunded yet: (reservation, taken at ms,
        note) (sync, for release_stale)."""
        out = []
        for res_id, entry in self.sync.hgetall(RES).items():
            token_id, user_id, amount, limited, taken_ms, note = entry.split(b"\t", 5)
            out.append((Reservation(int(token_id), int(user_id), int(amount), limited != b"1",
                                    _decode(res_id)), int(taken_ms), note))
        return out

    def release(self, res, row, now) -> bool:
        """Give `res` back and queue its row, unless it was settled or refunded meanwhile."""
        keys, args = self._refund_args(res, row, now)
        return bool(self._sync_scripts["REFUND"](keys=keys, args=args))

    async def remaining(self, token_id, user_id) -> tuple[int, int]:
        keys, _fields = self._balance_args(token_id, user_id)
        token, user = await self._scripts()["client"].mget(keys)
        missing = [(TOKEN, token_id)] if token is None else []
        missing += [(USER, user_id)] if user is None else []
        if missing:
            raise NeedSeed(missing)
        return int(token), int(user)

    # --- seeding and invalidation ------------------------------------------------------
    async def snapshot(self) -> tuple[int, list[str]]:
        pipe = self._scripts()["client"].pipeline(transaction=True)
        gen, batch_ids = await pipe.get(GEN).smembers(BATCHES).execute()
        return int(gen or 0), sorted(_decode(b) for b in batch_ids)

    def snapshot_sync(self) -> tuple[int, list[str]]:
        gen, batch_ids = self.sync.pipeline(transaction=True).get(GEN).smembers(BATCHES).execute()
        return int(gen or 0), sorted(_decode(b) for b in batch_ids)

    async def install(self, gen: int, seeds) -> bool:
        args = [gen, PREFIX, SEED_TTL]
        for seed in seeds:
            value = "" if seed.db_value is None else seed.db_value
            name = rows.field(BALANCE_FIELD[seed.kind], seed.entity_id)
            key = balance_key(seed.kind, seed.entity_id)
            args += [key, name, value, len(seed.unapplied), *seed.unapplied]
        return bool(await self._scripts()["INSTALL"](keys=[GEN, LIVE], args=args))

    def pending_sum(self, name: str, batch_ids: list[str], gen: int) -> int | None:
        total = self._sync_scripts["PENDING_SUM"](
            keys=[GEN, LIVE], args=[gen, PREFIX, name, *batch_ids]
        )
        return None if total is None else int(total)

    def peek(self, kind: str, entity_id: int) -> int | None:
        """The live balance if seeded, else None (sync, for the flush)."""
        value = self.sync.get(balance_key(kind, entity_id))
        return None if value is None else int(value)

    def forget(self, kind: str, entity_id: int) -> None:
        self._sync_scripts["FORGET"](keys=[balance_key(kind, entity_id), GEN])

    # --- flush side -------------------------------------------------------------------
    def try_lock(self):
        owner = secrets.token_hex(16)
        return owner if self.sync.set(LOCK, owner, nx=True, px=LOCK_MS) else None

    def unlock(self, owner) -> None:
        self._unlock(keys=[LOCK], args=[owner])

    def batch_ids(self) -> list[str]:
        return sorted(_decode(b) for b in self.sync.smembers(BATCHES))

    def read_batch(self, batch_id: str) -> Pending:
        hash_key, list_key = batch_keys(batch_id)
        counters, logs = (
            self.sync.pipeline(transaction=True).hgetall(hash_key).lrange(list_key, 0, -1).execute()
        )
        return Pending({_decode(k): int(v) for k, v in counters.items()}, logs)

    def cut(self, batch_id: str) -> bool:
        return bool(
            self._sync_scripts["CUT"](keys=[LIVE, LOGS, BATCHES, GEN], args=[batch_id, PREFIX])
        )

    def finish(self, batch_id: str) -> None:
        self._sync_scripts["FINISH"](keys=[*batch_keys(batch_id), BATCHES, GEN], args=[batch_id])

    def pending_log_count(self) -> int:
        pipe = self.sync.pipeline(transaction=True)
        pipe.llen(LOGS)
        for batch_id in self.batch_ids():
            pipe.llen(batch_keys(batch_id)[1])
        return sum(pipe.execute())
