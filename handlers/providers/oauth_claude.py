"""Claude OAuth credentials (``type: claude`` files): Anthropic Messages with a Bearer token.

Legacy: ``claude_executor.go`` OAuth branch (reference: providers §2.4). Same URL, body edits and
identity headers as the ``claude-api-key`` executor; the differences:

* the token always goes in ``Authorization: Bearer``, even on ``https://api.anthropic.com``
  (only an API key there uses ``x-api-key``); ``base_url`` (a configured endpoint override)
  replaces the default host;
* for ``sk-ant-oat`` tokens the legacy renames every tool the upstream sees to ``proxy_<name>``
  (``tools[].name``, a forced ``tool_choice.name``, earlier ``tool_use`` blocks) and takes the
  prefix off again in answers (``content[].name`` of tool_use blocks) and in stream events
  (``content_block.name`` of a tool_use ``content_block_start``), so clients never see it.

Left to the body pipeline, as for API keys: cloaking (system prompt, fake ``metadata.user_id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.translation.model import Format

from .base import APIKeyCredential, PreparedRequest, UpstreamRequest, UpstreamResult
from .claude_api import ClaudeAPIExecutor
from .claude_tool_prefix import (  # noqa: F401  (re-exported: tests and callers import them here)
    OAUTH_TOKEN_MARK,
    TOOL_PREFIX,
    is_oauth_token,
    prefix_tools,
    strip_event,
    strip_response,
)
from .http import UpstreamStream
from .oauth_base import MappedStream, OAuthCredential, OAuthExecutor


class ClaudeOAuthExecutor(OAuthExecutor, ClaudeAPIExecutor):
    name = "claude"
    upstream_format = Format.CLAUDE

    def before_payload(self, credential: OAuthCredential, body: dict[str, Any], base_model: str,  # type: ignore[override]
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        keyed = APIKeyCredential("claude", credential.token, credential.base_url, credential.proxy_url)
        return ClaudeAPIExecutor.before_payload(self, keyed, body, base_model, client_headers, stream)

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        # Reuse the API-key path with the token (which also prefixes tool names for an oat token),
        # then force the Bearer form of the auth header.
        keyed = APIKeyCredential("claude", credential.token, credential.base_url, credential.proxy_url)
        prepared = ClaudeAPIExecutor.prepare(self, keyed, request)
        headers = tuple(("Authorization", "Bearer " + credential.token) if name.lower() == "x-api-key"
                        else (name, value) for name, value in prepared.headers)
        return PreparedRequest(prepared.method, prepared.url, headers, prepared.body, prepared.raw_stream)

    async def execute(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamResult:  # type: ignore[override]
        self.precheck(credential, request)  # type: ignore[arg-type]
        authorized = await self.authorize(credential)
        result = await ClaudeAPIExecutor.execute(self, authorized, request)  # type: ignore[arg-type]
        if not is_oauth_token(authorized.token) or request.action == "countTokens":
            return result
        return UpstreamResult(result.status, result.headers, strip_response(result.body))

    async def stream(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamStream | MappedStream:  # type: ignore[override]
        self.precheck(credential, request)  # type: ignore[arg-type]
        authorized = await self.authorize(credential)
        opened = await ClaudeAPIExecutor.stream(self, authorized, request)  # type: ignore[arg-type]
        return MappedStream(opened, strip_event) if is_oauth_token(authorized.token) else opened
