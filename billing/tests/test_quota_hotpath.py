"""The bare-EVALSHA runner of the quota hot path against the real Redis."""

import asyncio

import pytest
import redis
from django.conf import settings

from billing.quota.hotpath import HotScripts
from core.redis import shared_client

pytestmark = pytest.mark.redis

ECHO = {"ECHO": "return ARGV[1]"}


def runner(max_connections: int = 4) -> HotScripts:
    return HotScripts(settings.REDIS_URL, ECHO, max_connections, timeout=5)


async def test_it_runs_a_script_and_reuses_its_connection():
    scripts = runner()
    assert await scripts.run("ECHO", [], ["a"]) == b"a"
    first = scripts._free[-1]
    assert await scripts.run("ECHO", [], ["b"]) == b"b"
    assert scripts._free == [first]


async def test_a_script_flush_is_survived_by_loading_the_script_again():
    scripts = runner()
    await scripts.run("ECHO", [], ["a"])
    shared_client().script_flush()
    assert await scripts.run("ECHO", [], ["again"]) == b"again"


async def test_a_connection_the_server_closed_while_idle_is_replaced():
    scripts = runner()
    await scripts.run("ECHO", [], ["a"])
    conn = scripts._free[-1]
    await conn.send_command("CLIENT", "ID")
    client_id = await conn.read_response()
    shared_client().client_kill_filter(_id=client_id)
    await asyncio.sleep(0.05)  # the loop sees the close, as it would for an idle one
    assert await scripts.run("ECHO", [], ["b"]) == b"b"
    assert scripts._free[-1] is not conn


async def test_concurrent_calls_never_open_more_than_the_limit():
    scripts = runner(max_connections=2)
    replies = await asyncio.gather(*(scripts.run("ECHO", [], [str(i)]) for i in range(20)))
    assert replies == [str(i).encode() for i in range(20)]
    assert len(scripts._free) <= 2


async def test_a_redis_error_inside_the_script_is_raised_and_the_connection_dropped():
    scripts = HotScripts(settings.REDIS_URL, {"BAD": "return redis.call('NOPE')"}, 2,
                         timeout=5)
    with pytest.raises(redis.ResponseError):
        await scripts.run("BAD", [], [])
    assert scripts._free == []


def test_pack_matches_redis_py_for_every_argument_kind():
    from redis.asyncio.connection import Connection

    from billing.quota.hotpath import pack

    items = ("EVALSHA", "ab" * 20, 2, "k:1", "ключ", b"\r\n\x00row", -5, "", 1763829000000)
    assert pack(*items) == b"".join(Connection().pack_command(*items))
    with pytest.raises(TypeError, match="float"):
        pack("SET", "k", 1.5)


async def test_packed_arguments_reach_the_script_byte_for_byte():
    scripts = runner()
    for value in ("ключ", b"\r\n$3\r\n\x00", "", 12345678901234):
        expected = value if isinstance(value, bytes) else str(value).encode()
        assert await scripts.run("ECHO", [], [value]) == expected
