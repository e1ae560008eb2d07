"""Settling after the response: through the ASGI fast path the client gets its answer
first and the charge lands before the request's task ends; without a scope it is
immediate."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from billing import quota
from billing.models import Token
from oneproxy.asgi import application
from relay import after_response
from relay.tests.helpers import CHAT, setup_world

pytestmark = pytest.mark.django_db(transaction=True)


def _chat_scope(key: str, body: bytes) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {key}".encode()),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
    }


async def test_the_answer_goes_out_before_the_settle_which_ends_the_request(fake_openai):
    user, key = await sync_to_async(setup_world)(fake_openai.url)
    body = orjson.dumps(CHAT)
    inbox = [{"type": "http.request", "body": body, "more_body": False}]
    seen_when_sent = []

    async def receive():
        if inbox:
            return inbox.pop()
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.body" and not message.get("more_body"):
            seen_when_sent.append((orjson.loads(message["body"]), quota.pending_log_count()))

    await asyncio.wait_for(application(_chat_scope(key, body), receive, send), 10)

    [(answer, pending_then)] = seen_when_sent
    assert answer["usage"]["total_tokens"] == 11
    assert pending_then == 0  # not settled yet when the client had its answer
    assert quota.pending_log_count() == 1  # settled before the request task ended
    token = await Token.objects.aget(user=user)
    _token_left, user_left = await quota.remaining(token.pk, user.pk)
    assert user_left < user.quota
    await sync_to_async(connections.close_all)()  # the seeding thread's, for DB teardown


async def test_without_a_scope_deferred_work_runs_at_once():
    done = []

    async def job():
        done.append(1)

    await after_response.defer(job)
    assert done == [1]


async def test_a_failing_job_is_logged_and_the_next_still_runs(caplog):
    done = []

    async def broken():
        raise RuntimeError("redis went away")

    async def fine():
        done.append(1)

    token, jobs = after_response.open_scope()
    try:
        await after_response.defer(broken)
        await after_response.defer(fine)
        assert done == [] and len(jobs) == 2
    finally:
        after_response.close_scope(token)
    await after_response.run(jobs)
    assert done == [1] and jobs == []
    assert "work after the response failed" in caplog.text
