"""OpenAI Responses API (client format ``openai-response``): client requests in, answers out.

* ``parse_request``: client ``/v1/responses`` body -> ``Request``. ``instructions`` and the other
  top-level fields without a common slot stay in ``Request.extra``; the per-upstream request
  renderers for this client live in ``responses_upstream.py`` (their rules differ per pair).
* ``ResponsesStreamRenderer``: internal events -> the Responses SSE event sequence (reference A3.2).
* ``render_response``: a folded ``Response`` -> the non-stream Responses object.
* ``GeminiEvents``: Gemini chunks -> internal events with the Gemini->Responses rules (call ids
  ``call_<unixnano>_<n>``, finalisation on ``finishReason``), so one renderer serves every upstream.

The renderer follows the Gemini->Responses translator, which is what A3.2 and golden 29 describe:
one running ``output_index`` over all items, the reasoning item closed (``encrypted_content: ""``)
as soon as other output starts, the message item ``msg_<respId>_0`` kept open until the finish,
function-call items closed as they end (or at the finish), then ``response.completed`` echoing the
client's request fields.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from handlers.translation import usage as usage_rules
from handlers.translation.gemini_response import GeminiChunk
from handlers.translation.gjson_values import int_of, text_of
from handlers.translation.model import (
    ROLES,
    FilePart,
    Finish,
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
    ThinkingEnd,
    ThinkingMode,
    ThinkingPart,
    Tool,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    Usage,
    UsageReport,
    collect_response,
)
from handlers.translation.openai_chat_request import go_number
from handlers.translation.sse import json_text

_KNOWN_FIELDS = frozenset(
    {
        "model",
        "input",
        "tools",
        "tool_choice",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stop_sequences",
        "stream",
        "user",
    }
)

# Request fields ``response.completed`` (and the non-stream object) echo back, in legacy order (A3.2).
ECHO_FIELDS: tuple[str, ...] = (
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "model",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt_cache_key",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
    "metadata",
)

ResponsesFrame = tuple[str, dict[str, Any]]


# --- client request -> internal --------------------------------------------------------------


def _content(content: Any) -> tuple[list[Part], bool]:
    """Message ``content`` -> parts, and whether the texts were all ``output_text``."""
    if isinstance(content, str):
        return [TextPart(content)], False
    parts: list[Part] = []
    output_only = isinstance(content, list) and bool(content)
    for item in content if isinstance(content, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind in ("input_text", "output_text"):
            output_only = output_only and kind == "output_text"
            # Both legacy paths add a text only when the key is there (gjson Exists: null counts).
            if "text" in item:
                parts.append(TextPart(text_of(item["text"])))
        elif kind == "input_image":
            url = item.get("image_url") or item.get("url")
            output_only = False
            parts.append(ImagePart(url=url if isinstance(url, str) else ""))
        elif kind == "input_file":
            output_only = False
            parts.append(FilePart(str(item.get("filename") or ""), str(item.get("file_data") or "")))
    return parts, output_only


def _message(item: dict[str, Any]) -> Message:
    parts, output_only = _content(item.get("content"))
    role = str(item.get("role") or "").lower()
    if role not in ("system", "developer", "user", "assistant"):
        # The legacy translators let the content type decide when the role does not (A3.2 notes).
        role = "assistant" if output_only else "user"
    content = item.get("content")
    # Both legacy paths read a system item's text from every part, whatever its type (gjson
    # ``text`` of each entry: "" where there is none), so chat-style ``{"type":"text"}`` parts count.
    system_texts = ([text_of(p.get("text")) if isinstance(p, dict) else "" for p in content]
                    if role == "system" and isinstance(content, list) else None)
    return Message(ROLES[role], parts, plain=isinstance(content, str), system_texts=system_texts)


def _reasoning(item: dict[str, Any]) -> Message:
    summary = item.get("summary") if isinstance(item.get("summary"), list) else []
    text = "".join(str(s.get("text") or "") for s in summary if isinstance(s, dict))
    signature = item.get("encrypted_content")
    return Message(Role.ASSISTANT, [ThinkingPart(text, signature=signature if isinstance(signature, str) else "")])


def _input_item(item: dict[str, Any]) -> Message | None:
    kind = item.get("type")
    if not kind and item.get("role"):
        kind = "message"
    if kind == "message":
        return _message(item)
    if kind == "function_call":
        arguments = item.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json_text(arguments)
        call = ToolCallPart(str(item.get("call_id") or ""), str(item.get("name") or ""), arguments)
        return Message(Role.ASSISTANT, [call])
    if kind == "function_call_output":
        return Message(Role.TOOL, [ToolResultPart(str(item.get("call_id") or ""), item.get("output"))])
    if kind == "reasoning":
        return _reasoning(item)
    return None


def _tool(tool: dict[str, Any]) -> Tool:
    kind = str(tool.get("type") or "")
    if kind not in ("function", ""):
        # Built-in tools (web_search, file_search, ...) keep their object for upstreams that take it.
        return Tool(name="", kind=kind, raw=tool)
    # A tool without a type keeps kind "": the Claude pair declares it like a function (it reads
    # every tool's name and parameters), the Gemini pair leaves it out (it wants type "function").
    return Tool(
        kind=kind,
        name=str(tool.get("name") or ""),
        description=str(tool.get("description") or ""),
        parameters=tool.get("parameters", tool.get("parametersJsonSchema")),
        raw=tool,
    )


def _tool_choice(choice: Any) -> ToolChoice | None:
    if isinstance(choice, str):
        return ToolChoice(choice)
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            # Responses puts the name at the top; the chat shape (function.name) is accepted too.
            function = choice.get("function") if isinstance(choice.get("function"), dict) else {}
            return ToolChoice("tool", str(choice.get("name") or function.get("name") or ""), raw=choice)
        return ToolChoice(str(choice.get("type") or ""), raw=choice)
    return None


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    return go_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_request(body: dict[str, Any]) -> Request:
    req = Request(source=Format.OPENAI_RESPONSE, model=str(body.get("model") or ""))
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        req.messages.append(Message(Role.USER, [TextPart(raw_input)], plain=True))
    elif isinstance(raw_input, list):
        req.messages = [m for m in (_input_item(i) for i in raw_input if isinstance(i, dict)) if m is not None]
    if isinstance(body.get("tools"), list):
        req.tools = [_tool(t) for t in body["tools"] if isinstance(t, dict)]
    req.tool_choice = _tool_choice(body.get("tool_choice"))
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        req.thinking = ThinkingConfig(ThinkingMode.LEVEL, level=reasoning["effort"])
    tokens = body.get("max_output_tokens")
    if isinstance(tokens, int | float) and not isinstance(tokens, bool):
        req.max_tokens = int_of(tokens)
    req.temperature = _number(body, "temperature")
    req.top_p = _number(body, "top_p")
    stops = body.get("stop_sequences")
    if isinstance(stops, list):
        req.stop = [s if isinstance(s, str) else json_text(s) for s in stops] or None
    req.stream = body.get("stream") is True
    if isinstance(body.get("user"), str):
        req.user = body["user"]
    req.extra = {k: v for k, v in body.items() if k not in _KNOWN_FIELDS}
    return req


# --- internal -> client (stream) -------------------------------------------------------------


def echo_fields(request: dict[str, Any] | None) -> dict[str, Any]:
    """The client's request fields that the final response object repeats (A3.2 item 6)."""
    if not request:
        return {}
    return {key: request[key] for key in ECHO_FIELDS if key in request}


