"""Incremental Server-Sent Events parsing and formatting (pure, no I/O, no Django).

`SSEParser.feed(chunk)` takes raw bytes as they arrive from the upstream socket and returns
the complete events found so far; partial lines wait in a buffer for the next chunk.
Follows the WHATWG event-stream rules: lines end in LF, CRLF or CR; `data` lines of one
event are joined with LF; lines starting with ':' are comments; a blank line dispatches.
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

Memory is bounded: a line longer than `max_line` or an event larger than `max_event`
raises `SSEOverflow` instead of growing the buffer without limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

DONE = b"data: [DONE]\n\n"


class SSEOverflow(ValueError):
    """Raised when an upstream line or event exceeds the parser's size guard."""


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. `data` is the joined data lines, as bytes (UTF-8 on the wire)."""

    data: bytes
    event: str = ""
    id: str | None = None
    retry: int | None = None

    @property
    def is_done(self) -> bool:
        """True for OpenAI's end-of-stream sentinel `data: [DONE]`."""
        return self.data == b"[DONE]"

    def json(self) -> object:
        """Decode `data` as JSON; raises `orjson.JSONDecodeError` on malformed data."""
        return orjson.loads(self.data)


class SSEParser:
    """Bytes in, `SSEEvent`s out. One instance per upstream stream; not thread-safe."""

    __slots__ = (
        "_buf",
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_pending_cr",
        "_retry",
        "max_event",
        "max_line",
    )

    def __init__(self, max_line: int = 1 << 20, max_event: int = 4 << 20) -> None:
        self.max_line = max_line
        self.max_event = max_event
        self._buf = b""
        self._pending_cr = False  # a chunk ended in CR: a following LF belongs to it
        self._reset()

    def _reset(self) -> None:
        self._data: list[bytes] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume `chunk`; return events completed by it (possibly none).

        Raises `SSEOverflow` when a line or event exceeds the size guard.
        """
        if not chunk:
            return []
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = chunk.endswith(b"\r")
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # Normalise CRLF and lone CR to LF; a trailing CR is a complete line end.
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        start = 0
        while (end := buf.find(b"\n", start)) != -1:
            event = self._line(buf[start:end])
            if event is not None:
                events.append(event)
            start = end + 1
        self._buf = buf[start:]
        if len(self._buf) > self.max_line:
            raise SSEOverflow(f"SSE line longer than {self.max_line} bytes")
        return events

    def _line(self, line: bytes) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == 0x3A:  # ':' comment, e.g. OpenRouter's ": OPENROUTER PROCESSING"
            return None
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_event:
                raise SSEOverflow(f"SSE event larger than {self.max_event} bytes")
            self._data.append(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
        elif field == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
        elif field == b"retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            # Spec: an event with no data lines is not dispatched (only its type resets).
            self._reset()
            return None
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = SSEEvent(data=data, event=self._event, id=self._id, retry=self._retry)
        self._reset()
        return event

    def flush(self) -> list[SSEEvent]:
        """End of stream: dispatch a final event left without its blank line, if any."""
        events = self.feed(b"\n\n") if self._buf or self._data else []
        self._buf = b""
        return events


def format_data(payload: bytes) -> bytes:
    """One SSE event carrying `payload` (already serialised, no newlines) as data."""
    return b"data: " + payload + b"\n\n"


def format_json(obj: object) -> bytes:
    """One SSE `data:` event carrying `obj` serialised as compact JSON."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def format_event(event: str, obj: object) -> bytes:
    """One named SSE event (`event: <name>`) carrying `obj` as JSON data."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"
