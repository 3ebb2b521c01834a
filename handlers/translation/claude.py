"""Anthropic Messages format: the public names of ``claude_request`` and ``claude_stream``.

Callers keep writing ``claude.parse_request`` / ``claude.ClaudeStreamParser``; the code lives in
the module for its direction (requests; upstream SSE and client answers).
"""

from __future__ import annotations

from handlers.translation.claude_request import (
    DEFAULT_MAX_TOKENS,
    fake_user_id,
    fix_json,
    new_tool_use_id,
    parse_request,
    render_request,
    thinking_field,
    thinking_text,
    tool_input,
)
from handlers.translation.claude_stream import (
    ClaudeFrame,
    ClaudeStreamParser,
    ClaudeStreamRenderer,
    parse_payload_events,
    parse_stream_body,
    parse_stream_events,
    parse_stream_payloads,
    render_count_tokens,
    render_response,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ClaudeFrame",
    "ClaudeStreamParser",
    "ClaudeStreamRenderer",
    "fake_user_id",
    "fix_json",
    "new_tool_use_id",
    "parse_payload_events",
    "parse_request",
    "parse_stream_body",
    "parse_stream_events",
    "parse_stream_payloads",
    "render_count_tokens",
    "render_request",
    "render_response",
    "thinking_field",
    "thinking_text",
    "tool_input",
]
