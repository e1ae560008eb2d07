"""Offline token counting with the shipped o200k_base ranks, and OpenAI's chat overhead.

Expected counts were produced by the reference implementation (js-tiktoken 1.0.21's
o200k_base); nothing here reaches the network."""

from __future__ import annotations

import hashlib

import pytest

from providers import tokenizer
from providers.tokenizer import count_messages, count_request, count_text


@pytest.mark.parametrize(("text", "expected"), [
    ("", 0), ("hello", 1), ("hello world", 2),
    ("The quick brown fox jumps over the lazy dog.", 10),
    ("你好世界", 2), ("1234567", 3), ("Привет, как дела?", 6),
    ("def f(x):\n    return x**2  # square\n", 13),
    ("<|endoftext|> is special", 9),  # a special token's text counts as plain text
    ("🙂🚀 emoji!!", 5), ("   leading spaces and\ttabs\n\n\nnewlines", 9),
    ("مرحبا بالعالم", 4),
])
def test_it_counts_exactly_as_o200k_base(text: str, expected: int) -> None:
    assert count_text(text) == expected


def test_the_shipped_ranks_are_openais_file() -> None:
    import gzip

    raw = gzip.decompress(tokenizer.DATA.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == tokenizer.DATA_SHA256
    assert tokenizer.encoding().n_vocab == 200019  # 199,998 ranks + specials up to 200,018


def test_it_adds_openais_per_message_and_reply_overhead() -> None:
    # 3 per message + role + content, +3 reply priming: OpenAI's cookbook gives 8 here
    assert count_messages([{"role": "user", "content": "hello"}]) == 8
    named = count_messages([{"role": "user", "content": "hello", "name": "bob"}])
    assert named == 8 + 1 + 1


def test_it_counts_images_by_detail_without_downloading_them() -> None:
    low = count_messages([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}}]}])
    high = count_messages([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}])
    assert high - low == 765 - 85


def test_it_counts_tool_calls_and_tool_definitions() -> None:
    plain = [{"role": "user", "content": "weather?"}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    assert count_messages(plain, tools=tools) > count_messages(plain)


def test_it_counts_prompts_of_other_endpoints() -> None:
    assert count_request("embeddings", {"input": ["hello", "hello world"]}) == 3
    assert count_request("completions", {"prompt": "hello"}) == 1
    assert count_request("chat_completions", {"messages": [{"role": "user",
                                                            "content": "hello"}]}) == 8
