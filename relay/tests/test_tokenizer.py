"""Offline token approximation: sane magnitudes and OpenAI's chat overhead."""

from __future__ import annotations

import pytest

from relay.tokenizer import count_messages, count_request, count_text


@pytest.mark.parametrize(("text", "expected"), [
    ("", 0), ("hello", 1), ("hello world", 2),
    ("The quick brown fox jumps over the lazy dog.", 10),  # o200k: 10
])
def test_it_counts_common_english_close_to_the_real_tokenizer(text: str, expected: int) -> None:
    assert count_text(text) == expected


def test_it_charges_one_token_per_cjk_character() -> None:
    assert count_text("你好世界") == 4


def test_it_splits_long_numbers_into_three_digit_groups() -> None:
    assert count_text("1234567") == 3


def test_long_prose_stays_within_a_plausible_ratio_of_characters() -> None:
    text = "Large language models are trained on vast corpora of text. " * 50
    tokens = count_text(text)
    assert len(text) / 6 < tokens < len(text) / 3


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
