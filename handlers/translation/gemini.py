"""Gemini format: the public names of ``gemini_request`` and ``gemini_response`` in one place.

Callers keep writing ``gemini.parse_request`` / ``gemini.parse_chunk``; the code lives in the two
modules named for the direction it handles (requests; upstream chunks and the renderers around
them).
"""

from __future__ import annotations

from handlers.translation.gemini_request import (
    FILE_MIME_TYPES,
    SAFETY_SETTINGS,
    SKIP_SIGNATURE,
    json_value,
    parse_request,
    render_cli_request,
    render_count_tokens,
    render_request,
    safety_settings,
    synthetic_tool_id,
)
from handlers.translation.gemini_response import (
    PLACEHOLDER_MESSAGE_ID,
    PLACEHOLDER_MODEL,
    ClaudeStreamFromGemini,
    GeminiCandidate,
    GeminiChunk,
    GeminiStreamFromClaude,
    OpenAIChatFromGemini,
    gemini_error,
    parse_chunk,
    render_claude_response,
    render_gemini_response,
    render_openai_response,
    wrap_cli_response,
)

__all__ = [
    "FILE_MIME_TYPES",
    "PLACEHOLDER_MESSAGE_ID",
    "PLACEHOLDER_MODEL",
    "SAFETY_SETTINGS",
    "SKIP_SIGNATURE",
    "ClaudeStreamFromGemini",
    "GeminiCandidate",
    "GeminiChunk",
    "GeminiStreamFromClaude",
    "OpenAIChatFromGemini",
    "gemini_error",
    "json_value",
    "parse_chunk",
    "parse_request",
    "render_claude_response",
    "render_cli_request",
    "render_count_tokens",
    "render_gemini_response",
    "render_openai_response",
    "render_request",
    "safety_settings",
    "synthetic_tool_id",
    "wrap_cli_response",
]
