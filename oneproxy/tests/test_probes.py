import asyncio
import io
import json

import pytest
from django.test import override_settings

from oneproxy.logging import AccessLog, access_log

pytestmark = pytest.mark.django_db(transaction=True)


async def test_healthz_answers_ok_without_touching_the_database(async_client):
    response = await async_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ok_when_the_database_answers(async_client):
    response = await async_client.get("/readyz")
    assert response.status_code == 200


async def test_readyz_is_503_with_a_reason_when_redis_is_unreachable(async_client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = await async_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "redis" in body["failures"]


async def test_every_response_carries_a_request_id(async_client):
    response = await async_client.get("/healthz")
    assert len(response["X-Request-Id"]) == 32


async def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(async_client):
    kept = await async_client.get("/healthz", headers={"X-Request-Id": "lb-12345678"})
    assert kept["X-Request-Id"] == "lb-12345678"
    replaced = await async_client.get("/healthz", headers={"X-Request-Id": "bad\nid value"})
    assert replaced["X-Request-Id"] != "bad\nid value"


async def test_each_request_writes_one_access_line_with_its_id(
    async_client, monkeypatch, settings
):
    settings.ACCESS_LOG = True
    access_log.flush()
    stream = io.BytesIO()
    monkeypatch.setattr(access_log, "_stream", stream)
    response = await async_client.get("/healthz")
    access_log.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1
    assert lines[0]["status"] == 200 and lines[0]["request_id"] == response["X-Request-Id"]
    assert lines[0]["message"] == "GET /healthz 200"


def test_access_lines_are_buffered_on_a_loop_and_flushed_together():
    stream = io.BytesIO()
    log = AccessLog(stream)

    async def two_requests():
        log.write({"n": 1})
        log.write({"n": 2})
        assert stream.getvalue() == b""  # nothing written per request
        await asyncio.sleep(log.FLUSH_SECONDS * 2)

    asyncio.run(two_requests())
    assert stream.getvalue() == b'{"n":1}\n{"n":2}\n'
