"""Request bodies read at the ASGI level, within a size limit and a time limit.

Django's `ASGIHandler.read_body` reads a whole body (spooled in memory up to
FILE_UPLOAD_MAX_MEMORY_SIZE) before any view, authentication or size check runs, so an
anonymous client could make the process hold or spool any amount. Here the declared
`Content-Length` is checked before a byte is read, a chunked body is counted as it arrives
and refused the moment it passes the limit, and only a small head of each body stays in
memory (the rest goes to a temporary file, bounded by the limit).

The refusals are exceptions; each entry point renders them in its own clients' dialect.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import IO

from django.core.handlers.asgi import RequestAborted

# Bytes of a body kept in memory before it rolls over to a temporary file. Small, so many
# concurrent uploads cost little memory; the JSON of a typical request fits.
SPOOL_MEMORY_BYTES = 1 << 20


class BodyRefused(Exception):
    """A body that is not read to its end; the connection should be closed after the
    answer, since the rest of the body is still on the wire."""

    status = 400


class BodyTooLarge(BodyRefused):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


class BodyTimeout(BodyRefused):
    status = 408


def header(scope: dict, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case) in an ASGI scope, or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def declared_length(scope: dict) -> int | None:
    """The `Content-Length` a client declared, or None (absent, chunked or malformed:
    the server's parser has already refused a malformed one)."""
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def has_body(scope: dict) -> bool:
    """Whether the request announces a body (a non-zero length or chunked encoding)."""
    length = declared_length(scope)
    if length is not None:
        return length > 0
    return header(scope, b"transfer-encoding") is not None


def check_declared(scope: dict, limit: int) -> None:
    """Raise BodyTooLarge when the declared `Content-Length` is over `limit` bytes."""
    length = declared_length(scope)
    if length is not None and length > limit:
        raise BodyTooLarge(limit)


async def read_body(scope: dict, receive, limit: int, timeout: float) -> IO[bytes]:
    """The request body as a file positioned at 0, at most `limit` bytes, all received
    within `timeout` seconds (0 = no time limit).

    Raises BodyTooLarge (declared or counted over the limit; reading stops there),
    BodyTimeout, or RequestAborted when the client disconnects. A refused body's file is
    closed here, so nothing over the limit is ever held."""
    check_declared(scope, limit)
    # One deadline for the whole body (a client trickling bytes must not hold its
    # connection for good); a timer handle, not a task per receive().
    deadline = asyncio.get_running_loop().time() + timeout if timeout > 0 else None
    # Returned open: the caller closes it once the request is served.
    body_file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")  # noqa: SIM115
    try:
        async with asyncio.timeout_at(deadline):
            await _fill(body_file, receive, limit)
    except TimeoutError:
        body_file.close()
        raise BodyTimeout("body not received in time") from None
    except BaseException:
        body_file.close()
        raise
    body_file.seek(0)
    return body_file


async def _fill(body_file, receive, limit: int) -> None:
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        if chunk:
            await _write(body_file, chunk)
        if not message.get("more_body", False):
            return


async def _write(body_file, chunk: bytes) -> None:
    # Past the memory spool every write is a disk write: keep it off the event loop.
    if getattr(body_file, "_rolled", False):
        await asyncio.to_thread(body_file.write, chunk)
    else:
        body_file.write(chunk)


class Prefetched:
    """An ASGI `receive` whose request body was already read into `body_file`: handed to
    Django's handler, whose later `receive()` calls only wait for the disconnect."""

    def __init__(self, receive, body_file: IO[bytes]) -> None:
        self.receive = receive
        self.body_file = body_file

    async def __call__(self) -> dict:
        return await self.receive()