def _usage_object(usage: Usage | None) -> dict[str, Any] | None:
    return None if usage is None else usage_rules.to_responses(usage)


class _Call:
    __slots__ = ("arguments", "call_id", "done", "name", "output_index")

    def __init__(self, call_id: str, name: str, output_index: int) -> None:
        self.call_id, self.name, self.output_index = call_id, name, output_index
        self.arguments: list[str] = []
        self.done = False


class ResponsesStreamRenderer:
    """Internal events -> ``(event name, payload)`` frames of the Responses stream (A3.2).

    ``request`` is the client's original body (for the echo in ``response.completed``); ``now``
    supplies ``created_at`` when the upstream gave none. Frames go out through
    ``sse.encode_responses_event``.
    """

    __slots__ = (
        "_calls",
        "_created",
        "_finished",
        "_id",
        "_message_index",
        "_message_text",
        "_next_index",
        "_now",
        "_openai_items",
        "_output",
        "_reasoning",
        "_request",
        "_seq",
        "_start_usage",
        "_started",
    )

    def __init__(self, request: dict[str, Any] | None = None, *, now: Callable[[], int] = lambda: int(time.time()),
                 openai_items: bool = False):
        self._request = request
        self._now = now
        # The OpenAI-chat upstream pair's finished items (openai_openai-responses_response.go:180,
        # :291): the message's text part with its empty annotations and logprobs, and the reasoning
        # item's event written type, item, output_index, sequence_number. The Claude and Gemini
        # pairs write the shorter text part and the usual order.
        self._openai_items = openai_items
        self._seq = 0
        self._id = ""
        self._created = 0
        self._started = self._finished = False
        self._next_index = 0
        # (item id, output index, text pieces) of the open reasoning item
        self._reasoning: tuple[str, int, list[str]] | None = None
        self._message_index: int | None = None
        self._message_text: list[str] = []
        self._calls: dict[int, _Call] = {}
        # Finished items for response.completed, keyed by output index.
        self._output: dict[int, dict[str, Any]] = {}
        self._start_usage: Usage | None = None

    def _frame(self, kind: str, body: dict[str, Any]) -> ResponsesFrame:
        self._seq += 1
        return kind, {"type": kind, "sequence_number": self._seq, **body}

    def _start(self, out: list[ResponsesFrame], event: MessageStart | None = None) -> None:
        if self._started:
            return
        self._started = True
        if event is not None:
            self._id = event.id
            self._created = event.created
        self._created = self._created or self._now()
        head = {"id": self._id, "object": "response", "created_at": self._created, "status": "in_progress"}
        out.append(
            self._frame("response.created", {"response": {**head, "background": False, "error": None, "output": []}})
        )
        out.append(self._frame("response.in_progress", {"response": head}))

    def _close_reasoning(self, out: list[ResponsesFrame]) -> None:
        if self._reasoning is None:
            return
        item_id, index, pieces = self._reasoning
        self._reasoning = None
        text = "".join(pieces)
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        out.append(self._frame("response.reasoning_summary_text.done", {**where, "text": text}))
        out.append(
            self._frame(
                "response.reasoning_summary_part.done", {**where, "part": {"type": "summary_text", "text": text}}
            )
        )
        summary = [{"type": "summary_text", "text": text}]
        item = {"id": item_id, "type": "reasoning", "encrypted_content": "", "summary": summary}
        if self._openai_items:
            self._seq += 1
            out.append(("response.output_item.done", {"type": "response.output_item.done", "item": item,
                                                      "output_index": index, "sequence_number": self._seq}))
        else:
            out.append(self._frame("response.output_item.done", {"output_index": index, "item": item}))
        self._output[index] = {"id": item_id, "type": "reasoning", "summary": summary}

    def _message_id(self) -> str:
        return f"msg_{self._id}_0"

    def _text(self, text: str, out: list[ResponsesFrame]) -> None:
        self._close_reasoning(out)
        if self._message_index is None:
            self._message_index = self._next_index
            self._next_index += 1
            item = {
                "id": self._message_id(),
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            out.append(self._frame("response.output_item.added", {"output_index": self._message_index, "item": item}))
            part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
            where = {"item_id": self._message_id(), "output_index": self._message_index, "content_index": 0}
            out.append(self._frame("response.content_part.added", {**where, "part": part}))
        self._message_text.append(text)
        where = {"item_id": self._message_id(), "output_index": self._message_index, "content_index": 0}
        out.append(self._frame("response.output_text.delta", {**where, "delta": text, "logprobs": []}))

    def _thinking(self, text: str, out: list[ResponsesFrame]) -> None:
        if self._reasoning is None:
            index = self._next_index
            self._next_index += 1
            item_id = f"rs_{self._id}_{index}"
            self._reasoning = (item_id, index, [])
            item = {"id": item_id, "type": "reasoning", "status": "in_progress", "summary": []}
            out.append(self._frame("response.output_item.added", {"output_index": index, "item": item}))
            where = {"item_id": item_id, "output_index": index, "summary_index": 0}
            out.append(
                self._frame(
                    "response.reasoning_summary_part.added", {**where, "part": {"type": "summary_text", "text": ""}}
                )
            )
        item_id, index, pieces = self._reasoning
        if text:
            pieces.append(text)
            where = {"item_id": item_id, "output_index": index, "summary_index": 0}
            out.append(self._frame("response.reasoning_summary_text.delta", {**where, "delta": text}))

    def _call_start(self, event: ToolCallStart, out: list[ResponsesFrame]) -> None:
        self._close_reasoning(out)
        call = _Call(event.id, event.name, self._next_index)
        self._next_index += 1
        self._calls[event.index] = call
        item = {
            "id": f"fc_{call.call_id}",
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call.call_id,
            "name": call.name,
        }
        out.append(self._frame("response.output_item.added", {"output_index": call.output_index, "item": item}))

    def _call_end(self, call: _Call, out: list[ResponsesFrame]) -> None:
        if call.done:
            return
        call.done = True
        arguments = "".join(call.arguments) or "{}"
        item_id = f"fc_{call.call_id}"
        body = {"item_id": item_id, "output_index": call.output_index, "arguments": arguments}
        out.append(self._frame("response.function_call_arguments.done", body))
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "arguments": arguments,
            "call_id": call.call_id,
            "name": call.name,
        }
        out.append(self._frame("response.output_item.done", {"output_index": call.output_index, "item": item}))
        self._output[call.output_index] = item

    def _finish(self, usage: Usage | None, out: list[ResponsesFrame]) -> None:
        if self._finished:
            return
        self._finished = True
        self._start(out)
        self._close_reasoning(out)
        if self._message_index is not None:
            text = "".join(self._message_text)
            where = {"item_id": self._message_id(), "output_index": self._message_index, "content_index": 0}
            out.append(self._frame("response.output_text.done", {**where, "text": text, "logprobs": []}))
            part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
            out.append(self._frame("response.content_part.done", {**where, "part": part}))
            item = {
                "id": self._message_id(),
                "type": "message",
                "status": "completed",
                "content": [part if self._openai_items else {"type": "output_text", "text": text}],
                "role": "assistant",
            }
            out.append(self._frame("response.output_item.done", {"output_index": self._message_index, "item": item}))
            self._output[self._message_index] = {**item, "content": [part]}
        for _, call in sorted(self._calls.items()):
            self._call_end(call, out)
        response: dict[str, Any] = {
            "id": self._id,
            "object": "response",
            "created_at": self._created,
            "status": "completed",
            "background": False,
            "error": None,
            **echo_fields(self._request),
        }
        if self._output:
            response["output"] = [self._output[i] for i in sorted(self._output)]
        usage = merge_usage(self._start_usage, usage)
        if usage is not None:
            response["usage"] = usage_rules.to_responses(usage)
        out.append(self._frame("response.completed", {"response": response}))

    def feed(self, event: StreamEvent) -> list[ResponsesFrame]:
        out: list[ResponsesFrame] = []
        if self._finished:
            return out
        if isinstance(event, MessageStart):
            self._start(out, event)
            return out
        if isinstance(event, StreamError):
            # The handler writes mid-stream errors itself (``event: error`` with its error body,
            # surface §6); the legacy translators emit nothing for an upstream error event.
            return out
        self._start(out)
        if isinstance(event, TextDelta):
            if event.text:
                self._text(event.text, out)
        elif isinstance(event, ThinkingDelta):
            self._thinking(event.text, out)
        elif isinstance(event, ThinkingEnd):
            self._close_reasoning(out)
        elif isinstance(event, ToolCallStart):
            self._call_start(event, out)
        elif isinstance(event, ToolCallDelta) and event.index in self._calls:
            call = self._calls[event.index]
            call.arguments.append(event.arguments)
            body = {"item_id": f"fc_{call.call_id}", "output_index": call.output_index, "delta": event.arguments}
            out.append(self._frame("response.function_call_arguments.delta", body))
        elif isinstance(event, ToolCallEnd) and event.index in self._calls:
            self._call_end(self._calls[event.index], out)
        elif isinstance(event, UsageReport):
            self._start_usage = merge_usage(self._start_usage, event.usage)
        elif isinstance(event, Finish):
            self._finish(event.usage, out)
        elif isinstance(event, StreamEnd):
            self._finish(None, out)
        return out


