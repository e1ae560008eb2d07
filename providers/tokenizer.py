"""Offline token counting for when the upstream reports no usage, and for pre-charges.

Counts with OpenAI's o200k_base BPE (the encoding of the gpt-4o, gpt-4.1, o-series and
gpt-5 families) through tiktoken, from the rank file shipped in providers/data (byte for byte
OpenAI's published file: its SHA-256 is checked on load), so nothing is ever downloaded.
For models with other, unpublished tokenizers (Claude, DeepSeek...) the count is an
estimate: billing prefers the upstream's usage whenever it sends one.

Chat messages use OpenAI's published overhead: 3 tokens per message, +1 when the message
has a `name`, +3 for the assistant reply priming (the openai-cookbook counting recipe).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import tiktoken

DATA = Path(__file__).resolve().parent / "data" / "o200k_base.tiktoken.gz"
# SHA-256 of OpenAI's o200k_base.tiktoken (the hash tiktoken itself checks on download).
DATA_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# o200k_base's pre-tokenizer and special tokens, as tiktoken defines them.
O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])  # noqa: E501
O200K_SPECIAL = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS_LOW = 85  # OpenAI's flat cost of a `detail: low` image
IMAGE_TOKENS_DEFAULT = 765  # a 1024x1024 high-detail image (4 tiles * 170 + 85)


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The o200k_base encoding, loaded once per process (~0.3 s; warmed at start-up)."""
    raw = gzip.decompress(DATA.read_bytes())
    if hashlib.sha256(raw).hexdigest() != DATA_SHA256:
        raise RuntimeError(f"{DATA} is not OpenAI's o200k_base rank file")
    ranks = {}
    for line in raw.splitlines():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding("o200k_base", pat_str=O200K_PATTERN, mergeable_ranks=ranks,
                             special_tokens=O200K_SPECIAL)


def count_text(text: str, model: str | None = None) -> int:
    """Tokens of `text` (special-token strings count as plain text). `model` is accepted
    for encodings other than o200k_base, none of which is shipped yet."""
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_text(content)
    total = 0
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            total += count_text(part.get("text") or "")
        elif kind in ("image_url", "input_image"):
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, Mapping) else part.get("detail")
            total += IMAGE_TOKENS_LOW if detail == "low" else IMAGE_TOKENS_DEFAULT
    return total


def count_messages(messages: Iterable[Mapping[str, Any]], model: str | None = None,
                   tools: Any = None) -> int:
    """Prompt tokens of a chat request, with OpenAI's per-message overhead.

    Counts text and image parts, tool calls (their JSON), and `tools` definitions
    serialised as JSON (OpenAI does not publish that formula; JSON size is close).
    """
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + count_text(str(message.get("role") or ""))
        total += _content_tokens(message.get("content"))
        if message.get("name"):
            total += TOKENS_PER_NAME + count_text(str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += count_text(function.get("name") or "")
            total += count_text(function.get("arguments") or "")
    if tools:
        total += count_text(orjson.dumps(tools).decode())
    return total


def count_request(endpoint: str, body: Mapping[str, Any]) -> int:
    """Prompt tokens for a relay request body of the given endpoint value."""
    if endpoint == "chat_completions":
        return count_messages(body.get("messages") or (), body.get("model"), body.get("tools"))
    value = body.get("input", body.get("prompt", ""))
    if isinstance(value, str):
        return count_text(value)
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return sum(count_text(v) for v in value)
        if all(isinstance(v, Mapping) for v in value):  # Responses API input items
            return count_messages(value, body.get("model"))
    return 0
