"""The quota scripts of the request path (reserve, settle, refund) as bare EVALSHA calls.

redis-py's asyncio client wraps every command in a blocking pool (a condition and a lock
per checkout, a readability probe of the socket, observability hooks) and a retry loop;
under load that was about half the cost of each quota call. Here each event loop keeps a
free list of redis-py `Connection`s and sends EVALSHA on one directly: same wire format,
same parser, same errors, a fraction of the Python.

Exactness: a call is never retried. A connection lost mid-call fails the call, since the
script may have run (redis-py's retry would have run it twice). A pooled connection the
server closed while idle is noticed before use (its reader saw EOF) and replaced. One
timeout covers the whole call (redis-py's per-socket timeout costs a task per write).
Commands are packed here (`pack`): the scripts' arguments are only str, bytes and int,
so the general packer's per-argument type dispatch and buffer slicing are not needed.
"""

from __future__ import annotations

import asyncio
import hashlib

from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.redis import connection_kwargs

CHECKOUT_TIMEOUT = 30.0  # like the pool it replaces: wait this long for a free connection


class HotScripts:
    """EVALSHA of known scripts over at most `max_connections` connections (one loop)."""

    def __init__(self, url: str, scripts: dict[str, str], max_connections: int,
                 timeout: float) -> None:
        self._kwargs = connection_kwargs(url, socket_timeout=None)
        self._timeout = timeout
        self._sources = scripts
        self._shas = {name: hashlib.sha1(body.encode()).hexdigest()
                      for name, body in scripts.items()}
        self._free: list[Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def run(self, name: str, keys: list, args: list):
        """The script's reply. Raises redis errors as redis-py would."""
        await self._checkout()
        try:
            conn = self._take()
            try:
                async with asyncio.timeout(self._timeout):
                    reply = await self._evalsha(conn, name, keys, args)
            except BaseException as exc:
                await conn.disconnect(nowait=True)
                if isinstance(exc, TimeoutError) and not isinstance(exc, RedisTimeoutError):
                    raise RedisTimeoutError(f"Redis gave no answer in {self._timeout}s") from exc
                raise
            self._free.append(conn)
            return reply
        finally:
            self._slots.release()

    async def _checkout(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free slot: returns without suspending
            return
        try:
            async with asyncio.timeout(CHECKOUT_TIMEOUT):
                await self._slots.acquire()
        except TimeoutError:
            raise RedisConnectionError("No connection available.") from None

    def _take(self) -> Connection:
        while self._free:
            conn = self._free.pop()
            reader = getattr(conn, "_reader", None)
            if conn.is_connected and not (reader is not None and reader.at_eof()):
                return conn
            asyncio.ensure_future(conn.disconnect(nowait=True))  # closed while idle
        return Connection(**self._kwargs)

    async def _evalsha(self, conn: Connection, name: str, keys: list, args: list):
        command = pack("EVALSHA", self._shas[name], len(keys), *keys, *args)
        await conn.send_packed_command(command, check_health=False)
        try:
            return await conn.read_response()
        except NoScriptError:  # Redis restarted or SCRIPT FLUSH: load it, run it once
            await conn.send_packed_command(pack("SCRIPT", "LOAD", self._sources[name]),
                                           check_health=False)
            await conn.read_response()
            await conn.send_packed_command(command, check_health=False)
            return await conn.read_response()


def pack(*items: str | bytes | int) -> bytes:
    """One RESP command (an array of bulk strings), as redis-py would send it."""
    parts = [b"*%d\r\n" % len(items)]
    for item in items:
        if isinstance(item, str):
            item = item.encode()
        elif isinstance(item, int):
            item = b"%d" % item
        elif not isinstance(item, bytes):
            raise TypeError(f"quota script arguments are str, bytes or int, not "
                            f"{type(item).__name__}")
        parts.append(b"$%d\r\n%s\r\n" % (len(item), item))
    return b"".join(parts)