def merge_usage(earlier: Usage | None, later: Usage | None) -> Usage | None:
    """Claude reports input tokens in ``message_start`` and output tokens in ``message_delta``."""
    if earlier is None or later is None:
        return later or earlier
    if later.input_tokens == 0:
        later.input_tokens = earlier.input_tokens
        later.cache_read_tokens = later.cache_read_tokens or earlier.cache_read_tokens
    return later


# --- internal -> client (non-stream) ---------------------------------------------------------


def fold_events(events: list[StreamEvent]) -> Response:
    """``collect_response`` keeping ``message_start`` input tokens when the finish usage lacks them."""
    resp = collect_response(events)
    start = next((e.usage for e in events if isinstance(e, UsageReport)), None)
    resp.usage = merge_usage(start, resp.usage)
    if start is not None and resp.usage is not None and resp.usage is not start:
        # Folded, the legacy counts input tokens from message_start alone, even where the finish
        # names its own (claude_openai-responses_response.go:492-494, 553-555); Gemini's reports
        # repeat the same prompt count.
        resp.usage.input_tokens = start.input_tokens
    return resp


def render_response(
    resp: Response, request: dict[str, Any] | None = None, *, now: Callable[[], int] = lambda: int(time.time())
) -> dict[str, Any]:
    """A folded answer -> the Responses object: reasoning, then the message, then function calls.

    Item ids follow the stream (``rs_<id>_<n>``, ``msg_<id>_0``, ``fc_<call_id>``); a call without
    arguments gets ``"{}"`` like the Claude->Responses translator.
    """
    out: dict[str, Any] = {
        "id": resp.id,
        "object": "response",
        "created_at": resp.created or now(),
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        **echo_fields(request),
    }
    reasoning = "".join(p.text for p in resp.parts if isinstance(p, ThinkingPart))
    text = "".join(p.text for p in resp.parts if isinstance(p, TextPart))
    output: list[dict[str, Any]] = []
    if reasoning:
        summary = [{"type": "summary_text", "text": reasoning}]
        output.append({"id": f"rs_{resp.id}_0", "type": "reasoning", "summary": summary})
    if text:
        content = [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]
        message = {"id": f"msg_{resp.id}_0", "type": "message", "status": "completed", "content": content}
        output.append({**message, "role": "assistant"})
    for part in resp.parts:
        if isinstance(part, ToolCallPart):
            output.append(
                {
                    "id": f"fc_{part.id}",
                    "type": "function_call",
                    "status": "completed",
                    "arguments": part.arguments or "{}",
                    "call_id": part.id,
                    "name": part.name,
                }
            )
    out["output"] = output
    usage = _usage_object(resp.usage) or usage_rules.to_responses(Usage(Format.OPENAI_RESPONSE))
    out["usage"] = usage
    return out


