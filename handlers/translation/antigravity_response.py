"""Antigravity upstream answers (``{"response": {...}}`` chunks) -> Claude and Gemini clients.

* ``ClaudeStreamFromAntigravity`` / ``render_claude_response`` (``antigravity/claude``): the
  Gemini CLI block machine plus the signature work of A2.13/A3.5: thinking text is accumulated
  and, when a part carries a ``thoughtSignature``, cached for the session and sent to the client
  as a ``signature_delta`` of ``<model group>#<signature>`` (the form the request side accepts
  back). The finish is held until both a finish reason and usage have been seen (or the stream
  ends), usage subtracts the cached prompt count and reports it as ``cache_read_input_tokens``,
  and empty text on the finishing chunk is ignored.
* ``unwrap_gemini_chunk`` / ``unwrap_gemini_response`` (``antigravity/gemini``): Gemini clients
  get the object inside ``response``.
* The OpenAI chat client uses ``gemini_cli_response.OpenAIChatFromCLI(cached=True)``; the
  Responses client uses ``gemini_cli_response.responses_events`` (the legacy wraps the same
  Gemini translators for both upstreams).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.translation.antigravity_signatures import SIGNATURES, SignatureCache, model_group
from handlers.translation.gemini_cli_response import (
    ClaudeBlocks,
    bool_of,
    candidate_parts,
    first_candidate,
    inner_response,
    int_of,
    text_of,
)
from handlers.translation.gemini_request import synthetic_tool_id
from handlers.translation.gemini_response import ClaudeFrame

_THINKING, _TEXT = 2, 1


def _stop_reason(saw_tool: bool, finish: str) -> str:
    if saw_tool:
        return "tool_use"
    return "max_tokens" if finish == "MAX_TOKENS" else "end_turn"


class ClaudeStreamFromAntigravity:
    """``{"response": chunk}`` -> Claude SSE frames; encode with ``sse.GEMINI_CLAUDE_TRAILER``.

    ``model`` is the upstream model (the envelope's ``model``): it names the signature group.
    ``session`` is ``antigravity_signatures.session_id`` of the client's request.
    """

    __slots__ = (
        "_blocks",
        "_cache",
        "_cached",
        "_candidates",
        "_finish",
        "_has_finish",
        "_has_usage",
        "_model",
        "_prompt",
        "_saw_tool",
        "_sent_final",
        "_session",
        "_thinking_text",
        "_thoughts",
        "_total",
    )

    def __init__(
        self,
        model: str,
        session: str,
        *,
        cache: SignatureCache = SIGNATURES,
        tool_id: Callable[[str], str] = synthetic_tool_id,
    ) -> None:
        self._blocks = ClaudeBlocks(tool_id)
        self._model, self._session, self._cache = model, session, cache
        self._thinking_text: list[str] = []
        self._has_finish = self._has_usage = self._sent_final = self._saw_tool = False
        self._finish = ""
        self._prompt = self._candidates = self._thoughts = self._total = self._cached = 0

    def _start(self, inner: dict[str, Any]) -> ClaudeFrame:
        # The start usage comes from the executor's own counters (cpaUsageMetadata), if any.
        counters = inner.get("cpaUsageMetadata") if isinstance(inner.get("cpaUsageMetadata"), dict) else {}
        usage = {"input_tokens": 0, "output_tokens": 0}
        if "promptTokenCount" in counters:
            usage["input_tokens"] = int_of(counters["promptTokenCount"])
        if "candidatesTokenCount" in counters:
            usage["output_tokens"] = int_of(counters["candidatesTokenCount"])
        return self._blocks.message_start(inner, usage)

    def _thought(self, out: list[ClaudeFrame], part: dict[str, Any]) -> None:
        blocks = self._blocks
        signature = text_of(part.get("thoughtSignature"))
        text = text_of(part["text"])
        if signature:
            if self._session and self._thinking_text:
                self._cache.put(self._model, self._session, "".join(self._thinking_text), signature)
                self._thinking_text = []
            # The text of a signed part is not forwarded: the legacy sends only the signature.
            blocks.delta(out, {"type": "signature_delta", "signature": f"{model_group(self._model)}#{signature}"})
        elif blocks.block == _THINKING:
            self._thinking_text.append(text)
            blocks.delta(out, {"type": "thinking_delta", "thinking": text})
        else:
            blocks.close(out)
            blocks.start(out, _THINKING, {"type": "thinking", "thinking": ""})
            blocks.delta(out, {"type": "thinking_delta", "thinking": text})
            self._thinking_text = [text]

    def _text(self, out: list[ClaudeFrame], text: str, finishing: bool) -> None:
        blocks = self._blocks
        if not text and finishing:
            return
        if blocks.block == _TEXT:
            blocks.delta(out, {"type": "text_delta", "text": text})
            return
        # An empty text part closes the open block without opening a new one (the block type is
        # not reset, exactly as in the legacy).
        blocks.close(out)
        if text:
            blocks.start(out, _TEXT, {"type": "text", "text": ""})
            blocks.delta(out, {"type": "text_delta", "text": text})

    def _final(self, out: list[ClaudeFrame], *, force: bool) -> None:
        blocks = self._blocks
        if self._sent_final or (not self._has_usage and not force) or not blocks.has_content:
            return
        if blocks.block != 0:
            blocks.stop(out)
            blocks.block = 0
        output = self._candidates + self._thoughts
        if output == 0 and self._total > 0:
            output = max(self._total - self._prompt, 0)
        usage: dict[str, Any] = {"input_tokens": self._prompt, "output_tokens": output}
        if self._cached > 0:
            usage["cache_read_input_tokens"] = self._cached
        delta = {"stop_reason": _stop_reason(self._saw_tool, self._finish), "stop_sequence": None}
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        self._sent_final = True

    def feed(self, obj: dict[str, Any]) -> list[ClaudeFrame]:
        blocks = self._blocks
        inner = inner_response(obj)
        out: list[ClaudeFrame] = []
        if not blocks.started:
            blocks.started = True
            out.append(self._start(inner))
        candidate = first_candidate(inner)
        finishing = "finishReason" in candidate
        for part in candidate_parts(inner):
            if not isinstance(part, dict):
                continue
            if "text" in part:
                if bool_of(part.get("thought")):
                    self._thought(out, part)
                else:
                    self._text(out, text_of(part["text"]), finishing)
            elif "functionCall" in part:
                self._saw_tool = True
                blocks.tool(out, part["functionCall"] if isinstance(part["functionCall"], dict) else {})
        if finishing:
            self._has_finish = True
            self._finish = text_of(candidate["finishReason"])
        if "usageMetadata" in inner:
            meta = inner["usageMetadata"] if isinstance(inner["usageMetadata"], dict) else {}
            self._has_usage = True
            self._cached = int_of(meta.get("cachedContentTokenCount"))
            self._prompt = int_of(meta.get("promptTokenCount")) - self._cached
            self._candidates = int_of(meta.get("candidatesTokenCount"))
            self._thoughts = int_of(meta.get("thoughtsTokenCount"))
            self._total = int_of(meta.get("totalTokenCount"))
            if self._candidates == 0 and self._total > 0:
                self._candidates = max(self._total - self._prompt - self._thoughts, 0)
        if self._has_usage and self._has_finish:
            self._final(out, force=False)
        return out

    def done(self) -> list[ClaudeFrame]:
        """The upstream ended: close what is open, then ``message_stop`` (only after content)."""
        if not self._blocks.has_content:
            return []
        out: list[ClaudeFrame] = []
        self._final(out, force=True)
        out.append(("message_stop", {"type": "message_stop"}))
        return out


def render_claude_response(obj: dict[str, Any], model: str) -> dict[str, Any]:
    """A whole ``{"response": ...}`` answer -> Claude message (``antigravity/claude`` non-stream)."""
    inner = inner_response(obj)
    meta = inner.get("usageMetadata") if isinstance(inner.get("usageMetadata"), dict) else {}
    prompt = int_of(meta.get("promptTokenCount"))
    total = int_of(meta.get("totalTokenCount"))
    cached = int_of(meta.get("cachedContentTokenCount"))
    output = int_of(meta.get("candidatesTokenCount")) + int_of(meta.get("thoughtsTokenCount"))
    if output == 0 and total > 0:
        output = max(total - prompt, 0)
    usage: dict[str, Any] = {"input_tokens": prompt, "output_tokens": output}
    if cached > 0:
        usage["cache_read_input_tokens"] = cached
    message: dict[str, Any] = {
        "id": text_of(inner.get("responseId")),
        "type": "message",
        "role": "assistant",
        "model": text_of(inner.get("modelVersion")),
        # null until the first block, as the legacy template has it
        "content": None,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    text: list[str] = []
    thinking: list[str] = []
    signature = ""
    tools = 0

    def add(block: dict[str, Any]) -> None:
        if message["content"] is None:
            message["content"] = []
        message["content"].append(block)

    def flush_text() -> None:
        if text:
            add({"type": "text", "text": "".join(text)})
            text.clear()

    def flush_thinking() -> None:
        nonlocal signature
        if not thinking and not signature:
            return
        block = {"type": "thinking", "thinking": "".join(thinking)}
        if signature:
            block["signature"] = f"{model_group(model)}#{signature}"
        add(block)
        thinking.clear()
        signature = ""

    for part in candidate_parts(inner):
        if not isinstance(part, dict):
            continue
        thought = bool_of(part.get("thought"))
        if thought:
            offered = text_of(part.get("thoughtSignature", part.get("thought_signature")))
            if offered:
                signature = offered
        value = text_of(part.get("text"))
        if value:
            if thought:
                flush_text()
                thinking.append(value)
            else:
                flush_thinking()
                text.append(value)
            continue
        if "functionCall" in part:
            flush_thinking()
            flush_text()
            tools += 1
            call = part["functionCall"] if isinstance(part["functionCall"], dict) else {}
            args = call.get("args")
            block = {"type": "tool_use", "id": f"tool_{tools}", "name": text_of(call.get("name")), "input": {}}
            if isinstance(args, dict):
                block["input"] = args
            add(block)
    flush_thinking()
    flush_text()
    candidate = first_candidate(inner)
    message["stop_reason"] = _stop_reason(tools > 0, text_of(candidate.get("finishReason")))
    if prompt == 0 and output == 0 and "usageMetadata" not in inner:
        del message["usage"]
    return message


def unwrap_gemini_chunk(obj: Any) -> dict[str, Any] | None:
    """One stream chunk for a Gemini client: the object inside ``response`` (None if absent)."""
    inner = obj.get("response") if isinstance(obj, dict) else None
    return inner if isinstance(inner, dict) else None


def unwrap_gemini_response(obj: Any) -> Any:
    """A whole answer for a Gemini client: ``response`` when present, else the body unchanged."""
    if isinstance(obj, dict) and "response" in obj:
        return obj["response"]
    return obj
