"""OpenAI Chat Completions: the four directions between the wire format and the internal model.

* ``parse_request``: client ``/v1/chat/completions`` body -> ``Request``.
* ``render_request``: ``Request`` -> body for an OpenAI-compatible upstream. The rules are those
  of the Claude-client pair (reference A2.15); they are marked where they are Claude-specific.
* ``OpenAIChatStreamParser`` / ``parse_response``: upstream chunks or completion -> events / ``Response``.
* ``OpenAIChatStreamRenderer`` / ``render_response``: events / ``Response`` -> client chunks or
  completion, as the Claude-upstream pair writes them (reference A2.2, A3.1).

Everything is dict in, dict out; framing lives in ``sse.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from handlers.translation import finish_reasons, usage
from handlers.translation.model import (
    FilePart,
    Finish,
    FinishReason,
    Format,
    ImagePart,
    Message,
    MessageStart,
    Part,
    Request,
    Response,
    Role,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingConfig,
    ThinkingDelta,
    ThinkingMode,
    ThinkingPart,
    Tool,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    UsageReport,
)
from handlers.translation.sse import json_text
from handlers.translation.thinking import budget_to_level

_KNOWN_FIELDS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "n",
        "stop",
        "stream",
        "user",
    }
)


def unix_now() -> int:
    return int(time.time())


def go_number(value: Any) -> int | float:
    """A JSON number as Go's ``Float()`` + sjson would print it: integral floats lose their ``.0``."""
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
    return int(number) if number.is_integer() else number


_json_text = json_text


# --- client request -> internal --------------------------------------------------------------


def _content_parts(content: Any) -> list[Part]:
    # A bare string stays one text part even when empty: Gemini keeps it, Claude drops it.
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    if not isinstance(content, list):
        return parts
    for item in content:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            text = item.get("text")
            parts.append(TextPart(text if isinstance(text, str) else ""))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(ImagePart(url=url if isinstance(url, str) else ""))
        elif kind == "file":
            file = item.get("file") if isinstance(item.get("file"), dict) else {}
            parts.append(FilePart(str(file.get("filename") or ""), str(file.get("file_data") or "")))
    return parts


def _tool_call(call: dict[str, Any]) -> ToolCallPart | None:
    if call.get("type") != "function":
        return None
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        arguments = _json_text(arguments)
    return ToolCallPart(str(call.get("id") or ""), str(function.get("name") or ""), arguments)


def _tool(tool: dict[str, Any]) -> Tool:
    kind = str(tool.get("type") or "")
    if kind != "function":
        return Tool(name="", kind=kind, raw=tool)
    function = tool.get("function") if isinstance(tool.get("function"), dict) else {}
    parameters = function.get("parameters", function.get("parametersJsonSchema"))
    return Tool(
        name=str(function.get("name") or ""),
        description=str(function.get("description") or ""),
        parameters=parameters,
        raw=tool,
    )


def _tool_choice(choice: Any) -> ToolChoice | None:
    if isinstance(choice, str):
        return ToolChoice(choice)
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            function = choice.get("function") if isinstance(choice.get("function"), dict) else {}
            return ToolChoice("tool", str(function.get("name") or ""), raw=choice)
        return ToolChoice(str(choice.get("type") or ""), raw=choice)
    return None


