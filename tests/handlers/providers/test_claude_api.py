"""claude-api-key executor (reference: providers §2.4, §2.6; claude_executor.go)."""

from __future__ import annotations

import gzip

import pytest
from aiohttp import web
from multidict import CIMultiDict

from handlers.providers import APIKeyCredential, ClaudeAPIExecutor, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.claude_api import DEFAULT_BETAS, accept_encoding

ANTHROPIC_ERROR = {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens"}}
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}],
           "model": "claude-sonnet-4-5", "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}


def body(**extra: object) -> dict:
    return {"model": "alias", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **extra}


def cred(base: str, **kw: object) -> APIKeyCredential:
    return APIKeyCredential("claude", "sk-ant-api03-key", base, **kw)  # type: ignore[arg-type]


async def test_non_stream_call_on_a_custom_base_uses_bearer_and_every_fixed_header(upstream, client) -> None:
    upstream.answer_json(200, MESSAGE)
    result = await ClaudeAPIExecutor(client).execute(
        cred(upstream.url, headers=(("X-Custom", "1"),)),
        UpstreamRequest("claude-sonnet-4-5(8192)", body(stream=False)))
    assert result.json() == MESSAGE
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1/messages?beta=true")
    expected = {
        "Authorization": "Bearer sk-ant-api03-key",
        "Content-Type": "application/json",
        "Anthropic-Beta": DEFAULT_BETAS,
        "Anthropic-Version": "2023-06-01",
        "Anthropic-Dangerous-Direct-Browser-Access": "true",
        "X-App": "cli",
        "X-Stainless-Helper-Method": "stream",
        "X-Stainless-Retry-Count": "0",
        "X-Stainless-Runtime-Version": "v24.3.0",
        "X-Stainless-Package-Version": "0.55.1",
        "X-Stainless-Runtime": "node",
        "X-Stainless-Lang": "js",
        "X-Stainless-Arch": "arm64",
        "X-Stainless-Os": "MacOS",
        "X-Stainless-Timeout": "60",
        "User-Agent": "claude-cli/1.0.83 (external, cli)",
        "Connection": "keep-alive",
        "Accept-Encoding": accept_encoding(),
        "Accept": "application/json",
        "X-Custom": "1",
    }
    for name, value in expected.items():
        assert seen.headers.getall(name) == [value], name
    assert "x-api-key" not in seen.headers
    assert seen.json == body(stream=False) | {"model": "claude-sonnet-4-5"}


def test_api_key_goes_in_x_api_key_only_on_the_anthropic_host() -> None:
    executor = ClaudeAPIExecutor(client=None)  # type: ignore[arg-type]
    prepared = executor.prepare(cred(""), UpstreamRequest("claude-opus-4-1", body()))
    assert prepared.url == "https://api.anthropic.com/v1/messages?beta=true"
    assert prepared.header("x-api-key") == "sk-ant-api03-key"
    assert prepared.header("Authorization") is None
    other = executor.prepare(cred("https://api.anthropic.com:443"), UpstreamRequest("m", body()))
    assert other.header("Authorization") == "Bearer sk-ant-api03-key"
    assert other.header("x-api-key") is None
    counted = executor.prepare(cred(""), UpstreamRequest("m", body(), action="countTokens"))
    assert counted.url == "https://api.anthropic.com/v1/messages/count_tokens?beta=true"


