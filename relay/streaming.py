"""Streaming responses: upstream bytes go to the client as they arrive, never buffered.

SSE streams pass through the adaptor's converter (which counts usage event by event and
turns a cut or malformed upstream into one OpenAI-shaped error event). A stream is
`prime`d before the client sees anything: it commits only once its first good event is
converted, so an HTML page, a non-JSON first event or an empty stream is a failed attempt
that fails over. Other bodies (audio, text transcripts) are copied chunk by chunk. The
upstream is closed and the request settled in a `finally`, so a client disconnect closes
the upstream at once and still bills what was produced. An idle upstream (no bytes for
RELAY_STREAM_IDLE_TIMEOUT) ends the stream with an error event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.http import StreamingHttpResponse

from providers.base import StreamConverter, Usage, iter_chunks, stream_failure
from providers.errors import RelayError
from relay import metrics
from relay.exchange import Exchange, refund, settle
from relay.health.report import report as report_health

_settling: set[asyncio.Task] = set()  # strong references while a settle runs shielded


@dataclass(slots=True)
class Primed:
    """An SSE stream whose first converted bytes are in hand; nothing was sent yet."""

    upstream: httpx.Response
    converter: StreamConverter
    events: AsyncGenerator[bytes, None]  # the adaptor's loop, past its first output
    first: bytes


async def prime(ex: Exchange, upstream: httpx.Response) -> Primed:
    """Convert the open SSE `upstream` up to its first output. Raises the converter's
    error (a RelayError, retryable unless the upstream said otherwise) when that output is
    an error event or there is none: nothing reached the client, so the caller may fail
    over and refund. Closes the upstream on any failure, cancellation included."""
    adaptor = ex.channel.adaptor
    converter = adaptor.stream_converter(
        ex.req.model, ex.req.include_usage,
        ex.channel.model_mapping.get(ex.req.model) or ex.req.model, endpoint=ex.req.endpoint)
    events = adaptor.relay_stream(upstream, converter,
                                  idle_timeout=settings.RELAY_STREAM_IDLE_TIMEOUT)
    try:
        first = await anext(events, None)
    except BaseException:
        await events.aclose()
        raise
    if first is None or converter.error is not None:
        await events.aclose()
        raise converter.error or RelayError(502, "stream_interrupted",
                                            "upstream closed the stream early",
                                            retryable=True)
    return Primed(upstream, converter, events, first)


def stream_response(ex: Exchange, result: Primed | httpx.Response) -> StreamingHttpResponse:
    """The client response for a primed SSE stream or an open upstream body of any kind."""
    if isinstance(result, Primed):
        response = StreamingHttpResponse(sse_body(ex, result), content_type="text/event-stream")
    else:
        content_type = result.headers.get("content-type", "application/octet-stream")
        response = StreamingHttpResponse(raw_body(ex, result), content_type=content_type)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # tell nginx not to buffer the stream
    return response


async def sse_body(ex: Exchange, stream: Primed) -> AsyncIterator[bytes]:
    """Converted SSE bytes for the client (the adaptor's loop); settles in `finally`."""
    metrics.OPEN_STREAMS.inc()
    converter = stream.converter
    try:
        async with aclosing(stream.events) as events:
            yield stream.first
            async for out in events:
                yield out
    finally:
        metrics.OPEN_STREAMS.dec()
        await _finish(ex, stream.upstream, converter.usage, converter.error, converter.done,
                      produced=converter.usage.completion_tokens > 0)


async def raw_body(ex: Exchange, upstream: httpx.Response) -> AsyncIterator[bytes]:
    """Upstream bytes copied as they come (speech audio, text transcripts)."""
    metrics.OPEN_STREAMS.inc()
    error = None
    try:
        async for chunk in iter_chunks(upstream, settings.RELAY_STREAM_IDLE_TIMEOUT):
            yield chunk
    except (httpx.HTTPError, TimeoutError) as exc:
        error = stream_failure(exc)
    finally:
        metrics.OPEN_STREAMS.dec()
        usage = Usage(ex.req.prompt_tokens, 0, 0, estimated=True)
        await _finish(ex, upstream, usage, error, error is None, produced=True)


async def _finish(ex: Exchange, upstream: httpx.Response, usage: Usage,
                  error: RelayError | None, done: bool, *, produced: bool) -> None:
    """Close the upstream, then bill what was produced (refund a stream that ended in an
    error having produced nothing) and report health, shielded from a second
    cancellation (the client may be gone)."""
    task = asyncio.ensure_future(_close_and_settle(ex, upstream, usage, error, done,
                                                   produced))
    _settling.add(task)
    task.add_done_callback(_settling.discard)
    await asyncio.shield(task)


async def _close_and_settle(ex: Exchange, upstream: httpx.Response, usage: Usage,
                            error: RelayError | None, done: bool, produced: bool) -> None:
    await upstream.aclose()
    if not usage.prompt_tokens:
        usage.prompt_tokens = ex.req.prompt_tokens
    if error is None and not done:
        message = "client disconnected"
        status = 499  # nginx's "client closed request": billed, not an upstream fault
    else:
        message = f"{error.code}: {error.message}" if error else ""
        status = error.status if error else 200
    if error is not None and not produced:
        await refund(ex, error)  # the client got an error and nothing worth paying for
    else:
        await settle(ex, usage, status=status, error=message,
                     detail=error.detail if error else "")
    if ex.channel is not None and status != 499:
        await report_health(ex.channel.id, ex.key_id, ex.req.model, ok=error is None,
                           status=error.upstream_status or error.status if error else None,
                           error_code=error.code if error else "")
