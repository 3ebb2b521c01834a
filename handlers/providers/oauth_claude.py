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

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson

from handlers.translation.model import Format

from .base import APIKeyCredential, PreparedRequest, StreamEvent, UpstreamRequest, UpstreamResult
from .claude_api import ClaudeAPIExecutor
from .http import UpstreamStream
from .oauth_base import MappedStream, OAuthCredential, OAuthExecutor

TOOL_PREFIX = "proxy_"
OAUTH_TOKEN_MARK = "sk-ant-oat"


def prefix_tools(body: dict[str, Any]) -> dict[str, Any]:
    """``applyClaudeToolPrefix`` on a copy: names already prefixed or empty stay as they are."""

    def named(name: Any) -> bool:
        return isinstance(name, str) and bool(name) and not name.startswith(TOOL_PREFIX)

    out = dict(body)
    tools = out.get("tools")
    if isinstance(tools, list):
        out["tools"] = [{**tool, "name": TOOL_PREFIX + tool["name"]} if isinstance(tool, dict)
                        and named(tool.get("name")) else tool for tool in tools]
    choice = out.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool" and named(choice.get("name")):
        out["tool_choice"] = {**choice, "name": TOOL_PREFIX + choice["name"]}
    messages = out.get("messages")
    if isinstance(messages, list):
        renamed = []
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                content = [{**part, "name": TOOL_PREFIX + part["name"]} if isinstance(part, dict)
                           and part.get("type") == "tool_use" and named(part.get("name")) else part
                           for part in content]
                message = {**message, "content": content}
            renamed.append(message)
        out["messages"] = renamed
    return out


def _unprefixed(block: Any) -> Any:
    if (isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("name"), str)
            and block["name"].startswith(TOOL_PREFIX)):
        return {**block, "name": block["name"][len(TOOL_PREFIX):]}
    return block


def strip_response(body: bytes) -> bytes:
    """``stripClaudeToolPrefixFromResponse``; a body that is not a message is left untouched."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return body
    stripped = [_unprefixed(block) for block in content]
    if stripped == content:
        return body
    return orjson.dumps({**message, "content": stripped})


def strip_event(event: StreamEvent) -> StreamEvent:
    """``stripClaudeToolPrefixFromStreamLine`` for one parsed event."""
    payload = event.payload
    block = payload.get("content_block") if isinstance(payload, dict) else None
    renamed = _unprefixed(block)
    if renamed is block:
        return event
    updated = {**payload, "content_block": renamed}
    return StreamEvent(event.event, orjson.dumps(updated).decode(), updated, event.error)


def is_oauth_token(token: str) -> bool:
    return OAUTH_TOKEN_MARK in token


class ClaudeOAuthExecutor(OAuthExecutor, ClaudeAPIExecutor):
    name = "claude"
    upstream_format = Format.CLAUDE

    def before_payload(self, credential: OAuthCredential, body: dict[str, Any], base_model: str,  # type: ignore[override]
                       client_headers: Mapping[str, str], stream: bool) -> bool:
        keyed = APIKeyCredential("claude", credential.token, credential.base_url, credential.proxy_url)
        return ClaudeAPIExecutor.before_payload(self, keyed, body, base_model, client_headers, stream)

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest) -> PreparedRequest:  # type: ignore[override]
        if is_oauth_token(credential.token):
            request = dataclasses.replace(request, body=prefix_tools(request.body))
        # Reuse the API-key path with the token, then force the Bearer form of the auth header.
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
