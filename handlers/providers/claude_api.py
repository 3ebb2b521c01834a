"""``claude-api-key`` entries: Anthropic Messages at ``{base-url}/v1/messages?beta=true``.

Legacy: ``claude_executor.go`` (reference: providers §2.4, §2.6). The key goes in ``x-api-key``
only on ``https://api.anthropic.com`` itself; any other base URL gets ``Authorization: Bearer``.
Identity headers use ``EnsureHeader`` (a client's own value wins).

Not done here (they belong to the body pipeline before the executor): cloaking (system prompt,
fake ``metadata.user_id``, sensitive-word obfuscation) and the ``proxy_`` tool-name prefix that
the legacy adds for OAuth tokens.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import compression_utils

from .base import (
    APIKeyCredential,
    Executor,
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    header_value,
    inband_status_error,
    json_bytes,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_BETAS = ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
                 "fine-grained-tool-streaming-2025-05-14")
IDENTITY_HEADERS = (
    ("Anthropic-Version", "2023-06-01"),
    ("Anthropic-Dangerous-Direct-Browser-Access", "true"),
    ("X-App", "cli"),
    ("X-Stainless-Helper-Method", "stream"),
    ("X-Stainless-Retry-Count", "0"),
    ("X-Stainless-Runtime-Version", "v24.3.0"),
    ("X-Stainless-Package-Version", "0.55.1"),
    ("X-Stainless-Runtime", "node"),
    ("X-Stainless-Lang", "js"),
    ("X-Stainless-Arch", "arm64"),
    ("X-Stainless-Os", "MacOS"),
    ("X-Stainless-Timeout", "60"),
    ("User-Agent", "claude-cli/1.0.83 (external, cli)"),
)

# Anthropic error types -> the HTTP status Anthropic documents for them, to classify in-band errors.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "overloaded_error": 529,
}


def accept_encoding() -> str:
    """The legacy advertises gzip, deflate, br and zstd and decodes them itself; we advertise only
    what this aiohttp can decode, so an upstream never answers in an encoding we cannot read."""
    names = ["gzip", "deflate"]
    if compression_utils.HAS_BROTLI:
        names.append("br")
    if compression_utils.HAS_ZSTD:
        names.append("zstd")
    return ", ".join(names)


def extract_betas(body: dict[str, Any]) -> list[str]:
    """``extractAndRemoveBetas``: a ``betas`` array (or string) leaves the body for the header."""
    if "betas" not in body:
        return []
    value = body.pop("betas")
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    text = value.strip() if isinstance(value, str) else ""
    return [text] if text else []


def beta_header(client_value: str, extra: list[str]) -> str:
    value = client_value.strip()
    if value:
        betas = value if "oauth" in value else value + ",oauth-2025-04-20"
    else:
        betas = DEFAULT_BETAS
    seen = {b.strip() for b in betas.split(",")}
    for beta in extra:
        beta = beta.strip()
        if beta and beta not in seen:
            betas += "," + beta
            seen.add(beta)
    return betas


class ClaudeAPIExecutor(Executor):
    name = "claude"

    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        body: dict[str, Any] = dict(request.body)
        body["model"] = request.base_model
        tool_choice = body.get("tool_choice")
        if isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool"):
            # Anthropic rejects extended thinking together with a forced tool.
            body.pop("thinking", None)
        betas = extract_betas(body)

        base = credential.base_url or DEFAULT_BASE_URL
        path = "/v1/messages/count_tokens" if request.action == "countTokens" else "/v1/messages"
        url = f"{base}{path}?beta=true"
        parts = urlsplit(url)
        headers = HeaderSet()
        if parts.scheme.lower() == "https" and parts.netloc.lower() == "api.anthropic.com" and credential.api_key:
            headers.set("x-api-key", credential.api_key)
        else:
            headers.set("Authorization", "Bearer " + credential.api_key)
        headers.set("Content-Type", "application/json")
        client = request.client_headers
        headers.set("Anthropic-Beta", beta_header(header_value(client, "Anthropic-Beta"), betas))
        for name, default in IDENTITY_HEADERS:
            headers.ensure(client, name, default)
        headers.set("Connection", "keep-alive")
        headers.set("Accept-Encoding", accept_encoding())
        headers.set("Accept", "text/event-stream" if request.stream else "application/json")
        headers.apply_custom(credential.headers)
        return PreparedRequest("POST", url, headers.items(), json_bytes(body))

    @property
    def terminal_name(self) -> str:
        return "message_stop"

    def terminal(self, event: StreamEvent) -> bool:
        return _event_type(event) == "message_stop"

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        if _event_type(event) != "error":
            return None
        error = event.payload.get("error") if isinstance(event.payload, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        return inband_status_error(ERROR_TYPE_STATUS.get(kind) if isinstance(kind, str) else None, event.data)


def _event_type(event: StreamEvent) -> str:
    if event.event:
        return event.event
    payload = event.payload
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else ""
