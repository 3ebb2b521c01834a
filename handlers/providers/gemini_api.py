"""``gemini-api-key`` entries: native Gemini at ``{base-url}/v1beta/models/<model>:<action>``.

Legacy: ``gemini_executor.go`` (reference: providers §5.6). Stream calls use
``:streamGenerateContent?alt=sse``, or ``?$alt=<alt>`` when the client asked for another ``alt``
(then the chunks are handed back raw). 429 bodies are not read for a retry hint: this executor
of v6.7.15 builds a plain ``statusErr``.
"""

from __future__ import annotations

from typing import Any

from handlers.translation.sse import normalise_alt

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

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"


class GeminiAPIExecutor(Executor):
    name = "gemini"

    def base_url(self, credential: APIKeyCredential) -> str:
        return credential.base_url.rstrip("/") or DEFAULT_BASE_URL

    def model_url(self, credential: APIKeyCredential, model: str, action: str) -> str:
        return f"{self.base_url(credential)}/{API_VERSION}/models/{model}:{action}"

    def action(self, request: UpstreamRequest) -> str:
        if request.action == "countTokens":
            return "countTokens"
        return "streamGenerateContent" if request.stream else "generateContent"

    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        body: dict[str, Any] = dict(request.body)
        body["model"] = request.base_model
        body.pop("session_id", None)
        action = self.action(request)
        alt = normalise_alt(request.alt)
        url = self.model_url(credential, request.base_model, action)
        if request.stream and action != "countTokens":
            url += f"?$alt={alt}" if alt else "?alt=sse"
        elif alt and action != "countTokens":
            url += f"?$alt={alt}"
        headers = HeaderSet()
        headers.set("Content-Type", "application/json")
        if credential.api_key:
            headers.set("x-goog-api-key", credential.api_key)
        headers.apply_custom(credential.headers)
        raw = request.stream and bool(alt)
        return PreparedRequest("POST", url, headers.items(), json_bytes(body), raw_stream=raw)

    @property
    def terminal_name(self) -> str:
        return "a finishReason"

    def terminal(self, event: StreamEvent) -> bool:
        # Gemini has no end marker: the last candidate chunk carries finishReason, and a blocked
        # prompt ends with promptFeedback.blockReason and no candidates at all.
        payload = event.payload
        if not isinstance(payload, dict):
            return False
        feedback = payload.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            return True
        candidates = payload.get("candidates")
        return isinstance(candidates, list) and any(
            isinstance(c, dict) and c.get("finishReason") for c in candidates)

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        payload = event.payload
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            return None
        code = error.get("code")
        return inband_status_error(code if isinstance(code, int) and not isinstance(code, bool) else None,
                                   event.data)
