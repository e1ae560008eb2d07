"""Offline token counting for when the upstream reports no usage (pure, no downloads).

This is a documented APPROXIMATION, not a BPE tokenizer. tiktoken needs its BPE rank files
(cl100k_base, o200k_base), which it downloads on first use; no package on PyPI that we
could verify ships them, and the relay must never reach the internet to count tokens.

Method: split text into pre-tokens the way GPT tokenizers do (letter runs with an optional
leading space, digit runs, punctuation runs, whitespace), then charge each piece:
- Latin letter run: 1 token per 6 letters, rounded up (common words are one token).
- Digit run: 1 token per 3 digits (cl100k/o200k split numbers into groups of up to 3).
- CJK / kana / hangul: 1 token per character (slightly high for o200k: we err upward,
  since this count pre-charges quota that is refunded later).
- Other scripts (Cyrillic, Greek, Arabic...): 1 token per 3 letters.
- Punctuation/symbols: 1 token per 2 characters; emoji and other astral symbols: 2 each.
- Whitespace: spaces before words are free; a run of newlines/indentation costs 1.
On English prose this lands within about 10-15% of o200k_base.

Chat messages use OpenAI's published overhead: 3 tokens per message, +1 when the message
has a `name`, +3 for the assistant reply priming (the openai-cookbook counting recipe).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

_PIECES = re.compile(
    r" ?[A-Za-z\u00C0-\u024F]+"  # Latin letters (with accents) and a leading space
    r"|[\u3040-\u30FF\u3400-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF]"  # one CJK/kana/hangul char
    r"| ?[^\W\d_]+"  # letters of other scripts
    r"|\d+"
    r"|\s+"
    r"| ?[^\w\s]+",  # punctuation / symbols
)
_CJK = re.compile(r"[\u3040-\u30FF\u3400-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF]")

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS_LOW = 85  # OpenAI's flat cost of a `detail: low` image
IMAGE_TOKENS_DEFAULT = 765  # a 1024x1024 high-detail image (4 tiles * 170 + 85)


def _piece_tokens(piece: str) -> int:
    first = piece[0]
    if first.isspace() and piece.isspace():
        return 0 if piece == " " else 1
    word = piece.lstrip(" ")
    if not word:
        return 0
    head = word[0]
    if head.isdigit():
        return math.ceil(len(word) / 3)
    if _CJK.match(head):
        return 1
    if (head.isascii() and head.isalpha()) or "\u00c0" <= head <= "\u024f":
        return math.ceil(len(word) / 6)
    if head.isalpha():
        return math.ceil(len(word) / 3)
    astral = sum(1 for ch in word if ord(ch) > 0xFFFF)
    return math.ceil((len(word) - astral) / 2) + 2 * astral


def count_text(text: str, model: str | None = None) -> int:
    """Approximate token count of `text` (`model` is accepted for future exact encoders)."""
    if not text:
        return 0
    return sum(_piece_tokens(m.group()) for m in _PIECES.finditer(text))


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
    """Approximate prompt tokens of a chat request, with OpenAI's per-message overhead.

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
    """Approximate prompt tokens for a relay request body of the given endpoint value."""
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
