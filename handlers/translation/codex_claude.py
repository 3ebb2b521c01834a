"""Claude client -> Codex upstream (legacy ``codex/claude``): request, stream, non-stream, count.

This pair reads the Claude body directly instead of going through ``claude.parse_request``: its
rules are specific enough (image sources with ``base64``/``mime_type`` fallbacks, tool results sent
as the raw JSON text of their content, the client's tool objects edited in place, only ``text``
entries of an array ``system``) that the generic model would lose them.

* ``render_request(body, model, rule=…, user_agent=…)`` -> Codex body (always ``stream: true``).
* ``restore_names(body)`` -> short tool name -> original, for the answers.
* ``ClaudeFromCodex`` -> Codex stream payloads to Claude ``(event, payload)`` frames. Block
  indexes advance on each closed reasoning part, text part and function call; the stop reason is
  ``tool_use`` once a function call was seen, else ``end_turn`` (A2.16).
* ``render_response(completed, body)`` -> the Claude message object from ``response.completed``.
* ``render_count_tokens(count)`` -> ``{"input_tokens": N}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import codex_instructions
from handlers.translation.codex import short_name_map, shorten_name
from handlers.translation.codex_instructions import OVERRIDE_MARKER, CodexInstructions
from handlers.translation.codex_responses import USER_AGENT_KEY, first_text
from handlers.translation.gjson_values import array_of, int_of, text_of
from handlers.translation.sse import json_text
from handlers.translation.thinking import budget_to_level

ClaudeFrame = tuple[str, dict[str, Any]]

WEB_SEARCH_TOOL = "web_search_20250305"


# --- request ---------------------------------------------------------------------------------


def _tool_names(body: dict[str, Any]) -> list[str]:
    tools = body.get("tools")
    names = [text_of(t.get("name")) for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
    return [n for n in names if n]


def restore_names(body: dict[str, Any]) -> dict[str, str]:
    """Short name -> original name over the client's declared tools."""
    return {short: original for original, short in short_name_map(_tool_names(body)).items()}


