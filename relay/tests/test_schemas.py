"""The request parser never fails with anything but a 4xx RelayError (hypothesis)."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.base import Endpoint
from providers.errors import RelayError
from relay.schemas import RelayRequest, parse_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(["model", "messages", "stream", "stream_options", "max_tokens",
                          "n", "input", "prompt", "query", "documents", "tools",
                          "max_completion_tokens"])
BODIES = st.dictionaries(FIELDS, JSON, max_size=8)
ENDPOINTS = st.sampled_from([e for e in Endpoint if not e.is_multipart
                             and e is not Endpoint.models])


def check(endpoint: Endpoint, raw: bytes) -> None:
    try:
        request = parse_json(endpoint, raw)
    except RelayError as err:
        assert 400 <= err.status < 500 and err.message
        return
    assert isinstance(request, RelayRequest) and isinstance(request.model, str)
    assert request.prompt_tokens >= 0 and isinstance(request.stream, bool)


@settings(max_examples=400, deadline=None)
@given(ENDPOINTS, st.binary(max_size=200))
def test_arbitrary_bytes_give_a_request_or_a_4xx(endpoint, raw):
    check(endpoint, raw)


@settings(max_examples=600, deadline=None)
@given(ENDPOINTS, BODIES)
def test_arbitrary_json_objects_give_a_request_or_a_4xx(endpoint, body):
    check(endpoint, json.dumps(body).encode())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["role", "content", "name", "tool_calls"]),
                                JSON, max_size=4), max_size=4))
def test_odd_chat_messages_give_a_request_or_a_4xx(messages):
    check(Endpoint.chat_completions, json.dumps({"model": "m", "messages": messages}).encode())


def test_a_valid_chat_request_is_read_with_its_billing_fields():
    request = parse_json(Endpoint.chat_completions, orjson.dumps({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
        "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 50}))
    assert (request.model, request.stream, request.include_usage, request.max_tokens) == \
        ("gpt-4o-mini", True, True, 50)
    assert request.prompt_tokens > 0
