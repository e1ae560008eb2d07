"""The one pooled upstream HTTP client of this process.

`get_client()` creates an `httpx.AsyncClient` lazily on the running event loop (a client
is bound to the loop it first ran on) and hands the same one to every request. Tests
swap the factory with `set_client_factory`. The ASGI lifespan shutdown closes it
(`close_clients`, registered in RelayConfig.ready()).

The production client keeps httpx's API (adaptors, tests and MockTransport use it) but
sends through aiohttp (`httpx_aiohttp.AiohttpTransport`): httpcore's pool costs a
readability syscall per pooled connection on every request and anyio wrappers on every
read, which made it the relay's largest per-request cost (~500 req/s per process against
~2,600 with aiohttp underneath, bench/RESULTS.md). `RelayTransport` maps aiohttp's
exceptions to the httpx ones the adaptors classify (the package's own map turns every
connection error, even a refused connect or a mid-stream cut, into a ConnectTimeout).
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

ClientFactory = Callable[[], httpx.AsyncClient]

# id(loop) -> (loop, its client); holding the loop keeps its id from being reused.
_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}
_factory: ClientFactory | None = None
KEEPALIVE_SECONDS = 30


def default_timeout() -> httpx.Timeout:
    """Connect timeout from settings; reads may last the whole upstream timeout (the relay
    enforces first-byte and stream-idle limits itself)."""
    return httpx.Timeout(settings.RELAY_UPSTREAM_TIMEOUT,
                         connect=settings.RELAY_CONNECT_TIMEOUT,
                         pool=settings.RELAY_CONNECT_TIMEOUT)


def map_exception(exc: BaseException, *, reading: bool) -> BaseException:
    """The httpx exception for an aiohttp one (`reading`: while the body streams), so
    the adaptors' classification (timeout -> 504, other transport errors -> 502, a cut
    stream -> stream_interrupted) stays the one httpcore gave. Others pass unchanged."""
    if not isinstance(exc, aiohttp.ClientError | TimeoutError):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, TimeoutError):  # aiohttp's socket read timeout, or a bare one
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        kind = httpx.ProxyError
    elif isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif reading or isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        kind = httpx.ReadError  # reset, disconnect, truncated body
    else:
        kind = httpx.RemoteProtocolError  # a malformed response
    return kind(message)


def _remap(exc: BaseException, *, reading: bool) -> BaseException:
    """`exc` itself, or its httpx class when aiohttp (maybe behind the package's own,
    coarser mapping) raised it."""
    aio = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    if isinstance(aio, aiohttp.ClientError | TimeoutError):
        return map_exception(aio, reading=reading)
    return exc


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads it: chunks as they arrive, errors mapped.

    When a connection drops, aiohttp raises on the next read and discards what it had
    already buffered; httpcore hands those bytes over first. The relay forwards and bills
    them (the last events before a cut), so this reads them out of the buffer before
    raising. That buffer is private to aiohttp, hence the pinned version.
    """

    def __init__(self, inner: httpx.AsyncByteStream, response: aiohttp.ClientResponse) -> None:
        self.inner, self.content = inner, response.content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self.content.readany():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            rest = _salvage(self.content)
            if rest:
                yield rest
            raise map_exception(exc, reading=True) from exc

    async def aclose(self) -> None:
        await self.inner.aclose()


def _salvage(content: aiohttp.StreamReader) -> bytes:
    """Bytes received before the error that aiohttp would drop (empty if its internals
    are not the ones this was written against)."""
    buffer, offset = getattr(content, "_buffer", None), getattr(content, "_buffer_offset", 0)
    if not buffer or not isinstance(offset, int):
        return b""
    data = b"".join(buffer)[offset:]
    buffer.clear()
    content._buffer_offset = 0
    return data


class RelayTransport(AiohttpTransport):
    """aiohttp underneath httpx, with httpcore's exception classes."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
            mapped = _remap(exc, reading=False)
            if mapped is exc:
                raise
            raise mapped from exc
        response.stream = _Body(response.stream, response.stream._aiohttp_response)
        return response


def _session_factory(limit: int) -> Callable[[], aiohttp.ClientSession]:
    def make() -> aiohttp.ClientSession:
        # No cookie jar: upstream cookies must not follow one tenant's key to the next.
        connector = aiohttp.TCPConnector(
            limit=limit, keepalive_timeout=KEEPALIVE_SECONDS,
            ssl=httpx.create_ssl_context(verify=True, trust_env=False))
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     trust_env=False)

    return make


def build_transport() -> RelayTransport:
    """aiohttp's pool: RELAY_MAX_CONNECTIONS (0 = unbounded), TLS verified with certifi's
    roots, RELAY_PROXY (http:// or https://) for every upstream call, no env proxies."""
    proxy = httpx.Proxy(settings.RELAY_PROXY) if settings.RELAY_PROXY else None
    if proxy is not None and proxy.url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(
            f"RELAY_PROXY must be an http:// or https:// URL, not {proxy.url.scheme}://")
    return RelayTransport(proxy=proxy,
                          client=_session_factory(settings.RELAY_MAX_CONNECTIONS))


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: upstream cookies must not follow one tenant's key to the
    next, and httpx's per-response extraction (a urllib request/response pair each) was
    ~4 % of a loaded worker."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class RelayClient(httpx.AsyncClient):
    """httpx.AsyncClient without a cookie jar."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._cookies = _NoCookies()


def build_client() -> httpx.AsyncClient:
    """The production client: aiohttp transport, keep-alive pool, no redirects, no
    cookies."""
    return RelayClient(timeout=default_timeout(), transport=build_transport(),
                       trust_env=False, follow_redirects=False)


def set_client_factory(factory: ClientFactory | None) -> None:
    """Use `factory` for new clients (None = the default); existing clients are dropped."""
    global _factory
    _factory = factory
    _drop_all()


@atexit.register
def _drop_all() -> None:
    for loop, client in list(_clients.values()):
        _drop(loop, client)
    _clients.clear()


def get_client() -> httpx.AsyncClient:
    """The shared client for the running loop, created on first use."""
    loop = asyncio.get_running_loop()
    entry = _clients.get(id(loop))
    if entry is not None and entry[0] is loop and not entry[1].is_closed:
        return entry[1]
    for key, (old_loop, old_client) in list(_clients.items()):
        if old_loop is loop or old_loop.is_closed():  # closed client, or a finished loop
            _drop(old_loop, old_client)
            del _clients[key]
    client = (_factory or build_client)()
    _clients[id(loop)] = (loop, client)
    return client


async def close_clients() -> None:
    """Close the client(s) of the running loop (lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    entry = _clients.pop(id(loop), None)
    if entry is not None and entry[0] is loop:
        await entry[1].aclose()


def _drop(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    """Close a client that is no longer handed out: on its loop if that still runs, else
    just mark its aiohttp pool closed (its loop, and so its sockets' transports, are
    gone; aiohttp would otherwise report an unclosed session when it is collected)."""
    if client.is_closed:
        return
    if loop.is_running() and not loop.is_closed():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _closing.add(task := loop.create_task(client.aclose()))
            task.add_done_callback(_closing.discard)
        else:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop)
        return
    session = getattr(getattr(client, "_transport", None), "client", None)
    if isinstance(session, aiohttp.ClientSession) and session.connector is not None:
        session.connector._closed = True  # private, but the only quiet way without a loop


_closing: set[asyncio.Task] = set()
