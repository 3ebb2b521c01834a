"""OpenAI Chat Completions format: the public names of ``openai_chat_request`` and
``openai_chat_response`` in one place.

Callers keep writing ``openai_chat.parse_request`` / ``openai_chat.OpenAIChatStreamRenderer``; the
code lives in the module for its direction (requests; upstream chunks and client answers).
"""

from __future__ import annotations

from handlers.translation.openai_chat_request import (
    effort_for,
    go_number,
    parse_request,
    parse_stop,
    render_request,
    tool_result_text,
    unix_now,
)
from handlers.translation.openai_chat_response import (
    OpenAIChatStreamParser,
    OpenAIChatStreamRenderer,
    parse_response,
    reasoning_texts,
    render_response,
)

__all__ = [
    "OpenAIChatStreamParser",
    "OpenAIChatStreamRenderer",
    "effort_for",
    "go_number",
    "parse_request",
    "parse_response",
    "parse_stop",
    "reasoning_texts",
    "render_request",
    "render_response",
    "tool_result_text",
    "unix_now",
]
