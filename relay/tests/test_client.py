"""The production upstream client (httpx API over aiohttp's pool) against the real fake
upstream on 127.0.0.1: answers, streams, and each failure classified as httpcore did."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import aiohttp
import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from providers.base import Endpoint
from providers.errors import RelayError
from providers.registry import get_adaptor
from providers.spec import ChannelSpec
from relay import client as relay_client
from relay.client import RelayTransport, get_client, map_exception
from relay.tests.helpers import CHAT


def spec(url: str) -> ChannelSpec:
    return ChannelSpec(id=1, provider="openai", base_url=url, key="sk-client-test")


async def adaptor_open(url: str, body: dict, **kwargs) -> httpx.Response:
    return await get_adaptor("openai").open(
        get_client(), spec(url), Endpoint.chat_completions, body=body, raw_body=b"",
        requested_model=body["model"], **kwargs)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_relay_uses_aiohttp_under_the_httpx_api():
    client = get_client()
    assert isinstance(client._transport, RelayTransport)
    assert get_client() is client  # one pooled client per loop
    await relay_client.close_clients()


async def test_a_chat_answer_and_a_stream_arrive_through_the_production_client(fake_openai):
    response = await adaptor_open(fake_openai.url, CHAT)
    assert (await response.aread()).count(b"Hello world") == 1
    stream = await adaptor_open(fake_openai.url, {**CHAT, "stream": True})
    chunks = [chunk async for chunk in stream.aiter_bytes()]
    await stream.aclose()
    assert b"".join(chunks).endswith(b"data: [DONE]\n\n")
    assert fake_openai.last.headers["authorization"] == "Bearer sk-client-test"
    await relay_client.close_clients()


async def test_stream_chunks_are_handed_over_as_they_arrive(fake_openai):
    fake_openai.variant, fake_openai.delay = "slow_between_events", 0.3
    stream = await adaptor_open(fake_openai.url, {**CHAT, "stream": True})
    started = time.monotonic()
    first = await anext(stream.aiter_bytes())
    assert first.startswith(b"data: ") and time.monotonic() - started < 0.25
    await stream.aclose()
    await relay_client.close_clients()


async def test_a_refused_connect_is_a_retryable_502_not_a_timeout():
    with pytest.raises(RelayError) as caught:
        await adaptor_open(f"http://127.0.0.1:{closed_port()}", CHAT)
    assert (caught.value.status, caught.value.code) == (502, "upstream_unreachable")
    assert caught.value.retryable
    await relay_client.close_clients()


async def test_a_slow_first_byte_past_the_read_timeout_is_a_retryable_504(fake_openai):
    fake_openai.variant, fake_openai.delay = "slow_first_byte", 1.0
    with pytest.raises(RelayError) as caught:
        await adaptor_open(fake_openai.url, CHAT, timeout=httpx.Timeout(5, read=0.2))
    assert (caught.value.status, caught.value.code) == (504, "upstream_timeout")
    assert caught.value.retryable
    await relay_client.close_clients()


async def test_a_cut_stream_hands_over_what_arrived_then_raises_a_read_error(fake_openai):
    fake_openai.variant = "cut_midway"
    stream = await adaptor_open(fake_openai.url, {**CHAT, "stream": True})
    received = []
    with pytest.raises(httpx.ReadError):
        async for chunk in stream.aiter_bytes():
            received.append(chunk)
    await stream.aclose()
    assert b'"Hello"' in b"".join(received)  # the events sent before the cut
    await relay_client.close_clients()


async def test_the_pool_never_opens_more_than_relay_max_connections(fake_openai, settings):
    settings.RELAY_MAX_CONNECTIONS = 1
    relay_client.set_client_factory(None)
    fake_openai.variant, fake_openai.delay = "slow_first_byte", 0.3
    started = time.monotonic()
    responses = await asyncio.gather(*(adaptor_open(fake_openai.url, CHAT) for _ in range(2)))
    for response in responses:
        await response.aread()
    assert time.monotonic() - started >= 0.55  # the second waited for the one connection
    await relay_client.close_clients()


async def test_relay_proxy_carries_every_upstream_call(fake_openai, settings):
    settings.RELAY_PROXY = fake_openai.url  # the fake answers the absolute-form request
    relay_client.set_client_factory(None)
    response = await adaptor_open("http://upstream.invalid", CHAT)
    assert b"Hello world" in await response.aread()
    assert fake_openai.last.headers["host"] == "upstream.invalid"
    assert fake_openai.last.path == "/v1/chat/completions"
    await relay_client.close_clients()


def test_a_socks_proxy_is_refused_with_a_clear_error(settings):
    settings.RELAY_PROXY = "socks5://127.0.0.1:1080"
    with pytest.raises(httpx.UnsupportedProtocol, match="http:// or https://"):
        relay_client.build_client()


async def test_upstream_cookies_are_never_sent_back():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=tenant-a; Path=/"},
                              json={})

    async with relay_client.RelayClient(transport=httpx.MockTransport(handler)) as client:
        for _ in range(2):
            await client.post("http://upstream.test/v1/chat/completions", json=CHAT)
        assert seen == [None, None] and not client.cookies


async def test_tls_is_verified_and_cookies_are_not_kept():
    transport = relay_client.build_transport()
    session = transport.get_client()
    context = session.connector._ssl
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert isinstance(session.cookie_jar, aiohttp.DummyCookieJar)
    await session.close()


REQUEST_INFO = aiohttp.RequestInfo(URL("http://x/"), "POST", CIMultiDictProxy(CIMultiDict()),
                                   URL("http://x/"))


@pytest.mark.parametrize(("raised", "reading", "expected"), [
    (aiohttp.ConnectionTimeoutError(), False, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError(), True, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError(), False, httpx.ReadError),
    (aiohttp.ClientPayloadError("cut"), True, httpx.ReadError),
    (aiohttp.ClientResponseError(REQUEST_INFO, (), message="bad status line"), False,
     httpx.RemoteProtocolError),
    (aiohttp.NonHttpUrlClientError("ftp://x"), False, httpx.UnsupportedProtocol),
])
def test_aiohttp_errors_map_to_the_httpx_classes_the_adaptors_classify(raised, reading,
                                                                         expected):
    assert type(map_exception(raised, reading=reading)) is expected
