"""Across processes (Redis mode): how soon a web process sees a change another process
made. The bound: at once when the change's pub/sub message arrives (every bump publishes
one), and within RELAY_CACHE_CHECK_MS when that message is lost (the version read the
listener lets it skip is done again at that interval)."""

import json
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from core.redis import shared_client
from oneproxy.tests.served import Served, run

pytestmark = pytest.mark.redis
CHECK_MS = 400
DISABLE = """
import django; django.setup()
from billing.models import Token, TokenStatus
token = Token.objects.get()
token.status = TokenStatus.DISABLED
token.save()
"""


def _status(port: int, key: str) -> int:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=body.encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _seconds_until_refused(port: int, key: str, limit: float = 5.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if _status(port, key) == 401:
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(f"the key still worked {limit} s after it was disabled")


@pytest.fixture
def served(tmp_path, fake_openai):
    """A Redis-mode server on its own SQLite file, warm: the token cached, the listener
    subscribed."""
    with Served(tmp_path, fake_openai.url, REDIS_URL=settings.REDIS_URL,
                SECRET_KEY=settings.SECRET_KEY, WEB_CONCURRENCY="1",
                RELAY_CACHE_CHECK_MS=str(CHECK_MS)) as server:
        for _ in range(3):
            assert _status(server.port, server.key) == 200
            time.sleep(0.2)
        yield server.env, server.port, server.key


def test_another_process_disabling_a_token_is_seen_as_soon_as_its_message_arrives(served):
    env, port, key = served
    run(["-c", DISABLE], env)
    assert _seconds_until_refused(port, key) < 0.2


def test_a_change_whose_message_was_lost_is_seen_within_the_check_interval(served):
    env, port, key = served
    # Change the row and move the version without publishing: a lost pub/sub message.
    code = DISABLE.replace("token.save()", "Token.objects.filter(pk=token.pk)"
                           ".update(status=TokenStatus.DISABLED)")
    run(["-c", code], env)
    assert _status(port, key) == 200  # nothing told this process yet
    shared_client().incr("oneproxy:v:auth")
    assert _seconds_until_refused(port, key) <= CHECK_MS / 1000 + 0.2
