"""Token counting over the pair table: which upstreams count, the body each gets, the answer."""

from __future__ import annotations

import orjson
import pytest

from handlers.inference.count_tokens import count_pairs
from handlers.inference.pair_table import default_pairs
from handlers.inference.translate import TranslateInput
from handlers.translation.model import Format

CLAUDE_BODY = {"model": "m", "max_tokens": 10, "system": "Be brief.",
               "messages": [{"role": "user", "content": "say hello"}],
               "tools": [{"name": "t", "input_schema": {"type": "object"}}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "say hello"}]}],
               "generationConfig": {"temperature": 0.5}, "safetySettings": [{"category": "x", "threshold": "OFF"}]}


def counted(client: Format, upstream: Format, body: dict) -> tuple[dict, object]:
    factory = count_pairs(default_pairs())(client, upstream)
    assert factory is not None
    translation = factory(TranslateInput(body=body, model="gemini-2.5-pro", client_model="gemini-2.5-pro",
                                         stream=False))
    assert translation.upstream_stream is False
    return translation.upstream_body, translation


@pytest.mark.parametrize("upstream", [Format.GEMINI_CLI, Format.ANTIGRAVITY])
def test_envelope_upstreams_count_without_safety_settings(upstream: Format) -> None:
    body, translation = counted(Format.CLAUDE, upstream, CLAUDE_BODY)
    assert "safetySettings" not in body["request"]
    assert body["request"]["contents"][0]["parts"][0]["text"] == "say hello"
    assert translation.response(b'{"totalTokens": 7}') == b'{"input_tokens":7}'  # type: ignore[attr-defined]


@pytest.mark.parametrize("upstream", [Format.GEMINI_CLI, Format.ANTIGRAVITY])
def test_envelope_counts_keep_tools_and_generation_config(upstream: Format) -> None:
    # gemini_cli_executor.go:487-489 and antigravity_executor.go:810-812 delete only project, model
    # and request.safetySettings; the Gemini API-key count's tools/generationConfig drop is its own.
    tools = [{"functionDeclarations": [{"name": "f", "description": "d"}]}]
    body, _ = counted(Format.GEMINI, upstream, {**GEMINI_BODY, "tools": tools})
    assert body["request"]["tools"] == tools
    assert body["request"]["generationConfig"] == {"temperature": 0.5}
    assert "safetySettings" not in body["request"]


def test_gemini_upstream_count_answer() -> None:
    # The fields ``:countTokens`` does not take are dropped by the executor, after the thinking
    # step (tests/handlers/providers/test_gemini_api.py).
    body, translation = counted(Format.GEMINI, Format.GEMINI, GEMINI_BODY)
    assert body["contents"] == GEMINI_BODY["contents"]
    assert orjson.loads(translation.response(b'{"totalTokens": 3}')) == {  # type: ignore[attr-defined]
        "totalTokens": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}


def test_claude_to_claude_answer_is_the_upstream_body() -> None:
    _, translation = counted(Format.CLAUDE, Format.CLAUDE, CLAUDE_BODY)
    assert translation.response(b'{"input_tokens": 9}') == b'{"input_tokens": 9}'  # type: ignore[attr-defined]


def test_openai_upstream_count_reads_prompt_tokens() -> None:
    body, translation = counted(Format.CLAUDE, Format.OPENAI, CLAUDE_BODY)
    assert body["model"] == "gemini-2.5-pro" and body["messages"][-1] == {"role": "user", "content": "say hello"}
    usage = b'{"usage":{"prompt_tokens":12,"completion_tokens":0,"total_tokens":12}}'
    assert translation.response(usage) == b'{"input_tokens":12}'  # type: ignore[attr-defined]
    _, translation = counted(Format.GEMINI, Format.OPENAI, GEMINI_BODY)
    assert orjson.loads(translation.response(usage)) == {  # type: ignore[attr-defined]
        "totalTokens": 12, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}]}


def test_codex_upstream_count_reads_response_usage() -> None:
    body, translation = counted(Format.CLAUDE, Format.CODEX, CLAUDE_BODY)
    # The string system prompt is the developer message (row 19s), then the user's turn.
    assert [item["content"][0]["text"] for item in body["input"]] == ["Be brief.", "say hello"]
    usage = b'{"response":{"usage":{"input_tokens":5,"output_tokens":0,"total_tokens":5}}}'
    assert translation.response(usage) == b'{"input_tokens":5}'  # type: ignore[attr-defined]
    _, translation = counted(Format.GEMINI, Format.CODEX, GEMINI_BODY)
    assert orjson.loads(translation.response(usage))["totalTokens"] == 5  # type: ignore[attr-defined]


@pytest.mark.parametrize("upstream", [Format.OPENAI, Format.CODEX])
def test_a_count_answer_without_the_number_counts_zero(upstream: Format) -> None:
    _, translation = counted(Format.CLAUDE, upstream, CLAUDE_BODY)
    assert translation.response(b'{"usage":null,"response":7}') == b'{"input_tokens":0}'  # type: ignore[attr-defined]


def test_a_count_answer_read_as_gjson_reads_it() -> None:
    # claude_executor.go:468-470 hands a Claude client the answer as it came, JSON or not;
    # gjson Int() reads a numeric string and finds 0 in text that is not JSON (gemini_executor.go:407).
    _, translation = counted(Format.CLAUDE, Format.CLAUDE, CLAUDE_BODY)
    assert translation.response(b"not json") == b"not json"  # type: ignore[attr-defined]
    _, translation = counted(Format.GEMINI, Format.GEMINI, GEMINI_BODY)
    assert orjson.loads(translation.response(b"not json"))["totalTokens"] == 0  # type: ignore[attr-defined]
    assert orjson.loads(translation.response(b'{"totalTokens":"12"}'))["totalTokens"] == 12  # type: ignore[attr-defined]
    _, translation = counted(Format.GEMINI, Format.CLAUDE, GEMINI_BODY)
    assert orjson.loads(translation.response(b'{"input_tokens":"12"}'))["totalTokens"] == 12  # type: ignore[attr-defined]
