"""OpenAI adaptor: the shared contract plus OpenAI-specific pass-through rules."""

from __future__ import annotations

import httpx
import orjson
import pytest

from providers.base import Endpoint
from providers.registry import get_adaptor
from providers.spec import ChannelSpec
from providers.tests.contract import KEY, AdaptorContract, chat_body
from providers.tests.fakes.fixtures import fake_openai, openai_server  # noqa: F401
from providers.tests.fakes.mock import mock_client
from providers.tests.fakes.openai_server import FakeOpenAI
from providers.tests.fakes.server import Recorded


class TestOpenAIContract(AdaptorContract):
    provider = "openai"
    fake_class = FakeOpenAI
    server_fixture = "fake_openai"
    model = "gpt-4o-mini"
    usage = (9, 2, 3)

    def sent_key(self, req: Recorded) -> str:
        return req.headers["authorization"].removeprefix("Bearer ")


def spec(provider: str = "openai", base_url: str = "http://fake.test", **kwargs) -> ChannelSpec:
    return ChannelSpec(id=7, provider=provider, base_url=base_url, key=KEY, **kwargs)


async def test_it_forwards_the_clients_bytes_untouched_when_nothing_needs_converting() -> None:
    fake = FakeOpenAI()
    raw = b'{ "model" : "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}] }'
    async with mock_client(fake) as client:
        await get_adaptor("openai").complete(client, spec(), Endpoint.chat_completions,
                                             body=orjson.loads(raw), raw_body=raw,
                                             requested_model="gpt-4o-mini")
    assert fake.last.body == raw


async def test_it_injects_stream_usage_and_hides_the_usage_chunk_from_the_client() -> None:
    fake, adaptor = FakeOpenAI(), get_adaptor("openai")
    body = chat_body("gpt-4o-mini", stream=True)
    async with mock_client(fake) as client:
        response = await adaptor.open(client, spec(), Endpoint.chat_completions, body=body,
                                      raw_body=orjson.dumps(body), requested_model="gpt-4o-mini")
        converter = adaptor.stream_converter("gpt-4o-mini", include_usage=False)
        out = b"".join([c async for c in adaptor.relay_stream(response, converter)])
    assert fake.last.json()["stream_options"] == {"include_usage": True}
    assert b'"usage"' not in out and out.endswith(b"data: [DONE]\n\n")
    assert (converter.usage.prompt_tokens, converter.usage.completion_tokens) == (9, 2)


async def test_it_rewrites_the_model_in_streamed_chunks_when_the_model_is_mapped() -> None:
    fake, adaptor = FakeOpenAI(), get_adaptor("openai")
    mapped = spec(model_mapping={"alias": "gpt-4o"})
    body = chat_body("alias", stream=True)
    async with mock_client(fake) as client:
        response = await adaptor.open(client, mapped, Endpoint.chat_completions, body=body,
                                      raw_body=orjson.dumps(body), requested_model="alias")
        converter = adaptor.stream_converter("alias", False, mapped.upstream_model("alias"))
        out = b"".join([c async for c in adaptor.relay_stream(response, converter)])
    assert fake.last.json()["model"] == "gpt-4o"
    assert b'"model":"alias"' in out and b"gpt-4o" not in out


@pytest.mark.parametrize(("base_url", "expected"), [
    ("https://api.openai.com", "https://api.openai.com/v1/chat/completions"),
    ("https://proxy.example.com/v1/", "https://proxy.example.com/v1/chat/completions"),
    ("https://open.bigmodel.cn/api/paas/v4", "https://open.bigmodel.cn/api/paas/v4/chat/completions"),
    ("", "https://api.openai.com/v1/chat/completions"),
])
def test_it_builds_the_url_without_doubling_the_version(base_url: str, expected: str) -> None:
    url = get_adaptor("openai").request_url(spec(base_url=base_url), Endpoint.chat_completions,
                                            "gpt-4o")
    assert url == expected


