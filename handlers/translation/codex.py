"""Codex upstream (the OpenAI Responses API as the ChatGPT Codex backend speaks it).

* ``render_request``: ``Request`` -> Codex body, with the OpenAI-chat-client rules (A2.10,
  goldens 18-19): developer role for system, ``function_call`` / ``function_call_output`` items,
  flattened function tools with names shortened to 64 characters, fixed reasoning/include/store.
* ``CodexStreamParser`` / ``parse_stream_body`` / ``parse_completed``: upstream Responses SSE ->
  internal events / the folded ``Response`` (Codex is always streamed upstream; non-stream answers
  come from the ``response.completed`` event, A2.11).
* ``OpenAIChatFromCodex`` / ``render_openai_response``: Codex -> OpenAI chat client (A2.11,
  golden 28). Tool names are mapped back with ``restore_names``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from handlers.translation import finish_reasons
from handlers.translation import usage as usage_rules
from handlers.translation.gjson_values import array_of
from handlers.translation.model import (
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
    SignatureDelta,
    StreamError,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingMode,
    ThinkingPart,
    Tool,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    Usage,
    collect_response,
)
from handlers.translation.sse import json_text, loads_upstream
from handlers.translation.thinking import budget_to_level
from quotio_gateway.sse import SSEEvent, SSEParser

NAME_LIMIT = 64


# --- tool-name shortening (A2.10) ------------------------------------------------------------


def _cut(name: str, limit: int) -> str:
    # The legacy limit counts bytes; a cut inside a multi-byte character drops that character.
    return name.encode()[:limit].decode(errors="ignore")


def shorten_name(name: str) -> str:
    """Names over 64 bytes: ``mcp__<server>__<tail>`` -> ``mcp__<tail>``, anything else truncated."""
    if len(name.encode()) <= NAME_LIMIT:
        return name
    if name.startswith("mcp__"):
        cut = name.rfind("__")
        if cut > 0:
            return _cut("mcp__" + name[cut + 2 :], NAME_LIMIT)
    return _cut(name, NAME_LIMIT)


def short_name_map(names: list[str]) -> dict[str, str]:
    """Original -> unique short name; a collision gets ``_1``, ``_2``… within the 64-byte limit."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for name in names:
        candidate = shorten_name(name)
        unique, n = candidate, 0
        while unique in used:
            n += 1
            suffix = f"_{n}"
            unique = _cut(candidate, max(NAME_LIMIT - len(suffix), 0)) + suffix
        used.add(unique)
        out[name] = unique
    return out


def _function(tool: Tool) -> dict[str, Any]:
    """The tool's function object as the client sent it (chat shape), else built from the model."""
    raw = tool.raw.get("function") if tool.raw else None
    if isinstance(raw, dict):
        return raw
    built: dict[str, Any] = {"name": tool.name, "description": tool.description}
    if tool.parameters is not None:
        built["parameters"] = tool.parameters
    return built


def _function_names(req: Request) -> list[str]:
    return [str(f["name"] or "") for f in (_function(t) for t in req.tools if t.kind == "function") if "name" in f]


def restore_names(req: Request) -> dict[str, str]:
    """Short name -> the client's original, for answers (A2.10 last row)."""
    return {short: original for original, short in short_name_map(_function_names(req)).items()}


# --- internal -> Codex request (A2.10) ---------------------------------------------------------


def _effort(req: Request) -> Any:
    thinking = req.thinking
    if thinking is None:
        return "medium"
    if thinking.mode is ThinkingMode.LEVEL:
        return thinking.level  # passed on verbatim, as the legacy copies the raw value
    if thinking.mode is ThinkingMode.NONE:
        return "none"
    if thinking.mode is ThinkingMode.AUTO:
        return "auto"
    return budget_to_level(thinking.budget) or "medium"


def _content(message: Message, role: str) -> list[dict[str, Any]]:
    text_type = "output_text" if role == "assistant" else "input_text"
    if message.plain:
        texts = [p.text for p in message.parts if isinstance(p, TextPart)]
        return [{"type": text_type, "text": texts[0]}] if texts and texts[0] else []
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": text_type, "text": part.text})
        elif isinstance(part, ImagePart) and role == "user":
            item: dict[str, Any] = {"type": "input_image"}
            if part.url:
                item["image_url"] = part.url
            content.append(item)
    return content


