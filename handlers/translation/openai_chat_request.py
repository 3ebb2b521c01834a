"""OpenAI Chat Completions requests: client body -> ``Request`` and ``Request`` -> upstream body.

* ``parse_request``: client ``/v1/chat/completions`` body -> ``Request``.
* ``render_request``: ``Request`` -> body for an OpenAI-compatible upstream. The rules are those
  of the Claude-client pair (reference A2.15); they are marked where they are Claude-specific.
* ``go_number`` / ``parse_stop``: number and ``stop`` readers the other formats share.
"""

from __future__ import annotations

import time
from typing import Any

from handlers.translation.gjson_values import array_of, int_of, member_of, text_of
from handlers.translation.model import (
    ROLES,
    FilePart,
    Format,
    ImagePart,
    Message,
    Part,
    Request,
    Role,
    TextPart,
    ThinkingConfig,
    ThinkingMode,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
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
    # Beyond int64 a whole number stays a float (1e20 is still valid JSON; a Python int that big
    # is more than the encoder writes).
    return int(number) if number.is_integer() and -(2**63) <= number < 2**63 else number


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
            # Every legacy reader takes the URL from the object form only, so an ``image_url`` that
            # is a bare string carries no image (gemini_openai_request.go:182, claude/codex alike).
            parts.append(ImagePart(url=text_of(member_of(item.get("image_url"), "url"))))
        elif kind == "file":
            file = item.get("file") if isinstance(item.get("file"), dict) else {}
            parts.append(FilePart(str(file.get("filename") or ""), str(file.get("file_data") or "")))
    return parts


def _system_texts(content: Any) -> list[str]:
    """gemini_openai_request.go:146-162 (Gemini CLI alike): gjson ``.String()`` of each text."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, dict) and content.get("type") == "text":
        return [text_of(content.get("text"))]
    if isinstance(content, list):
        return [text_of(member_of(item, "text")) for item in content]
    return []


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
    for raw in array_of(body.get("messages")):
        if not isinstance(raw, dict):
            continue
        role, content = raw.get("role"), raw.get("content")
        plain = isinstance(content, str)
        if role in ("system", "developer"):
            parts = [p for p in _content_parts(content) if isinstance(p, TextPart)]
            req.messages.append(Message(ROLES[role], list(parts), plain=plain, system_texts=_system_texts(content)))
        elif role in ("user", "assistant"):
            parts = _content_parts(content)
            if role == "assistant" and isinstance(raw.get("tool_calls"), list):
                parts.extend(c for c in map(_tool_call, filter(_is_dict, raw["tool_calls"])) if c)
            req.messages.append(Message(ROLES[role], parts, plain=plain))
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
        req.max_tokens = int_of(body["max_tokens"])
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
    if config.coerced is not None:
        return budget_to_level(config.coerced)  # openai_claude_request.go:69, budget_tokens.Int()
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
    role = message.role.value if message.wire_role is None else message.wire_role
    if message.plain:
        text = message.text()
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
            text = "null" if part.content_null else tool_result_text(part.content)
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": text})
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
            if message.plain:
                # A system string is kept unless empty (only array blocks lose blank text).
                text = message.text()
                if text:
                    system_items.append({"type": "text", "text": text})
                continue
            system_items.extend(i for i in map(_content_item, message.parts) if i is not None)
        else:
            _render_message(message, messages)
    out["messages"] = messages

    if req.tools:
        rendered_tools = []
        for tool in req.tools:
            function: dict[str, Any] = {"name": tool.name, "description": tool.description}
            # An input_schema that is there, even null, is copied (the legacy tests Exists()).
            if tool.parameters is not None or (isinstance(tool.raw, dict) and "input_schema" in tool.raw):
                function["parameters"] = tool.parameters
            rendered_tools.append({"type": "function", "function": function})
        out["tools"] = rendered_tools
    if req.tool_choice is not None:
        out["tool_choice"] = _render_tool_choice(req.tool_choice)
    if req.user is not None:
        out["user"] = req.user
    return out
