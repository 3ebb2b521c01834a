"""Upstream executors for config-backed API keys (see README.md). Not wired into the gateway."""

from __future__ import annotations

from .base import (
    APIKeyCredential,
    Executor,
    PreparedRequest,
    Scope,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    classify,
    credentials_from_config,
)
from .claude_api import ClaudeAPIExecutor
from .codex_api import CodexAPIExecutor
from .gemini_api import GeminiAPIExecutor
from .http import Timeouts, UpstreamClient, UpstreamStream
from .openai_compat import OpenAICompatExecutor
from .vertex_api import VertexAPIExecutor

# Credential provider -> executor class; any other provider key is an openai-compatibility name.
EXECUTORS: dict[str, type[Executor]] = {
    "gemini": GeminiAPIExecutor,
    "claude": ClaudeAPIExecutor,
    "codex": CodexAPIExecutor,
    "vertex": VertexAPIExecutor,
}


def executor_class(provider: str) -> type[Executor]:
    return EXECUTORS.get(provider, OpenAICompatExecutor)


__all__ = [
    "EXECUTORS",
    "APIKeyCredential",
    "ClaudeAPIExecutor",
    "CodexAPIExecutor",
    "Executor",
    "GeminiAPIExecutor",
    "OpenAICompatExecutor",
    "PreparedRequest",
    "Scope",
    "StreamEvent",
    "Timeouts",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamRequest",
    "UpstreamResult",
    "UpstreamStream",
    "VertexAPIExecutor",
    "classify",
    "credentials_from_config",
    "executor_class",
]
