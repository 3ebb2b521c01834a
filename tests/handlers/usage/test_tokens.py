"""Token counts read out of upstream answers as usage_helpers.go's parse*Usage read them."""

from __future__ import annotations

from handlers.usage.tokens import TokenStats, stream_event_usage, whole_answer_usage


def test_claude_counts_cache_reads_else_writes_and_totals_input_plus_output() -> None:
    body = {"usage": {"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 7}}
    assert whole_answer_usage("claude", body) == TokenStats(10, 4, 0, 7, 14)
    body["usage"]["cache_read_input_tokens"] = 3
    assert whole_answer_usage("claude", body) == TokenStats(10, 4, 0, 3, 14)
    # message_start keeps its usage under "message": the stream reader looks at the top only.
    assert stream_event_usage("claude", {"type": "message_start", "message": {"usage": {"input_tokens": 9}}}) is None
    assert stream_event_usage("claude", {"type": "message_delta", "usage": {"output_tokens": 5}}) == \
        TokenStats(0, 5, 0, 0, 5)


def test_openai_and_codex_read_their_details() -> None:
    chunk = {"usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10,
                       "prompt_tokens_details": {"cached_tokens": 3},
                       "completion_tokens_details": {"reasoning_tokens": 1}}}
    assert stream_event_usage("openai", chunk) == TokenStats(8, 2, 1, 3, 10)
    assert stream_event_usage("openai", {"choices": []}) is None
    done = {"type": "response.completed", "response": {"usage": {
        "input_tokens": 6, "output_tokens": 4, "total_tokens": 10,
        "input_tokens_details": {"cached_tokens": 2}, "output_tokens_details": {"reasoning_tokens": 3}}}}
    assert stream_event_usage("codex", done) == TokenStats(6, 4, 3, 2, 10)
    # Only response.completed is read (codex_executor.go:288): response.created's null usage is none.
    assert stream_event_usage("codex", {"type": "response.created", "response": {"usage": None}}) is None


def test_gemini_family_paths_and_total() -> None:
    meta = {"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 2, "cachedContentTokenCount": 1}
    assert whole_answer_usage("gemini", {"usageMetadata": meta}) == TokenStats(5, 3, 2, 1, 10)
    assert whole_answer_usage("gemini", {"usage_metadata": {**meta, "totalTokenCount": 99}}).total_tokens == 99
    assert whole_answer_usage("gemini-cli", {"response": {"usageMetadata": meta}}).input_tokens == 5
    assert whole_answer_usage("gemini-cli", {"usageMetadata": meta}) == TokenStats()
    # The CLI stream reader falls back to a top-level usage_metadata; its whole-answer reader does not.
    assert stream_event_usage("gemini-cli", {"usage_metadata": meta}) == TokenStats(5, 3, 2, 1, 10)
    assert whole_answer_usage("antigravity", {"usageMetadata": meta}).output_tokens == 3
    # A renamed (non-final) Gemini chunk has no usage the reader sees.
    assert stream_event_usage("gemini", {"cpaUsageMetadata": meta}) is None


def test_values_read_as_gjson_ints_and_unknown_kinds_read_nothing() -> None:
    assert whole_answer_usage("openai", {"usage": {"prompt_tokens": "12", "completion_tokens": 2.9}}) == \
        TokenStats(12, 2, 0, 0, 0)
    assert whole_answer_usage("", {"usage": {"prompt_tokens": 1}}) == TokenStats()
    assert stream_event_usage("openai", None) is None
    assert TokenStats(1, 2, 3, 4, 0).normalised().total_tokens == 6
    assert TokenStats(0, 0, 0, 4, 0).normalised().total_tokens == 4
