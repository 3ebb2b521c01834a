"""Claude OAuth credentials (``type: claude`` files): Anthropic Messages with a Bearer token.

Legacy: ``claude_executor.go`` OAuth branch (reference: providers §2.4). Same URL, body edits and
identity headers as the ``claude-api-key`` executor; the differences:

* the token always goes in ``Authorization: Bearer``, even on ``https://api.anthropic.com``
  (only an API key there uses ``x-api-key``); ``base_url`` (a configured endpoint override)
  replaces the default host;
* for ``sk-ant-oat`` tokens the legacy renames every tool the upstream sees to ``proxy_<name>``
  and takes the prefix off again in answers and stream events, so clients never see it. The
  Claude executor does that by the token (``claude_tool_prefix.py``; ``secret_of`` here gives it
  the token), the same as for a ``claude-api-key`` entry holding one.

Left to the body pipeline, as for API keys: cloaking (system prompt, fake ``metadata.user_id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.translation.model import Format

from .base import APIKeyCredential, PreparedRequest, UpstreamRequest, UpstreamResult
from .claude_api import ClaudeAPIExecutor
from .http import UpstreamStream
from .oauth_base import MappedStream, OAuthCredential, OAuthExecutor


class ClaudeOAuthExecutor(OAuthExecutor, ClaudeAPIExecutor):
    name = "claude"
    upstream_format = Format.CLAUDE

    @staticmethod
    def _keyed(credential: OAuthCredential) -> APIKeyCredential:
        """The credential as the API-key path reads it, its token for the key."""
        return APIKeyCredential("claude", credential.token, credential.base_url, credential.proxy_url)

    def secret_of(self, credential: Any) -> str:
        return str(credential.token)

    def before_payload(self, credential: OAuthCredential, body: dict[str, Any], base_model: str,  # type: ignore[override]
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        return ClaudeAPIExecutor.before_payload(self, self._keyed(credential), body, base_model, client_headers, stream)

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        # Reuse the API-key path with the token (which also prefixes tool names for an oat token),
        # then force the Bearer form of the auth header.
        prepared = ClaudeAPIExecutor.prepare(self, self._keyed(credential), request)
        headers = tuple(("Authorization", "Bearer " + credential.token) if name.lower() == "x-api-key"
                        else (name, value) for name, value in prepared.headers)
        return PreparedRequest(prepared.method, prepared.url, headers, prepared.body, prepared.raw_stream)

    async def execute(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamResult:  # type: ignore[override]
        self.precheck(credential, request)  # type: ignore[arg-type]
        authorized = await self.authorize(credential)
        # The Claude path takes the tool prefix off for an oat token (``secret_of``: the token).
        return await ClaudeAPIExecutor.execute(self, authorized, request)  # type: ignore[arg-type]

    async def stream(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamStream | MappedStream:  # type: ignore[override]
        self.precheck(credential, request)  # type: ignore[arg-type]
        authorized = await self.authorize(credential)
        return await ClaudeAPIExecutor.stream(self, authorized, request)  # type: ignore[arg-type,no-any-return]
