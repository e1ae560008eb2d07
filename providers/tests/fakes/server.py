"""Base of the fake upstreams: a tiny ASGI app run by uvicorn on 127.0.0.1 in a thread.

Each provider fake subclasses `FakeUpstream`, implementing `handle(req)` in that
provider's real wire format. Every request is recorded for assertions. A failure
variant is chosen, in order, by `fake.variant`, by an API key of the form
`variant-<name>`, or by a requested model of that form. Shared variants:

- `401`, `429`, `500`: the provider's error body with that status
- `malformed_sse`: a stream whose second event is not JSON
- `cut_midway`: a stream that drops the connection after two events
- `slow_first_byte`: waits `fake.delay` seconds before answering
- `slow_between_events`: waits `fake.delay` seconds between stream events

Broken answers (a misconfigured proxy or gateway in front of the provider):

- `html_200`: a 200 whose body is an HTML page (Content-Type text/html), stream or not
- `invalid_json_200`: a 200 JSON answer cut in the middle; for a stream request, an
  event stream whose first event is not JSON
- `wrong_shape_200`: a 200 JSON object that is not the endpoint's answer (no `choices`)
- `html_stream`: a 200 `text/event-stream` whose body is an HTML page
- `bad_event_midstream`: a stream with an HTML event in the middle, good events around it
- `html_502`: a 502 HTML error page naming the proxy, its version and the key it got
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

VARIANT_PREFIX = "variant-"


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Reply:
    """A plain answer, or a stream when `events` is set (an async iterator of bytes)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    events: AsyncIterator[bytes] | None = None


def json_reply(obj: Any, status: int = 200) -> Reply:
    return Reply(status, orjson.dumps(obj))


HTML_PAGE = (
    "<html><head><title>{status} Bad Gateway</title></head><body><center><h1>{status} Bad "
    "Gateway</h1></center><hr><center>nginx/1.25.3 (edge-proxy-7.corp.internal) "
    "auth={key}</center></body></html>"
)
BAD_EVENT = b"data: <html><body>upstream hiccup</body></html>\n\n"


def html_page(status: int, key: str) -> bytes:
    """An nginx-style error page that echoes the key it was sent, as some proxies do."""
    return HTML_PAGE.format(status=status, key=key).encode()


def broken_reply(variant: str | None, key: str, stream: bool) -> Reply | None:
    """The answer of a broken-answer variant that does not depend on the provider."""
    if variant == "html_200":
        return Reply(200, html_page(200, key), "text/html; charset=utf-8")
    if variant == "html_502":
        return Reply(502, html_page(502, key), "text/html")
    if variant == "html_stream":
        return Reply(200, html_page(200, key), "text/event-stream")
    if variant == "invalid_json_200" and stream:
        return Reply(200, b"data: {\"id\": \"chatcmpl-trunc\n\n", "text/event-stream")
    if variant == "invalid_json_200":
        return Reply(200, b'{"id": "chatcmpl-trunc", "choices": [{"mess')
    return None


class StreamCut(Exception):
    """Raised inside a stream to make uvicorn drop the connection mid-body."""


@dataclass
class FakeUpstream:
    """ASGI app with request recording and named failure variants."""

    record: bool = True
    delay: float = 0.5
    url: str = ""  # set once the server listens
    variant: str | None = None
    requests: list[Recorded] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()
        self.variant = None
        self.delay = 0.5

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def variant_for(self, req: Recorded, key: str, model: str) -> str | None:
        if self.variant:
            return self.variant
        for value in (key, model):
            if value.startswith(VARIANT_PREFIX):
                return value[len(VARIANT_PREFIX):]
        return None

    async def handle(self, req: Recorded) -> Reply:
        raise NotImplementedError

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        req = Recorded(scope["method"], scope["path"], scope["query_string"].decode(),
                       {k.decode().lower(): v.decode() for k, v in scope["headers"]},
                       bytes(body))
        if self.record:
            self.requests.append(req)
        reply = await self.handle(req)
        await self._send(reply, send)

    async def _send(self, reply: Reply, send: Callable) -> None:
        content_type = "text/event-stream" if reply.events else reply.content_type
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(b"content-type", content_type.encode())]})
        if reply.events is None:
            await send({"type": "http.response.body", "body": reply.body})
            return
        async for chunk in reply.events:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def paced(self, events: list[bytes], variant: str | None) -> AsyncIterator[bytes]:
        """Yield `events`, applying the stream failure variants."""
        for i, event in enumerate(events):
            if variant == "bad_event_midstream" and i == len(events) // 2:
                yield BAD_EVENT
            if variant == "cut_midway" and i == 2:
                raise StreamCut("connection dropped on purpose")
            if variant == "malformed_sse" and i == 1:
                yield b"data: {\"choices\": [{\"delta\": \n\n"
                continue
            if variant == "slow_between_events" and i:
                await asyncio.sleep(self.delay)
            yield event


class ServerThread:
    """Runs an ASGI app with uvicorn on 127.0.0.1:<ephemeral> in a daemon thread."""

    def __init__(self, app: FakeUpstream, port: int = 0) -> None:
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                                lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("fake upstream failed to start")
            threading.Event().wait(0.01)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
