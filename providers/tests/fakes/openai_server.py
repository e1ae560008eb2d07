"""Fake OpenAI (and Azure OpenAI) upstream speaking the real wire format.

Run standalone for benchmarks (no recording, canned answers):
    python -m providers.tests.fakes.openai_server --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from typing import Any

import orjson

from providers.tests.fakes.server import (
    FakeUpstream,
    Recorded,
    Reply,
    ServerThread,
    broken_reply,
    json_reply,
)

USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
         "prompt_tokens_details": {"cached_tokens": 3}}
TEXT = ["Hello", " world"]
MODERATION = ("hate", "hate/threatening", "harassment", "harassment/threatening", "illicit",
              "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions",
              "sexual", "sexual/minors", "violence", "violence/graphic")
_AZURE = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<task>.+)$")
ERRORS = {
    "401": (401, "Incorrect API key provided: sk-abc***xyz. You can find your API key at "
                 "https://platform.openai.com/account/api-keys.", "invalid_request_error",
            "invalid_api_key"),
    "429": (429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    "insufficient_quota": (429, "You exceeded your current quota, please check your plan.",
                           "insufficient_quota", "insufficient_quota"),
    "500": (500, "The server had an error while processing your request.", "server_error",
            None),
    "400": (400, "Invalid value for 'messages'.", "invalid_request_error", None),
}


def error_body(variant: str) -> Reply:
    status, message, err_type, code = ERRORS[variant]
    return json_reply({"error": {"message": message, "type": err_type, "param": None,
                                 "code": code}}, status)


def chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def sse(obj: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


class FakeOpenAI(FakeUpstream):
    """`/v1/*` and Azure `/openai/deployments/{d}/*` endpoints with canned answers."""

    async def handle(self, req: Recorded) -> Reply:
        path = req.path
        if match := _AZURE.match(path):
            path = "/v1/" + match["task"]
        key = req.headers.get("api-key") or \
            req.headers.get("authorization", "").removeprefix("Bearer ")
        if not key:
            return error_body("401")
        body = req.json() if req.body and "json" in req.headers.get("content-type", "") else {}
        variant = self.variant_for(req, key, str(body.get("model", "")))
        if variant in ERRORS:
            return error_body(variant)
        if broken := broken_reply(variant, key, bool(body.get("stream"))):
            return broken
        if variant == "wrong_shape_200":
            return json_reply({"object": "chat.completion", "model": body.get("model"),
                               "status": "queued"})
        if variant == "slow_first_byte":
            await asyncio.sleep(self.delay)
        route = ROUTES.get(path.removeprefix("/openai").removeprefix("/v1"))
        if route is None:
            return json_reply({"error": {"message": f"Unknown path {path}", "type":
                                         "invalid_request_error", "param": None,
                                         "code": "unknown_url"}}, 404)
        return route(self, req, body, variant)

    def chat(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        model = body.get("model", "gpt-4o-mini")
        if not body.get("stream"):
            return json_reply({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000,
                "model": model, "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "".join(TEXT),
                                         "refusal": None}}],
                "usage": USAGE})
        events = [sse(chunk(model, {"role": "assistant", "content": ""}))]
        events += [sse(chunk(model, {"content": t})) for t in TEXT]
        events.append(sse(chunk(model, {}, "stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(sse({**chunk(model, {}), "choices": [], "usage": USAGE}))
        events.append(b"data: [DONE]\n\n")
        return Reply(events=self.paced(events, variant))

    def completions(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        model = body.get("model", "gpt-3.5-turbo-instruct")
        base = {"id": "cmpl-fake", "object": "text_completion", "created": 1700000000,
                "model": model}
        if not body.get("stream"):
            return json_reply({**base, "choices": [{"index": 0, "text": "".join(TEXT),
                                                    "logprobs": None, "finish_reason": "stop"}],
                               "usage": USAGE})
        events = [sse({**base, "choices": [{"index": 0, "text": t, "logprobs": None,
                                            "finish_reason": None}]}) for t in TEXT]
        events.append(sse({**base, "choices": [{"index": 0, "text": "", "logprobs": None,
                                                "finish_reason": "stop"}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(sse({**base, "choices": [], "usage": USAGE}))
        events.append(b"data: [DONE]\n\n")
        return Reply(events=self.paced(events, variant))

    def embeddings(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        return json_reply({"object": "list", "model": body.get("model"),
                           "data": [{"object": "embedding", "index": i,
                                     "embedding": [0.1, -0.2, 0.3]} for i in range(count)],
                           "usage": {"prompt_tokens": 4, "total_tokens": 4}})

    def images(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        return json_reply({"created": 1700000000, "data": [{"b64_json": "aW1hZ2U="}],
                           "usage": {"input_tokens": 10, "output_tokens": 272,
                                     "total_tokens": 282,
                                     "input_tokens_details": {"text_tokens": 10,
                                                              "image_tokens": 0}}})

    def speech(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        return Reply(200, b"ID3\x03fake-mp3-bytes", "audio/mpeg")

    def transcription(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        return json_reply({"text": "hello from audio"})

    def moderations(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        result = {"flagged": False, "categories": dict.fromkeys(MODERATION, False),
                  "category_scores": dict.fromkeys(MODERATION, 0.001),
                  "category_applied_input_types": {c: ["text"] for c in MODERATION}}
        return json_reply({"id": "modr-fake", "model": body.get("model", "omni-moderation"),
                           "results": [result]})

    def rerank(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        docs = body.get("documents") or []
        results = [{"index": i, "relevance_score": round(1 / (i + 1), 3)}
                   for i in range(len(docs))]
        return json_reply({"id": "rerank-fake", "model": body.get("model"),
                           "results": results, "usage": {"total_tokens": 12}})

    def models(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        return json_reply({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "openai"}
            for m in ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")]})

    def responses(self, req: Recorded, body: dict, variant: str | None) -> Reply:
        model = body.get("model", "gpt-4o-mini")
        final = response_object(model)
        if not body.get("stream"):
            return json_reply(final)
        created = {**final, "status": "in_progress", "output": [], "usage": None}
        events = [sse({"type": "response.created", "sequence_number": 0,
                       "response": created}, "response.created")]
        events += [sse({"type": "response.output_text.delta", "sequence_number": i + 1,
                        "item_id": "msg_fake", "output_index": 0, "content_index": 0,
                        "delta": t}, "response.output_text.delta") for i, t in enumerate(TEXT)]
        events.append(sse({"type": "response.completed", "sequence_number": 3,
                           "response": final}, "response.completed"))
        return Reply(events=self.paced(events, variant))


def response_object(model: str) -> dict[str, Any]:
    return {"id": "resp_fake", "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": model,
            "output": [{"type": "message", "id": "msg_fake", "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "".join(TEXT),
                                     "annotations": []}]}],
            "usage": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


ROUTES = {
    "/chat/completions": FakeOpenAI.chat, "/completions": FakeOpenAI.completions,
    "/embeddings": FakeOpenAI.embeddings, "/images/generations": FakeOpenAI.images,
    "/images/edits": FakeOpenAI.images, "/audio/speech": FakeOpenAI.speech,
    "/audio/transcriptions": FakeOpenAI.transcription,
    "/audio/translations": FakeOpenAI.transcription, "/moderations": FakeOpenAI.moderations,
    "/rerank": FakeOpenAI.rerank, "/models": FakeOpenAI.models,
    "/responses": FakeOpenAI.responses,
}


def main() -> None:
    """Serve the fake in the foreground, without recording, for load tests."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    server = ServerThread(FakeOpenAI(record=False), port=args.port)
    print(f"fake OpenAI upstream on http://127.0.0.1:{args.port}", flush=True)
    server.server.run()


if __name__ == "__main__":
    main()
