"""Usage arithmetic per pair (reference A2.16 "Usage / token mapping", goldens 20, 23, 27)."""

from __future__ import annotations

from handlers.translation import usage
from handlers.translation.model import Format, Usage


def test_claude_to_openai_counts_cache_creation_in_prompt_not_total() -> None:
    # golden 20
    u = usage.from_claude(
        {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}
    )
    expected = {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    assert usage.to_openai(u, stream=True) == expected
    assert usage.to_openai(u, stream=False) == expected


def test_claude_to_openai_always_reports_cached_tokens() -> None:
    # A2.2: cached_tokens is written even when zero.
    u = usage.from_claude({"input_tokens": 1, "output_tokens": 2})
    assert usage.to_openai(u, stream=True)["prompt_tokens_details"] == {"cached_tokens": 0}


def test_openai_to_claude_moves_cached_out_of_input() -> None:
    # golden 27: prompt 10, cached 4 -> input 6, cache_read 4
    u = usage.from_openai({"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}})
    assert usage.to_claude(u) == {"input_tokens": 6, "output_tokens": 2, "cache_read_input_tokens": 4}


def test_openai_to_claude_floors_at_zero_and_omits_zero_cache() -> None:
    # A2.12 usage: floored at 0, cache_read only if > 0
    over = usage.from_openai(
        {"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 9}}
    )
    assert usage.to_claude(over) == {"input_tokens": 0, "output_tokens": 1, "cache_read_input_tokens": 9}
    plain = usage.from_openai({"prompt_tokens": 3, "completion_tokens": 1})
    assert usage.to_claude(plain) == {"input_tokens": 3, "output_tokens": 1}


GEMINI_META = {
    "promptTokenCount": 100,
    "cachedContentTokenCount": 40,
    "thoughtsTokenCount": 10,
    "candidatesTokenCount": 5,
    "totalTokenCount": 115,
}


def test_gemini_to_openai_stream_subtracts_cached() -> None:
    # golden 23: 100 - 40 + 10 = 70
    assert usage.to_openai(usage.from_gemini(GEMINI_META), stream=True) == {
        "prompt_tokens": 70,
        "completion_tokens": 5,
        "total_tokens": 115,
        "completion_tokens_details": {"reasoning_tokens": 10},
        "prompt_tokens_details": {"cached_tokens": 40},
    }


def test_gemini_to_openai_non_stream_keeps_cached_in_prompt() -> None:
    # A2.4: non-stream does NOT subtract cached: 100 + 10
    assert usage.to_openai(usage.from_gemini(GEMINI_META), stream=False)["prompt_tokens"] == 110


def test_gemini_to_openai_omits_zero_details() -> None:
    # A2.4 usage: details only when > 0
    u = usage.from_gemini({"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5})
    assert usage.to_openai(u, stream=True) == {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}


def test_gemini_to_claude_bills_thoughts_as_output() -> None:
    # A2.6 / golden 25: output = candidates + thoughts
    assert usage.to_claude(usage.from_gemini(GEMINI_META)) == {"input_tokens": 100, "output_tokens": 15}


def test_gemini_to_responses_drops_cached() -> None:
    # A3.2: cached_tokens is 0 for Gemini upstreams
    assert usage.to_responses(usage.from_gemini(GEMINI_META)) == {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 10},
        "total_tokens": 115,
    }


def test_gemini_to_responses_without_total_writes_zero() -> None:
    # gemini_openai-responses_response.go:447-451 (the Gemini CLI and Antigravity pairs call it):
    # no totalTokenCount gives total_tokens 0, not prompt + candidates; other upstreams add them.
    meta = {"promptTokenCount": 3, "candidatesTokenCount": 2}
    for source in (Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY):
        assert usage.to_responses(usage.from_gemini(meta, source))["total_tokens"] == 0
    assert usage.to_responses(usage.from_gemini({**meta, "totalTokenCount": 0}))["total_tokens"] == 0
    claude = usage.from_claude({"input_tokens": 3, "output_tokens": 2})
    assert usage.to_responses(claude)["total_tokens"] == 5


def test_codex_to_openai() -> None:
    # A2.11: prompt=input, completion=output, reasoning from output_tokens_details
    u = Usage(Format.CODEX, input_tokens=7, output_tokens=3, total_tokens=10, reasoning_tokens=2)
    assert usage.to_openai(u, stream=True) == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "completion_tokens_details": {"reasoning_tokens": 2},
    }


def test_readers_tolerate_odd_values() -> None:
    # A2.16 readers use gjson Int() semantics
    u = usage.from_openai({"prompt_tokens": "12", "completion_tokens": 2.9, "prompt_tokens_details": None})
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens) == (12, 2, 0)


def test_claude_to_gemini_usage_metadata() -> None:
    # claude/gemini response translator: cached = creation + read; trafficType first (stream) / last
    u = usage.from_claude({"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 0})
    assert list(usage.to_gemini(u, stream=True)) == [
        "trafficType",
        "promptTokenCount",
        "candidatesTokenCount",
        "totalTokenCount",
        "cachedContentTokenCount",
    ]
    assert usage.to_gemini(u, stream=False) == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 2,
        "totalTokenCount": 7,
        "cachedContentTokenCount": 0,
        "trafficType": "PROVISIONED_THROUGHPUT",
    }
