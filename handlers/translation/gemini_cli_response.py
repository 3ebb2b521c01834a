"""Gemini CLI upstream answers (``{"response": {...}}`` chunks) -> OpenAI chat and Claude clients.

The legacy ``gemini-cli/*`` response translators are their own implementations, not wrappers of
the Gemini ones (README "Remaining"), so the rules here are diffed against them:

* ``OpenAIChatFromCLI`` (``gemini-cli/openai``, also ``antigravity/openai`` with ``cached=True``):
  exactly one chunk per upstream chunk, candidate 0 only, one function-call counter for the whole
  stream, signature-only parts skipped, and its own usage arithmetic: ``prompt_tokens`` =
  prompt + thoughts, no cached count (Antigravity subtracts and reports the cached count).
* ``ClaudeStreamFromCLI`` (``gemini-cli/claude``): the A2.6 block machine without the Gemini
  pair's "nameless call continues the previous tool block" rule, and ``stop_reason`` from the
  current chunk only.
* Non-stream answers are the Gemini ones applied to the unwrapped ``response``
  (``render_openai_response`` / ``render_claude_response``); the Responses client reuses the
  Gemini -> Responses machine (``responses_events``).

Renderers take the decoded upstream object and return payloads; Claude frames must be encoded
with ``sse.GEMINI_CLAUDE_TRAILER`` like every synthesised Gemini-family Claude stream.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers.translation import gemini_response
from handlers.translation.gemini_request import synthetic_tool_id
from handlers.translation.gemini_response import PLACEHOLDER_MESSAGE_ID, PLACEHOLDER_MODEL, ClaudeFrame
from handlers.translation.gjson_values import bool_of, int_of, text_of
from handlers.translation.model import Format, StreamEvent
from handlers.translation.openai_responses import GeminiEvents
from handlers.translation.sse import json_text

_NONE, _TEXT, _THINKING, _TOOL = 0, 1, 2, 3


# --- readers over the decoded chunk ----------------------------------------------------------


def inner_response(obj: Any) -> dict[str, Any]:
    """The Gemini object inside the ``response`` envelope (``{}`` when there is none)."""
    inner = obj.get("response") if isinstance(obj, dict) else None
    return inner if isinstance(inner, dict) else {}


def first_candidate(inner: dict[str, Any]) -> dict[str, Any]:
    candidates = inner.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return {}


def candidate_parts(inner: dict[str, Any]) -> list[Any]:
    content = first_candidate(inner).get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return parts if isinstance(parts, list) else []


def _parse_time(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


# --- OpenAI chat client -----------------------------------------------------------------------


def _openai_usage(meta: Any, *, cached: bool) -> dict[str, Any]:
    meta = meta if isinstance(meta, dict) else {}
    usage: dict[str, Any] = {}
    if "candidatesTokenCount" in meta:
        usage["completion_tokens"] = int_of(meta["candidatesTokenCount"])
    if "totalTokenCount" in meta:
        usage["total_tokens"] = int_of(meta["totalTokenCount"])
    cached_count = int_of(meta.get("cachedContentTokenCount")) if cached else 0
    thoughts = int_of(meta.get("thoughtsTokenCount"))
    usage["prompt_tokens"] = int_of(meta.get("promptTokenCount")) - cached_count + thoughts
    if thoughts > 0:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    if cached_count > 0:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_count}
    return usage


class OpenAIChatFromCLI:
    """``{"response": chunk}`` -> one ``chat.completion.chunk`` (``gemini-cli/openai`` stream).

    ``cached=True`` gives the ``antigravity/openai`` variant (the only difference in the legacy:
    the cached prompt count is subtracted from ``prompt_tokens`` and reported on its own).
    """

    __slots__ = ("_cached", "_created", "_function_index", "_tool_id")

    def __init__(self, *, cached: bool = False, tool_id: Callable[[str], str] = synthetic_tool_id) -> None:
        self._cached = cached
        self._created = 0
        self._function_index = 0
        self._tool_id = tool_id

    def feed(self, obj: dict[str, Any]) -> dict[str, Any]:
        inner = inner_response(obj)
        delta: dict[str, Any] = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None, "native_finish_reason": None}
        chunk: dict[str, Any] = {
            "id": "",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "model",
            "choices": [choice],
        }
        if "modelVersion" in inner:
            chunk["model"] = text_of(inner["modelVersion"])
        if "createTime" in inner:
            parsed = _parse_time(inner["createTime"])
            if parsed is not None:
                self._created = parsed
        chunk["created"] = self._created
        if "responseId" in inner:
            chunk["id"] = text_of(inner["responseId"])
        candidate = first_candidate(inner)
        if "finishReason" in candidate:
            choice["finish_reason"] = choice["native_finish_reason"] = text_of(candidate["finishReason"]).lower()
        if "usageMetadata" in inner:
            chunk["usage"] = _openai_usage(inner["usageMetadata"], cached=self._cached)
        saw_call = False
        for part in candidate_parts(inner):
            if not isinstance(part, dict):
                continue
            signature = part.get("thoughtSignature", part.get("thought_signature"))
            inline = part.get("inlineData", part.get("inline_data"))
            has_payload = "text" in part or "functionCall" in part or inline is not None
            if text_of(signature) and not has_payload:
                continue  # an encrypted thought signature on its own carries nothing to show
            if "text" in part:
                key = "reasoning_content" if bool_of(part.get("thought")) else "content"
                delta[key] = text_of(part["text"])
                delta["role"] = "assistant"
            elif "functionCall" in part:
                saw_call = True
                call = part["functionCall"] if isinstance(part["functionCall"], dict) else {}
                index = self._function_index
                self._function_index += 1
                if isinstance(delta["tool_calls"], list):
                    index = len(delta["tool_calls"])
                else:
                    delta["tool_calls"] = []
                name = text_of(call.get("name"))
                arguments = json_text(call["args"]) if "args" in call else ""
                delta["role"] = "assistant"
                delta["tool_calls"].append(
                    {
                        "id": self._tool_id(name),
                        "index": index,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                )
            elif isinstance(inline, dict):
                data = text_of(inline.get("data"))
                if not data:
                    continue
                mime = text_of(inline.get("mimeType")) or text_of(inline.get("mime_type")) or "image/png"
                images = delta.setdefault("images", [])
                images.append(
                    {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}, "index": len(images)}
                )
                delta["role"] = "assistant"
        if saw_call:
            choice["finish_reason"] = choice["native_finish_reason"] = "tool_calls"
        return chunk


def render_openai_response(obj: dict[str, Any], source: Format = Format.GEMINI_CLI) -> dict[str, Any] | None:
    """A whole ``{"response": ...}`` answer -> ``chat.completion``; None when there is no envelope.

    The legacy answers an envelope-less body with an empty string; callers send that as is.
    """
    if not isinstance(obj.get("response"), dict):
        return None
    return gemini_response.render_openai_response(gemini_response.parse_chunk(obj["response"], source))


# --- Claude client ----------------------------------------------------------------------------


class ClaudeBlocks:
    """Content-block bookkeeping shared by the Gemini CLI and Antigravity Claude streams."""

    __slots__ = ("block", "has_content", "index", "started", "tool_id")

    def __init__(self, tool_id: Callable[[str], str]) -> None:
        self.started = False
        self.block = _NONE
        self.index = 0
        self.has_content = False
        self.tool_id = tool_id

    def message_start(self, inner: dict[str, Any], usage: dict[str, int] | None = None) -> ClaudeFrame:
        message = {
            "id": text_of(inner["responseId"]) if "responseId" in inner else PLACEHOLDER_MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": text_of(inner["modelVersion"]) if "modelVersion" in inner else PLACEHOLDER_MODEL,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage or {"input_tokens": 0, "output_tokens": 0},
        }
        return "message_start", {"type": "message_start", "message": message}

    def stop(self, out: list[ClaudeFrame]) -> None:
        out.append(("content_block_stop", {"type": "content_block_stop", "index": self.index}))

    def close(self, out: list[ClaudeFrame]) -> None:
        """Close the open block (if any) and move to the next index; the type is left as is."""
        if self.block != _NONE:
            self.stop(out)
            self.index += 1

    def start(self, out: list[ClaudeFrame], block: int, content_block: dict[str, Any]) -> None:
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self.index, "content_block": content_block},
            )
        )
        self.block = block

    def delta(self, out: list[ClaudeFrame], delta: dict[str, Any]) -> None:
        out.append(("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta}))
        self.has_content = True

    def text(self, out: list[ClaudeFrame], text: str, *, thinking: bool) -> None:
        kind, key, delta_type = (_THINKING, "thinking", "thinking_delta") if thinking else (_TEXT, "text", "text_delta")
        if self.block != kind:
            self.close(out)
            self.start(out, kind, {"type": key, key: ""})
        self.delta(out, {"type": delta_type, key: text})

    def tool(self, out: list[ClaudeFrame], call: dict[str, Any]) -> None:
        """A function call always opens its own tool block, with its whole arguments in one delta."""
        name = text_of(call.get("name"))
        if self.block == _TOOL:
            self.stop(out)
            self.index += 1
            self.block = _NONE
        self.close(out)
        self.start(out, _TOOL, {"type": "tool_use", "id": self.tool_id(name), "name": name, "input": {}})
        if "args" in call:
            self.delta(out, {"type": "input_json_delta", "partial_json": json_text(call["args"])})
        self.has_content = True


def mentions_finish(value: Any) -> bool:
    """The legacy tests the raw chunk bytes for ``"finishReason"`` (as a key or a string value)."""
    if isinstance(value, dict):
        return any(k == "finishReason" or mentions_finish(v) for k, v in value.items())
    if isinstance(value, list):
        return any(mentions_finish(v) for v in value)
    return value == "finishReason"


class ClaudeStreamFromCLI:
    """``{"response": chunk}`` -> Claude SSE frames (``gemini-cli/claude`` stream). The stop reason
    is ``tool_use`` when any chunk called a tool, and the answer is closed at the finish even
    without ``candidatesTokenCount``, as for the Gemini pair (compatibility rows 39 and 43)."""

    __slots__ = ("_blocks", "_used_tool")

    def __init__(self, *, tool_id: Callable[[str], str] = synthetic_tool_id) -> None:
        self._blocks = ClaudeBlocks(tool_id)
        self._used_tool = False

    def feed(self, obj: dict[str, Any]) -> list[ClaudeFrame]:
        blocks = self._blocks
        inner = inner_response(obj)
        out: list[ClaudeFrame] = []
        if not blocks.started:
            blocks.started = True
            out.append(blocks.message_start(inner))
        for part in candidate_parts(inner):
            if not isinstance(part, dict):
                continue
            if "text" in part:
                blocks.text(out, text_of(part["text"]), thinking=bool_of(part.get("thought")))
            elif "functionCall" in part:
                self._used_tool = True
                call = part["functionCall"] if isinstance(part["functionCall"], dict) else {}
                blocks.tool(out, call)
        meta = inner.get("usageMetadata")
        if "usageMetadata" in inner and mentions_finish(obj) and isinstance(meta, dict):
            if blocks.has_content:
                blocks.stop(out)
                usage = {
                    "input_tokens": int_of(meta.get("promptTokenCount")),
                    "output_tokens": int_of(meta.get("candidatesTokenCount")) + int_of(meta.get("thoughtsTokenCount")),
                }
                delta = {"stop_reason": "tool_use" if self._used_tool else "end_turn", "stop_sequence": None}
                out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        return out

    def done(self) -> list[ClaudeFrame]:
        """The upstream ended (the executor's synthetic ``[DONE]``)."""
        return [("message_stop", {"type": "message_stop"})] if self._blocks.has_content else []


def render_claude_response(obj: dict[str, Any], source: Format = Format.GEMINI_CLI) -> dict[str, Any]:
    """A whole ``{"response": ...}`` answer -> Claude message (same rules as the Gemini pair)."""
    return gemini_response.render_claude_response(gemini_response.parse_chunk(inner_response(obj), source))


# --- Responses client -------------------------------------------------------------------------


def responses_events(
    machine: GeminiEvents, obj: dict[str, Any], source: Format = Format.GEMINI_CLI
) -> list[StreamEvent]:
    """Unwrap one chunk and run it through the Gemini -> Responses event machine (A3.2)."""
    inner = obj.get("response") if isinstance(obj.get("response"), dict) else obj
    return machine.feed(gemini_response.parse_chunk(inner, source))