def _parameters(schema: Any) -> dict[str, Any]:
    """The tool's ``input_schema`` as Codex ``parameters``: an object schema always has properties."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    out = {k: v for k, v in schema.items() if k != "$schema"}
    kind = out.get("type")
    if kind is None or text_of(kind) == "":
        out["type"] = kind = "object"
    if kind == "object" and "properties" not in out:
        out["properties"] = {}
    return out


def _tool(raw: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    if raw.get("type") == WEB_SEARCH_TOOL:
        return {"type": "web_search"}
    tool = dict(raw)
    tool["type"] = "function"
    if "name" in tool:
        name = text_of(tool["name"])
        tool["name"] = names.get(name) or shorten_name(name)
    tool["parameters"] = _parameters(raw.get("input_schema"))
    tool.pop("input_schema", None)
    tool["strict"] = False
    return tool


def _image_url(block: dict[str, Any]) -> str | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    data = text_of(source.get("data")) or text_of(source.get("base64"))
    if not data:
        return None
    media = text_of(source.get("media_type")) or text_of(source.get("mime_type")) or "application/octet-stream"
    return f"data:{media};base64,{data}"


def _messages(body: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for raw in array_of(body.get("messages")):
        if not isinstance(raw, dict):
            continue
        role = text_of(raw.get("role"))
        text_type = "output_text" if role == "assistant" else "input_text"
        content: list[dict[str, Any]] = []

        def flush(content: list[dict[str, Any]] = content, role: str = role) -> None:
            # Text and images gather into one message; a call or result in between splits it.
            if content:
                items.append({"type": "message", "role": role, "content": list(content)})
                content.clear()

        blocks = raw.get("content")
        if isinstance(blocks, str):
            items.append({"type": "message", "role": role, "content": [{"type": text_type, "text": blocks}]})
            continue
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                content.append({"type": text_type, "text": text_of(block.get("text"))})
            elif kind == "image":
                url = _image_url(block)
                if url is not None:
                    content.append({"type": "input_image", "image_url": url})
            elif kind == "tool_use":
                flush()
                name = text_of(block.get("name"))
                call = {"type": "function_call", "call_id": text_of(block.get("id"))}
                call["name"] = names.get(name) or shorten_name(name)
                call["arguments"] = json_text(block["input"]) if "input" in block else ""
                items.append(call)
            elif kind == "tool_result":
                flush()
                output = {"type": "function_call_output", "call_id": text_of(block.get("tool_use_id"))}
                output["output"] = text_of(block.get("content"))
                items.append(output)
        flush()
    return items


def _effort(body: dict[str, Any]) -> str:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict):
        return "medium"
    kind = thinking.get("type")
    if kind == "enabled" and "budget_tokens" in thinking:
        budget = thinking["budget_tokens"]
        return budget_to_level(int_of(budget)) or "medium"  # codex_claude_request.go:226, Int()
    if kind == "disabled":
        return budget_to_level(0) or "medium"
    return "medium"


def render_request(
    body: dict[str, Any], model: str, *, rule: CodexInstructions | None = None, user_agent: str = ""
) -> dict[str, Any]:
    rule = rule if rule is not None else codex_instructions.current()
    _, instructions = rule.for_model(model, "", user_agent)
    body = {k: v for k, v in body.items() if k != USER_AGENT_KEY}
    names = short_name_map(_tool_names(body))
    out: dict[str, Any] = {"model": model, "instructions": instructions, "input": []}

    system = body.get("system")
    if isinstance(system, list):
        parts = [
            {"type": "input_text", "text": text_of(s.get("text"))}
            for s in system
            if isinstance(s, dict) and s.get("type") == "text"
        ]
        out["input"].append({"type": "message", "role": "developer", "content": parts})
    elif isinstance(system, str) and system:
        # The legacy reads only an array and drops the string form the anthropic SDK sends for
        # ``system="..."`` (compatibility row 19s): here it is the same developer message.
        out["input"].append({"type": "message", "role": "developer",
                             "content": [{"type": "input_text", "text": system}]})
    out["input"].extend(_messages(body, names))

    tools = body.get("tools")
    if isinstance(tools, list):
        out["tools"] = [_tool(t, names) for t in tools if isinstance(t, dict)]
        out["tool_choice"] = "auto"
    out["parallel_tool_calls"] = True
    out["reasoning"] = {"effort": _effort(body), "summary": "auto"}
    out["stream"] = True
    out["store"] = False
    out["include"] = ["reasoning.encrypted_content"]

    if rule.enabled and out["input"]:
        text = first_text(out["input"][0])
        if text is not None and text != OVERRIDE_MARKER:
            marker = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": OVERRIDE_MARKER}]}
            out["input"].insert(0, marker)
    return out


# --- answers ---------------------------------------------------------------------------------


def _usage(raw: Any) -> dict[str, int]:
    """Claude usage from Responses usage: cached tokens leave ``input_tokens`` (floored at 0)."""
    if not isinstance(raw, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    details = raw.get("input_tokens_details") if isinstance(raw.get("input_tokens_details"), dict) else {}
    input_tokens = int_of(raw.get("input_tokens"))
    cached = int_of(details.get("cached_tokens"))
    if cached > 0:
        input_tokens = max(input_tokens - cached, 0)
    out = {"input_tokens": input_tokens, "output_tokens": int_of(raw.get("output_tokens"))}
    if cached > 0:
        out["cache_read_input_tokens"] = cached
    return out


class ClaudeFromCodex:
    """Codex stream payloads -> Claude Messages frames, one state machine per request."""

    __slots__ = ("_block", "_has_tool_call", "_restore")

    def __init__(self, restore: dict[str, str] | None = None) -> None:
        self._restore = restore or {}
        self._block = 0
        self._has_tool_call = False

    def _start(self, block: dict[str, Any]) -> ClaudeFrame:
        return "content_block_start", {"type": "content_block_start", "index": self._block, "content_block": block}

    def _delta(self, delta: dict[str, Any]) -> ClaudeFrame:
        return "content_block_delta", {"type": "content_block_delta", "index": self._block, "delta": delta}

    def _stop(self) -> ClaudeFrame:
        frame = ("content_block_stop", {"type": "content_block_stop", "index": self._block})
        self._block += 1
        return frame

    def feed(self, payload: Any) -> list[ClaudeFrame]:
        if not isinstance(payload, dict):
            return []
        kind = payload.get("type")
        response = payload.get("response") if isinstance(payload.get("response"), dict) else {}
        item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
        if kind == "response.created":
            message = {
                "id": text_of(response.get("id")),
                "type": "message",
                "role": "assistant",
                "model": text_of(response.get("model")),
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
                "content": [],
                "stop_reason": None,
            }
            return [("message_start", {"type": "message_start", "message": message})]
        if kind == "response.reasoning_summary_part.added":
            return [self._start({"type": "thinking", "thinking": ""})]
        if kind == "response.reasoning_summary_text.delta":
            return [self._delta({"type": "thinking_delta", "thinking": text_of(payload.get("delta"))})]
        if kind in ("response.reasoning_summary_part.done", "response.content_part.done"):
            return [self._stop()]
        if kind == "response.content_part.added":
            return [self._start({"type": "text", "text": ""})]
        if kind == "response.output_text.delta":
            return [self._delta({"type": "text_delta", "text": text_of(payload.get("delta"))})]
        if kind == "response.output_item.added" and item.get("type") == "function_call":
            self._has_tool_call = True
            name = text_of(item.get("name"))
            block = {
                "type": "tool_use",
                "id": text_of(item.get("call_id")),
                "name": self._restore.get(name, name),
                "input": {},
            }
            return [self._start(block), self._delta({"type": "input_json_delta", "partial_json": ""})]
        if kind == "response.function_call_arguments.delta":
            return [self._delta({"type": "input_json_delta", "partial_json": text_of(payload.get("delta"))})]
        if kind == "response.output_item.done" and item.get("type") == "function_call":
            return [self._stop()]
        if kind == "response.completed":
            delta = {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if self._has_tool_call else "end_turn", "stop_sequence": None},
                "usage": _usage(response.get("usage")),
            }
            return [("message_delta", delta), ("message_stop", {"type": "message_stop"})]
        return []


def _joined_texts(node: Any) -> str:
    """Summary/content parts concatenated: each part's ``text``, or the part itself as text."""
    if isinstance(node, list):
        return "".join(text_of(p["text"]) if isinstance(p, dict) and "text" in p else text_of(p) for p in node)
    return text_of(node)


