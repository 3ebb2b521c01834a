"""Claude OAuth tokens (``sk-ant-oat…``) and the ``proxy_`` tool-name prefix the legacy Claude
executor puts on every tool name it sends with one, and takes off the answers again
(claude_executor.go:723-797). It goes by the token, wherever it is configured: an OAuth
credential file or a ``claude-api-key`` entry whose key is such a token (claude_executor.go:127-128,
406-408)."""

from __future__ import annotations

from typing import Any

import orjson

from .base import StreamEvent

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
