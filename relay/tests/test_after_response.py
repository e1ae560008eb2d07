"""Settling after the response: through the ASGI fast path the client gets its answer
first and the charge lands before the request's task ends; without a scope it is
immediate."""

from __future__ import annotations

import orjson
import pytest
from asgiref.sync import sync_to_async

from billing import quota
from billing.models import Token
from relay import after_response
from relay.tests.helpers import CHAT, asgi_post, setup_world

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_answer_goes_out_before_the_settle_which_ends_the_request(fake_openai):
    user, key = await sync_to_async(setup_world)(fake_openai.url)
    seen_when_sent = []

    def sent(body: bytes) -> None:
        seen_when_sent.append((orjson.loads(body), quota.pending_log_count()))

    status, _body = await asgi_post("/v1/chat/completions", orjson.dumps(CHAT), key, sent)
    assert status == 200
    [(answer, pending_then)] = seen_when_sent
    assert answer["usage"]["total_tokens"] == 11
    assert pending_then == 0  # not settled yet when the client had its answer
    assert quota.pending_log_count() == 1  # settled before the request task ended
    token = await Token.objects.aget(user=user)
    _token_left, user_left = await quota.remaining(token.pk, user.pk)
    assert user_left < user.quota


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