def _tool_input(arguments: Any) -> Any:
    text = text_of(arguments)
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def render_response(completed: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any] | None:
    """``response.completed`` -> Claude message; None when the event is not a completed one."""
    if completed is None or completed.get("type") != "response.completed":
        return None
    response = completed.get("response")
    if not isinstance(response, dict):
        return None
    restore = restore_names(body)
    content: list[dict[str, Any]] = []
    has_tool_call = False
    output = response.get("output")
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            text = _joined_texts(item["summary"]) if "summary" in item else ""
            if not text and "content" in item:
                text = _joined_texts(item["content"])
            if text:
                content.append({"type": "thinking", "thinking": text})
        elif kind == "message":
            parts = item.get("content")
            if isinstance(parts, list):
                for part in parts:
                    if isinstance(part, dict) and part.get("type") == "output_text" and text_of(part.get("text")):
                        content.append({"type": "text", "text": text_of(part.get("text"))})
            elif "content" in item and text_of(parts):
                content.append({"type": "text", "text": text_of(parts)})
        elif kind == "function_call":
            has_tool_call = True
            name = text_of(item.get("name"))
            content.append(
                {
                    "type": "tool_use",
                    "id": text_of(item.get("call_id")),
                    "name": restore.get(name, name),
                    "input": _tool_input(item.get("arguments")),
                }
            )
    stop_reason = text_of(response.get("stop_reason"))
    out: dict[str, Any] = {
        "id": text_of(response.get("id")),
        "type": "message",
        "role": "assistant",
        "model": text_of(response.get("model")),
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if has_tool_call else "end_turn"),
        "stop_sequence": None,
        "usage": _usage(response.get("usage")),
    }
    stop_sequence = response.get("stop_sequence")
    if stop_sequence is not None and text_of(stop_sequence):
        out["stop_sequence"] = stop_sequence
    return out


def render_count_tokens(count: int) -> dict[str, Any]:
    return {"input_tokens": count}
