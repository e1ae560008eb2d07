import pytest
from django.test import override_settings

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


async def test_each_request_writes_one_access_line_with_its_id(async_client, caplog):
    with caplog.at_level("INFO", logger="oneproxy.access"):
        response = await async_client.get("/healthz")
    lines = [r for r in caplog.records if r.name == "oneproxy.access"]
    assert len(lines) == 1
    assert lines[0].status == 200 and lines[0].request_id == response["X-Request-Id"]
