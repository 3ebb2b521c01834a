"""Anthropic Messages answers: upstream SSE -> internal, and internal -> Claude client.

* ``ClaudeStreamParser`` / ``parse_stream_body``: upstream SSE -> events / aggregated ``Response``
  (the legacy Claude executor streams upstream even for non-stream clients and folds the SSE).
* ``ClaudeStreamRenderer`` / ``render_response``: events / ``Response`` -> client SSE events or a
  message object (OpenAI-upstream rules, A2.12).
* ``render_count_tokens``: the ``count_tokens`` answer.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import finish_reasons, usage
from handlers.translation.claude_request import fix_json, tool_input
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    MessageStart,
    Response,
    SignatureDelta,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    UsageReport,
    collect_response,
)
from handlers.translation.sse import loads_upstream
from quotio_gateway.sse import SSEEvent, SSEParser

# --- upstream response -> internal -----------------------------------------------------------


class ClaudeStreamParser:
    """Upstream Messages SSE payloads -> internal events (reference A2.2, A3.3)."""

    __slots__ = ("_start_usage", "_tool_blocks")

    def __init__(self, *, start_usage: bool = False) -> None:
        # ``start_usage``: also report the ``message_start`` usage (input tokens), which only the
        # Responses renderer reads; the chat-completions pairs take usage from ``message_delta``.
        self._start_usage = start_usage
        self._tool_blocks: set[int] = set()

    def feed_sse(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            payload = loads_upstream(event.data)
        except orjson.JSONDecodeError:
            return []
        return self.feed(payload) if isinstance(payload, dict) else []

    def feed(self, payload: dict[str, Any]) -> list[StreamEvent]:
        kind = payload.get("type")
        index = payload.get("index") if isinstance(payload.get("index"), int) else 0
        if kind == "message_start":
            message = payload.get("message")
            if not isinstance(message, dict):
                return []
            start: list[StreamEvent] = [MessageStart(str(message.get("id") or ""), str(message.get("model") or ""))]
            if self._start_usage and isinstance(message.get("usage"), dict):
                start.append(UsageReport(usage.from_claude(message["usage"])))
            return start
        if kind == "content_block_start":
            block = payload.get("content_block") if isinstance(payload.get("content_block"), dict) else {}
            if block.get("type") == "tool_use":
                self._tool_blocks.add(index)
                return [ToolCallStart(index, str(block.get("id") or ""), str(block.get("name") or ""))]
            return []
        if kind == "content_block_delta":
            return self._delta(index, payload.get("delta"))
        if kind == "content_block_stop":
            if index in self._tool_blocks:
                self._tool_blocks.discard(index)
                return [ToolCallEnd(index)]
            return []
        if kind == "message_delta":
            delta = payload.get("delta") if isinstance(payload.get("delta"), dict) else {}
            reason = delta.get("stop_reason")
            raw_usage = payload.get("usage")
            return [
                Finish(
                    FinishReason(reason, Format.CLAUDE) if isinstance(reason, str) else None,
                    usage.from_claude(raw_usage) if isinstance(raw_usage, dict) else None,
                )
            ]
        if kind == "error":
            error = payload.get("error")
            if isinstance(error, dict):
                return [StreamError(str(error.get("message") or ""), str(error.get("type") or ""))]
        return []

    def _delta(self, index: int, delta: Any) -> list[StreamEvent]:
        if not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta" and "text" in delta:
            return [TextDelta(str(delta["text"] or ""))]
        if kind == "thinking_delta" and "thinking" in delta:
            return [ThinkingDelta(str(delta["thinking"] or ""))]
        if kind == "signature_delta" and isinstance(delta.get("signature"), str):
            return [SignatureDelta(delta["signature"])]
        if kind == "input_json_delta" and index in self._tool_blocks and "partial_json" in delta:
            return [ToolCallDelta(index, str(delta["partial_json"] or ""))]
        return []


def parse_stream_events(body: bytes, *, start_usage: bool = False) -> list[StreamEvent]:
    """A whole upstream SSE body -> its internal events."""
    sse, parser = SSEParser(), ClaudeStreamParser(start_usage=start_usage)
    events: list[StreamEvent] = []
    for sse_event in [*sse.feed(body), *sse.finish()]:
        events.extend(parser.feed_sse(sse_event))
    return events


def parse_stream_payloads(payloads: list[Any]) -> Response:
    """The decoded ``data`` objects of a whole upstream stream -> ``Response``: the same fold as
    ``parse_stream_body`` for a caller that has already parsed the SSE and the JSON."""
    return collect_response(parse_payload_events(payloads))


def parse_payload_events(payloads: list[Any], *, start_usage: bool = False) -> list[StreamEvent]:
    """``parse_stream_events`` for a stream whose event data is already decoded."""
    parser = ClaudeStreamParser(start_usage=start_usage)
    events: list[StreamEvent] = []
    for payload in payloads:
        if isinstance(payload, dict):
            events.extend(parser.feed(payload))
    return events


def parse_stream_body(body: bytes) -> Response:
    """A whole upstream SSE body -> ``Response`` (how non-stream clients are answered, A2.2)."""
    return collect_response(parse_stream_events(body))


# --- internal -> client response -------------------------------------------------------------

ClaudeFrame = tuple[str, dict[str, Any]]


class ClaudeStreamRenderer:
    """Internal events -> client Messages SSE events, with the OpenAI-upstream state machine (A2.12).

    Thinking and text each hold one open block at a time and close each other; a tool call opens
    its own block (closing text/thinking) and keeps its arguments until the finish, when they go
    out as ONE ``input_json_delta``. ``message_delta`` and ``message_stop`` are sent at most once.
    """

    __slots__ = (
        "_delta_sent",
        "_finish",
        "_next_index",
        "_started",
        "_stop_sent",
        "_text_index",
        "_thinking_index",
        "_tool_args",
        "_tool_blocks",
        "_tools_closed",
    )

    def __init__(self) -> None:
        self._started = False
        self._next_index = 0
        self._text_index: int | None = None
        self._thinking_index: int | None = None
        self._tool_blocks: dict[int, int] = {}
        self._tool_args: dict[int, list[str]] = {}
        self._tools_closed = False
        self._finish: FinishReason | None = None
        self._delta_sent = False
        self._stop_sent = False

    def _allocate(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _tool_block(self, tool_index: int) -> int:
        if tool_index not in self._tool_blocks:
            self._tool_blocks[tool_index] = self._allocate()
            self._tool_args[tool_index] = []
        return self._tool_blocks[tool_index]

    def _close_text(self, out: list[ClaudeFrame]) -> None:
        if self._text_index is not None:
            out.append(("content_block_stop", {"type": "content_block_stop", "index": self._text_index}))
            self._text_index = None

    def _close_thinking(self, out: list[ClaudeFrame]) -> None:
        if self._thinking_index is not None:
            out.append(("content_block_stop", {"type": "content_block_stop", "index": self._thinking_index}))
            self._thinking_index = None

    def _close_all(self, out: list[ClaudeFrame]) -> None:
        self._close_thinking(out)
        self._close_text(out)
        if self._tools_closed:
            return
        for tool_index in sorted(self._tool_blocks):
            block = self._tool_blocks[tool_index]
            arguments = "".join(self._tool_args[tool_index])
            if arguments:
                out.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": block,
                            "delta": {"type": "input_json_delta", "partial_json": fix_json(arguments)},
                        },
                    )
                )
            out.append(("content_block_stop", {"type": "content_block_stop", "index": block}))
        self._tools_closed = True

    def _message_delta(self, out: list[ClaudeFrame], usage_obj: Any) -> None:
        payload: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": finish_reasons.to_claude(self._finish, stream=True), "stop_sequence": None},
        }
        if usage_obj is not None:
            payload["usage"] = usage.to_claude(usage_obj)
        out.append(("message_delta", payload))
        self._delta_sent = True

    def _message_stop(self, out: list[ClaudeFrame]) -> None:
        if not self._stop_sent:
            out.append(("message_stop", {"type": "message_stop"}))
            self._stop_sent = True

    def feed(self, event: StreamEvent) -> list[ClaudeFrame]:
        out: list[ClaudeFrame] = []
        if isinstance(event, MessageStart):
            if not self._started:
                self._started = True
                message = {
                    "id": event.id,
                    "type": "message",
                    "role": "assistant",
                    "model": event.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                }
                out.append(("message_start", {"type": "message_start", "message": message}))
        elif isinstance(event, ThinkingDelta):
            if event.text:
                self._close_text(out)
                if self._thinking_index is None:
                    self._thinking_index = self._allocate()
                    out.append(_block_start(self._thinking_index, {"type": "thinking", "thinking": ""}))
                out.append(_block_delta(self._thinking_index, {"type": "thinking_delta", "thinking": event.text}))
        elif isinstance(event, TextDelta):
            if event.text:
                if self._text_index is None:
                    self._close_thinking(out)
                    self._text_index = self._allocate()
                    out.append(_block_start(self._text_index, {"type": "text", "text": ""}))
                out.append(_block_delta(self._text_index, {"type": "text_delta", "text": event.text}))
        elif isinstance(event, ToolCallStart):
            block = self._tool_block(event.index)
            self._close_thinking(out)
            self._close_text(out)
            out.append(_block_start(block, {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}))
        elif isinstance(event, ToolCallDelta):
            self._tool_block(event.index)
            self._tool_args[event.index].append(event.arguments)
        elif isinstance(event, Finish):
            if event.reason is not None:
                self._finish = event.reason
            self._close_all(out)
            if event.usage is not None and self._finish is not None and not self._delta_sent:
                self._message_delta(out, event.usage)
                self._message_stop(out)
        elif isinstance(event, UsageReport):
            if self._finish is not None and not self._delta_sent:
                self._message_delta(out, event.usage)
                self._message_stop(out)
        elif isinstance(event, StreamEnd):
            self._close_all(out)
            if self._finish is not None and not self._delta_sent:
                self._message_delta(out, None)
            self._message_stop(out)
        elif isinstance(event, StreamError):
            out.append(("error", {"type": "error", "error": {"type": "api_error", "message": event.message}}))
        return out


def _block_start(index: int, block: dict[str, Any]) -> ClaudeFrame:
    return ("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def _block_delta(index: int, delta: dict[str, Any]) -> ClaudeFrame:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def render_response(resp: Response) -> dict[str, Any]:
    """``Response`` -> client message object (OpenAI-upstream rules, A2.12 non-stream)."""
    content: list[dict[str, Any]] = []
    saw_tool = False
    for part in resp.parts:
        if isinstance(part, TextPart) and part.text:
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ThinkingPart) and part.text:
            content.append({"type": "thinking", "thinking": part.text})
        elif isinstance(part, ToolCallPart):
            saw_tool = True
            content.append({"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)})
    rendered_usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0}
    if resp.usage is not None:
        rendered_usage = usage.to_claude(resp.usage)
    return {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": finish_reasons.to_claude(resp.finish, saw_tool_call=saw_tool),
        "stop_sequence": None,
        "usage": rendered_usage,
    }


def render_count_tokens(count: int) -> dict[str, Any]:
    return {"input_tokens": count}
