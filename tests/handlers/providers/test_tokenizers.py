"""The local tokenizer gives tiktoken's own ids and counts, offline."""

from __future__ import annotations

from handlers.providers import tokenizers


def test_known_ids_for_both_encodings() -> None:
    # The ids tiktoken publishes for this text in each encoding.
    assert tokenizers._encoding("o200k_base").encode_ordinary("Hello, world!") == [13225, 11, 2375, 0]
    assert tokenizers._encoding("cl100k_base").encode_ordinary("Hello, world!") == [9906, 11, 1917, 0]


def test_special_token_text_counts_as_ordinary_text() -> None:
    # tiktoken-go's Count never treats "<|endoftext|>" as the single special token.
    assert tokenizers.count_sync("o200k_base", "<|endoftext|>") > 1


def test_empty_text_is_zero_without_loading() -> None:
    assert tokenizers.count_sync("no-such-encoding", "") == 0


async def test_async_count_matches_sync() -> None:
    text = "def add(a, b):\n    return a + b\n" * 50
    assert await tokenizers.count("o200k_base", text) == tokenizers.count_sync("o200k_base", text)
    assert await tokenizers.count("o200k_base", "") == 0