def _text_options(req: Request) -> dict[str, Any] | None:
    """``response_format`` -> ``text.format``; ``text.verbosity`` passed on (A2.10)."""
    text = req.extra.get("text")
    verbosity = {"verbosity": text["verbosity"]} if isinstance(text, dict) and "verbosity" in text else {}
    if "response_format" not in req.extra:
        return verbosity or None
    format_ = req.extra["response_format"]
    out: dict[str, Any] = {}
    kind = format_.get("type") if isinstance(format_, dict) else None
    if kind == "text":
        out["format"] = {"type": "text"}
    elif kind == "json_schema" and isinstance(format_.get("json_schema"), dict):
        schema = format_["json_schema"]
        out["format"] = {"type": "json_schema", **{k: schema[k] for k in ("name", "strict", "schema") if k in schema}}
    return {**out, **verbosity}


def render_request(req: Request, model: str, *, stream: bool, instructions: str = "") -> dict[str, Any]:
    """``instructions`` is the built-in Codex prompt when ``codex-instructions-enabled`` is on."""
    names = short_name_map(_function_names(req))

    def short(name: str) -> str:
        return names.get(name) or shorten_name(name)

    out: dict[str, Any] = {
        "instructions": instructions,
        "stream": stream,
        "reasoning": {"effort": _effort(req), "summary": "auto"},
        "parallel_tool_calls": True,
        "include": ["reasoning.encrypted_content"],
        "model": model,
    }
    items: list[dict[str, Any]] = []
    for message in req.messages:
        if message.role is Role.TOOL:
            for part in message.parts:
                if isinstance(part, ToolResultPart):
                    # gjson's String(): the raw JSON text of a value, "" for null or a missing one.
                    content = part.content
                    output = content if isinstance(content, str) else "" if content is None else json_text(content)
                    items.append({"type": "function_call_output", "call_id": part.tool_call_id, "output": output or ""})
            continue
        role = "developer" if message.role is Role.SYSTEM else message.role.value
        items.append({"type": "message", "role": role, "content": _content(message, role)})
        if message.role is Role.ASSISTANT:
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    call = {"type": "function_call", "call_id": part.id, "name": short(part.name)}
                    items.append({**call, "arguments": part.arguments or ""})
    out["input"] = items
    text = _text_options(req)
    if text is not None:
        out["text"] = text
    if req.tools:
        tools: list[dict[str, Any]] = []
        for tool in req.tools:
            raw = tool.raw or {}
            if tool.kind and tool.kind != "function":
                tools.append(raw)  # built-in tools (web_search, ...) pass through (A4.2 #20)
                continue
            if tool.kind != "function":
                continue
            function = _function(tool)
            item: dict[str, Any] = {"type": "function"}
            if "name" in function:
                item["name"] = short(str(function["name"] or ""))
            for key in ("description", "parameters", "strict"):
                if key in function:
                    item[key] = function[key]
            tools.append(item)
        out["tools"] = tools
    choice = req.tool_choice
    if choice is not None:
        if isinstance(choice.raw, dict) and choice.mode == "tool":
            out["tool_choice"] = {"type": "function", **({"name": short(choice.name)} if choice.name else {})}
        elif isinstance(choice.raw, dict):
            if choice.mode:
                out["tool_choice"] = choice.raw
        else:
            out["tool_choice"] = choice.mode
    out["store"] = False
    return out


# --- upstream Responses SSE -> internal ------------------------------------------------------


def usage_from(raw: Any) -> Usage | None:
    return usage_rules.from_codex(raw)


