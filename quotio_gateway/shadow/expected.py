"""Differences the native side makes on purpose (docs/compatibility.md), so shadow counts them as
``ignored`` with the rule's name instead of ``mismatch``.

Each rule looks at the two structural LLM signatures (``comparators.llm_signature``) and says
whether their difference is exactly the documented deviation; anything else still mismatches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Signature = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExpectedDifference:
    name: str  # the heading in docs/compatibility.md
    applies: Callable[[Signature, Signature], bool]


def _without(sig: Signature, *keys: str) -> Signature:
    return {k: v for k, v in sig.items() if k not in keys}


def _truncated_stream_flagged(legacy: Signature, native: Signature) -> bool:
    """Legacy ends a stream cut short by the upstream without a word (except Codex non-stream);
    native adds the protocol's error frame. Everything before that frame must agree."""
    events_l, events_n = legacy.get("events"), native.get("events")
    if not isinstance(events_l, list) or not isinstance(events_n, list):
        return False
    if events_n[: len(events_l)] != events_l or events_n[len(events_l):] != ["error"]:
        return False
    return _without(legacy, "events", "error_type") == _without(native, "events", "error_type")


def _gemini_unknown_method(legacy: Signature, native: Signature) -> bool:
    """Legacy answers ``/v1beta/models/m:unknownMethod`` with an empty 200; native with a 404."""
    return (legacy.get("status") == 200 and legacy.get("body") == "empty"
            and native.get("status") == 404 and native.get("error_type") == "invalid_request_error")


def _oversized_body(legacy: Signature, native: Signature) -> bool:
    """Native refuses a body over ``server.max_body_bytes`` with 413; legacy has no limit."""
    return native.get("status") == 413 and native.get("error_type") == "invalid_request_error"


def _codex_tool_calls_finish(legacy: Signature, native: Signature) -> bool:
    """A non-stream chat answer from Codex with tool calls: legacy says ``stop``, native
    ``tool_calls``; all else (the calls themselves included) must agree."""
    return (bool(native.get("tool_calls")) and legacy.get("finish_reasons") == ["stop"]
            and native.get("finish_reasons") == ["tool_calls"]
            and _without(legacy, "finish_reasons") == _without(native, "finish_reasons"))


RULES: tuple[ExpectedDifference, ...] = (
    ExpectedDifference("codex-tool-calls-finish-reason", _codex_tool_calls_finish),
    ExpectedDifference("truncated-stream-error-frame", _truncated_stream_flagged),
    ExpectedDifference("gemini-unknown-method-404", _gemini_unknown_method),
    ExpectedDifference("oversized-body-413", _oversized_body),
)


def expected_difference(legacy: Signature, native: Signature) -> str | None:
    """The name of the documented deviation that explains the difference, if one does."""
    for rule in RULES:
        if rule.applies(legacy, native):
            return rule.name
    return None
