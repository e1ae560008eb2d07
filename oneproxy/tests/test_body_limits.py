"""Bodies through the real server: nobody's body is read before their key is checked, no
body is read past its route's limit, and request memory stays bounded per connection.

One `manage.py serve` for the module (MAX_REQUEST_BODY_MB=8, SERVER_ADMIN_BODY_MB=1), in
front of the fake OpenAI upstream; clients are raw sockets, the server's memory and open
temporary files are read from /proc while they send.
"""

from __future__ import annotations

import json
import time

import pytest

from oneproxy.tests.served import (
    Peaks,
    Sender,
    Served,
    chunked,
    connect,
    read_response,
    request_head,
)

MB = 1 << 20
LIMIT = 8 * MB
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def server(tmp_path_factory, openai_server):
    with Served(tmp_path_factory.mktemp("bodies"), openai_server.url,
                MAX_REQUEST_BODY_MB="8", SERVER_ADMIN_BODY_MB="1",
                SERVER_BODY_TIMEOUT="1.5") as served:
        yield served


def _chat_body(size: int) -> bytes:
    """A chat request of exactly `size` bytes (padded with JSON whitespace)."""
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    return body + b" " * (size - len(body))


def _send_chunked(server, path: str, total: int, headers: dict[str, str]):
    """POST a chunked body of `total` bytes; returns (response or None, bytes the server
    let in, seconds until the response)."""
    sock = connect(server.port, timeout=10)
    head = request_head("POST", path, {"Transfer-Encoding": "chunked",
                                       "Content-Type": "application/json", **headers})
    sock.sendall(head)
    sender = Sender(sock, chunked(total))
    started = time.monotonic()
    sender.start()
    response = read_response(sock)
    elapsed = time.monotonic() - started
    sender.join(10)
    sock.close()
    return response, sender.sent, elapsed


def test_a_big_chunked_body_without_a_key_gets_401_without_being_read(server):
    with Peaks(server.pid) as peaks:
        response, sent, elapsed = _send_chunked(server, CHAT, 128 * MB, {})
    assert response is not None, "expected the 401 before the connection closed"
    status, headers, body = response
    assert status == 401
    assert json.loads(body)["error"]["code"] == "missing_api_key"
    assert headers["www-authenticate"] == 'Bearer realm="OneProxy"'
    assert headers["connection"] == "close" and headers["x-request-id"]
    assert elapsed < 2
    assert sent < 32 * MB  # the server stopped reading; socket buffers took the rest
    assert peaks.file < MB, "the body was spooled to a temporary file"
    assert peaks.rss_growth < 16 * MB


def test_an_unknown_key_gets_401_before_its_body_is_read(server):
    response, sent, _elapsed = _send_chunked(server, CHAT, 128 * MB,
                                             {"Authorization": "Bearer sk-unknown"})
    assert response is not None
    assert response[0] == 401
    assert json.loads(response[2])["error"]["code"] == "invalid_api_key"
    assert sent < 32 * MB


def test_concurrent_big_bodies_without_a_key_keep_memory_bounded(server):
    body = _chat_body(7 * MB)
    head = request_head("POST", CHAT, {"Content-Length": str(len(body)),
                                       "Content-Type": "application/json"})
    socks = [connect(server.port, timeout=10) for _ in range(20)]
    with Peaks(server.pid) as peaks:
        senders = [Sender(sock, [head, body]) for sock in socks]
        for sender in senders:
            sender.start()
        statuses = [(read_response(sock) or (None,))[0] for sock in socks]
        for sender in senders:
            sender.join(10)
    for sock in socks:
        sock.close()
    assert statuses == [401] * 20
    assert peaks.rss_growth < 40 * MB  # 20 bodies held would be 140 MB
    assert peaks.file < MB


def test_an_over_limit_content_length_gets_413_before_the_body_is_sent(server):
    sock = connect(server.port, timeout=3)
    sock.sendall(request_head("POST", CHAT, {
        "Authorization": f"Bearer {server.key}", "Content-Type": "application/json",
        "Content-Length": str(LIMIT + 1)}))
    response = read_response(sock)  # nothing of the body was sent
    sock.close()
    assert response is not None
    status, headers, body = response
    assert status == 413
    assert json.loads(body)["error"] == {
        "message": "Request body is larger than 8 MB.", "type": "invalid_request_error",
        "param": None, "code": "request_too_large"}
    assert headers["connection"] == "close"


def test_a_chunked_body_one_byte_over_the_limit_gets_413_while_at_the_limit_is_served(
        server):
    key = {"Authorization": f"Bearer {server.key}"}
    at_limit = _chat_body(LIMIT)
    sock = connect(server.port, timeout=10)
    sock.sendall(request_head("POST", CHAT, {"Transfer-Encoding": "chunked",
                                             "Content-Type": "application/json", **key}))
    sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(at_limit), at_limit))
    served = read_response(sock)
    sock.close()
    assert served is not None and served[0] == 200, served
    assert json.loads(served[2])["choices"][0]["message"]["content"] == "Hello world"

    response, sent, _elapsed = _send_chunked(server, CHAT, LIMIT + 1, key)
    assert response is not None and response[0] == 413
    assert json.loads(response[2])["error"]["code"] == "request_too_large"


def test_the_api_refuses_a_body_over_its_limit_before_reading_it_all(server):
    response, sent, elapsed = _send_chunked(server, "/api/users/", 128 * MB, {})
    assert response is not None
    status, headers, body = response
    assert status == 413
    assert json.loads(body) == {"detail": "Request body is larger than 1 MB."}
    assert sent < 32 * MB and elapsed < 2


def test_the_admin_refuses_a_declared_body_over_its_limit(server):
    sock = connect(server.port, timeout=3)
    sock.sendall(request_head("POST", "/admin/login/", {
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(2 * MB)}))
    response = read_response(sock)
    sock.close()
    assert response is not None and response[0] == 413
    assert response[2] == b"Request body is larger than 1 MB."


def test_a_body_sent_too_slowly_gets_408(server):
    sock = connect(server.port, timeout=5)
    sock.sendall(request_head("POST", CHAT, {
        "Authorization": f"Bearer {server.key}", "Content-Type": "application/json",
        "Content-Length": "100"}) + b'{"model": ')
    started = time.monotonic()
    response = read_response(sock)
    sock.close()
    assert response is not None and response[0] == 408
    assert json.loads(response[2])["error"]["code"] == "request_timeout"
    assert 1.0 < time.monotonic() - started < 4