class CodexStreamParser:
    """Responses SSE payloads -> internal events (the event names of A3.2, as Codex sends them).

    Function calls are keyed by ``output_index``; the ``output_item.done`` item is authoritative
    for the arguments (A2.11 reads them there), so any text the deltas did not carry is sent then.
    """

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def feed_sse(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            payload = loads_upstream(event.data)
        except orjson.JSONDecodeError:
            return []
        return self.feed(payload) if isinstance(payload, dict) else []

    def feed(self, payload: dict[str, Any]) -> list[StreamEvent]:
        kind = payload.get("type")
        index = payload.get("output_index") if isinstance(payload.get("output_index"), int) else 0
        item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
        response = payload.get("response") if isinstance(payload.get("response"), dict) else {}
        if kind == "response.created":
            created = response.get("created_at")
            return [
                MessageStart(
                    str(response.get("id") or ""),
                    str(response.get("model") or ""),
                    created if isinstance(created, int) else 0,
                )
            ]
        if kind == "response.output_text.delta":
            return [TextDelta(str(payload.get("delta") or ""))]
        if kind == "response.reasoning_summary_text.delta":
            return [ThinkingDelta(str(payload.get("delta") or ""))]
        if kind == "response.reasoning_summary_text.done":
            return [ThinkingEnd()]
        if kind == "response.output_item.added" and item.get("type") == "function_call":
            self._calls[index] = []
            return [ToolCallStart(index, str(item.get("call_id") or ""), str(item.get("name") or ""))]
        if kind == "response.function_call_arguments.delta" and index in self._calls:
            delta = str(payload.get("delta") or "")
            self._calls[index].append(delta)
            return [ToolCallDelta(index, delta)]
        if kind == "response.output_item.done":
            return self._item_done(index, item)
        if kind == "response.completed":
            return [
                Finish(FinishReason(str(response.get("status") or ""), Format.CODEX), usage_from(response.get("usage")))
            ]
        if kind in ("response.failed", "error"):
            error = response.get("error") if isinstance(response.get("error"), dict) else payload
            return [StreamError(str(error.get("message") or ""), str(error.get("code") or error.get("type") or ""))]
        return []

    def _item_done(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        if item.get("type") == "reasoning":
            signature = item.get("encrypted_content")
            return [SignatureDelta(signature)] if isinstance(signature, str) and signature else []
        if item.get("type") != "function_call":
            return []
        events: list[StreamEvent] = []
        if index not in self._calls:
            events.append(ToolCallStart(index, str(item.get("call_id") or ""), str(item.get("name") or "")))
        seen = "".join(self._calls.pop(index, []))
        final = item.get("arguments")
        if isinstance(final, str) and final != seen:
            events.append(ToolCallDelta(index, final[len(seen) :] if final.startswith(seen) else final))
        events.append(ToolCallEnd(index))
        return events


def parse_completed(response: dict[str, Any]) -> Response:
    """The ``response`` object of ``response.completed`` -> ``Response`` (A2.11 non-stream)."""
    created = response.get("created_at")
    out = Response(
        id=str(response.get("id") or ""),
        model=str(response.get("model") or ""),
        created=created if isinstance(created, int) else 0,
        usage=usage_from(response.get("usage")),
    )
    if isinstance(response.get("status"), str):
        out.finish = FinishReason(response["status"], Format.CODEX)
    for item in array_of(response.get("output")):
        if not isinstance(item, dict):
            continue
        part: Part | None = None
        kind = item.get("type")
        if kind == "reasoning":
            texts = [s.get("text") for s in array_of(item.get("summary")) if isinstance(s, dict)]
            signature = item.get("encrypted_content")
            text = next((t for t in texts if isinstance(t, str)), "")
            part = ThinkingPart(text, signature=signature if isinstance(signature, str) else "")
        elif kind == "message":
            texts = [
                c.get("text")
                for c in array_of(item.get("content"))
                if isinstance(c, dict) and c.get("type") == "output_text"
            ]
            part = TextPart(next((t for t in texts if isinstance(t, str)), ""))
        elif kind == "function_call":
            part = ToolCallPart(
                str(item.get("call_id") or ""), str(item.get("name") or ""), str(item.get("arguments") or "")
            )
        if part is not None:
            out.parts.append(part)
    return out


def parse_stream_body(body: bytes) -> Response:
    """A whole upstream SSE body -> ``Response`` from its ``response.completed`` event (A2.11).

    Without that event, the answer is folded from the deltas instead.
    """
    sse = SSEParser()
    return parse_stream_payloads(_json_or_none(e.data) for e in [*sse.feed(body), *sse.finish()])


def parse_stream_payloads(payloads: Iterable[Any]) -> Response:
    """``parse_stream_body`` for a stream whose event data is already decoded."""
    parser = CodexStreamParser()
    events: list[StreamEvent] = []
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        if payload.get("type") == "response.completed" and isinstance(payload.get("response"), dict):
            return parse_completed(payload["response"])
        events.extend(parser.feed(payload))
    return collect_response(events)


def _json_or_none(data: str) -> Any:
    try:
        return loads_upstream(data)
    except orjson.JSONDecodeError:
        return None


# --- Codex upstream -> OpenAI chat client (A2.11) --------------------------------------------


class OpenAIChatFromCodex:
    """Internal events from a Codex stream -> ``chat.completion.chunk`` objects (A2.11, golden 28).

    ``response.created`` only records id/created/model; a function call goes out whole when its
    item is done, indexed by a running counter; the finish is ``tool_calls`` after any call.
    """

    __slots__ = ("_calls", "_created", "_id", "_model", "_pending", "_restore")

    def __init__(self, model: str, restore: dict[str, str] | None = None) -> None:
        self._model = model
        self._restore = restore or {}
        self._id = ""
        self._created = 0
        self._calls = 0
        self._pending: dict[int, tuple[str, str, list[str]]] = {}

    def _chunk(self, **delta: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        choice: dict[str, Any] = {
            "index": 0,
            "delta": {"role": None, "content": None, "reasoning_content": None, "tool_calls": None, **delta},
            "finish_reason": None,
            "native_finish_reason": None,
        }
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
            self._id, self._created = event.id, event.created
            self._model = event.model or self._model
            return []
        if isinstance(event, ThinkingDelta):
            return [self._chunk(role="assistant", reasoning_content=event.text)[0]]
        if isinstance(event, ThinkingEnd):
            return [self._chunk(role="assistant", reasoning_content="\n\n")[0]]
        if isinstance(event, TextDelta):
            return [self._chunk(role="assistant", content=event.text)[0]]
        if isinstance(event, ToolCallStart):
            self._pending[event.index] = (event.id, event.name, [])
            return []
        if isinstance(event, ToolCallDelta) and event.index in self._pending:
            self._pending[event.index][2].append(event.arguments)
            return []
        if isinstance(event, ToolCallEnd) and event.index in self._pending:
            call_id, name, pieces = self._pending.pop(event.index)
            function = {"name": self._restore.get(name, name), "arguments": "".join(pieces)}
            call = {"index": self._calls, "id": call_id, "type": "function", "function": function}
            self._calls += 1
            return [self._chunk(role="assistant", tool_calls=[call])[0]]
        if isinstance(event, Finish):
            chunk, choice = self._chunk()
            reason = finish_reasons.to_openai(FinishReason("", Format.CODEX), saw_tool_call=self._calls > 0)
            choice["finish_reason"] = choice["native_finish_reason"] = reason
            if event.usage is not None and (rendered := usage_rules.to_openai(event.usage, stream=True)):
                chunk["usage"] = rendered
            return [chunk]
        if isinstance(event, StreamError):
            return [{"error": {"message": event.message, "type": event.type}}]
        return []


def render_openai_response(
    resp: Response, restore: dict[str, str] | None = None, *, now: Callable[[], int] = lambda: int(time.time())
) -> dict[str, Any]:
    """A Codex answer -> ``chat.completion``: the last message text and reasoning summary win.

    The legacy writes ``finish_reason: stop`` whenever the status is ``completed``, tool calls or
    not (A2.11); OpenAI clients (agents looping on tool calls) need ``tool_calls`` there, so a
    completed answer with calls says ``tool_calls`` (docs/compatibility.md, shadow rule
    ``codex-tool-calls-finish-reason``). ``native_finish_reason`` keeps the legacy ``stop``.
    """
    restore = restore or {}
    message: dict[str, Any] = {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": None}
    texts = [p.text for p in resp.parts if isinstance(p, TextPart) and p.text]
    thoughts = [p.text for p in resp.parts if isinstance(p, ThinkingPart) and p.text]
    if texts:
        message["content"] = texts[-1]
    if thoughts:
        message["reasoning_content"] = thoughts[-1]
    calls = [
        {
            "id": p.id,
            "type": "function",
            "function": {"name": restore.get(p.name, p.name), "arguments": p.arguments or ""},
        }
        for p in resp.parts
        if isinstance(p, ToolCallPart)
    ]
    if calls:
        message["tool_calls"] = calls
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": None, "native_finish_reason": None}
    if resp.finish is not None and resp.finish.native == "completed":
        choice["finish_reason"] = "tool_calls" if calls else "stop"
        choice["native_finish_reason"] = "stop"
    out: dict[str, Any] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created or now(),
        "model": resp.model or "model",
        "choices": [choice],
    }
    if resp.usage is not None and (rendered := usage_rules.to_openai(resp.usage, stream=False)):
        out["usage"] = rendered
    return out
