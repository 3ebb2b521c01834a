"""OpenAI Chat Completions answers: upstream chunks -> internal, and internal -> client chunks.

* ``OpenAIChatStreamParser`` / ``parse_response``: upstream chunks or completion -> events / ``Response``.
* ``OpenAIChatStreamRenderer`` / ``render_response``: events / ``Response`` -> client chunks or
  completion, as the Claude-upstream pair writes them (reference A2.2, A3.1).

Everything is dict in, dict out; framing lives in ``sse.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from handlers.translation import finish_reasons, usage
from handlers.translation.gjson_values import array_of, text_of
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    MessageStart,
    Part,
    Response,
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
)
from handlers.translation.openai_chat_request import unix_now
from handlers.translation.sse import json_text, loads_upstream

# --- upstream response -> internal -----------------------------------------------------------


def reasoning_texts(node: Any) -> list[str]:
    """Texts inside ``reasoning_content``: a string, an array of them, or objects with ``text``."""
    if node is None:
        return []
    if isinstance(node, list):
        return [text for item in node for text in reasoning_texts(item)]
    if isinstance(node, str):
        return [node] if node else []
    if isinstance(node, dict):
        if "text" in node:
            text = node["text"]
            text = text if isinstance(text, str) else json_text(text)
            return [text] if text else []
        return []
    return [json_text(node)]


class OpenAIChatStreamParser:
    """Upstream ``chat.completion.chunk`` objects -> internal stream events (reference A2.12)."""

    __slots__ = ("_created", "_id", "_model", "_started", "_tool_ids")

    def __init__(self) -> None:
        self._id = ""
        self._model = ""
        self._created = 0
        self._started = False
        self._tool_ids: dict[int, str] = {}

    def feed_data(self, data: str) -> list[StreamEvent]:
        """One SSE ``data:`` payload; ``[DONE]`` ends the stream, unparsable payloads are skipped."""
        if data.strip() == "[DONE]":
            return [StreamEnd()]
        try:
            chunk = loads_upstream(data)
        except orjson.JSONDecodeError:
            return []
        return self.feed(chunk) if isinstance(chunk, dict) else []

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self._id and isinstance(chunk.get("id"), str):
            self._id = chunk["id"]
        if not self._model and isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        if not self._created and isinstance(chunk.get("created"), int):
            self._created = chunk["created"]
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        if "delta" in choice:
            delta = choice["delta"] if isinstance(choice["delta"], dict) else {}
            if not self._started:
                self._started = True
                events.append(MessageStart(self._id, self._model, self._created))
            events.extend(ThinkingDelta(t) for t in reasoning_texts(delta.get("reasoning_content")))
            # gjson String(), as both legacy stream translators read it (openai_claude_response.go:170,
            # openai_openai-responses_response.go:197): an array of content parts (Mistral's
            # Magistral streams them) reaches the client as its JSON text instead of vanishing.
            content = delta.get("content")
            text = content if isinstance(content, str) else text_of(content)
            if text:
                events.append(TextDelta(text))
            for call in array_of(delta.get("tool_calls")):
                if isinstance(call, dict):
                    self._tool_call_events(call, events)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            events.append(Finish(FinishReason(reason, Format.OPENAI)))
        if isinstance(chunk.get("usage"), dict):
            events.append(UsageReport(usage.from_openai(chunk["usage"])))
        return events

    def _tool_call_events(self, call: dict[str, Any], events: list[StreamEvent]) -> None:
        index = call.get("index") if isinstance(call.get("index"), int) else 0
        # Some upstreams repeat ``"id": null`` and ``"name": null`` on every later chunk of a call.
        # The legacy reads a present key with gjson String() (openai_claude_response.go:211-230), so
        # each such chunk emptied the id and opened another tool_use block named "" for a Claude
        # client; a null here names nothing (compatibility row 40). An empty string is still read.
        if call.get("id") is not None:
            self._tool_ids[index] = text_of(call["id"])
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if function.get("name") is not None:
            events.append(ToolCallStart(index, self._tool_ids.get(index, ""), text_of(function["name"])))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(ToolCallDelta(index, arguments))


def parse_response(body: dict[str, Any]) -> Response:
    """A non-stream ``chat.completion`` -> ``Response``.

    Part order follows the Claude-client pair (A2.12 non-stream): message content first (with the
    array form's text/reasoning/tool_calls items in place), then ``reasoning_content``, then
    ``tool_calls``. A present-but-null ``finish_reason`` is kept as an empty native reason.
    """
    response = Response(id=str(body.get("id") or ""), model=str(body.get("model") or ""))
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if choice is not None:
        if "finish_reason" in choice:
            reason = choice["finish_reason"]
            response.finish = FinishReason(reason if isinstance(reason, str) else "", Format.OPENAI)
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        if isinstance(content, str):
            if content:
                response.parts.append(TextPart(content))
        elif isinstance(content, list):
            _content_array_parts(content, response.parts)
        response.parts.extend(ThinkingPart(t) for t in reasoning_texts(message.get("reasoning_content")))
        for call in array_of(message.get("tool_calls")):
            if isinstance(call, dict):
                response.parts.append(_response_tool_call(call))
    if "usage" in body:
        raw = body["usage"]
        response.usage = usage.from_openai(raw if isinstance(raw, dict) else {})
    return response


def _response_tool_call(call: dict[str, Any]) -> ToolCallPart:
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = "" if arguments is None else json_text(arguments)
    return ToolCallPart(str(call.get("id") or ""), str(function.get("name") or ""), arguments)


def _content_array_parts(items: list[Any], parts: list[Part]) -> None:
    text: list[str] = []
    thinking: list[str] = []

    def flush_text() -> None:
        if "".join(text):
            parts.append(TextPart("".join(text)))
        text.clear()

    def flush_thinking() -> None:
        if "".join(thinking):
            parts.append(ThinkingPart("".join(thinking)))
        thinking.clear()

    for item in items:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text":
            flush_thinking()
            text.append(str(item.get("text") or ""))
        elif kind == "reasoning":
            flush_text()
            thinking.append(str(item.get("text") or ""))
        elif kind == "tool_calls":
            flush_thinking()
            flush_text()
            parts.extend(_response_tool_call(c) for c in array_of(item.get("tool_calls")) if isinstance(c, dict))
        else:
            flush_thinking()
            flush_text()
    flush_thinking()
    flush_text()


# --- internal -> client response -------------------------------------------------------------


class OpenAIChatStreamRenderer:
    """Internal events -> client ``chat.completion.chunk`` objects (Claude-upstream rules, A2.2).

    Tool calls are not streamed piecemeal: the whole call goes out in one chunk when the upstream
    closes it, indexed by the upstream's own index. ``[DONE]`` is the handler's job (``sse.OPENAI_DONE``).
    """

    __slots__ = ("_created", "_id", "_model", "_now", "_tools")

    def __init__(self, model: str, *, now: Callable[[], int] = unix_now) -> None:
        self._model = model
        self._now = now
        self._id = ""
        self._created = 0
        self._tools: dict[int, tuple[str, str, list[str]]] = {}

    def _chunk(self) -> tuple[dict[str, Any], dict[str, Any]]:
        choice: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": None}
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [choice],
        }
        return chunk, choice

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if isinstance(event, MessageStart):
            self._id, self._created = event.id, self._now()
            chunk, choice = self._chunk()
            choice["delta"]["role"] = "assistant"
            return [chunk]
        if isinstance(event, TextDelta):
            chunk, choice = self._chunk()
            choice["delta"]["content"] = event.text
            return [chunk]
        if isinstance(event, ThinkingDelta):
            chunk, choice = self._chunk()
            choice["delta"]["reasoning_content"] = event.text
            return [chunk]
        if isinstance(event, ToolCallStart):
            self._tools[event.index] = (event.id, event.name, [])
            return []
        if isinstance(event, ToolCallDelta):
            if event.index in self._tools:
                self._tools[event.index][2].append(event.arguments)
            return []
        if isinstance(event, ToolCallEnd):
            if event.index not in self._tools:
                return []
            call_id, name, pieces = self._tools.pop(event.index)
            chunk, choice = self._chunk()
            choice["delta"]["tool_calls"] = [
                {
                    "index": event.index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": "".join(pieces) or "{}"},
                }
            ]
            return [chunk]
        if isinstance(event, Finish):
            chunk, choice = self._chunk()
            if event.reason is not None:
                choice["finish_reason"] = finish_reasons.to_openai(event.reason)
            if event.usage is not None:
                chunk["usage"] = usage.to_openai(event.usage, stream=True)
            return [chunk]
        if isinstance(event, StreamError):
            return [{"error": {"message": event.message, "type": event.type}}]
        return []


def render_response(resp: Response, *, now: Callable[[], int] = unix_now) -> dict[str, Any]:
    """``Response`` -> client ``chat.completion`` (Claude-upstream rules, A2.2 non-stream)."""
    text = "".join(p.text for p in resp.parts if isinstance(p, TextPart))
    thinking = [p.text for p in resp.parts if isinstance(p, ThinkingPart)]
    calls = [p for p in resp.parts if isinstance(p, ToolCallPart)]
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if thinking:
        message["reasoning"] = "".join(thinking)
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or ""}}
            for c in calls
        ]
    if calls:
        finish = "tool_calls"
    elif resp.finish is not None:
        finish = finish_reasons.to_openai(resp.finish)
    else:
        finish = "stop"
    rendered_usage: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    if resp.usage is not None:
        rendered_usage = usage.to_openai(resp.usage, stream=False)
    return {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created or now(),
        "model": resp.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": rendered_usage,
    }
