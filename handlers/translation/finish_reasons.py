"""Finish/stop-reason tables per upstream -> client pair (reference A2.16 "Finish / stop reason").

Each renderer asks ``to_<client>(reason, ...)``; the table used depends on ``reason.source`` (the
upstream that produced it), because the legacy translators map differently per pair.
"""

from __future__ import annotations

from handlers.translation.model import FinishReason, Format

CLAUDE_TO_OPENAI: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
OPENAI_TO_CLAUDE: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "end_turn",
}
OPENAI_TO_GEMINI: dict[str, str] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
}


def to_openai(reason: FinishReason, *, saw_tool_call: bool = False) -> str:
    """OpenAI chat ``finish_reason``; ``saw_tool_call`` forces ``tool_calls`` where the pair does."""
    if reason.source is Format.CLAUDE:
        return CLAUDE_TO_OPENAI.get(reason.native, "stop")
    if reason.source in (Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY):
        # Gemini values are lower-cased, not remapped (MAX_TOKENS -> max_tokens, not length).
        return "tool_calls" if saw_tool_call else reason.native.lower()
    if reason.source is Format.CODEX:
        return "tool_calls" if saw_tool_call else "stop"
    return reason.native


def to_claude(reason: FinishReason | None, *, saw_tool_call: bool = False, stream: bool = False) -> str:
    """Claude ``stop_reason``."""
    if reason is None:
        return "tool_use" if saw_tool_call else "end_turn"
    if reason.source is Format.OPENAI:
        return OPENAI_TO_CLAUDE.get(reason.native, "end_turn")
    if reason.source in (Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY):
        if saw_tool_call:
            return "tool_use"
        # The streaming Gemini->Claude translator never reports max_tokens.
        return "max_tokens" if (not stream and reason.native == "MAX_TOKENS") else "end_turn"
    if reason.source is Format.CODEX:
        if not stream and reason.native:
            return reason.native
        return "tool_use" if saw_tool_call else "end_turn"
    return reason.native


def to_gemini(reason: FinishReason) -> str:
    """Gemini ``finishReason``."""
    if reason.source is Format.OPENAI:
        return OPENAI_TO_GEMINI.get(reason.native, "STOP")
    if reason.source is Format.CLAUDE:
        # A2.16's mapping. The legacy's claude/gemini translator sets MAX_TOKENS and then
        # overwrites it with STOP (claude_gemini_response.go:204, :242; its non-stream template
        # always says STOP): a deliberate deviation, docs/compatibility.md row 19v.
        return "MAX_TOKENS" if reason.native == "max_tokens" else "STOP"
    if reason.source is Format.CODEX:
        return "STOP"
    return reason.native
