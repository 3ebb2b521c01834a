"""Finish/stop reason tables per pair (reference A2.16 "Finish / stop reason mapping")."""

from __future__ import annotations

import pytest

from handlers.translation import finish_reasons
from handlers.translation.model import FinishReason, Format


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("x", "stop"),
    ],
)
def test_claude_to_openai(native: str, expected: str) -> None:
    # A2.16 row Claude -> OpenAI chat
    assert finish_reasons.to_openai(FinishReason(native, Format.CLAUDE)) == expected


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "end_turn"),
        ("", "end_turn"),
        ("other", "end_turn"),
    ],
)
def test_openai_to_claude(native: str, expected: str) -> None:
    # A2.16 row OpenAI chat -> Claude
    assert finish_reasons.to_claude(FinishReason(native, Format.OPENAI)) == expected
    assert finish_reasons.to_claude(FinishReason(native, Format.OPENAI), stream=True) == expected


@pytest.mark.parametrize(
    ("native", "expected"),
    [("stop", "STOP"), ("length", "MAX_TOKENS"), ("tool_calls", "STOP"), ("content_filter", "SAFETY"), ("x", "STOP")],
)
def test_openai_to_gemini(native: str, expected: str) -> None:
    # A2.16 row OpenAI chat -> Gemini
    assert finish_reasons.to_gemini(FinishReason(native, Format.OPENAI)) == expected


@pytest.mark.parametrize(("native", "expected"), [("STOP", "stop"), ("MAX_TOKENS", "max_tokens"), ("SAFETY", "safety")])
def test_gemini_to_openai_lowercases(native: str, expected: str) -> None:
    # golden 23: MAX_TOKENS -> max_tokens, not length
    assert finish_reasons.to_openai(FinishReason(native, Format.GEMINI)) == expected
    assert finish_reasons.to_openai(FinishReason(native, Format.GEMINI), saw_tool_call=True) == "tool_calls"


def test_gemini_to_claude_stream_never_reports_max_tokens() -> None:
    # A2.16 row Gemini -> Claude (stream vs non-stream)
    reason = FinishReason("MAX_TOKENS", Format.GEMINI)
    assert finish_reasons.to_claude(reason, stream=True) == "end_turn"
    assert finish_reasons.to_claude(reason, stream=False) == "max_tokens"
    assert finish_reasons.to_claude(FinishReason("STOP", Format.GEMINI), saw_tool_call=True, stream=True) == "tool_use"
    assert finish_reasons.to_claude(FinishReason("UNKNOWN", Format.GEMINI)) == "end_turn"


@pytest.mark.parametrize(("native", "expected"), [
    ("end_turn", "STOP"), ("tool_use", "STOP"), ("stop_sequence", "STOP"), ("pause_turn", "STOP"),
    ("max_tokens", "MAX_TOKENS"),
])
def test_claude_to_gemini(native: str, expected: str) -> None:
    # A2.16 row Claude -> Gemini. The legacy overwrites MAX_TOKENS with STOP (compatibility row 19v).
    assert finish_reasons.to_gemini(FinishReason(native, Format.CLAUDE)) == expected


def test_codex_pairs() -> None:
    # A2.16 rows Codex -> OpenAI chat / Claude / Gemini
    completed = FinishReason("completed", Format.CODEX)
    assert finish_reasons.to_openai(completed) == "stop"
    assert finish_reasons.to_openai(completed, saw_tool_call=True) == "tool_calls"
    assert finish_reasons.to_claude(completed, saw_tool_call=True, stream=True) == "tool_use"
    assert finish_reasons.to_claude(FinishReason("max_tokens", Format.CODEX), stream=False) == "max_tokens"
    assert finish_reasons.to_gemini(completed) == "STOP"


def test_missing_reason_for_claude() -> None:
    # A2.12 non-stream: no finish_reason -> tool_use if tool calls else end_turn
    assert finish_reasons.to_claude(None) == "end_turn"
    assert finish_reasons.to_claude(None, saw_tool_call=True) == "tool_use"
