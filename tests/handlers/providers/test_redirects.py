"""Upstream redirects followed as Go's http.Client follows them (redirects.py), over real sockets."""

from __future__ import annotations

import pytest
from aiohttp import web

from handlers.providers import (
    APIKeyCredential,
    ClaudeAPIExecutor,
    OpenAICompatExecutor,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
)
from handlers.providers.base import PreparedRequest
from handlers.providers.redirects import RedirectChain

BODY = {"messages": [{"role": "user", "content": "hi"}]}


def redirecting(status: int, location: str, *, times: int = 1):
    """Answer ``status`` with ``location`` for the first ``times`` requests, then 200."""
    seen = {"n": 0}

    async def script(request: web.Request) -> web.StreamResponse:
        seen["n"] += 1
        if seen["n"] <= times:
            return web.Response(status=status, headers={"Location": location}, text="moved")
        return web.json_response({"ok": True, "method": request.method})

    return script


@pytest.mark.parametrize("status", [307, 308])
async def test_307_and_308_repeat_the_post_with_its_body(upstream, client: UpstreamClient, status: int) -> None:
    upstream.script = redirecting(status, "/moved/v1/chat/completions")
    credential = APIKeyCredential("compat", "sk-1", upstream.url + "/v1")
    result = await OpenAICompatExecutor(client).execute(credential, UpstreamRequest("m", BODY))
    assert result.status == 200 and result.json() == {"ok": True, "method": "POST"}
    first, second = upstream.requests
    assert second.method == "POST" and second.path_qs == "/moved/v1/chat/completions"
    assert second.body == first.body and second.json["messages"] == BODY["messages"]
    assert second.headers["Authorization"] == "Bearer sk-1"
    assert second.headers["Content-Type"] == "application/json"
    assert second.headers["Referer"] == upstream.url + "/v1/chat/completions"


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_301_302_303_turn_the_post_into_a_get_without_body(upstream, client: UpstreamClient,
                                                                 status: int) -> None:
    upstream.script = redirecting(status, upstream.url + "/elsewhere")
    credential = APIKeyCredential("compat", "sk-1", upstream.url + "/v1")
    result = await OpenAICompatExecutor(client).execute(credential, UpstreamRequest("m", BODY))
    assert result.json() == {"ok": True, "method": "GET"}
    second = upstream.last
    assert (second.method, second.path_qs, second.body) == ("GET", "/elsewhere", b"")
    assert "Content-Type" not in second.headers and "Content-Length" not in second.headers
    assert second.headers["Authorization"] == "Bearer sk-1"


async def test_another_host_gets_no_authorization_but_api_key_headers_go_along(upstream,
                                                                             client: UpstreamClient) -> None:
    # localhost and 127.0.0.1 are different hosts to the redirect rules, one socket to the test.
    upstream.script = redirecting(308, f"http://localhost:{upstream.port}/v1/messages")
    bearer = APIKeyCredential("claude", "sk-ant-api03-key", upstream.url)
    result = await ClaudeAPIExecutor(client).execute(bearer, UpstreamRequest("claude-x", {**BODY, "max_tokens": 5}))
    assert result.status == 200
    assert upstream.requests[0].headers["Authorization"] == "Bearer sk-ant-api03-key"
    moved = upstream.last
    assert moved.headers["Host"] == f"localhost:{upstream.port}"
    assert "Authorization" not in moved.headers and moved.headers["Anthropic-Version"] == "2023-06-01"


def test_sensitive_headers_stay_dropped_once_the_chain_left_the_first_host() -> None:
    first = PreparedRequest("POST", "https://api.example.com/v1/x", (("Authorization", "Bearer k"),
                                                                      ("x-api-key", "k")), b"{}")
    chain = RedirectChain(first)
    sub = chain.follow(first, 307, "https://eu.api.example.com/v1/x")
    assert sub is not None and sub.header("Authorization") == "Bearer k"
    away = chain.follow(sub, 307, "https://other.example.net/v1/x")
    assert away is not None and away.header("Authorization") is None and away.header("x-api-key") == "k"
    back = chain.follow(away, 307, "https://api.example.com/v1/x")
    assert back is not None and back.header("Authorization") is None
    # From https to http no Referer is sent.
    plain = chain.follow(back, 307, "http://api.example.com/v1/x")
    assert plain is not None and plain.header("Referer") is None
    assert chain.follow(plain, 200, "https://x") is None and chain.follow(plain, 302, "") is None


async def test_a_redirect_without_location_is_the_answer(upstream, client: UpstreamClient) -> None:
    async def script(request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"message": "moved"}}, status=308)

    upstream.script = script
    credential = APIKeyCredential("compat", "sk-1", upstream.url + "/v1")
    with pytest.raises(UpstreamError) as info:
        await OpenAICompatExecutor(client).execute(credential, UpstreamRequest("m", BODY))
    assert info.value.status == 308 and len(upstream.requests) == 1


async def test_the_tenth_redirect_is_an_error(upstream, client: UpstreamClient) -> None:
    upstream.script = redirecting(307, "/again", times=100)
    credential = APIKeyCredential("compat", "sk-1", upstream.url + "/v1")
    with pytest.raises(UpstreamError) as info:
        await OpenAICompatExecutor(client).execute(credential, UpstreamRequest("m", BODY))
    assert info.value.status is None
    # Named by the URL that redirected last, as Go's url.Error names the location.
    assert info.value.message == f"request to {upstream.url}/again failed: stopped after 10 redirects"
    assert len(upstream.requests) == 10


async def test_a_stream_follows_the_redirect_too(upstream, client: UpstreamClient) -> None:
    frames = [upstream.frame({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}),
              b"data: [DONE]\n\n"]
    moved = {"n": 0}

    async def script(request: web.Request) -> web.StreamResponse:
        moved["n"] += 1
        if moved["n"] == 1:
            return web.Response(status=307, headers={"Location": "/s/v1/chat/completions"})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for frame in frames:
            await response.write(frame)
        return response

    upstream.script = script
    credential = APIKeyCredential("compat", "sk-1", upstream.url + "/v1")
    async with await OpenAICompatExecutor(client).stream(credential, UpstreamRequest("m", BODY, stream=True)) as s:
        events = [event async for event in s]
    assert events[0].payload["choices"][0]["delta"]["content"] == "x"
    assert upstream.last.path_qs == "/s/v1/chat/completions"
