"""`AdaptorContract`: the behaviour every chat-capable adaptor must show.

A provider's test module subclasses it supplying only its fake: `provider`, `fake_class`,
`server_fixture` (the real-HTTP fake), and how its requests carry the key and model.
Unit-level tests go through `httpx.MockTransport`; streaming failure tests (cut, slow,
malformed) go through the real fake server on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import orjson
import pytest

from providers.base import Adaptor, Endpoint
from providers.errors import RelayError
from providers.registry import get_adaptor
from providers.spec import ChannelSpec
from providers.tests.fakes.mock import mock_client
from providers.tests.fakes.server import FakeUpstream, Recorded
from providers.tests.openapi import assert_matches

KEY = "sk-contract-key-0123456789"


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Say hello"}], **extra}


def data_lines(chunks: list[bytes]) -> list[bytes]:
    """The `data:` payloads of SSE output, in order."""
    payloads = []
    for event in b"".join(chunks).split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data: "):
                payloads.append(line[6:])
    return payloads


class AdaptorContract:
    provider: ClassVar[str]
    fake_class: ClassVar[type[FakeUpstream]]
    server_fixture: ClassVar[str]
    model: ClassVar[str]
    usage: ClassVar[tuple[int, int, int]]  # prompt, completion, cached from the fake

    # ---- hooks a provider may override ------------------------------------------------
    def sent_key(self, req: Recorded) -> str:
        raise NotImplementedError

    def sent_model(self, req: Recorded) -> str:
        return req.json()["model"]

    # ---- helpers ----------------------------------------------------------------------
    @property
    def adaptor(self) -> Adaptor:
        return get_adaptor(self.provider)

    def spec(self, base_url: str, key: str = KEY, **kwargs: Any) -> ChannelSpec:
        return ChannelSpec(id=1, provider=self.provider, base_url=base_url, key=key, **kwargs)

    async def call(self, client: httpx.AsyncClient, spec: ChannelSpec, body: dict[str, Any],
                   timeout: float | None = None) -> tuple[dict[str, Any], Any]:
        return await self.adaptor.complete(client, spec, Endpoint.chat_completions, body=body,
                                           raw_body=orjson.dumps(body),
                                           requested_model=body["model"], timeout=timeout)

    async def stream(self, client: httpx.AsyncClient, spec: ChannelSpec,
                     include_usage: bool = False, timeout: Any = None) -> tuple[list[bytes], Any]:
        body = chat_body(self.model, stream=True)
        if include_usage:
            body["stream_options"] = {"include_usage": True}
        response = await self.adaptor.open(client, spec, Endpoint.chat_completions, body=body,
                                           raw_body=orjson.dumps(body),
                                           requested_model=self.model, timeout=timeout)
        converter = self.adaptor.stream_converter(self.model, include_usage,
                                                  spec.upstream_model(self.model))
        return [c async for c in self.adaptor.relay_stream(response, converter)], converter

    @pytest.fixture
    def fake(self) -> FakeUpstream:
        return self.fake_class()

    @pytest.fixture
    async def upstream(self, fake: FakeUpstream):  # noqa: ANN201
        async with mock_client(fake) as client:
            yield client

    @pytest.fixture
    def live(self, request: pytest.FixtureRequest) -> FakeUpstream:
        return request.getfixturevalue(self.server_fixture)

    # ---- completion, usage, headers, mapping ------------------------------------------
    async def test_it_answers_a_chat_completion_in_openai_shape(self, fake, upstream) -> None:
        data, _ = await self.call(upstream, self.spec(fake.url), chat_body(self.model))
        assert_matches("CreateChatCompletionResponse", data)
        assert data["choices"][0]["message"]["content"] == "Hello world"
        assert data["model"] == self.model

    async def test_it_reports_upstream_usage_of_a_completion(self, fake, upstream) -> None:
        _, usage = await self.call(upstream, self.spec(fake.url), chat_body(self.model))
        assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == self.usage
        assert not usage.estimated

    async def test_it_sends_the_channel_key_in_the_provider_header(self, fake, upstream) -> None:
        await self.call(upstream, self.spec(fake.url), chat_body(self.model))
        assert self.sent_key(fake.last) == KEY

    async def test_it_sends_the_mapped_model_and_answers_with_the_requested_one(
            self, fake, upstream) -> None:
        spec = self.spec(fake.url, model_mapping={"my-alias": self.model})
        data, _ = await self.call(upstream, spec, chat_body("my-alias"))
        assert self.sent_model(fake.last) == self.model
        assert data["model"] == "my-alias"

    # ---- streaming --------------------------------------------------------------------
    async def test_it_streams_openai_chunks_ending_with_done(self, fake, upstream) -> None:
        chunks, converter = await self.stream(upstream, self.spec(fake.url))
        payloads = data_lines(chunks)
        assert payloads[-1] == b"[DONE]"
        parsed = [orjson.loads(p) for p in payloads[:-1]]
        for chunk in parsed:
            assert_matches("CreateChatCompletionStreamResponse", chunk)
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed
                       if c["choices"])
        assert text == "Hello world"
        assert converter.done and converter.error is None

    async def test_it_counts_stream_usage_without_sending_it_unasked(self, fake, upstream) -> None:
        chunks, converter = await self.stream(upstream, self.spec(fake.url))
        assert all(orjson.loads(p)["choices"] for p in data_lines(chunks)[:-1])
        usage = converter.usage
        assert (usage.prompt_tokens, usage.completion_tokens) == self.usage[:2]

    async def test_it_sends_a_final_usage_chunk_when_the_client_asks(self, fake, upstream) -> None:
        chunks, _ = await self.stream(upstream, self.spec(fake.url), include_usage=True)
        last = orjson.loads(data_lines(chunks)[-2])
        assert last["choices"] == []
        assert last["usage"]["prompt_tokens"] == self.usage[0]
        assert_matches("CreateChatCompletionStreamResponse", last)

    # ---- errors -----------------------------------------------------------------------
    async def test_it_flags_an_invalid_key_for_disabling_without_leaking_it(
            self, fake, upstream) -> None:
        fake.variant = "401"
        with pytest.raises(RelayError) as caught:
            await self.call(upstream, self.spec(fake.url), chat_body(self.model))
        err = caught.value
        assert err.disable_key and err.retryable and err.status == 502
        assert KEY not in err.message and "http" not in err.message
        assert_matches("ErrorResponse", err.to_dict())

    @pytest.mark.parametrize(("variant", "status"), [("429", 429), ("500", 502)])
    async def test_it_marks_rate_limits_and_server_errors_retryable(
            self, fake, upstream, variant, status) -> None:
        fake.variant = variant
        with pytest.raises(RelayError) as caught:
            await self.call(upstream, self.spec(fake.url), chat_body(self.model))
        assert caught.value.retryable and caught.value.status == status
        assert not caught.value.disable_key

    async def test_it_does_not_retry_a_bad_request(self, fake, upstream) -> None:
        fake.variant = "400"
        with pytest.raises(RelayError) as caught:
            await self.call(upstream, self.spec(fake.url), chat_body(self.model))
        assert caught.value.status == 400 and not caught.value.retryable
        assert caught.value.type == "invalid_request_error"

    async def test_it_fails_over_when_the_upstream_is_unreachable(self) -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(RelayError) as caught:
                await self.call(client, self.spec("http://127.0.0.1:9"), chat_body(self.model))
        assert caught.value.retryable and caught.value.status == 502

    # ---- real HTTP: cut, malformed, slow ------------------------------------------------
    async def test_it_ends_a_stream_cut_midway_with_an_error_event(self, live) -> None:
        live.variant = "cut_midway"
        async with httpx.AsyncClient() as client:
            chunks, converter = await self.stream(client, self.spec(live.url))
        assert converter.error is not None and converter.error.retryable
        assert orjson.loads(data_lines(chunks)[-1])["error"]["code"] == "stream_interrupted"
        assert b"[DONE]" not in b"".join(chunks)

    async def test_it_ends_a_malformed_stream_with_an_error_event(self, live) -> None:
        live.variant = "malformed_sse"
        async with httpx.AsyncClient() as client:
            chunks, converter = await self.stream(client, self.spec(live.url))
        assert converter.error is not None
        assert_matches("ErrorResponse", orjson.loads(data_lines(chunks)[-1]))

    async def test_it_times_out_a_slow_first_byte_as_retryable(self, live) -> None:
        live.variant, live.delay = "slow_first_byte", 1.0
        async with httpx.AsyncClient() as client:
            with pytest.raises(RelayError) as caught:
                await self.stream(client, self.spec(live.url), timeout=0.2)
        assert caught.value.status == 504 and caught.value.retryable

    async def test_it_stops_a_stream_whose_events_stall(self, live) -> None:
        live.variant, live.delay = "slow_between_events", 1.0
        async with httpx.AsyncClient() as client:
            chunks, converter = await self.stream(client, self.spec(live.url), timeout=0.3)
        assert converter.error is not None and converter.error.code == "upstream_timeout"

    async def test_it_streams_over_real_http_with_slow_but_live_events(self, live) -> None:
        live.variant, live.delay = "slow_between_events", 0.05
        async with httpx.AsyncClient() as client:
            chunks, converter = await self.stream(client, self.spec(live.url), timeout=2)
        assert data_lines(chunks)[-1] == b"[DONE]" and converter.error is None
        assert live.requests and self.sent_key(live.last) == KEY
