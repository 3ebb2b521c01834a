"""Kiro (CodeWhisperer / Amazon Q) bodies in and out, without I/O.

Request: a Claude Messages body becomes the ``conversationState`` payload of CLIProxyAPIPlus's
``buildKiroPayload`` (reference: providers §8.4): the last user turn is ``currentMessage``,
earlier turns (adjacent same-role turns merged) go to ``history``; the system prompt, prefixed
with a ``[Context: Current time is ...]`` line and followed by the thinking hint when thinking is
on, is written into the current message between ``--- SYSTEM PROMPT ---`` markers; tools become
``toolSpecification`` entries (descriptions cut to the service limit) and tool results
``toolResults``; ``max_tokens``/``temperature`` become ``inferenceConfig``.

Response: ``KiroClaudeEvents`` turns decoded event-stream messages into the Claude Messages
stream events (``message_start`` ... ``message_stop``) so any client protocol can be served
through the Claude translators; reasoning the service writes inline between ``<thinking>`` tags
becomes Claude ``thinking`` blocks, as the legacy stream does. ``fold_claude_events`` makes the
non-stream message from the events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from .kiro_eventstream import EventMessage

MAX_TOOL_DESCRIPTION = 10237
TRUNCATED_SUFFIX = "... (description truncated)"

# mapModelToKiro's table; unknown names fall back by family, then to Sonnet 4.5.
MODEL_MAP = {
    "amazonq-auto": "auto", "kiro-auto": "auto", "auto": "auto",
    "amazonq-claude-opus-4-5": "claude-opus-4.5", "kiro-claude-opus-4-5": "claude-opus-4.5",
    "claude-opus-4-5": "claude-opus-4.5", "claude-opus-4.5": "claude-opus-4.5",
    "amazonq-claude-sonnet-4-5": "claude-sonnet-4.5", "amazonq-claude-sonnet-4-5-20250929": "claude-sonnet-4.5",
    "kiro-claude-sonnet-4-5": "claude-sonnet-4.5", "kiro-claude-sonnet-4-5-20250929": "claude-sonnet-4.5",
    "claude-sonnet-4-5": "claude-sonnet-4.5", "claude-sonnet-4-5-20250929": "claude-sonnet-4.5",
    "claude-sonnet-4.5": "claude-sonnet-4.5",
    "amazonq-claude-sonnet-4": "claude-sonnet-4", "amazonq-claude-sonnet-4-20250514": "claude-sonnet-4",
    "kiro-claude-sonnet-4": "claude-sonnet-4", "kiro-claude-sonnet-4-20250514": "claude-sonnet-4",
    "claude-sonnet-4": "claude-sonnet-4", "claude-sonnet-4-20250514": "claude-sonnet-4",
    "amazonq-claude-haiku-4-5": "claude-haiku-4.5", "kiro-claude-haiku-4-5": "claude-haiku-4.5",
    "claude-haiku-4-5": "claude-haiku-4.5", "claude-haiku-4.5": "claude-haiku-4.5",
    "claude-opus-4.5-agentic": "claude-opus-4.5", "kiro-claude-opus-4-5-agentic": "claude-opus-4.5",
    "claude-sonnet-4.5-agentic": "claude-sonnet-4.5", "kiro-claude-sonnet-4-5-agentic": "claude-sonnet-4.5",
    "claude-sonnet-4-agentic": "claude-sonnet-4", "kiro-claude-sonnet-4-agentic": "claude-sonnet-4",
    "claude-haiku-4.5-agentic": "claude-haiku-4.5", "kiro-claude-haiku-4-5-agentic": "claude-haiku-4.5",
}


def kiro_model(model: str) -> str:
    if model in MODEL_MAP:
        return MODEL_MAP[model]
    lowered = model.lower()
    if "haiku" in lowered:
        return "claude-haiku-4.5"
    if "sonnet" in lowered:
        if "3-7" in lowered or "3.7" in lowered:
            return "claude-3-7-sonnet-20250219"
        return "claude-sonnet-4.5" if "4-5" in lowered or "4.5" in lowered else "claude-sonnet-4"
    if "opus" in lowered:
        return "claude-opus-4.5"
    return "claude-sonnet-4.5"


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    out = []
    for block in system if isinstance(system, list) else ():
        if isinstance(block, dict) and block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif isinstance(block, str):
            out.append(block)
    return "".join(out)


def _thinking_budget(body: dict[str, Any]) -> int | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens", 16000)
    if not isinstance(budget, int) or isinstance(budget, bool):
        return 16000
    return budget if budget > 0 else None


def _truncate(description: str) -> str:
    encoded = description.encode()
    if len(encoded) <= MAX_TOOL_DESCRIPTION:
        return description
    cut = encoded[:MAX_TOOL_DESCRIPTION - 30].decode("utf-8", errors="ignore")
    return cut + TRUNCATED_SUFFIX


def _merge_adjacent(messages: list[Any]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        if merged and merged[-1]["role"] == message.get("role"):
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": message.get("role"), "content": list(blocks)})
    return merged


def _user_message(message: dict[str, Any], model_id: str, origin: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    text: list[str] = []
    images: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    for part in message["content"]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text.append(str(part.get("text", "")))
        elif kind == "image":
            source = part.get("source") if isinstance(part.get("source"), dict) else {}
            media, data = str(source.get("media_type", "")), str(source.get("data", ""))
            fmt = media.rsplit("/", 1)[1] if "/" in media else ""
            if fmt and data:
                images.append({"format": fmt, "source": {"bytes": data}})
        elif kind == "tool_result":
            tool_id = str(part.get("tool_use_id", ""))
            if tool_id in seen:
                continue
            seen.add(tool_id)
            raw = part.get("content")
            texts: list[dict[str, str]] = []
            if isinstance(raw, str):
                texts.append({"text": raw})
            for item in raw if isinstance(raw, list) else ():
                if isinstance(item, dict) and item.get("type") == "text":
                    texts.append({"text": str(item.get("text", ""))})
                elif isinstance(item, str):
                    texts.append({"text": item})
            results.append({"content": texts or [{"text": "Tool use was cancelled by the user"}],
                            "status": "error" if part.get("is_error") else "success", "toolUseId": tool_id})
    out: dict[str, Any] = {"content": "".join(text), "modelId": model_id, "origin": origin}
    if images:
        out["images"] = images
    return out, results


def _assistant_message(message: dict[str, Any]) -> dict[str, Any]:
    text: list[str] = []
    uses: list[dict[str, Any]] = []
    for part in message["content"]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text.append(str(part.get("text", "")))
        elif kind == "tool_use":
            tool_input = part.get("input")
            uses.append({"toolUseId": str(part.get("id", "")), "name": str(part.get("name", "")),
                         "input": tool_input if isinstance(tool_input, dict) else None})
    out: dict[str, Any] = {"content": "".join(text)}
    if uses:
        out["toolUses"] = uses
    return out


def kiro_payload(body: dict[str, Any], model: str, *, origin: str, profile_arn: str,
                 now: datetime | None = None, conversation_id: str | None = None) -> dict[str, Any]:
    model_id = kiro_model(model)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    system = _system_text(body.get("system"))
    system = f"[Context: Current time is {stamp}]" + (f"\n\n{system}" if system else "")
    budget = _thinking_budget(body)
    if budget is not None:
        system += ("\n<thinking_mode>interleaved</thinking_mode>"
                   f"<max_thinking_length>{budget}</max_thinking_length>")
    tools = []
    if not model.endswith("-chat"):
        for tool in body.get("tools") or ():
            if isinstance(tool, dict):
                tools.append({"toolSpecification": {
                    "name": str(tool.get("name", "")), "description": _truncate(str(tool.get("description", ""))),
                    "inputSchema": {"json": tool.get("input_schema")}}})

    history: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    current_results: list[dict[str, Any]] = []
    messages = _merge_adjacent(body.get("messages") if isinstance(body.get("messages"), list) else [])
    for index, message in enumerate(messages):
        last = index == len(messages) - 1
        if message["role"] == "user":
            user, results = _user_message(message, model_id, origin)
            if last:
                current, current_results = user, results
                continue
            if not user["content"].strip():
                user["content"] = "Tool results provided." if results else "Continue"
            if results:
                user["userInputMessageContext"] = {"toolResults": results}
            history.append({"userInputMessage": user})
        elif message["role"] == "assistant":
            history.append({"assistantResponseMessage": _assistant_message(message)})
            if last:
                current = {"content": "Continue", "modelId": model_id, "origin": origin}

    if current is None:
        current = {"content": f"--- SYSTEM PROMPT ---\n{system}\n--- END SYSTEM PROMPT ---\n",
                   "modelId": model_id, "origin": origin}
    else:
        content = f"--- SYSTEM PROMPT ---\n{system}\n--- END SYSTEM PROMPT ---\n\n" + current["content"]
        if not content.strip():
            content = "Tool results provided." if current_results else "Continue"
        current["content"] = content
        if tools or current_results:
            context: dict[str, Any] = {}
            if current_results:
                context["toolResults"] = current_results
            if tools:
                context["tools"] = tools
            current["userInputMessageContext"] = context

    payload: dict[str, Any] = {"conversationState": {
        "chatTriggerType": "MANUAL",
        "conversationId": conversation_id or str(uuid.uuid4()),
        "currentMessage": {"userInputMessage": current},
        "history": history,
    }}
    if profile_arn:
        payload["profileArn"] = profile_arn
    inference: dict[str, Any] = {}
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        inference["maxTokens"] = max_tokens
    if isinstance(body.get("temperature"), int | float) and not isinstance(body.get("temperature"), bool):
        inference["temperature"] = body["temperature"]
    if inference:
        payload["inferenceConfig"] = inference
    return payload


# --- response -------------------------------------------------------------------------------


THINKING_START = "<thinking>"
THINKING_END = "</thinking>"


def _partial_tag(text: str, tag: str) -> int:
    """How many trailing characters of ``text`` could be the start of ``tag``."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkingSplitter:
    """Splits streamed text on ``<thinking>``/``</thinking>`` into ``("text" | "thinking", piece)``.

    Kiro writes its reasoning inline between those tags; a tag may be cut across two events, so a
    trailing partial tag is held back until the next piece (or ``finish``) decides it.
    """

    def __init__(self) -> None:
        self.inside = False
        self._held = ""

    def feed(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        rest = self._held + text
        self._held = ""
        while rest:
            tag = THINKING_END if self.inside else THINKING_START
            kind = "thinking" if self.inside else "text"
            at = rest.find(tag)
            if at >= 0:
                if at:
                    out.append((kind, rest[:at]))
                self.inside = not self.inside
                rest = rest[at + len(tag):]
                continue
            held = _partial_tag(rest, tag)
            piece = rest[:len(rest) - held]
            if piece:
                out.append((kind, piece))
            self._held = rest[len(rest) - held:] if held else ""
            break
        return out

    def finish(self) -> list[tuple[str, str]]:
        held, self._held = self._held, ""
        return [("thinking" if self.inside else "text", held)] if held else []


class KiroError(Exception):
    """An error the service reported inside a 200 event stream (payload type error/exception)."""

    def __init__(self, message: str, data: str) -> None:
        super().__init__(message)
        self.data = data


ClaudeEvent = tuple[str, dict[str, Any]]

_STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use"}


class KiroClaudeEvents:
    """A state machine from Kiro events to Claude stream events (``(event name, payload)``)."""

    def __init__(self, model: str, *, message_ids: Callable[[], str] | None = None) -> None:
        self.model = model
        self._message_id = (message_ids or (lambda: f"msg_{uuid.uuid4().hex[:24]}"))()
        self._started = False
        self._block: str = ""  # "text" | "tool_use" | ""
        self._index = -1
        self._tool_id = ""
        self._seen_tools: set[str] = set()
        self._used_tool = False
        self._splitter = ThinkingSplitter()
        self.stop_reason = ""
        self.input_tokens = 0
        self.output_tokens = 0

    def _start(self) -> list[ClaudeEvent]:
        if self._started:
            return []
        self._started = True
        return [("message_start", {"type": "message_start", "message": {
            "id": self._message_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0}}})]

    def _close(self) -> list[ClaudeEvent]:
        if not self._block:
            return []
        self._block = ""
        self._tool_id = ""
        return [("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _open(self, block: dict[str, Any]) -> list[ClaudeEvent]:
        out = self._close()
        self._index += 1
        self._block = block["type"]
        out.append(("content_block_start", {"type": "content_block_start", "index": self._index,
                                            "content_block": block}))
        return out

    def feed(self, message: EventMessage) -> list[ClaudeEvent]:
        if not message.payload:
            return []
        try:
            event = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            return []  # the legacy skips payloads it cannot read
        if not isinstance(event, dict):
            return []
        data = message.payload.decode("utf-8", errors="replace")
        if isinstance(event.get("_type"), str):
            raise KiroError(f"kiro API error: {event['_type']} - {event.get('message', '')}", data)
        if event.get("type") in ("error", "exception"):
            text = event.get("message")
            if not isinstance(text, str):
                inner = event.get("error")
                text = inner.get("message", "") if isinstance(inner, dict) else ""
            raise KiroError(f"kiro API error: {text}", data)
        for key in ("stop_reason", "stopReason"):
            if isinstance(event.get(key), str) and event[key]:
                self.stop_reason = event[key]
        out = self._start()
        kind = message.event_type
        if kind == "assistantResponseEvent":
            inner = event.get("assistantResponseEvent")
            body = inner if isinstance(inner, dict) else event
            text = body.get("content")
            if isinstance(text, str) and text:
                out += self._text_pieces(self._splitter.feed(text))
        elif kind == "toolUseEvent":
            out += self._tool_event(event)
        elif kind == "supplementaryWebLinksEvent" or isinstance(event.get("supplementaryWebLinksEvent"), dict):
            usage = event.get("supplementaryWebLinksEvent", event)
            if isinstance(usage.get("inputTokens"), int | float):
                self.input_tokens = int(usage["inputTokens"])
            if isinstance(usage.get("outputTokens"), int | float):
                self.output_tokens = int(usage["outputTokens"])
        return out

    def _text_pieces(self, pieces: list[tuple[str, str]]) -> list[ClaudeEvent]:
        out: list[ClaudeEvent] = []
        for kind, piece in pieces:
            if self._block != kind:
                out += self._open({"type": "thinking", "thinking": ""} if kind == "thinking"
                                  else {"type": "text", "text": ""})
            delta = ({"type": "thinking_delta", "thinking": piece} if kind == "thinking"
                     else {"type": "text_delta", "text": piece})
            out.append(("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}))
        return out

    def _tool_event(self, event: dict[str, Any]) -> list[ClaudeEvent]:
        out: list[ClaudeEvent] = []
        out += self._text_pieces(self._splitter.finish())
        tool_id = str(event.get("toolUseId", ""))
        if tool_id != self._tool_id:
            if tool_id in self._seen_tools:
                return out  # a repeated complete tool use; the legacy de-duplicates by id
            self._seen_tools.add(tool_id)
            self._used_tool = True
            out += self._open({"type": "tool_use", "id": tool_id, "name": str(event.get("name", "")), "input": {}})
            self._tool_id = tool_id
        fragment = event.get("input")
        if isinstance(fragment, dict):
            fragment = orjson.dumps(fragment).decode()
        if isinstance(fragment, str) and fragment:
            out.append(("content_block_delta", {"type": "content_block_delta", "index": self._index,
                                                "delta": {"type": "input_json_delta", "partial_json": fragment}}))
        if event.get("stop"):
            out += self._close()
        return out

    def finish(self) -> list[ClaudeEvent]:
        out = self._start() + self._text_pieces(self._splitter.finish()) + self._close()
        reason = "tool_use" if self._used_tool else (self.stop_reason if self.stop_reason in _STOP_REASONS
                                                      else "end_turn")
        out.append(("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": reason, "stop_sequence": None},
                                      "usage": {"input_tokens": self.input_tokens,
                                                "output_tokens": self.output_tokens}}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out


def fold_claude_events(events: list[ClaudeEvent]) -> dict[str, Any]:
    """The non-stream Claude message the events describe."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, list[str]] = {}
    for name, payload in events:
        if name == "message_start":
            message = dict(payload["message"])
        elif name == "content_block_start":
            blocks[payload["index"]] = dict(payload["content_block"])
        elif name == "content_block_delta":
            delta = payload["delta"]
            if delta["type"] == "text_delta":
                blocks[payload["index"]]["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                blocks[payload["index"]]["thinking"] += delta["thinking"]
            else:
                partial.setdefault(payload["index"], []).append(delta["partial_json"])
        elif name == "message_delta":
            message["stop_reason"] = payload["delta"]["stop_reason"]
            message["usage"] = payload["usage"]
    for index, parts in partial.items():
        try:
            blocks[index]["input"] = orjson.loads("".join(parts))
        except orjson.JSONDecodeError:
            blocks[index]["input"] = {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message
