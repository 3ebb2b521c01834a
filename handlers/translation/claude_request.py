"""Anthropic Messages requests: client body -> ``Request`` and ``Request`` -> Claude upstream body.

* ``parse_request``: client ``/v1/messages`` body -> ``Request``.
* ``render_request``: ``Request`` -> Claude upstream body (OpenAI-chat-client rules, A2.1;
  Gemini-client rules, A2.7, where the two differ: system text, tool ids, tools, key order).
* ``fix_json``: rescues single-quoted JSON arguments (also used by the stream renderer).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import string
import uuid
from collections import deque
from typing import Any

import orjson

from handlers.translation.gjson_values import array_of, int_of, text_of
from handlers.translation.model import (
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
    split_data_url,
)
from handlers.translation.openai_chat_request import go_number, parse_stop
from handlers.translation.sse import json_text
from handlers.translation.thinking import level_to_budget

DEFAULT_MAX_TOKENS = 32000
_TOOL_ID_ALPHABET = string.ascii_letters + string.digits
_KNOWN_FIELDS = frozenset(
    {
        "model",
        "system",
        "messages",
        "tools",
        "tool_choice",
        "thinking",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "user",
    }
)


@functools.cache
def fake_user_id() -> str:
    """Process-wide ``metadata.user_id`` the legacy server sends upstream (A2.1 skeleton)."""
    account, session = str(uuid.uuid4()), str(uuid.uuid4())
    user = hashlib.sha256((account + session).encode()).hexdigest()
    return f"user_{user}_account_{account}_session_{session}"


def new_tool_use_id() -> str:
    return "toolu_" + "".join(secrets.choice(_TOOL_ID_ALPHABET) for _ in range(24))


def thinking_text(block: dict[str, Any]) -> str:
    """Text of a thinking block, wherever the client put it (``text``, ``thinking``, nested)."""
    if isinstance(block.get("text"), str):
        return block["text"]
    value = block.get("thinking")
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "thinking"):
            if isinstance(value.get(key), str):
                return value[key]
    return ""


# --- client request -> internal --------------------------------------------------------------


def _block(block: dict[str, Any]) -> Part | None:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return TextPart(text if isinstance(text, str) else "")
    if kind == "image":
        source = block.get("source") if isinstance(block.get("source"), dict) else {}
        if source.get("type") == "base64":
            return ImagePart(media_type=str(source.get("media_type") or ""), data=str(source.get("data") or ""))
        if source.get("type") == "url":
            return ImagePart(url=str(source.get("url") or ""))
        return ImagePart(url=str(block.get("url") or ""))
    if kind == "thinking":
        return ThinkingPart(thinking_text(block), signature=str(block.get("signature") or ""))
    if kind == "redacted_thinking":
        return ThinkingPart("", redacted=True)
    if kind == "tool_use":
        # No "input" stays None: OpenAI renders "{}", Gemini drops the call (A2.15 / A2.5).
        arguments = json_text(block["input"]) if "input" in block else None
        return ToolCallPart(str(block.get("id") or ""), str(block.get("name") or ""), arguments)
    if kind == "tool_result":
        content = block.get("content")
        return ToolResultPart(str(block.get("tool_use_id") or ""), content,
                              content_null=content is None and "content" in block)
    return None


def _blocks(content: list[Any]) -> list[Part]:
    return [p for p in (_block(b) for b in content if isinstance(b, dict)) if p is not None]


def _thinking(config: Any) -> ThinkingConfig | None:
    if not isinstance(config, dict):
        return None
    kind = config.get("type")
    if kind == "enabled":
        budget = config.get("budget_tokens")
        if isinstance(budget, int | float) and not isinstance(budget, bool):
            return ThinkingConfig(ThinkingMode.BUDGET, budget=int(budget))
        return ThinkingConfig(ThinkingMode.AUTO, budget=-1,
                              coerced=int_of(budget) if "budget_tokens" in config else None)
    if kind == "disabled":
        return ThinkingConfig(ThinkingMode.NONE)
    return None


_CHOICE_MODES = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}


def parse_request(body: dict[str, Any]) -> Request:
    req = Request(source=Format.CLAUDE, model=str(body.get("model") or ""))
    system = body.get("system")
    if isinstance(system, str):
        req.messages.append(Message(Role.SYSTEM, [TextPart(system)], plain=True))
    elif isinstance(system, list):
        req.messages.append(Message(Role.SYSTEM, _blocks(system)))
    for raw in array_of(body.get("messages")):
        if not isinstance(raw, dict):
            continue
        written = raw.get("role")
        role = Role.ASSISTANT if written == "assistant" else Role.USER
        wire_role = None if written in ("user", "assistant") else text_of(written)
        content = raw.get("content")
        if isinstance(content, str):
            req.messages.append(Message(role, [TextPart(content)], plain=True, wire_role=wire_role))
        elif isinstance(content, list):
            req.messages.append(Message(role, _blocks(content), wire_role=wire_role))
    for tool in array_of(body.get("tools")):
        if isinstance(tool, dict):
            req.tools.append(
                Tool(
                    name=str(tool.get("name") or ""),
                    description=str(tool.get("description") or ""),
                    parameters=tool.get("input_schema"),
                    raw=tool,
                )
            )
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = str(choice.get("type") or "")
        req.tool_choice = ToolChoice(_CHOICE_MODES.get(kind, kind), str(choice.get("name") or ""), raw=choice)
    elif "tool_choice" in body:
        # A string or null has no "type": the legacy's OpenAI translator falls back to "auto".
        req.tool_choice = ToolChoice("")
    req.thinking = _thinking(body.get("thinking"))
    if isinstance(body.get("max_tokens"), int | float) and not isinstance(body.get("max_tokens"), bool):
        req.max_tokens = int_of(body["max_tokens"])
    for key in ("temperature", "top_p", "top_k"):
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            setattr(req, key, go_number(value))
    stops = body.get("stop_sequences")
    if isinstance(stops, list):
        req.stop = parse_stop(stops)
    # The Claude handler streams whenever "stream" is present and not JSON false (surface §6).
    req.stream = "stream" in body and body["stream"] is not False
    if "user" in body:
        req.user = text_of(body["user"])  # gjson String(): a number as its text, null as ""
    req.extra = {k: v for k, v in body.items() if k not in _KNOWN_FIELDS}
    return req


# --- internal -> upstream request ------------------------------------------------------------


def thinking_field(config: ThinkingConfig | None) -> dict[str, Any] | None:
    """Claude ``thinking`` object for an intent (A2.1: levels via the A2.9 budget table)."""
    if config is None:
        return None
    if config.mode is ThinkingMode.NONE:
        budget: int | None = 0
    elif config.mode is ThinkingMode.AUTO:
        budget = -1
    elif config.mode is ThinkingMode.BUDGET:
        budget = config.budget
    else:
        effort = config.level.strip().lower()
        budget = level_to_budget(effort) if effort else None
    if budget is None:
        return None
    if budget == 0:
        return {"type": "disabled"}
    if budget == -1:
        return {"type": "enabled"}
    return {"type": "enabled", "budget_tokens": budget}


def tool_input(arguments: str | None) -> dict[str, Any]:
    """Tool-call arguments as a Claude ``input`` object: anything but a JSON object becomes ``{}``."""
    if not arguments:
        return {}
    try:
        value = orjson.loads(fix_json(arguments))
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            # A2.1: an empty string content gives no block; empty text inside an array still does.
            if part.text or not message.plain:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            # A2.1: only data URLs survive; remote image URLs are dropped.
            if part.url:
                found = split_data_url(part.url)
            else:
                found = (part.media_type, part.data) if part.data else None
            if found is not None:
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": found[0], "data": found[1]}})
        elif isinstance(part, ToolCallPart) and message.role is Role.ASSISTANT:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part.id or new_tool_use_id(),
                    "name": part.name,
                    "input": tool_input(part.arguments),
                }
            )
        elif isinstance(part, ToolResultPart):
            blocks.append(
                {"type": "tool_result", "tool_use_id": part.tool_call_id, "content": _result_text(part.content)}
            )
    return blocks


def _result_text(content: Any) -> str:
    # gjson String(): strings as they are, null/absent as "", anything else as its JSON text.
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return json_text(content)


def _render_gemini_messages(req: Request) -> list[dict[str, Any]]:
    """Gemini-client rules (A2.7): system text joined with newlines into a leading user message,
    generated tool ids handed to function responses first-in first-out, empty messages dropped."""
    messages: list[dict[str, Any]] = []
    system_text = ""
    for message in req.messages:
        for part in message.parts if message.role is Role.SYSTEM else ():
            if isinstance(part, TextPart):
                system_text += ("\n" if system_text else "") + part.text
    if system_text:
        messages.append({"role": "user", "content": [{"type": "text", "text": system_text}]})
    pending: deque[str] = deque()
    for message in req.messages:
        if message.role is Role.SYSTEM:
            continue
        blocks: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                blocks.append({"type": "text", "text": part.text})
            elif isinstance(part, ToolCallPart):
                call_id = new_tool_use_id()
                pending.append(call_id)
                blocks.append(
                    {"type": "tool_use", "id": call_id, "name": part.name, "input": tool_input(part.arguments)}
                )
            elif isinstance(part, ToolResultPart):
                call_id = pending.popleft() if pending else new_tool_use_id()
                blocks.append({"type": "tool_result", "tool_use_id": call_id, "content": _result_text(part.content)})
            elif isinstance(part, ImagePart):
                blocks.append(
                    {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}
                )
        if blocks:
            messages.append({"role": "assistant" if message.role is Role.ASSISTANT else "user", "content": blocks})
    return messages


def _lower_types(value: Any) -> Any:
    """Gemini-client rule (A2.7): every ``type`` in a tool is lower-cased and, because the legacy
    re-marshals tools through Go maps, object keys come out sorted."""
    if isinstance(value, list):
        return [_lower_types(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)) for k, v in sorted(value.items())}


def _gemini_tool(tool: Tool) -> dict[str, Any]:
    schema: Any = {}
    if isinstance(tool.parameters, dict):
        schema = {
            **tool.parameters,
            "additionalProperties": False,
            "$schema": "http://json-schema.org/draft-07/schema#",
        }
    return _lower_types({"name": tool.name, "description": tool.description, "input_schema": schema})


def _render_messages(req: Request) -> list[dict[str, Any]]:
    if req.source is Format.GEMINI:
        return _render_gemini_messages(req)
    messages: list[dict[str, Any]] = []
    system: dict[str, Any] | None = None
    for message in req.messages:
        if message.role is Role.SYSTEM:
            # OpenAI-client rule (A2.1): every system message joins ONE user message placed where
            # the first system message was; Claude's top-level "system" is not used.
            if system is None:
                system = {"role": "user", "content": []}
                messages.append(system)
            system["content"].extend(
                {"type": "text", "text": p.text}
                for p in message.parts
                if isinstance(p, TextPart) and (p.text or not message.plain)
            )
        elif message.role is Role.DEVELOPER:
            continue  # the OpenAI->Claude translator has no case for "developer": it is dropped
        elif message.role is Role.TOOL:
            messages.extend({"role": "user", "content": [block]} for block in _content_blocks(message))
        else:
            messages.append({"role": message.role.value, "content": _content_blocks(message)})
    return messages


def _render_tool_choice(choice: ToolChoice) -> dict[str, Any] | None:
    if choice.mode == "auto":
        return {"type": "auto"}
    if choice.mode == "required":
        return {"type": "any"}
    if choice.mode == "tool":
        return {"type": "tool", "name": choice.name}
    return None  # "none" and unknown values: field omitted


def render_request(req: Request, model: str, *, stream: bool, user_id: str | None = None) -> dict[str, Any]:
    """``Request`` -> Claude body: OpenAI-chat-client rules (A2.1), Gemini-client rules (A2.7)."""
    from_gemini = req.source is Format.GEMINI
    out: dict[str, Any] = {
        "model": model,
        "max_tokens": req.max_tokens if req.max_tokens is not None else DEFAULT_MAX_TOKENS,
        "messages": [],
        "metadata": {"user_id": user_id or fake_user_id()},
    }
    thinking = thinking_field(req.thinking)
    if thinking is not None and not from_gemini:
        out["thinking"] = thinking
    if req.temperature is not None:
        out["temperature"] = req.temperature
    if req.top_p is not None:
        out["top_p"] = req.top_p
    if req.stop:
        out["stop_sequences"] = list(req.stop)
    if from_gemini:
        # The Gemini translator writes thinking after the sampling fields and "stream" last.
        if thinking is not None:
            out["thinking"] = thinking
    else:
        out["stream"] = stream
    out["messages"] = _render_messages(req)
    if from_gemini:
        tools = [_gemini_tool(t) for t in req.tools]
    else:
        tools = []
        for tool in req.tools:
            if tool.kind != "function":
                continue
            rendered: dict[str, Any] = {"name": tool.name, "description": tool.description}
            if tool.parameters is not None:
                rendered["input_schema"] = tool.parameters
            tools.append(rendered)
    if tools:
        out["tools"] = tools
    if req.tool_choice is not None:
        if from_gemini and req.tool_choice.mode == "none":
            out["tool_choice"] = {"type": "none"}  # Gemini NONE is kept; OpenAI "none" is dropped
        else:
            choice = _render_tool_choice(req.tool_choice)
            if choice is not None:
                out["tool_choice"] = choice
    if from_gemini:
        out["stream"] = stream
    return out


def fix_json(text: str) -> str:
    """Turn single-quoted JSON strings into double-quoted ones (the legacy ``util.FixJSON``).

    Valid JSON passes through unchanged; this only rescues arguments some OpenAI-compatible
    upstreams emit with Python-style quotes.
    """
    out: list[str] = []
    in_double = in_single = escaped = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if in_double:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_double = False
        elif in_single:
            if escaped:
                escaped = False
                if ch in 'nrtbf/"':
                    out.append("\\" + ch)
                elif ch == "\\":
                    out.append("\\\\")
                elif ch == "'":
                    out.append("'")
                elif ch == "u":
                    out.append("\\u")
                    taken = 0
                    while taken < 4 and i + 1 < n and text[i + 1] in string.hexdigits:
                        out.append(text[i + 1])
                        i += 1
                        taken += 1
                else:
                    out.append("\\" + ch)
            elif ch == "\\":
                escaped = True
            elif ch == "'":
                out.append('"')
                in_single = False
            elif ch == '"':
                out.append('\\"')
            else:
                out.append(ch)
        elif ch == '"':
            in_double = True
            out.append(ch)
        elif ch == "'":
            in_single = True
            out.append('"')
        else:
            out.append(ch)
        i += 1
    if in_single:
        out.append('"')
    return "".join(out)
