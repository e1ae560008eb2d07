"""Anthropic adaptor: the shared contract plus Messages API conversions."""

from __future__ import annotations

import orjson
import pytest

from providers.anthropic import AnthropicStream
from providers.base import Endpoint
from providers.errors import RelayError
from providers.registry import get_adaptor
from providers.spec import ChannelSpec
from providers.sse import SSEParser
from providers.tests.contract import KEY, AdaptorContract, chat_body, data_lines
from providers.tests.fakes.anthropic_server import FakeAnthropic
from providers.tests.fakes.fixtures import anthropic_server, fake_anthropic  # noqa: F401
from providers.tests.fakes.mock import mock_client
from providers.tests.fakes.server import Recorded
from providers.tests.openapi import assert_matches

MODEL = "claude-sonnet-4-5"


class TestAnthropicContract(AdaptorContract):
    provider = "anthropic"
    fake_class = FakeAnthropic
    server_fixture = "fake_anthropic"
    model = MODEL
    usage = (16, 6, 4)  # input 12 + cache read 4; cached 4

    def sent_key(self, req: Recorded) -> str:
        assert req.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in req.headers
        return req.headers["x-api-key"]


def spec(base_url: str = "http://fake.test", **kwargs) -> ChannelSpec:
    return ChannelSpec(id=2, provider="anthropic", base_url=base_url, key=KEY, **kwargs)


def convert(body: dict) -> dict:
    return get_adaptor("anthropic").build_body(spec(), Endpoint.chat_completions, body, MODEL)


def test_it_posts_to_the_messages_endpoint() -> None:
    adaptor = get_adaptor("anthropic")
    assert adaptor.request_url(spec(base_url=""), Endpoint.chat_completions, MODEL) == \
        "https://api.anthropic.com/v1/messages"
    assert adaptor.request_url(spec(base_url="https://gw.example.com/v1"), Endpoint.models,
                               MODEL) == "https://gw.example.com/v1/models"


def test_it_moves_system_messages_to_the_top_level_system_field() -> None:
    out = convert({"model": "c", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hi"}]})
    assert out["system"] == "Be brief.\n\nAnswer in French."
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


def test_it_defaults_max_tokens_and_prefers_max_completion_tokens() -> None:
    assert convert(chat_body("c"))["max_tokens"] == 4096
    assert convert(chat_body("c", max_tokens=100))["max_tokens"] == 100
    assert convert(chat_body("c", max_tokens=100, max_completion_tokens=50))["max_tokens"] == 50


def test_it_maps_sampling_and_stop_parameters() -> None:
    out = convert(chat_body("c", temperature=1.7, top_p=0.9, stop="END", user="u-1"))
    assert out["temperature"] == 1.0  # Claude's range is 0-1
    assert out["top_p"] == 0.9 and out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u-1"}


def test_it_inlines_data_url_images_and_passes_http_images_by_url() -> None:
    out = convert({"model": "c", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]})
    blocks = out["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64",
                                                     "media_type": "image/jpeg",
                                                     "data": "/9j/AAAA"}}
    assert blocks[2] == {"type": "image", "source": {"type": "url",
                                                     "url": "https://example.com/cat.png"}}


