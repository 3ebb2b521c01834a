"""The non-stream Responses object for a Gemini-family answer (Gemini, Gemini CLI, Antigravity).

The legacy aggregates a non-stream Gemini answer with a function of its own
(``ConvertGeminiResponseToOpenAIResponsesNonStream``, gemini_openai-responses_response.go:461-654;
the Gemini CLI and Antigravity translators unwrap ``response`` and call it), not by folding the
stream. Its ids differ from the stream's, and they are kept here:

* the response id is ``responseId`` with ``resp_`` put in front when missing (a made-up
  ``resp_<unixnano hex>_<n>`` without one);
* the reasoning item is ``rs_<id without resp_>`` (no ``_<n>``) and always carries
  ``encrypted_content``: the last non-empty ``thoughtSignature`` of a thought part, else ``""``;
  it is there when a thought part gave text or a signature, and has ``summary`` only with text;
* the message item is ``msg_<id without resp_>_0``.

Everything else (items in ``output_index`` order, usage, the request echo) is the shared
``render_response``, with the deviations docs/compatibility.md lists (rows 24, 26, 30).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from handlers.translation.gemini_response import parse_chunk
from handlers.translation.gjson_values import bool_of, text_of
from handlers.translation.model import Format
from handlers.translation.openai_responses import GeminiEvents, fold_events, gemini_call_id, render_response

_made_up_ids = itertools.count(1)


def response_id(upstream_id: str | None) -> str:
    """The legacy's id for the answer: ``responseId``, made up when empty, prefixed ``resp_``."""
    rid = upstream_id or f"resp_{time.time_ns():x}_{next(_made_up_ids)}"
    return rid if rid.startswith("resp_") else f"resp_{rid}"


def thought_signature(payload: dict[str, Any]) -> str:
    """The last non-empty ``thoughtSignature`` among candidate 0's thought parts."""
    candidates = payload.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    content = first.get("content") if isinstance(first, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    signature = ""
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and bool_of(part.get("thought")) and "thoughtSignature" in part:
            signature = text_of(part["thoughtSignature"]) or signature
    return signature


def render_gemini_response(
    payload: dict[str, Any],
    request: dict[str, Any] | None,
    *,
    source: Format = Format.GEMINI,
    now: Callable[[], int] = lambda: int(time.time()),
    call_id: Callable[[], str] = gemini_call_id,
) -> dict[str, Any]:
    """One Gemini answer, or its Gemini CLI / Antigravity ``{"response": …}`` envelope -> the
    Responses object."""
    if isinstance(payload.get("response"), dict):
        payload = payload["response"]
    chunk = parse_chunk(payload, source)
    folded = fold_events(GeminiEvents(call_id=call_id).feed(chunk))
    if chunk.usage is not None:
        # The answer's own usageMetadata, finish or not: a blocked prompt (promptFeedback, no
        # candidates) still reports its prompt tokens (gemini_openai-responses_response.go:635-651).
        folded.usage = chunk.usage
    folded.id = response_id(folded.id)
    out = render_response(folded, request, now=now)
    bare = folded.id.removeprefix("resp_")
    signature = thought_signature(payload)
    output: list[dict[str, Any]] = out["output"]
    reasoning = next((item for item in output if item["type"] == "reasoning"), None)
    if reasoning is None and signature:
        reasoning = {"type": "reasoning"}
        output.insert(0, reasoning)
    if reasoning is not None:
        summary = reasoning.get("summary")
        reasoning.clear()
        reasoning.update({"id": f"rs_{bare}", "type": "reasoning", "encrypted_content": signature})
        if summary:
            reasoning["summary"] = summary
    for item in output:
        if item["type"] == "message":
            item["id"] = f"msg_{bare}_0"
    return out
