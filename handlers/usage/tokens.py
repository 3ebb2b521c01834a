"""Token counts in upstream answers, read as the legacy's ``parse*Usage`` helpers read them
(``internal/runtime/executor/usage_helpers.go``). Pure functions over decoded JSON.

Each upstream kind has a non-stream reader (the whole answer) and a stream reader (one decoded
event payload); a stream reader returns None when the payload holds no usage object at all, so
the reporter can tell "no usage here" from "usage of zero".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.translation.gjson_values import int_of


@dataclass(frozen=True, slots=True)
class TokenStats:
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0

    def is_zero(self) -> bool:
        return not (self.input_tokens or self.output_tokens or self.reasoning_tokens
                    or self.cached_tokens or self.total_tokens)

    def normalised(self) -> TokenStats:
        """``normaliseTokenStats``: a missing total is input+output+reasoning, else all four."""
        if self.total_tokens:
            return self
        total = self.input_tokens + self.output_tokens + self.reasoning_tokens
        if not total:
            total += self.cached_tokens
        return TokenStats(self.input_tokens, self.output_tokens, self.reasoning_tokens, self.cached_tokens, total)

    def as_json(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "reasoning_tokens": self.reasoning_tokens, "cached_tokens": self.cached_tokens,
                "total_tokens": self.total_tokens}


_MISSING = object()


def _path(node: Any, *keys: str) -> Any:
    """gjson ``Get`` of a dotted path: ``_MISSING`` when any step is absent (null exists)."""
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _int(node: Any, key: str) -> int:
    value = _path(node, key)
    return 0 if value is _MISSING else int_of(value)


def _openai(node: Any) -> TokenStats:
    return TokenStats(input_tokens=_int(node, "prompt_tokens"), output_tokens=_int(node, "completion_tokens"),
                      total_tokens=_int(node, "total_tokens"),
                      cached_tokens=_int(_path(node, "prompt_tokens_details"), "cached_tokens"),
                      reasoning_tokens=_int(_path(node, "completion_tokens_details"), "reasoning_tokens"))


def _claude(node: Any) -> TokenStats:
    input_tokens, output_tokens = _int(node, "input_tokens"), _int(node, "output_tokens")
    # Cache reads, else cache writes: the legacy counts whichever it finds first.
    cached = _int(node, "cache_read_input_tokens") or _int(node, "cache_creation_input_tokens")
    return TokenStats(input_tokens=input_tokens, output_tokens=output_tokens, cached_tokens=cached,
                      total_tokens=input_tokens + output_tokens)


def _codex(node: Any) -> TokenStats:
    return TokenStats(input_tokens=_int(node, "input_tokens"), output_tokens=_int(node, "output_tokens"),
                      total_tokens=_int(node, "total_tokens"),
                      cached_tokens=_int(_path(node, "input_tokens_details"), "cached_tokens"),
                      reasoning_tokens=_int(_path(node, "output_tokens_details"), "reasoning_tokens"))


def _gemini(node: Any) -> TokenStats:
    stats = TokenStats(input_tokens=_int(node, "promptTokenCount"), output_tokens=_int(node, "candidatesTokenCount"),
                       reasoning_tokens=_int(node, "thoughtsTokenCount"), total_tokens=_int(node, "totalTokenCount"),
                       cached_tokens=_int(node, "cachedContentTokenCount"))
    if stats.total_tokens:
        return stats
    return TokenStats(stats.input_tokens, stats.output_tokens, stats.reasoning_tokens, stats.cached_tokens,
                      stats.input_tokens + stats.output_tokens + stats.reasoning_tokens)


def _first(payload: Any, paths: tuple[tuple[str, ...], ...]) -> Any:
    for path in paths:
        node = _path(payload, *path)
        if node is not _MISSING:
            return node
    return _MISSING


# (paths tried in order, reader) per upstream kind, for whole answers and for stream events. The
# paths differ in small ways the legacy has: the Gemini CLI stream falls back to a top-level
# ``usage_metadata`` where its whole-answer reader looks under ``response``.
_Reader = tuple[tuple[tuple[str, ...], ...], Callable[[Any], TokenStats]]
_WHOLE: dict[str, _Reader] = {
    "openai": ((("usage",),), _openai),
    "claude": ((("usage",),), _claude),
    "codex": ((("response", "usage"),), _codex),
    "gemini": ((("usageMetadata",), ("usage_metadata",)), _gemini),
    "gemini-cli": ((("response", "usageMetadata"), ("response", "usage_metadata")), _gemini),
    "antigravity": ((("response", "usageMetadata"), ("usageMetadata",), ("usage_metadata",)), _gemini),
}
_STREAM: dict[str, _Reader] = {
    **_WHOLE,
    "gemini-cli": ((("response", "usageMetadata"), ("usage_metadata",)), _gemini),
}


def whole_answer_usage(kind: str, payload: Any) -> TokenStats:
    """Usage of a whole (non-stream) answer; zero when it carries none."""
    reader = _WHOLE.get(kind)
    if reader is None:
        return TokenStats()
    node = _first(payload, reader[0])
    return TokenStats() if node is _MISSING else reader[1](node)


def stream_event_usage(kind: str, payload: Any) -> TokenStats | None:
    """Usage in one stream event's payload, or None when it has no usage object."""
    reader = _STREAM.get(kind)
    if reader is None or not isinstance(payload, dict):
        return None
    if kind == "codex" and payload.get("type") != "response.completed":
        # The legacy reads Codex usage only off response.completed (codex_executor.go:170,288):
        # the usage of a response.incomplete or response.failed is never recorded.
        return None
    node = _first(payload, reader[0])
    return None if node is _MISSING else reader[1](node)


# Which reader each executor's legacy counterpart uses (Kiro keeps no usage the legacy reads).
EXECUTOR_KINDS: dict[str, str] = {
    "claude": "claude", "codex": "codex", "gemini": "gemini", "vertex": "gemini",
    "gemini-cli": "gemini-cli", "antigravity": "antigravity", "openai-compatibility": "openai",
    "qwen": "openai", "iflow": "openai", "github-copilot": "openai", "aistudio": "gemini",
}
# Executors whose legacy counterpart records a request even when the answer had no usage
# (``ensurePublished``); the others record nothing for a success without token counts.
ALWAYS_RECORDED = frozenset({"openai-compatibility", "iflow", "antigravity"})