def test_client_headers_win_and_betas_merge() -> None:
    executor = ClaudeAPIExecutor(client=None)  # type: ignore[arg-type]
    client_headers = CIMultiDict({"anthropic-beta": "context-1m-2025-08-07", "User-Agent": "claude-cli/2.0.1 (x)",
                                  "X-Stainless-Os": "Linux", "Anthropic-Version": " "})
    prepared = executor.prepare(cred("http://h"), UpstreamRequest(
        "m", body(betas=["files-api-2025-04-14", "context-1m-2025-08-07", 7]), client_headers=client_headers))
    assert prepared.header("Anthropic-Beta") == "context-1m-2025-08-07,oauth-2025-04-20,files-api-2025-04-14"
    assert prepared.header("User-Agent") == "claude-cli/2.0.1 (x)"
    assert prepared.header("X-Stainless-Os") == "Linux"
    assert prepared.header("Anthropic-Version") == "2023-06-01"  # a blank client value does not count
    assert b"betas" not in prepared.body
    string_beta = executor.prepare(cred("http://h"), UpstreamRequest("m", body(betas=" one ")))
    assert string_beta.header("Anthropic-Beta") == DEFAULT_BETAS + ",one"


@pytest.mark.parametrize(("choice", "kept"), [({"type": "auto"}, True), ({"type": "any"}, False),
                                              ({"type": "tool", "name": "x"}, False)])
def test_forced_tool_choice_drops_thinking(choice: dict, kept: bool) -> None:
    executor = ClaudeAPIExecutor(client=None)  # type: ignore[arg-type]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    prepared = executor.prepare(cred("http://h"), UpstreamRequest("m", body(tool_choice=choice, thinking=thinking)))
    assert (b'"thinking"' in prepared.body) is kept


async def test_gzip_answer_is_decoded(upstream, client: UpstreamClient) -> None:
    async def script(request: web.Request) -> web.StreamResponse:
        return web.Response(body=gzip.compress(b'{"type":"message"}'),
                            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    upstream.script = script
    result = await ClaudeAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("m", body()))
    assert result.body == b'{"type":"message"}'


STREAM = [
    ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                            "content": [], "model": "m"}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "hi"}}),
    ("message_stop", {"type": "message_stop"}),
]


async def test_stream_events_and_accept_header(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(data, event) for event, data in STREAM])
    req = UpstreamRequest("m", body(stream=True), stream=True)
    async with await ClaudeAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        events = [e async for e in stream]
    assert [(e.event, e.payload) for e in events] == STREAM
    assert upstream.last.headers["Accept"] == "text/event-stream"


async def test_stream_ending_before_message_stop(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(data, event) for event, data in STREAM[:3]])
    with pytest.raises(UpstreamError) as caught:
        async with await ClaudeAPIExecutor(client).stream(cred(upstream.url),
                                                          UpstreamRequest("m", body(), stream=True)) as stream:
            async for _ in stream:
                pass
    assert (caught.value.scope, caught.value.status) == ("transient", None)
    assert caught.value.message == "upstream stream closed before message_stop"


async def test_inband_overloaded_error(upstream, client: UpstreamClient) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.answer_sse([upstream.frame(STREAM[0][1], "message_start"), upstream.frame(overloaded, "error")])
    async with await ClaudeAPIExecutor(client).stream(cred(upstream.url),
                                                      UpstreamRequest("m", body(), stream=True)) as stream:
        events = [e async for e in stream]
    assert events[-1].event == "error"
    assert events[-1].payload == overloaded
    error = events[-1].error
    assert error is not None
    assert (error.scope, error.status, error.body) == (
        "transient", 529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')


@pytest.mark.parametrize(("status", "scope"), [(400, "request"), (401, "credential"), (403, "credential"),
                                               (404, "credential"), (429, "quota"), (500, "transient"),
                                               (529, "transient")])
async def test_error_statuses(upstream, client: UpstreamClient, status: int, scope: str) -> None:
    upstream.answer_json(status, ANTHROPIC_ERROR, {"Retry-After": "30"})
    with pytest.raises(UpstreamError) as caught:
        await ClaudeAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("m", body()))
    assert (caught.value.scope, caught.value.status) == (scope, status)
    assert caught.value.body == b'{"type":"error","error":{"type":"rate_limit_error","message":"Number of request ' \
                                b'tokens"}}'
    assert caught.value.retry_after is None
    assert caught.value.retry_after_header == (30.0 if status == 429 else None)
