"""Request lines and headers through the real server (`manage.py serve`, raw sockets):
oversized headers get 431 with memory bounded, slow or silent clients are dropped after
SERVER_HEADER_TIMEOUT while others are served."""

from __future__ import annotations

import threading
import time

import pytest

from oneproxy.tests.served import (
    Peaks,
    Sender,
    Served,
    closed_by_peer,
    connect,
    read_response,
    request_head,
)

MB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory, openai_server):
    with Served(tmp_path_factory.mktemp("headers"), openai_server.url,
                SERVER_HEADER_TIMEOUT="1") as served:
        yield served


def _healthz(server) -> int:
    sock = connect(server.port, timeout=3)
    sock.sendall(request_head("GET", "/healthz", {}))
    response = read_response(sock)
    sock.close()
    return response[0] if response else 0


def test_a_16_mb_header_gets_431_and_is_not_buffered(server):
    sock = connect(server.port, timeout=5)
    big = (b"x" * MB for _ in range(16))
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
    with Peaks(server.pid) as peaks:
        sender = Sender(sock, [head, *big, b"\r\n\r\n"])
        sender.start()
        response = read_response(sock)
        sender.join(10)
    sock.close()
    assert response is None or response[0] == 431  # or reset before the client read it
    assert sender.sent < 16 * MB
    assert peaks.rss_growth < 8 * MB
    assert _healthz(server) == 200


def test_many_headers_over_the_limit_together_get_431(server):
    headers = {f"X-Header-{i}": "v" * 1000 for i in range(80)}  # ~80 KB in one write
    sock = connect(server.port, timeout=5)
    sock.sendall(request_head("GET", "/healthz", headers))
    response = read_response(sock)
    sock.close()
    assert response is not None
    assert response[0] == 431 and response[1]["connection"] == "close"
    assert b"Invalid HTTP request" not in (server.data_dir / "server.log").read_bytes()


def test_headers_under_the_limit_are_served(server):
    headers = {f"X-Header-{i}": "v" * 1000 for i in range(40)}
    sock = connect(server.port, timeout=5)
    sock.sendall(request_head("GET", "/healthz", headers))
    response = read_response(sock)
    sock.close()
    assert response is not None and response[0] == 200


def _trickle(sock, data: bytes, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(0.1):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def test_a_client_trickling_its_headers_is_dropped_while_another_is_served(server):
    slow = connect(server.port, timeout=4)
    stop = threading.Event()
    head = request_head("GET", "/healthz", {"X-Slow": "y" * 100})
    trickler = threading.Thread(target=_trickle, args=(slow, head, stop), daemon=True)
    started = time.monotonic()
    trickler.start()
    try:
        assert _healthz(server) == 200  # served meanwhile
        assert closed_by_peer(slow)
        assert 0.9 < time.monotonic() - started < 3
    finally:
        stop.set()
        trickler.join(2)
        slow.close()


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(server):
    idle = connect(server.port, timeout=4)
    started = time.monotonic()
    assert closed_by_peer(idle)
    assert 0.9 < time.monotonic() - started < 3
    idle.close()


def test_a_kept_alive_connection_is_served_again_and_then_timed_out_mid_headers(server):
    sock = connect(server.port, timeout=4)
    sock.sendall(request_head("GET", "/healthz", {}))
    assert read_response(sock)[0] == 200
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request begins, never ends
    started = time.monotonic()
    assert closed_by_peer(sock)
    assert 0.9 < time.monotonic() - started < 3
    sock.close()