def parse_stop(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    if isinstance(stop, list):
        items = [s if isinstance(s, str) else _json_text(s) for s in stop]
        return items or None
    return [stop if isinstance(stop, str) else _json_text(stop)]


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    return go_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_request(body: dict[str, Any]) -> Request:
    req = Request(source=Format.OPENAI, model=str(body.get("model") or ""))
    for raw in body.get("messages") or []:
        if not isinstance(raw, dict):
            continue
        role, content = raw.get("role"), raw.get("content")
        plain = isinstance(content, str)
        if role in ("system", "developer"):
            parts = [p for p in _content_parts(content) if isinstance(p, TextPart)]
            req.messages.append(Message(Role(role), list(parts), plain=plain))
        elif role in ("user", "assistant"):
            parts = _content_parts(content)
            if role == "assistant" and isinstance(raw.get("tool_calls"), list):
                parts.extend(c for c in map(_tool_call, filter(_is_dict, raw["tool_calls"])) if c)
            req.messages.append(Message(Role(role), parts, plain=plain))
        elif role == "tool":
            result = ToolResultPart(str(raw.get("tool_call_id") or ""), content)
            req.messages.append(Message(Role.TOOL, [result], plain=plain))
    tools = body.get("tools")
    if isinstance(tools, list):
        req.tools = [_tool(t) for t in tools if isinstance(t, dict)]
    req.tool_choice = _tool_choice(body.get("tool_choice"))
    effort = body.get("reasoning_effort")
    if isinstance(effort, str):
        req.thinking = ThinkingConfig(ThinkingMode.LEVEL, level=effort)
    if isinstance(body.get("max_tokens"), int | float) and not isinstance(body.get("max_tokens"), bool):
        req.max_tokens = int(body["max_tokens"])
    req.temperature = _number(body, "temperature")
    req.top_p = _number(body, "top_p")
    req.top_k = _number(body, "top_k")
    if isinstance(body.get("n"), int) and not isinstance(body.get("n"), bool):
        req.n = body["n"]
    req.stop = parse_stop(body.get("stop"))
    req.stream = body.get("stream") is True
    if isinstance(body.get("user"), str):
        req.user = body["user"]
    req.extra = {k: v for k, v in body.items() if k not in _KNOWN_FIELDS}
    return req


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


# --- internal -> upstream request ------------------------------------------------------------


def effort_for(config: ThinkingConfig | None) -> str | None:
    """``reasoning_effort`` for a thinking intent (budget -> level by the A2.9 thresholds)."""
    if config is None:
        return None
    if config.mode is ThinkingMode.NONE:
        return "none"
    if config.mode is ThinkingMode.AUTO:
        return "auto"
    if config.mode is ThinkingMode.BUDGET:
        return budget_to_level(config.budget)
    return config.level or None


def _content_item(part: Part) -> dict[str, Any] | None:
    # Claude-client rule (A2.15): blank text is dropped, images become image_url parts.
    if isinstance(part, TextPart):
        if not part.text.strip():
            return None
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        url = f"data:{part.media_type or 'application/octet-stream'};base64,{part.data}" if part.data else part.url
        return {"type": "image_url", "image_url": {"url": url}} if url else None
    return None


def tool_result_text(content: Any) -> str:
    """A Claude ``tool_result`` content as the single string OpenAI tool messages carry (A2.15)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for item in content:
            if isinstance(item, str):
                pieces.append(item)
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                pieces.append(item["text"])
            else:
                pieces.append(_json_text(item))
        joined = "\n\n".join(pieces)
        return joined if joined.strip() else _json_text(content)
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"]
    return _json_text(content)


def _render_message(message: Message, out: list[dict[str, Any]]) -> None:
    role = message.role.value
    if message.plain:
        text = "".join(p.text for p in message.parts if isinstance(p, TextPart))
        out.append({"role": role, "content": text})
        return
    items: list[dict[str, Any]] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ThinkingPart):
            # Only assistant thinking survives; redacted and blank thinking are dropped (A4.2 #11).
            if message.role is Role.ASSISTANT and not part.redacted and part.text.strip():
                reasoning.append(part.text)
        elif isinstance(part, ToolCallPart):
            if message.role is Role.ASSISTANT:
                arguments = part.arguments if part.arguments is not None else "{}"
                calls.append(
                    {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": arguments}}
                )
        elif isinstance(part, ToolResultPart):
            # Tool answers go out first, as their own messages (A4.2 #12).
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": tool_result_text(part.content)})
        else:
            item = _content_item(part)
            if item is not None:
                items.append(item)
    if message.role is Role.ASSISTANT:
        if not (items or reasoning or calls):
            return
        rendered: dict[str, Any] = {"role": "assistant", "content": items if items else ""}
        if reasoning:
            rendered["reasoning_content"] = "\n\n".join(reasoning)
        if calls:
            rendered["tool_calls"] = calls
        out.append(rendered)
    elif items:
        out.append({"role": role, "content": items})


def _render_tool_choice(choice: ToolChoice) -> Any:
    # Claude-client rule (A2.15): anything but auto/any/tool (including "none") becomes "auto".
    if choice.mode == "required":
        return "required"
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return "auto"


def render_request(req: Request, model: str, *, stream: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "messages": []}
    if req.max_tokens is not None:
        out["max_tokens"] = req.max_tokens
    # Claude-client rule (A2.15): temperature and top_p are mutually exclusive, temperature wins.
    if req.temperature is not None:
        out["temperature"] = req.temperature
    elif req.top_p is not None:
        out["top_p"] = req.top_p
    if req.stop:
        out["stop"] = req.stop[0] if len(req.stop) == 1 else list(req.stop)
    out["stream"] = stream
    effort = effort_for(req.thinking)
    if effort:
        out["reasoning_effort"] = effort

    # Claude-client rule (A2.15): messages[0] is always a system message, even an empty one.
    system_items: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_items}]
    for message in req.messages:
        if message.role in (Role.SYSTEM, Role.DEVELOPER):
            system_items.extend(i for i in map(_content_item, message.parts) if i is not None)
        else:
            _render_message(message, messages)
    out["messages"] = messages

    if req.tools:
        rendered_tools = []
        for tool in req.tools:
            function: dict[str, Any] = {"name": tool.name, "description": tool.description}
            if tool.parameters is not None:
                function["parameters"] = tool.parameters
            rendered_tools.append({"type": "function", "function": function})
        out["tools"] = rendered_tools
    if req.tool_choice is not None:
        out["tool_choice"] = _render_tool_choice(req.tool_choice)
    if req.user is not None:
        out["user"] = req.user
    return out


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
            text = text if isinstance(text, str) else _json_text(text)
            return [text] if text else []
        return []
    return [_json_text(node)]


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
            chunk = orjson.loads(data)
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
            content = delta.get("content")
            if isinstance(content, str) and content:
                events.append(TextDelta(content))
            for call in delta.get("tool_calls") or []:
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
        if isinstance(call.get("id"), str):
            self._tool_ids[index] = call["id"]
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if "name" in function:
            events.append(ToolCallStart(index, self._tool_ids.get(index, ""), str(function["name"] or "")))
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
        for call in message.get("tool_calls") or []:
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
        arguments = "" if arguments is None else _json_text(arguments)
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
            parts.extend(_response_tool_call(c) for c in item.get("tool_calls") or [] if isinstance(c, dict))
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
