"""``FilterSSEUsageMetadata`` (usage_helpers.go:389-548) on decoded stream chunks, without I/O.

The legacy's Gemini API-key, Antigravity and AI Studio executors rename ``usageMetadata`` (top
level, or under the Antigravity envelope's ``response``) to ``cpaUsageMetadata`` on every chunk
that is not the terminal one (no non-empty ``candidates.0.finishReason``). Translators then see
usage on the final chunk only (an OpenAI client gets ``usage`` once), a Gemini client sees the
renamed key, and the Antigravity->Claude translator reads ``cpaUsageMetadata`` for the
``message_start`` counts. One exception, by ``traceId``: after a terminal chunk without usage, the
next chunk of the same trace that carries usage is left alone (the usage that belongs to it).
"""

from __future__ import annotations

from typing import Any

from handlers.translation.gjson_values import text_of

USAGE = "usageMetadata"
RENAMED = "cpaUsageMetadata"


def _member(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def _finish_reason(payload: dict[str, Any]) -> tuple[bool, str]:
    """Whether ``candidates.0.finishReason`` (else the envelope's) exists, and its text."""
    for root in (payload, _member(payload, "response")):
        candidates = _member(root, "candidates")
        if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict) \
                and "finishReason" in candidates[0]:
            return True, text_of(candidates[0]["finishReason"]).strip()
    return False, ""


def _has_usage(payload: dict[str, Any]) -> bool:
    return USAGE in payload or (isinstance(payload.get("response"), dict) and USAGE in payload["response"])


def filter_usage_metadata(payload: dict[str, Any], stops: set[str]) -> dict[str, Any] | None:
    """The chunk with its usage renamed, or None when the legacy leaves it as it is. ``stops`` holds
    the trace ids of terminal chunks that came without usage (one set per stream)."""
    trace = text_of(payload.get("traceId"))
    exists, reason = _finish_reason(payload)
    terminal = exists and reason != ""
    if trace and terminal and not _has_usage(payload):
        stops.add(trace)
        return None
    if trace and trace in stops and _has_usage(payload):
        stops.discard(trace)
        return None
    if terminal or not _has_usage(payload):
        return None
    out = dict(payload)
    if USAGE in out:
        out[RENAMED] = out.pop(USAGE)
    response = out.get("response")
    if isinstance(response, dict) and USAGE in response:
        response = dict(response)
        response[RENAMED] = response.pop(USAGE)
        out["response"] = response
    return out
