"""Gemini responses: upstream chunks -> internal, and the Gemini-upstream / Gemini-client renderers.

* ``parse_chunk``: one Gemini response object (a stream chunk or a whole non-stream answer, with
  or without the Gemini CLI / Antigravity ``{"response": ...}`` envelope) -> ``GeminiChunk``,
  i.e. internal parts per candidate + finish + usage.
* ``OpenAIChatFromGemini`` / ``render_openai_response``: Gemini -> OpenAI chat client (A2.4).
* ``ClaudeStreamFromGemini`` / ``render_claude_response``: Gemini -> Claude client (A2.6).
  (Gemini API upstreams only: the legacy Gemini CLI response translators differ, see README.)
* ``GeminiStreamFromClaude`` / ``render_gemini_response``: Claude upstream -> Gemini client.
* ``wrap_cli_response``: the ``{"response": ...}`` envelope for Gemini CLI clients.

Why the Gemini-upstream renderers live here rather than in ``openai_chat.py`` / ``claude_stream.py``:
the legacy translators work one Gemini chunk at a time (one OpenAI chunk per candidate, where a
later text part in the same chunk replaces an earlier one; Claude blocks that close on every type
switch and a ``message_delta`` only when usage and a finish reason arrive together). Those are pair
rules with their own state, unlike the delta-by-delta machines of the OpenAI/Claude pairs, so they
sit beside the Gemini parser where the next reader looks for them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.translation import finish_reasons
from handlers.translation import usage as usage_rules
from handlers.translation.gemini_request import json_value, synthetic_tool_id
from handlers.translation.gjson_values import array_of, text_of
from handlers.translation.model import (
    Finish,
    FinishReason,
    Format,
    ImagePart,
    MessageStart,
    Part,
    Response,
    SignatureDelta,
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
    Usage,
)
from handlers.translation.sse import json_text

# --- upstream response -> internal -----------------------------------------------------------


@dataclass(slots=True)
class GeminiCandidate:
    index: int
    parts: list[Part] = field(default_factory=list)
    finish: FinishReason | None = None


@dataclass(slots=True)
class GeminiChunk:
    id: str | None = None
    model: str | None = None
    # None: no createTime; otherwise the parsed Unix time, or -1 when it did not parse.
    created: int | None = None
    # None when the object had no candidates array (usage-only chunks).
    candidates: list[GeminiCandidate] | None = None
    usage: Usage | None = None
    has_finish: bool = False


def _parse_time(value: Any) -> int:
    if not isinstance(value, str):
        return -1
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return -1


def _parse_part(raw: dict[str, Any]) -> Part | None:
    signature = raw.get("thoughtSignature", raw.get("thought_signature"))
    inline = raw.get("inlineData", raw.get("inline_data"))
    if "text" in raw:
        # gjson String(): null is "", any other value its JSON text.
        text = text_of(raw["text"])
        if raw.get("thought") is True:
            return ThinkingPart(text, signature=signature if isinstance(signature, str) else "")
        return TextPart(text)
    if "functionCall" in raw:
        call = raw["functionCall"] if isinstance(raw["functionCall"], dict) else {}
        arguments = json_text(call["args"]) if "args" in call else None
        return ToolCallPart("", str(call.get("name") or ""), arguments)
    if isinstance(inline, dict):
        mime = inline.get("mimeType") or inline.get("mime_type") or ""
        return ImagePart(media_type=str(mime), data=str(inline.get("data") or ""))
    return None  # signature-only and unknown parts carry nothing to translate


def parse_chunk(obj: dict[str, Any], source: Format = Format.GEMINI) -> GeminiChunk:
    if isinstance(obj.get("response"), dict):
        obj = obj["response"]  # Gemini CLI / Antigravity envelope (A2.13)
    chunk = GeminiChunk(
        id=obj["responseId"] if isinstance(obj.get("responseId"), str) else None,
        model=obj["modelVersion"] if isinstance(obj.get("modelVersion"), str) else None,
        created=_parse_time(obj["createTime"]) if "createTime" in obj else None,
    )
    if isinstance(obj.get("usageMetadata"), dict):
        chunk.usage = usage_rules.from_gemini(obj["usageMetadata"], source)
    candidates = obj.get("candidates")
    if isinstance(candidates, list):
        chunk.candidates = []
        for raw in candidates:
            if not isinstance(raw, dict):
                continue
            candidate = GeminiCandidate(raw["index"] if isinstance(raw.get("index"), int) else 0)
            content = raw.get("content") if isinstance(raw.get("content"), dict) else {}
            for part in array_of(content.get("parts")):
                parsed = _parse_part(part) if isinstance(part, dict) else None
                if parsed is not None:
                    candidate.parts.append(parsed)
            if "finishReason" in raw:
                chunk.has_finish = True
                candidate.finish = FinishReason(str(raw["finishReason"] or ""), source)
            chunk.candidates.append(candidate)
    return chunk


# --- Gemini upstream -> OpenAI chat client (A2.4) --------------------------------------------


def _image_entry(part: ImagePart, index: int) -> dict[str, Any]:
    url = f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return {"type": "image_url", "image_url": {"url": url}, "index": index}


class OpenAIChatFromGemini:
    """Gemini chunks -> ``chat.completion.chunk`` objects, one per candidate (A2.4, goldens 23-24)."""

    __slots__ = ("_created", "_function_index", "_tool_id")

    def __init__(self, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> None:
        self._created = 0
        self._function_index: dict[int, int] = defaultdict(int)
        self._tool_id = tool_id

    def feed(self, chunk: GeminiChunk) -> list[dict[str, Any]]:
        if chunk.created is not None and chunk.created >= 0:
            self._created = chunk.created
        out: list[dict[str, Any]] = []
        for candidate in chunk.candidates or []:
            delta: dict[str, Any] = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}
            choice: dict[str, Any] = {
                "index": candidate.index,
                "delta": delta,
                "finish_reason": None,
                "native_finish_reason": None,
            }
            if candidate.finish is not None:
                choice["finish_reason"] = choice["native_finish_reason"] = candidate.finish.native.lower()
            saw_call = False
            for part in candidate.parts:
                if isinstance(part, TextPart | ThinkingPart):
                    # Each text part overwrites the previous one of the same chunk, as in the legacy code.
                    delta["reasoning_content" if isinstance(part, ThinkingPart) else "content"] = part.text
                    delta["role"] = "assistant"
                elif isinstance(part, ToolCallPart):
                    saw_call = True
                    index = self._function_index[candidate.index]
                    self._function_index[candidate.index] += 1
                    if isinstance(delta["tool_calls"], list):
                        index = len(delta["tool_calls"])
                    else:
                        delta["tool_calls"] = []
                    function = {"name": part.name, "arguments": part.arguments or ""}
                    delta["tool_calls"].append(
                        {"id": self._tool_id(part.name), "index": index, "type": "function", "function": function}
                    )
                    delta["role"] = "assistant"
                elif isinstance(part, ImagePart) and part.data:
                    images = delta.setdefault("images", [])
                    images.append(_image_entry(part, len(images)))
                    delta["role"] = "assistant"
            if saw_call:
                choice["finish_reason"] = choice["native_finish_reason"] = "tool_calls"
            out.append(self._envelope(chunk, choice))
        if chunk.candidates is None and chunk.usage is not None:
            out.append(self._envelope(chunk, None))
        return out

    def _envelope(self, chunk: GeminiChunk, choice: dict[str, Any] | None) -> dict[str, Any]:
        if choice is None:
            choice = {
                "index": 0,
                "delta": {"role": None, "content": None, "reasoning_content": None, "tool_calls": None},
                "finish_reason": None,
                "native_finish_reason": None,
            }
        envelope: dict[str, Any] = {
            "id": chunk.id or "",
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": chunk.model if chunk.model is not None else "model",
            "choices": [choice],
        }
        if chunk.usage is not None:
            envelope["usage"] = usage_rules.to_openai(chunk.usage, stream=True)
        return envelope


def render_openai_response(chunk: GeminiChunk, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> dict[str, Any]:
    """A whole Gemini answer -> ``chat.completion`` (A2.4 non-stream: cached tokens stay in the prompt)."""
    out: dict[str, Any] = {
        "id": chunk.id or "",
        "object": "chat.completion",
        "created": chunk.created if chunk.created is not None and chunk.created >= 0 else 0,
        "model": chunk.model if chunk.model is not None else "model",
        "choices": [],
    }
    if chunk.usage is not None:
        out["usage"] = usage_rules.to_openai(chunk.usage, stream=False)
    for candidate in chunk.candidates or []:
        message: dict[str, Any] = {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": None}
        choice: dict[str, Any] = {
            "index": candidate.index,
            "message": message,
            "finish_reason": None,
            "native_finish_reason": None,
        }
        if candidate.finish is not None:
            choice["finish_reason"] = choice["native_finish_reason"] = candidate.finish.native.lower()
        saw_call = False
        for part in candidate.parts:
            if isinstance(part, TextPart | ThinkingPart):
                key = "reasoning_content" if isinstance(part, ThinkingPart) else "content"
                message[key] = (message[key] or "") + part.text
            elif isinstance(part, ToolCallPart):
                saw_call = True
                if not isinstance(message["tool_calls"], list):
                    message["tool_calls"] = []
                function = {"name": part.name, "arguments": part.arguments or ""}
                message["tool_calls"].append({"id": tool_id(part.name), "type": "function", "function": function})
            elif isinstance(part, ImagePart) and part.data:
                images = message.setdefault("images", [])
                images.append(_image_entry(part, len(images)))
        if saw_call:
            choice["finish_reason"] = choice["native_finish_reason"] = "tool_calls"
        out["choices"].append(choice)
    return out


# --- Gemini upstream -> Claude client (A2.6) -------------------------------------------------

PLACEHOLDER_MESSAGE_ID = "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
PLACEHOLDER_MODEL = "claude-3-5-sonnet-20241022"

ClaudeFrame = tuple[str, dict[str, Any]]
_NO_BLOCK, _TEXT, _THINKING, _TOOL = 0, 1, 2, 3


class ClaudeStreamFromGemini:
    """Gemini chunks -> Claude SSE frames (A2.6, golden 25). Encode with ``sse.GEMINI_CLAUDE_TRAILER``.

    Only candidate 0 is read. Any change of block type closes the open block; a function call
    always opens a new tool block carrying its whole arguments in one ``input_json_delta``.
    The stop reason is ``tool_use`` when the answer called a tool in any chunk: the legacy looks
    only at the chunk that carries the finish, and Gemini often sends the call and the finish in
    different chunks, so an agent was told ``end_turn`` and never ran the tool (compatibility
    row 39). The answer is closed (block stop, ``message_delta``) at the finish whenever the chunk
    has usage, as A2.6 describes it; the legacy's code also wants ``candidatesTokenCount``, which
    Gemini leaves out when thinking used the whole output budget, and then never closes the
    answer, so the client's message has no stop reason (row 43).
    """

    __slots__ = ("_block", "_has_content", "_index", "_started", "_tool_id", "_used_tool")

    def __init__(self, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> None:
        self._started = False
        self._block = _NO_BLOCK
        self._index = 0
        self._has_content = False
        self._used_tool = False
        self._tool_id = tool_id

    def _stop(self, out: list[ClaudeFrame]) -> None:
        out.append(("content_block_stop", {"type": "content_block_stop", "index": self._index}))

    def _switch(self, out: list[ClaudeFrame], block: int, content_block: dict[str, Any]) -> None:
        if self._block != _NO_BLOCK:
            self._stop(out)
            self._index += 1
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": content_block},
            )
        )
        self._block = block

    def _delta(self, out: list[ClaudeFrame], delta: dict[str, Any]) -> None:
        out.append(("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}))

    def feed(self, chunk: GeminiChunk) -> list[ClaudeFrame]:
        out: list[ClaudeFrame] = []
        if not self._started:
            self._started = True
            message = {
                "id": chunk.id if chunk.id is not None else PLACEHOLDER_MESSAGE_ID,
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": chunk.model if chunk.model is not None else PLACEHOLDER_MODEL,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            out.append(("message_start", {"type": "message_start", "message": message}))
        parts = chunk.candidates[0].parts if chunk.candidates else []
        for part in parts:
            if isinstance(part, ThinkingPart):
                if self._block != _THINKING:
                    self._switch(out, _THINKING, {"type": "thinking", "thinking": ""})
                self._delta(out, {"type": "thinking_delta", "thinking": part.text})
                self._has_content = True
            elif isinstance(part, TextPart):
                if self._block != _TEXT:
                    self._switch(out, _TEXT, {"type": "text", "text": ""})
                self._delta(out, {"type": "text_delta", "text": part.text})
                self._has_content = True
            elif isinstance(part, ToolCallPart):
                self._used_tool = True
                if self._block == _TOOL and not part.name:
                    # A nameless call right after a tool block continues its arguments.
                    if part.arguments is not None:
                        self._delta(out, {"type": "input_json_delta", "partial_json": part.arguments})
                    continue
                block = {"type": "tool_use", "id": self._tool_id(part.name), "name": part.name, "input": {}}
                self._switch(out, _TOOL, block)
                if part.arguments is not None:
                    self._delta(out, {"type": "input_json_delta", "partial_json": part.arguments})
                self._has_content = True
        usage = chunk.usage
        if usage is not None and chunk.has_finish and self._has_content:
            self._stop(out)
            payload = {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if self._used_tool else "end_turn", "stop_sequence": None},
                "usage": usage_rules.to_claude(usage),
            }
            out.append(("message_delta", payload))
        return out

    def done(self) -> list[ClaudeFrame]:
        """The upstream ended (the executor's synthetic ``[DONE]``)."""
        return [("message_stop", {"type": "message_stop"})] if self._has_content else []


def render_claude_response(chunk: GeminiChunk) -> dict[str, Any]:
    """A whole Gemini answer -> Claude message (A2.6 non-stream, golden 26)."""
    content: list[dict[str, Any]] = []
    run: list[str] = []
    run_kind = ""

    def flush() -> None:
        nonlocal run_kind
        if run and "".join(run):
            key = "thinking" if run_kind == "thinking" else "text"
            content.append({"type": key, key: "".join(run)})
        run.clear()
        run_kind = ""

    tool_count = 0
    candidate = chunk.candidates[0] if chunk.candidates else GeminiCandidate(0)
    for part in candidate.parts:
        if isinstance(part, TextPart | ThinkingPart) and part.text:
            kind = "thinking" if isinstance(part, ThinkingPart) else "text"
            if kind != run_kind:
                flush()
                run_kind = kind
            run.append(part.text)
        elif isinstance(part, ToolCallPart):
            flush()
            tool_count += 1
            args = json_value(part.arguments) if part.arguments else {}
            content.append(
                {
                    "type": "tool_use",
                    "id": f"tool_{tool_count}",
                    "name": part.name,
                    "input": args if isinstance(args, dict) else {},
                }
            )
    flush()
    if tool_count:
        stop_reason = "tool_use"
    elif candidate.finish is not None and candidate.finish.native == "MAX_TOKENS":
        stop_reason = "max_tokens"
    else:
        stop_reason = "end_turn"
    out: dict[str, Any] = {
        "id": chunk.id or "",
        "type": "message",
        "role": "assistant",
        "model": chunk.model or "",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
    }
    if chunk.usage is not None:
        out["usage"] = usage_rules.to_claude(chunk.usage)
    return out


# --- Claude upstream -> Gemini client (claude/gemini response translator) ------------------


def _rfc3339(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gemini_error(message: str) -> dict[str, Any]:
    """The Gemini-shaped error object the Claude->Gemini translator emits for an ``error`` event."""
    return {"error": {"code": 400, "message": message or "Unknown error occurred", "status": "INVALID_ARGUMENT"}}


class GeminiStreamFromClaude:
    """Claude upstream events -> Gemini ``GenerateContentResponse`` chunks.

    Every text/thinking delta becomes its own chunk; a tool call goes out whole when its block
    closes; ``message_delta`` carries usage. The finish reason is always ``STOP``: the legacy maps
    ``max_tokens`` to ``MAX_TOKENS`` and then overwrites it (the A2.16 table row does not hold here).
    """

    __slots__ = ("_created", "_id", "_model", "_now", "_tool_args", "_tool_names")

    def __init__(self, model: str, *, now: Callable[[], int] = lambda: int(time.time())) -> None:
        self._model = model
        self._id = ""
        self._created = 0
        self._now = now
        self._tool_names: dict[int, str] = {}
        self._tool_args: dict[int, list[str]] = {}

    def _chunk(self, parts: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        chunk = {
            "candidates": [candidate],
            "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
            "modelVersion": self._model,
            "createTime": _rfc3339(self._created),
            "responseId": self._id,
        }
        return chunk, candidate

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if not self._created:
            self._created = self._now()
        if isinstance(event, MessageStart):
            self._id = event.id
            self._model = event.model or self._model
            return []
        if isinstance(event, TextDelta | ThinkingDelta | SignatureDelta):
            parts: list[dict[str, Any]] = []
            if isinstance(event, TextDelta) and event.text:
                parts.append({"text": event.text})
            elif isinstance(event, ThinkingDelta) and event.text:
                parts.append({"thought": True, "text": event.text})
            return [self._chunk(parts)[0]]
        if isinstance(event, ToolCallStart):
            self._tool_names[event.index] = event.name
            return []
        if isinstance(event, ToolCallDelta):
            self._tool_args.setdefault(event.index, []).append(event.arguments)
            return []
        if isinstance(event, ToolCallEnd):
            name = self._tool_names.pop(event.index, "")
            arguments = "".join(self._tool_args.pop(event.index, [])).strip()
            if not name and not arguments:
                return []
            chunk, candidate = self._chunk([{"functionCall": {"name": name, "args": json_value(arguments)}}])
            candidate["finishReason"] = "STOP"
            return [chunk]
        if isinstance(event, Finish):
            chunk, candidate = self._chunk([])
            if event.usage is not None:
                chunk["usageMetadata"] = usage_rules.to_gemini(event.usage, stream=True)
            candidate["finishReason"] = _claude_finish(event.reason)
            return [chunk]
        if isinstance(event, StreamError):
            return [gemini_error(event.message)]
        return []


def _claude_finish(reason: FinishReason | None) -> str:
    return finish_reasons.to_gemini(reason) if reason is not None else "STOP"


def render_gemini_response(
    resp: Response, model: str, *, now: Callable[[], int] = lambda: int(time.time())
) -> dict[str, Any]:
    """A folded Claude answer -> Gemini ``GenerateContentResponse`` (non-stream).

    ``modelVersion`` is the requested model, not Claude's; runs of text and of thoughts are merged.
    """
    parts: list[dict[str, Any]] = []
    for part in resp.parts:
        if isinstance(part, TextPart) and part.text:
            parts.append({"text": part.text})
        elif isinstance(part, ThinkingPart) and part.text:
            parts.append({"thought": True, "text": part.text})
        elif isinstance(part, ToolCallPart) and (part.name or (part.arguments or "").strip()):
            parts.append({"functionCall": {"name": part.name, "args": json_value((part.arguments or "").strip())}})
    out: dict[str, Any] = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": _claude_finish(resp.finish)}],
        "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"},
        "modelVersion": model,
        "createTime": _rfc3339(now()) if resp.id else "",
        "responseId": resp.id,
    }
    if resp.usage is not None:
        out["usageMetadata"] = usage_rules.to_gemini(resp.usage, stream=False)
    return out


def wrap_cli_response(payload: dict[str, Any]) -> dict[str, Any]:
    """Gemini CLI clients get each Gemini response object inside ``response`` (A2.13)."""
    return {"response": payload}
