"""Token-usage readers and per-pair arithmetic (reference A2.16 "Usage / token mapping").

Readers (``from_<upstream>``) copy the upstream counters into ``Usage`` without arithmetic; the
``to_<client>`` functions apply the pair's formula, chosen by ``usage.source``. Keeping the formulas
here, side by side, is deliberate: they disagree with each other (e.g. Claude->OpenAI counts cache
creation in ``prompt_tokens`` but not in ``total_tokens``) and must be reproduced as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.translation.gjson_values import int_of
from handlers.translation.model import Format, Usage


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def from_claude(usage: dict[str, Any]) -> Usage:
    return Usage(
        source=Format.CLAUDE,
        input_tokens=int_of(usage.get("input_tokens")),
        output_tokens=int_of(usage.get("output_tokens")),
        cache_read_tokens=int_of(usage.get("cache_read_input_tokens")),
        cache_creation_tokens=int_of(usage.get("cache_creation_input_tokens")),
        cache_reported="cache_creation_input_tokens" in usage or "cache_read_input_tokens" in usage,
        thinking_tokens=int_of(usage["thinking_tokens"]) if "thinking_tokens" in usage else None,
    )


def from_openai(usage: dict[str, Any]) -> Usage:
    total = usage.get("total_tokens")
    return Usage(
        source=Format.OPENAI,
        input_tokens=int_of(usage.get("prompt_tokens")),
        output_tokens=int_of(usage.get("completion_tokens")),
        total_tokens=None if total is None else int_of(total),
        cache_read_tokens=int_of(_get(usage, "prompt_tokens_details", "cached_tokens")),
        reasoning_tokens=int_of(_get(usage, "completion_tokens_details", "reasoning_tokens")),
    )


@dataclass(slots=True)
class CodexUsage(Usage):
    """``Usage`` read from a Codex ``response.usage``, remembering which counters it held.

    The legacy chat translator writes a counter only when the upstream sent it (a key present
    with any value, even null), so presence has to survive the trip to the renderer.
    ``output_reported`` and ``total_tokens is None`` already cover two of the four counters.
    """

    input_reported: bool = True
    reasoning_reported: bool = True


def from_codex(raw: Any) -> CodexUsage | None:
    """A Codex ``usage`` object, or None when it is not an object (the legacy then writes none)."""
    if not isinstance(raw, dict):
        return None
    output_details = raw.get("output_tokens_details")
    return CodexUsage(
        source=Format.CODEX,
        input_tokens=int_of(raw.get("input_tokens")),
        output_tokens=int_of(raw.get("output_tokens")),
        total_tokens=int_of(raw["total_tokens"]) if "total_tokens" in raw else None,
        cache_read_tokens=int_of(_get(raw, "input_tokens_details", "cached_tokens")),
        reasoning_tokens=int_of(_get(raw, "output_tokens_details", "reasoning_tokens")),
        output_reported="output_tokens" in raw,
        input_reported="input_tokens" in raw,
        reasoning_reported=isinstance(output_details, dict) and "reasoning_tokens" in output_details,
    )


def _codex_to_openai(usage: Usage) -> dict[str, Any]:
    # codex_openai_response.go:83-95 (stream) and :198-210 (non-stream): only the counters the
    # upstream sent, in this key order; the cached prompt count is never passed on. A usage
    # with none of them gives {} and the caller then writes no ``usage`` at all.
    input_reported = usage.input_reported if isinstance(usage, CodexUsage) else True
    reasoning_reported = usage.reasoning_reported if isinstance(usage, CodexUsage) else True
    out: dict[str, Any] = {}
    if usage.output_reported:
        out["completion_tokens"] = usage.output_tokens
    if usage.total_tokens is not None:
        out["total_tokens"] = usage.total_tokens
    if input_reported:
        out["prompt_tokens"] = usage.input_tokens
    if reasoning_reported:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def from_gemini(meta: dict[str, Any], source: Format = Format.GEMINI) -> Usage:
    total = meta.get("totalTokenCount")
    return Usage(
        source=source,
        input_tokens=int_of(meta.get("promptTokenCount")),
        output_tokens=int_of(meta.get("candidatesTokenCount")),
        total_tokens=None if total is None else int_of(total),
        cache_read_tokens=int_of(meta.get("cachedContentTokenCount")),
        reasoning_tokens=int_of(meta.get("thoughtsTokenCount")),
        output_reported="candidatesTokenCount" in meta,
    )


def to_openai(usage: Usage, *, stream: bool) -> dict[str, Any]:
    """OpenAI chat ``usage`` object for a usage coming from ``usage.source``."""
    if usage.source is Format.CLAUDE:
        # Reference A2.2: cache creation counts as prompt but is left out of the total.
        return {
            "prompt_tokens": usage.input_tokens + usage.cache_creation_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        }
    if usage.source in (Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY):
        # Reference A2.4: cached tokens are subtracted from the prompt on the stream path only.
        # Counts the upstream omitted stay omitted; key order follows the legacy translator.
        prompt = usage.input_tokens + usage.reasoning_tokens
        if stream:
            prompt -= usage.cache_read_tokens
        out: dict[str, Any] = {}
        if usage.output_reported:
            out["completion_tokens"] = usage.output_tokens
        if usage.total_tokens is not None:
            out["total_tokens"] = usage.total_tokens
        out["prompt_tokens"] = prompt
        if usage.reasoning_tokens > 0:
            out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
        if usage.cache_read_tokens > 0:
            out["prompt_tokens_details"] = {"cached_tokens": usage.cache_read_tokens}
        return out
    if usage.source is Format.CODEX:
        return _codex_to_openai(usage)
    out = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens
        if usage.total_tokens is not None
        else usage.input_tokens + usage.output_tokens,
    }
    if usage.cache_read_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cache_read_tokens}
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def to_claude(usage: Usage) -> dict[str, Any]:
    """Claude ``usage`` object (input/output, plus ``cache_read_input_tokens`` when non-zero)."""
    if usage.source is Format.OPENAI:
        # Reference A2.12: cached prompt tokens are moved out of input_tokens (floored at 0).
        out: dict[str, Any] = {
            "input_tokens": max(usage.input_tokens - usage.cache_read_tokens, 0)
            if usage.cache_read_tokens > 0
            else usage.input_tokens,
            "output_tokens": usage.output_tokens,
        }
        if usage.cache_read_tokens > 0:
            out["cache_read_input_tokens"] = usage.cache_read_tokens
        return out
    if usage.source in (Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY):
        # Reference A2.6: thoughts are billed as output.
        return {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens + usage.reasoning_tokens,
        }
    out = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    if usage.cache_read_tokens > 0:
        out["cache_read_input_tokens"] = usage.cache_read_tokens
    if usage.cache_creation_tokens > 0:
        out["cache_creation_input_tokens"] = usage.cache_creation_tokens
    return out


def to_responses(usage: Usage) -> dict[str, Any]:
    """OpenAI Responses ``usage`` (Gemini upstream: cached count is not propagated, reference A3.2)."""
    gemini = usage.source in (Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY)
    total = usage.total_tokens
    if total is None:
        # Gemini's translator copies totalTokenCount or writes 0 without it
        # (gemini_openai-responses_response.go:447-451); the others add input and output.
        total = 0 if gemini else usage.input_tokens + usage.output_tokens
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": 0 if gemini else usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": total,
    }


def to_gemini(usage: Usage, *, stream: bool) -> dict[str, Any]:
    """Gemini ``usageMetadata`` for a Claude upstream (claude/gemini response translator).

    Cached = cache creation + cache read, written whenever Claude sent either counter. The legacy
    keeps ``trafficType`` first on the stream path and last on the non-stream path.
    """
    out: dict[str, Any] = {"trafficType": "PROVISIONED_THROUGHPUT"} if stream else {}
    out["promptTokenCount"] = usage.input_tokens
    out["candidatesTokenCount"] = usage.output_tokens
    out["totalTokenCount"] = usage.input_tokens + usage.output_tokens
    if usage.cache_reported:
        out["cachedContentTokenCount"] = usage.cache_creation_tokens + usage.cache_read_tokens
    if usage.thinking_tokens is not None:
        out["thoughtsTokenCount"] = usage.thinking_tokens
    if not stream:
        out["trafficType"] = "PROVISIONED_THROUGHPUT"
    return out
