"""uvicorn's httptools protocol with a header size limit and a header read timeout.

uvicorn's `HttpToolsProtocol` buffers a request line and headers of any size (httptools
accumulates a header value across reads until it is complete) and waits for them forever:
a 16 MB header was accepted, and a client trickling its headers held its connection open
for good. This subclass answers 431 and closes once the request line and headers pass
SERVER_MAX_HEADER_BYTES, and closes a connection whose headers are not complete
SERVER_HEADER_TIMEOUT seconds after it opened (or, on a kept-alive connection, after the
next request began). Bodies are bounded at the ASGI level (oneproxy/bodylimit.py).

Two counts, because neither alone is both exact and bounded: the parser callbacks count
the URL and each complete header exactly, and the raw bytes read while headers are still
incomplete bound what the parser may be holding in a half-received header (to within one
read of the socket, which is when the counting starts).
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` plus SERVER_MAX_HEADER_BYTES (431) and SERVER_HEADER_TIMEOUT."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = settings.SERVER_MAX_HEADER_BYTES
        self.header_timeout = settings.SERVER_HEADER_TIMEOUT
        self.reading_headers = True  # a new connection waits for its first request line
        self.parsed_header_bytes = 0
        self.raw_header_bytes = 0
        self.header_timer: asyncio.TimerHandle | None = None
        self.refused = False

    # ---- connection ------------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.reading_headers:
            self.raw_header_bytes += len(data)
        super().data_received(data)
        if (self.reading_headers and not self.refused
                and self.raw_header_bytes > self.max_header_bytes):
            self._refuse()

    # ---- parser callbacks: after a refusal the parser runs on to the end of the data
    # it was given (at most one read); nothing of it is kept or served.

    def on_message_begin(self) -> None:
        if self.refused:
            return
        super().on_message_begin()
        self.reading_headers = True
        self.parsed_header_bytes = self.raw_header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        if self._within_limit(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within_limit(len(name) + len(value) + 4):  # ": " and CRLF
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.reading_headers = False
        self._cancel_header_timer()
        if not self.refused:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        super().on_message_complete()
        self.reading_headers = True
        self.parsed_header_bytes = self.raw_header_bytes = 0

    # ---- limits ----------------------------------------------------------------------

    def _within_limit(self, size: int) -> bool:
        """Count `size` more bytes of request line and headers; refuse past the limit."""
        if self.refused:
            return False
        self.parsed_header_bytes += size
        if self.parsed_header_bytes > self.max_header_bytes:
            self._refuse()
            return False
        return True

    def _refuse(self) -> None:
        """Answer 431 and close: the rest of the headers is not worth reading."""
        self.refused = True
        self._cancel_header_timer()
        message = b"Request header fields too large."
        self.transport.write(b"".join([
            STATUS_LINE[431],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(message),
            b"connection: close\r\n\r\n",
            message,
        ]))
        self.transport.close()

    def _arm_header_timer(self) -> None:
        # A connection's first request keeps the timer armed when it opened.
        if self.header_timeout > 0 and self.header_timer is None:
            self.header_timer = self.loop.call_later(self.header_timeout,
                                                     self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_timed_out(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            self.logger.debug("Request headers not received in time; closing.")
            self.transport.close()
