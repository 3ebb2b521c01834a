"""Claude OAuth executor (reference: providers §2.4)."""

from __future__ import annotations

import pytest

from handlers.providers import UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_claude import ClaudeOAuthExecutor
from handlers.translation.model import Format

MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}],
           "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}


def cred(base: str) -> OAuthCredential:
    return OAuthCredential("claude-a@b.json", "claude", StaticToken("sk-ant-oat01-tok"), base_url=base)


async def test_non_stream_call_uses_bearer_and_claude_code_headers(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, MESSAGE)
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "betas": ["context-1m-2025-08-07"]}
    executor = ClaudeOAuthExecutor(client)
    executor.new_user_id = lambda: "user_fake"  # type: ignore[method-assign]
    result = await executor.execute(cred(upstream.url), UpstreamRequest("claude-sonnet-4-5(8000)", body))
    assert result.json() == MESSAGE
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1/messages?beta=true")
    # An OAuth token matches no claude-api-key entry: cloak mode auto, and no client User-Agent.
    assert seen.json == {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}],
                         "system": [{"type": "text",
                                     "text": "You are Claude Code, Anthropic's official CLI for Claude."}],
                         "metadata": {"user_id": "user_fake"}}
    assert seen.headers["Authorization"] == "Bearer sk-ant-oat01-tok"
    assert "x-api-key" not in seen.headers
    assert seen.headers["Anthropic-Beta"] == ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
                                              "fine-grained-tool-streaming-2025-05-14,context-1m-2025-08-07")
    assert seen.headers["Anthropic-Version"] == "2023-06-01"
    assert seen.headers["User-Agent"] == "claude-cli/1.0.83 (external, cli)"
    assert seen.headers["Accept"] == "application/json"


def test_bearer_even_on_the_anthropic_host() -> None:
    prepared = ClaudeOAuthExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred("").with_token("sk-ant-oat01-tok"), UpstreamRequest("claude-opus-4-5", {}, stream=True))
    assert prepared.url == "https://api.anthropic.com/v1/messages?beta=true"
    assert prepared.header("Authorization") == "Bearer sk-ant-oat01-tok"
    assert prepared.header("x-api-key") is None
    assert prepared.header("Accept") == "text/event-stream"
    assert ClaudeOAuthExecutor.upstream_format is Format.CLAUDE


async def test_stream_and_429_classification(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
                         headers={"Retry-After": "7"})
    with pytest.raises(UpstreamError) as err:
        await ClaudeOAuthExecutor(client).stream(cred(upstream.url), UpstreamRequest("m", {}, stream=True))
    assert (err.value.scope, err.value.status, err.value.retry_after, err.value.retry_after_header) == (
        "quota", 429, None, 7.0)
    upstream.answer_sse([upstream.frame({"type": "message_start", "message": {"id": "m"}}, "message_start"),
                         upstream.frame({"type": "message_stop"}, "message_stop")])
    async with await ClaudeOAuthExecutor(client).stream(cred(upstream.url), UpstreamRequest("m", {}, stream=True)) as s:
        names = [event.event async for event in s]
    assert names == ["message_start", "message_stop"]


TOOLS_BODY = {
    "tools": [{"name": "read", "input_schema": {}}, {"name": "proxy_done", "input_schema": {}}, {"name": ""}],
    "tool_choice": {"type": "tool", "name": "read"},
    "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {}}]},
                 {"role": "user", "content": "next"}],
}


async def test_oauth_token_prefixes_tools_and_strips_them_from_answers(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, {**MESSAGE, "content": [{"type": "tool_use", "id": "t2", "name": "proxy_read",
                                                       "input": {}}, {"type": "text", "text": "x"}]})
    request = UpstreamRequest("claude-opus-4-5", TOOLS_BODY)
    result = await ClaudeOAuthExecutor(client).execute(cred(upstream.url), request)
    sent = upstream.last.json
    assert [t["name"] for t in sent["tools"]] == ["proxy_read", "proxy_done", ""]
    assert sent["tool_choice"] == {"type": "tool", "name": "proxy_read"}
    assert sent["messages"][0]["content"][0]["name"] == "proxy_read"
    assert sent["messages"][1] == {"role": "user", "content": "next"}
    assert result.json()["content"][0]["name"] == "read"
    assert TOOLS_BODY["tools"][0]["name"] == "read"  # the caller's body is not modified


async def test_oauth_stream_strips_the_prefix_from_tool_blocks(upstream, client: UpstreamClient) -> None:
    start = {"type": "content_block_start", "index": 0,
             "content_block": {"type": "tool_use", "id": "t1", "name": "proxy_read", "input": {}}}
    upstream.answer_sse([upstream.frame(start, "content_block_start"),
                         upstream.frame({"type": "message_stop"}, "message_stop")])
    async with await ClaudeOAuthExecutor(client).stream(cred(upstream.url),
                                                        UpstreamRequest("m", TOOLS_BODY, stream=True)) as stream:
        events = [event async for event in stream]
    assert events[0].payload["content_block"]["name"] == "read"
    assert '"name":"read"' in events[0].data
    assert events[1].event == "message_stop"


async def test_other_tokens_keep_tool_names(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, MESSAGE)
    plain = OAuthCredential("claude-b.json", "claude", StaticToken("opaque-token"), base_url=upstream.url)
    await ClaudeOAuthExecutor(client).execute(plain, UpstreamRequest("m", TOOLS_BODY))
    assert [t["name"] for t in upstream.last.json["tools"]] == ["read", "proxy_done", ""]
