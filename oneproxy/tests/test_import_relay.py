"""After the import, a client's unchanged One API key calls /v1 through an imported
channel, with prices and the group ratio imported from the One API options."""

import io

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from billing.models import User
from relay.tests.helpers import CHAT, flushed_logs, fresh_relay, post  # noqa: F401

from .oneapi_source import ALICE_KEY, oneapi_database, seed

pytestmark = pytest.mark.django_db(transaction=True)


def _import(tmp_path, upstream_url: str) -> None:
    with oneapi_database("sqlite", tmp_path, seed(upstream_url)) as dsn:
        call_command("import_oneapi", "--dsn", dsn, stdout=io.StringIO())


async def test_an_imported_key_calls_v1_through_an_imported_channel(async_client, fake_openai,
                                                                     tmp_path):
    await sync_to_async(_import)(tmp_path, fake_openai.url)
    response = await post(async_client, "/v1/chat/completions", CHAT, "sk-" + ALICE_KEY)
    assert response.status_code == 200, response.content
    assert orjson.loads(response.content)["choices"][0]["message"]["content"]
    # One of the two keys of the imported (newline-separated) channel key went upstream.
    assert fake_openai.last.headers["authorization"] in (
        "Bearer sk-upstream-one", "Bearer sk-upstream-two")
    [log] = [row for row in await flushed_logs() if row.type == "consume"]
    # Fake usage 9 prompt (3 cached) + 2 completion at the imported gpt-4o-mini price
    # ($0.15 / $0.60 per 1M from ModelRatio 0.075 and CompletionRatio 4), vip ratio 0.8.
    assert log.quota == 2  # ceil((9*0.15 + 2*0.6)/1e6 * 500000 * 0.8) = ceil(1.02)
    alice = await sync_to_async(User.objects.get)(username="alice")
    assert alice.quota == 1_000_000 - 2


async def test_a_model_outside_the_imported_token_limits_is_refused(async_client, fake_openai,
                                                                     tmp_path):
    await sync_to_async(_import)(tmp_path, fake_openai.url)
    response = await post(async_client, "/v1/chat/completions",
                          {**CHAT, "model": "claude-3-5-sonnet"}, "sk-" + ALICE_KEY)
    assert response.status_code == 403
