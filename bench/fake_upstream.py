"""A CPU-cheap fake OpenAI upstream for load tests: a bare asyncio protocol (uvloop) that
answers every HTTP/1.1 request on a kept-alive connection with one canned chat completion,
or, when the body asks for `"stream": true`, with a slow SSE stream: `--stream-events`
chunks `--stream-interval` seconds apart, a usage chunk and `[DONE]`.

It reads just enough HTTP to find each request's end (headers + Content-Length), so the
benchmark measures the gateway, not the fake. Not for correctness tests: the fakes under
providers/tests/fakes speak the full wire format.

    python bench/fake_upstream.py --port 9100 [--stream-events 10 --stream-interval 1]
"""

from __future__ import annotations

import argparse
import asyncio

import orjson

BODY = orjson.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini", "system_fingerprint": "fp_bench",
    "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Hello world", "refusal": None}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
})
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
               b"transfer-encoding: chunked\r\n\r\n")


def _chunk(payload: dict | None) -> bytes:
    """One SSE event as one HTTP chunk (`None`: the `[DONE]` event)."""
    data = b"[DONE]" if payload is None else orjson.dumps(payload)
    event = b"data: " + data + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


def _delta(content: str) -> dict:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": content},
                                                 "finish_reason": None}]}


TOKEN_CHUNK = _chunk(_delta("tok "))
STREAM_SETTINGS = {"events": 10, "interval": 1.0}
_streaming: set[asyncio.Task] = set()  # strong references while a stream is being written


async def stream_to(transport: asyncio.Transport) -> None:
    transport.write(STREAM_HEAD)
    for _ in range(STREAM_SETTINGS["events"]):
        await asyncio.sleep(STREAM_SETTINGS["interval"])
        if transport.is_closing():
            return
        transport.write(TOKEN_CHUNK)
    tokens = STREAM_SETTINGS["events"]
    transport.write(_chunk({**_delta(""), "choices": [], "usage": {
        "prompt_tokens": 9, "completion_tokens": tokens, "total_tokens": 9 + tokens}}))
    transport.write(_chunk(None) + b"0\r\n\r\n")


class Upstream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body = self.buffer[head_end + 4:end]
            self.buffer = self.buffer[end:]
            if b'"stream":true' in body.replace(b" ", b""):
                task = asyncio.ensure_future(stream_to(self.transport))
                _streaming.add(task)
                task.add_done_callback(_streaming.discard)
            else:
                self.transport.write(RESPONSE)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=4096)
    print(f"fake upstream on http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--stream-events", type=int, default=10)
    parser.add_argument("--stream-interval", type=float, default=1.0)
    args = parser.parse_args()
    STREAM_SETTINGS.update(events=args.stream_events, interval=args.stream_interval)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
