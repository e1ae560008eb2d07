"""Fake Anthropic Messages API upstream (non-stream and SSE), real wire format.

https://docs.anthropic.com/en/api/messages, .../build-with-claude/streaming. Extra
variants besides the shared ones: `529` (overloaded), `stream_error` (an `error` event
after the first text delta), `tool_use` (answers with a tool call), `wrong_shape_200` (a
200 JSON object that is no Message).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from providers.tests.fakes.server import FakeUpstream, Recorded, Reply, broken_reply, json_reply

USAGE = {"input_tokens": 12, "output_tokens": 6, "cache_creation_input_tokens": 0,
         "cache_read_input_tokens": 4}
ERRORS = {
    "401": (401, "authentication_error", "invalid x-api-key"),
    "429": (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit"),
    "500": (500, "api_error", "Internal server error"),
    "529": (529, "overloaded_error", "Overloaded"),
    "400": (400, "invalid_request_error", "messages: field required"),
    "credit": (400, "invalid_request_error",
               "Your credit balance is too low to access the Anthropic API."),
}
TOOL = {"type": "tool_use", "id": "toolu_fake", "name": "get_weather",
        "input": {"city": "Paris"}}


def error_reply(variant: str) -> Reply:
    status, kind, message = ERRORS[variant]
    return json_reply({"type": "error", "error": {"type": kind, "message": message},
                       "request_id": "req_fake"}, status)


def event(name: str, obj: dict[str, Any]) -> bytes:
    return f"event: {name}\n".encode() + b"data: " + orjson.dumps(obj) + b"\n\n"


class FakeAnthropic(FakeUpstream):
    """`POST /v1/messages` and `GET /v1/models`, checking the required headers."""

    async def handle(self, req: Recorded) -> Reply:
        key = req.headers.get("x-api-key", "")
        if not key or "anthropic-version" not in req.headers:
            return error_reply("401")
        body = req.json() if req.body else {}
        variant = self.variant_for(req, key, str(body.get("model", "")))
        if variant in ERRORS:
            return error_reply(variant)
        if broken := broken_reply(variant, key, bool(body.get("stream"))):
            return broken
        if variant == "wrong_shape_200":
            return json_reply({"type": "message", "id": "msg_fake", "status": "queued"})
        if variant == "slow_first_byte":
            await asyncio.sleep(self.delay)
        if req.path == "/v1/models":
            return json_reply({"data": [{"type": "model", "id": "claude-sonnet-4-5",
                                         "display_name": "Claude Sonnet 4.5",
                                         "created_at": "2025-09-29T00:00:00Z"}],
                               "has_more": False, "first_id": "claude-sonnet-4-5",
                               "last_id": "claude-sonnet-4-5"})
        if req.path != "/v1/messages":
            return json_reply({"type": "error", "error": {"type": "not_found_error",
                                                          "message": "Not found"}}, 404)
        if body.get("stream"):
            return Reply(events=self.paced(self.stream(body, variant), variant))
        return json_reply(self.message(body, variant))

    def message(self, body: dict, variant: str | None) -> dict[str, Any]:
        content = [TOOL] if variant == "tool_use" else [{"type": "text",
                                                         "text": "Hello world"}]
        return {"id": "msg_fake", "type": "message", "role": "assistant",
                "model": body.get("model"), "content": content,
                "stop_reason": "tool_use" if variant == "tool_use" else "end_turn",
                "stop_sequence": None, "usage": USAGE}

    def stream(self, body: dict, variant: str | None) -> list[bytes]:
        start = {**self.message(body, None), "content": [], "stop_reason": None,
                 "usage": {**USAGE, "output_tokens": 1}}
        events = [event("message_start", {"type": "message_start", "message": start})]
        if variant == "tool_use":
            events += self._tool_blocks()
        else:
            events += self._text_blocks(variant)
        stop = "tool_use" if variant == "tool_use" else "end_turn"
        events.append(event("message_delta", {"type": "message_delta",
                                              "delta": {"stop_reason": stop,
                                                        "stop_sequence": None},
                                              "usage": {"output_tokens": 6}}))
        events.append(event("message_stop", {"type": "message_stop"}))
        return events

    def _text_blocks(self, variant: str | None) -> list[bytes]:
        events = [event("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text",
                                                                  "text": ""}}),
                  event("ping", {"type": "ping"})]
        for text in ("Hello", " world"):
            events.append(event("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": text}}))
            if variant == "stream_error":
                events.append(event("error", {"type": "error", "error": {
                    "type": "overloaded_error", "message": "Overloaded"}}))
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        return events

    def _tool_blocks(self) -> list[bytes]:
        start = {**TOOL, "input": {}}
        return [
            event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": start}),
            event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                "type": "input_json_delta", "partial_json": "{\"city\": "}}),
            event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
                "type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
            event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ]
