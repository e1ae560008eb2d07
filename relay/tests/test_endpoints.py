"""Every /v1 endpoint end to end against the fake OpenAI server, checked against
OpenAI's published schemas, plus the Anthropic conversion through the relay."""

from __future__ import annotations

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import make_channel, make_price, make_token, make_user
from providers.tests.openapi import assert_matches
from relay.tests.helpers import CHAT, error_of, flushed_logs, post, read_stream, sse_payloads

pytestmark = pytest.mark.django_db(transaction=True)
MODELS = ["gpt-4o-mini", "text-embedding-3-small", "gpt-image-1", "tts-1", "whisper-1",
          "omni-moderation-latest", "rerank-v1", "gpt-3.5-turbo-instruct"]


@pytest.fixture
async def key(fake_openai):
    def world():
        for model in MODELS:
            make_price(model, per_request_price="0.01" if model in ("gpt-image-1", "whisper-1")
                       else None)
        make_channel(base_url=fake_openai.url, name="oa", models=MODELS, type="custom")
        return make_token(make_user())[1]

    return await sync_to_async(world)()


def headers(key):
    return {"Authorization": f"Bearer {key}"}


async def test_completions(async_client, key):
    response = await post(async_client, "/v1/completions",
                          {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi"}, key)
    assert_matches("CreateCompletionResponse", orjson.loads(response.content))


async def test_embeddings(async_client, key):
    response = await post(async_client, "/v1/embeddings",
                          {"model": "text-embedding-3-small", "input": ["a", "b"]}, key)
    body = orjson.loads(response.content)
    assert_matches("CreateEmbeddingResponse", body)
    assert len(body["data"]) == 2


async def test_images_generations_bill_the_per_request_price_per_image(async_client, key):
    response = await post(async_client, "/v1/images/generations",
                          {"model": "gpt-image-1", "prompt": "a cat", "n": 2}, key)
    assert_matches("ImagesResponse", orjson.loads(response.content))
    [log] = await flushed_logs()
    assert log.quota >= 2 * 5000  # $0.01 per image = 5000 quota each


async def test_images_edits_forward_the_multipart_body(async_client, key, fake_openai):
    image = SimpleUploadedFile("cat.png", b"\x89PNG fake", content_type="image/png")
    response = await async_client.post("/v1/images/edits", {
        "model": "gpt-image-1", "prompt": "hat", "image": image}, headers=headers(key))
    assert response.status_code == 200, response.content
    assert b"\x89PNG fake" in fake_openai.last.body
    assert fake_openai.last.headers["content-type"].startswith("multipart/form-data")


async def test_audio_transcriptions_and_translations(async_client, key, fake_openai):
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        audio = SimpleUploadedFile("a.mp3", b"ID3 fake audio", content_type="audio/mpeg")
        response = await async_client.post(path, {"model": "whisper-1", "file": audio},
                                           headers=headers(key))
        assert response.status_code == 200, response.content
        assert orjson.loads(response.content) == {"text": "hello from audio"}
    logs = await flushed_logs()
    assert [log.quota for log in logs] == [5000, 5000]


async def test_audio_speech_streams_the_audio_bytes(async_client, key):
    response = await post(async_client, "/v1/audio/speech",
                          {"model": "tts-1", "input": "Hello there", "voice": "alloy"}, key)
    assert response["Content-Type"] == "audio/mpeg"
    assert await read_stream(response) == b"ID3\x03fake-mp3-bytes"
    [log] = await flushed_logs()
    assert log.prompt_tokens == len("Hello there")  # TTS is priced per character


async def test_moderations(async_client, key):
    response = await post(async_client, "/v1/moderations", {"input": "hello"}, key)
    assert_matches("CreateModerationResponse", orjson.loads(response.content))


async def test_rerank(async_client, key):
    response = await post(async_client, "/v1/rerank", {
        "model": "rerank-v1", "query": "q", "documents": ["a", "b", "c"]}, key)
    assert [r["index"] for r in orjson.loads(response.content)["results"]] == [0, 1, 2]


async def test_responses_plain_and_streamed(async_client, key):
    body = {"model": "gpt-4o-mini", "input": "Say hello"}
    response = await post(async_client, "/v1/responses", body, key)
    # Passed through as the upstream sent it (the fake's object is not schema-complete).
    assert orjson.loads(response.content)["object"] == "response"
    response = await post(async_client, "/v1/responses", {**body, "stream": True}, key)
    events = [orjson.loads(p) for p in sse_payloads(await read_stream(response))]
    assert events[-1]["type"] == "response.completed"
    logs = await flushed_logs()
    assert [(log.prompt_tokens, log.completion_tokens) for log in logs] == [(9, 2), (9, 2)]


async def test_models_lists_only_what_the_token_may_use(async_client, key, fake_openai):
    response = await async_client.get("/v1/models", headers=headers(key))
    body = orjson.loads(response.content)
    assert_matches("ListModelsResponse", body)
    assert sorted(m["id"] for m in body["data"]) == sorted(MODELS)

    def narrow():
        from billing.models import User

        return make_token(User.objects.get(), name="narrow", allowed_models=["tts-1"])[1]

    narrow_key = await sync_to_async(narrow)()
    body = orjson.loads((await async_client.get("/v1/models",
                                                headers=headers(narrow_key))).content)
    assert [m["id"] for m in body["data"]] == ["tts-1"]
    one = await async_client.get("/v1/models/tts-1", headers=headers(narrow_key))
    assert_matches("Model", orjson.loads(one.content))
    missing = await async_client.get("/v1/models/gpt-4o-mini", headers=headers(narrow_key))
    assert missing.status_code == 404 and error_of(missing)["code"] == "model_not_found"


async def test_a_claude_channel_answers_in_openai_shape(async_client, fake_anthropic):
    def world():
        make_price("claude-sonnet-4-5")
        make_channel(base_url=fake_anthropic.url, type="anthropic", models=["claude-sonnet-4-5"])
        return make_token(make_user())[1]

    key = await sync_to_async(world)()
    body = {**CHAT, "model": "claude-sonnet-4-5"}
    response = await post(async_client, "/v1/chat/completions", body, key)
    assert_matches("CreateChatCompletionResponse", orjson.loads(response.content))
    assert fake_anthropic.last.path == "/v1/messages"
    response = await post(async_client, "/v1/chat/completions", {**body, "stream": True}, key)
    payloads = sse_payloads(await read_stream(response))
    assert payloads[-1] == b"[DONE]"
    for chunk in payloads[:-1]:
        assert_matches("CreateChatCompletionStreamResponse", orjson.loads(chunk))
