"""``openai-compatibility`` providers: OpenAI Chat Completions at ``{base-url}/chat/completions``.

Legacy: ``openai_compat_executor.go`` (reference: providers §10). The base URL is used as written
(one trailing ``/`` dropped), so it must already carry ``/v1`` where the upstream needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.translation.token_count import openai_chat_text, openai_encoding, openai_usage

from . import tokenizers
from .base import (
    APIKeyCredential,
    Executor,
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    inband_status_error,
    json_bytes,
)

USER_AGENT = "cli-proxy-openai-compat"
# An in-stream error naming one of these (as its ``type`` or ``code``) is a quota error, a 429.
_QUOTA_NAMES = frozenset({"rate_limit_error", "insufficient_quota", "rate_limit_exceeded"})


class OpenAICompatExecutor(Executor):
    name = "openai-compatibility"
    payload_before_thinking = True

    def precheck(self, credential: APIKeyCredential, request: UpstreamRequest) -> None:
        if not credential.base_url:
            # The legacy answers a provider without base-url like a bad key (statusErr 401).
            raise UpstreamError("credential", 401, b"missing provider baseURL", reason="unauthorized")

    def before_payload(self, credential: Any, body: dict[str, Any], base_model: str,
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        # The translated body names the model before the payload rules (openai_compat_executor.go:
        # 91-93), and nothing writes it again: a rule may set it.
        body["model"] = base_model
        return True

    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        body: dict[str, Any] = dict(request.body)
        if not request.shaped:
            body["model"] = request.base_model
        headers = HeaderSet()
        headers.set("Content-Type", "application/json")
        if credential.api_key:
            headers.set("Authorization", "Bearer " + credential.api_key)
        headers.set("User-Agent", USER_AGENT)
        headers.apply_custom(credential.headers)
        if request.stream:
            headers.set("Accept", "text/event-stream")
            headers.set("Cache-Control", "no-cache")
        url = credential.base_url.removesuffix("/") + "/chat/completions"
        return PreparedRequest("POST", url, headers.items(), json_bytes(body))

    async def count_locally(self, request: UpstreamRequest) -> bytes | None:
        # openai_compat_executor.go CountTokens: tiktoken over the translated body, no call out
        # (Qwen and iFlow count the same way through this class).
        count = await tokenizers.count(openai_encoding(request.base_model), openai_chat_text(request.body))
        return json_bytes(openai_usage(count))

    @property
    def terminal_name(self) -> str:
        return "[DONE]"

    def terminal(self, event: StreamEvent) -> bool:
        # Not every compatible server sends [DONE]; a finish_reason also proves a whole answer.
        if event.payload is None:
            return event.data.strip() == "[DONE]"  # not a line that failed to parse
        choices = event.payload.get("choices") if isinstance(event.payload, dict) else None
        return isinstance(choices, list) and any(
            isinstance(c, dict) and c.get("finish_reason") for c in choices)

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        payload = event.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
            return None
        code = payload["error"].get("code")
        status = code if isinstance(code, int) and not isinstance(code, bool) else None
        # OpenAI itself names a quota error by ``code`` (type ``requests``); others by ``type``.
        if status is None and (payload["error"].get("type") in _QUOTA_NAMES or code in _QUOTA_NAMES):
            status = 429
        return inband_status_error(status, event.data)