# --- Gemini upstream -> internal events (Gemini->Responses rules) ----------------------------

_call_counter = itertools.count(1)


def gemini_call_id() -> str:
    """``call_<unix nanoseconds>_<process counter>``: Gemini->Responses call ids (A2.16 response ids)."""
    return f"call_{time.time_ns()}_{next(_call_counter)}"


class GeminiEvents:
    """Gemini chunks -> internal events as the Gemini->Responses translator reads them (A3.2).

    Only candidate 0 counts; the first chunk starts the response (``responseId``, ``createTime``);
    function calls arrive whole and stay open until ``finishReason``, which ends the stream.
    """

    __slots__ = ("_call_id", "_calls", "_started")

    def __init__(self, *, call_id: Callable[[], str] = gemini_call_id) -> None:
        self._call_id = call_id
        self._calls = 0
        self._started = False

    def feed(self, chunk: GeminiChunk) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            created = chunk.created if chunk.created is not None and chunk.created > 0 else 0
            events.append(MessageStart(chunk.id or "", chunk.model or "", created))
        candidate = chunk.candidates[0] if chunk.candidates else None
        for part in candidate.parts if candidate is not None else []:
            if isinstance(part, ThinkingPart):
                events.append(ThinkingDelta(part.text))
            elif isinstance(part, TextPart) and part.text:
                events.append(TextDelta(part.text))
            elif isinstance(part, ToolCallPart):
                index = self._calls
                self._calls += 1
                events.append(ToolCallStart(index, self._call_id(), part.name))
                if part.arguments is not None:
                    events.append(ToolCallDelta(index, part.arguments))
        if candidate is not None and candidate.finish is not None and candidate.finish.native:
            events.append(Finish(candidate.finish, chunk.usage))
        return events
