"""Serve a fake upstream through `httpx.MockTransport` (no sockets) for unit tests.

The same `FakeUpstream.handle` answers both levels, so a provider's wire format is
written once. Requests are recorded on the fake exactly as over HTTP.
"""

from __future__ import annotations

import httpx

from providers.tests.fakes.server import FakeUpstream, Recorded, StreamCut


def mock_transport(fake: FakeUpstream) -> httpx.MockTransport:
    """A MockTransport whose handler records the request and asks `fake` for the answer."""

    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        recorded = Recorded(request.method, request.url.path, request.url.query.decode(),
                            {k.lower(): v for k, v in request.headers.items()}, body)
        if fake.record:
            fake.requests.append(recorded)
        reply = await fake.handle(recorded)
        if reply.events is None:
            return httpx.Response(reply.status, content=reply.body,
                                  headers={"content-type": reply.content_type})
        return httpx.Response(reply.status, content=_cuttable(reply.events),
                              headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


async def _cuttable(events):  # noqa: ANN001, ANN202 - async generator adaptor
    try:
        async for chunk in events:
            yield chunk
    except StreamCut as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc


def mock_client(fake: FakeUpstream, base_url: str = "http://fake.test") -> httpx.AsyncClient:
    """An AsyncClient routed to `fake`; also sets `fake.url` so specs can point at it."""
    fake.url = base_url
    return httpx.AsyncClient(transport=mock_transport(fake))