def test_it_uses_each_compatible_providers_default_base_url() -> None:
    deepseek = get_adaptor("deepseek")
    url = deepseek.request_url(spec("deepseek", ""), Endpoint.chat_completions, "deepseek-chat")
    assert url == "https://api.deepseek.com/v1/chat/completions"
    qwen = get_adaptor("qwen")
    assert qwen.request_url(spec("qwen", ""), Endpoint.embeddings, "text-embedding-v3") == \
        "https://dashscope.aliyuncs.com/compatible-mode/v1/embeddings"


def test_a_channel_without_any_base_url_is_a_retryable_misconfiguration() -> None:
    with pytest.raises(Exception) as caught:
        get_adaptor("vllm").request_url(spec("vllm", ""), Endpoint.chat_completions, "m")
    assert caught.value.code == "channel_misconfigured" and caught.value.retryable


JSON_ENDPOINTS = [
    (Endpoint.completions, {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"},
     "CreateCompletionResponse"),
    (Endpoint.embeddings, {"model": "text-embedding-3-small", "input": ["a", "b"]},
     "CreateEmbeddingResponse"),
    (Endpoint.images_generations, {"model": "gpt-image-1", "prompt": "a cat"}, "ImagesResponse"),
    (Endpoint.moderations, {"model": "omni-moderation-latest", "input": "hi"},
     "CreateModerationResponse"),
    (Endpoint.responses, {"model": "gpt-4o-mini", "input": "hi"}, None),
]


@pytest.mark.parametrize(("endpoint", "body", "schema"), JSON_ENDPOINTS)
async def test_it_relays_each_json_endpoint_to_its_openai_path(endpoint, body, schema) -> None:
    from providers.tests.openapi import assert_matches

    fake = FakeOpenAI()
    async with mock_client(fake) as client:
        data, usage = await get_adaptor("openai").complete(
            client, spec(), endpoint, body=body, raw_body=orjson.dumps(body),
            requested_model=body["model"])
    assert fake.last.path == f"/v1/{endpoint.path}"
    if schema:
        assert_matches(schema, data)
    assert usage.prompt_tokens > 0 or endpoint is Endpoint.moderations  # no usage there


async def test_it_lists_models_with_a_get_request() -> None:
    fake = FakeOpenAI()
    async with mock_client(fake) as client:
        data, _ = await get_adaptor("openai").complete(
            client, spec(), Endpoint.models, body=None, raw_body=b"", requested_model="")
    from providers.tests.openapi import assert_matches

    assert fake.last.method == "GET" and fake.last.body == b""
    assert_matches("ListModelsResponse", data)


async def test_it_forwards_multipart_uploads_with_their_content_type() -> None:
    fake, adaptor = FakeOpenAI(), get_adaptor("openai")
    form = (b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            b"whisper-1\r\n--XyZ--\r\n")
    async with mock_client(fake) as client:
        response = await adaptor.open(client, spec(), Endpoint.audio_transcriptions, body=None,
                                      raw_body=form, requested_model="whisper-1",
                                      content_type="multipart/form-data; boundary=XyZ")
        assert orjson.loads(await response.aread()) == {"text": "hello from audio"}
    assert fake.last.body == form
    assert fake.last.headers["content-type"] == "multipart/form-data; boundary=XyZ"


async def test_it_streams_speech_audio_bytes_as_they_come() -> None:
    fake, adaptor = FakeOpenAI(), get_adaptor("openai")
    body = {"model": "tts-1", "input": "hello", "voice": "alloy"}
    async with mock_client(fake) as client:
        response = await adaptor.open(client, spec(), Endpoint.audio_speech, body=body,
                                      raw_body=orjson.dumps(body), requested_model="tts-1")
        audio = await response.aread()
    assert response.headers["content-type"] == "audio/mpeg" and audio.startswith(b"ID3")


async def test_it_relays_rerank_through_a_provider_that_offers_it() -> None:
    fake = FakeOpenAI()
    body = {"model": "BAAI/bge-reranker-v2-m3", "query": "q", "documents": ["a", "b"]}
    async with mock_client(fake) as client:
        data, _ = await get_adaptor("siliconflow").complete(
            client, spec("siliconflow"), Endpoint.rerank, body=body,
            raw_body=orjson.dumps(body), requested_model=body["model"])
    assert [r["index"] for r in data["results"]] == [0, 1]
    assert fake.last.path == "/v1/rerank"


async def test_it_forwards_responses_stream_events_with_their_names_and_usage() -> None:
    fake, adaptor = FakeOpenAI(), get_adaptor("openai")
    body = {"model": "gpt-4o-mini", "input": "hi", "stream": True}
    async with mock_client(fake) as client:
        response = await adaptor.open(client, spec(), Endpoint.responses, body=body,
                                      raw_body=orjson.dumps(body), requested_model="gpt-4o-mini")
        converter = adaptor.stream_converter("gpt-4o-mini", False, endpoint=Endpoint.responses)
        out = b"".join([c async for c in adaptor.relay_stream(response, converter)])
    assert "stream_options" not in fake.last.json()
    assert out.count(b"event: response.output_text.delta\n") == 2
    assert b"[DONE]" not in out and converter.error is None
    assert (converter.usage.prompt_tokens, converter.usage.completion_tokens) == (9, 2)


async def test_it_flags_a_key_out_of_quota_for_disabling() -> None:
    fake = FakeOpenAI()
    fake.variant = "insufficient_quota"
    async with mock_client(fake) as client:
        with pytest.raises(Exception) as caught:
            await get_adaptor("openai").complete(
                client, spec(), Endpoint.chat_completions, body=chat_body("gpt-4o"),
                raw_body=orjson.dumps(chat_body("gpt-4o")), requested_model="gpt-4o")
    assert caught.value.disable_key and caught.value.retryable


def test_providers_declare_which_endpoints_they_serve() -> None:
    assert get_adaptor("openai").supports(Endpoint.audio_speech)
    assert not get_adaptor("openai").supports(Endpoint.rerank)
    assert not get_adaptor("deepseek").supports(Endpoint.images_generations)
    assert get_adaptor("siliconflow").supports(Endpoint.rerank)


@pytest.mark.parametrize(("provider", "payload", "amount", "currency"), [
    ("deepseek", {"is_available": True, "balance_infos": [
        {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00",
         "topped_up_balance": "100.00"}]}, 110.0, "CNY"),
    ("openrouter", {"data": {"total_credits": 100.5, "total_usage": 25.75}}, 74.75, "USD"),
    ("siliconflow", {"code": 20000, "message": "OK", "status": True,
                     "data": {"balance": "0.88", "chargeBalance": "88.00",
                              "totalBalance": "88.88"}}, 88.88, "CNY"),
    ("moonshot", {"code": 0, "data": {"available_balance": 49.5, "voucher_balance": 46.5,
                                      "cash_balance": 3.0}, "status": True}, 49.5, "CNY"),
    ("openai", {"total_granted": 18.0, "total_used": 3.0, "total_available": 15.0}, 15.0, "USD"),
])
def test_it_reads_each_providers_balance_format(provider, payload, amount, currency) -> None:
    balance = get_adaptor(provider).parse_balance(payload)
    assert balance is not None
    assert balance.amount == pytest.approx(amount) and balance.currency == currency


def test_it_builds_balance_requests_only_for_providers_with_a_balance_api() -> None:
    request = get_adaptor("deepseek").balance_request(spec("deepseek", ""))
    assert request.url == "https://api.deepseek.com/user/balance"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    openrouter = get_adaptor("openrouter").balance_request(spec("openrouter", ""))
    assert openrouter.url == "https://openrouter.ai/api/v1/credits"
    assert get_adaptor("groq").balance_request(spec("groq", "")) is None
    assert get_adaptor("deepseek").parse_balance({"unexpected": 1}) is None


async def test_a_real_http_round_trip_reaches_the_fake_server(fake_openai) -> None:  # noqa: F811
    async with httpx.AsyncClient() as client:
        data, usage = await get_adaptor("openai").complete(
            client, spec(base_url=fake_openai.url), Endpoint.chat_completions,
            body=chat_body("gpt-4o"), raw_body=orjson.dumps(chat_body("gpt-4o")),
            requested_model="gpt-4o")
    assert data["choices"][0]["message"]["content"] == "Hello world"
    assert fake_openai.last.headers["authorization"] == f"Bearer {KEY}"