def test_it_converts_tools_tool_choice_and_a_tool_call_round_trip() -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    out = convert({"model": "c", "tools": tools, "parallel_tool_calls": False,
                   "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                   "messages": [
                       {"role": "user", "content": "Weather in Paris?"},
                       {"role": "assistant", "content": None, "tool_calls": [
                           {"id": "call_1", "type": "function", "function": {
                               "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                       {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                       {"role": "user", "content": "Thanks"}]})
    assert out["tools"][0]["input_schema"]["properties"]["city"] == {"type": "string"}
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather",
                                  "disable_parallel_tool_use": True}
    assert out["messages"][1]["content"] == [{"type": "tool_use", "id": "call_1",
                                              "name": "get_weather",
                                              "input": {"city": "Paris"}}]
    # the tool result and the next user turn merge: Claude needs alternating roles
    assert out["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "text", "text": "Thanks"}]}


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"})])
def test_it_maps_string_tool_choices(choice: str, expected: dict) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert convert(chat_body("c", tools=tools, tool_choice=choice))["tool_choice"] == expected


def test_it_rejects_content_it_cannot_convert_as_a_client_error() -> None:
    with pytest.raises(RelayError) as caught:
        convert({"model": "c", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}]}]})
    assert caught.value.status == 400 and not caught.value.retryable


async def test_it_returns_tool_calls_with_the_tool_calls_finish_reason() -> None:
    fake = FakeAnthropic()
    fake.variant = "tool_use"
    async with mock_client(fake) as client:
        data, _ = await get_adaptor("anthropic").complete(
            client, spec(), Endpoint.chat_completions, body=chat_body(MODEL),
            raw_body=b"", requested_model=MODEL)
    assert_matches("CreateChatCompletionResponse", data)
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}


async def test_it_streams_tool_calls_as_openai_tool_call_deltas() -> None:
    fake, adaptor = FakeAnthropic(), get_adaptor("anthropic")
    fake.variant = "tool_use"
    body = chat_body(MODEL, stream=True)
    async with mock_client(fake) as client:
        response = await adaptor.open(client, spec(), Endpoint.chat_completions, body=body,
                                      raw_body=b"", requested_model=MODEL)
        converter = adaptor.stream_converter(MODEL, include_usage=False)
        chunks = [c async for c in adaptor.relay_stream(response, converter)]
    parsed = [orjson.loads(p) for p in data_lines(chunks)[:-1]]
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in parsed
             if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0]["id"] == "toolu_fake" and calls[0]["function"]["name"] == "get_weather"
    assert "".join(c["function"]["arguments"] for c in calls) == '{"city": "Paris"}'
    assert parsed[-1]["choices"][0]["finish_reason"] == "tool_calls"
    for chunk in parsed:
        assert_matches("CreateChatCompletionStreamResponse", chunk)


async def test_an_error_event_mid_stream_becomes_an_openai_error_event() -> None:
    fake, adaptor = FakeAnthropic(), get_adaptor("anthropic")
    fake.variant = "stream_error"
    body = chat_body(MODEL, stream=True)
    async with mock_client(fake) as client:
        response = await adaptor.open(client, spec(), Endpoint.chat_completions, body=body,
                                      raw_body=b"", requested_model=MODEL)
        converter = adaptor.stream_converter(MODEL, include_usage=False)
        chunks = [c async for c in adaptor.relay_stream(response, converter)]
    error = orjson.loads(data_lines(chunks)[-1])
    assert error["error"]["code"] == "overloaded_error"
    assert converter.error.retryable and converter.emitted
    assert converter.usage.completion_tokens > 0 and converter.usage.estimated


@pytest.mark.parametrize(("variant", "status", "retryable", "dead"), [
    ("529", 503, True, False), ("credit", 502, True, True), ("401", 502, True, True),
    ("400", 400, False, False)])
async def test_it_classifies_anthropic_errors(variant, status, retryable, dead) -> None:
    fake = FakeAnthropic()
    fake.variant = variant
    async with mock_client(fake) as client:
        with pytest.raises(RelayError) as caught:
            await get_adaptor("anthropic").complete(
                client, spec(), Endpoint.chat_completions, body=chat_body(MODEL),
                raw_body=b"", requested_model=MODEL)
    err = caught.value
    assert (err.status, err.retryable, err.disable_key) == (status, retryable, dead)
    assert_matches("ErrorResponse", err.to_dict())


async def test_it_lists_claude_models_in_openai_shape() -> None:
    async with mock_client(FakeAnthropic()) as client:
        data, _ = await get_adaptor("anthropic").complete(
            client, spec(), Endpoint.models, body=None, raw_body=b"", requested_model="")
    assert_matches("ListModelsResponse", data)
    assert data["data"][0]["id"] == "claude-sonnet-4-5"


def test_a_stream_split_at_arbitrary_bytes_converts_the_same() -> None:
    stream = b"".join(FakeAnthropic().stream({"model": MODEL}, None))
    outputs = []
    for size in (1, 7, len(stream)):
        parser, converter = SSEParser(), AnthropicStream(MODEL, include_usage=True)
        out = [o for i in range(0, len(stream), size)
               for event in parser.feed(stream[i:i + size]) for o in converter.feed(event)]
        payloads = [orjson.loads(p) for p in data_lines(out)[:-1]]
        outputs.append([{**p, "created": 0} for p in payloads])
        assert converter.usage.completion_tokens == 6 and not converter.usage.estimated
    assert all(o == outputs[0] for o in outputs)
