"""Trailing "/" on configured base URLs: the exact path each upstream receives.

Of the API-key executors, Claude's keeps every "/" (``"%s/v1/messages?beta=true"``,
claude_executor.go:131,262,410) and Codex's drops one (codex_executor.go:114,225); Gemini's and
Vertex's are pinned in their own modules, the OpenAI-compatible one in test_openai_compat.py.

The legacy drops exactly one trailing "/" for Qwen and iFlow (qwen_executor.go:96,189;
iflow_executor.go:103,206) and one in each of two places for Antigravity
(antigravity_executor.go:1378-1387 and :1172), so extra slashes reach the upstream path.
Cases keep a path prefix on the fake upstream because aiohttp's server reports a request path
that starts with "//" as "////..." in ``path_qs`` (the client sends it unchanged).
"""

from __future__ import annotations

import pytest

from handlers.providers import APIKeyCredential, ClaudeAPIExecutor, CodexAPIExecutor, UpstreamClient, UpstreamRequest
from handlers.providers.oauth_antigravity import BASE_URLS, AntigravityExecutor
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_openai_chat import CopilotExecutor, IFlowExecutor, QwenExecutor

MESSAGES = {"messages": [{"role": "user", "content": "hi"}]}
ANSWER = {"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                   "finish_reason": "stop"}]}
GEMINI_BODY = {"model": "x", "request": {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}}
GEMINI_ANSWER = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
                                              "finishReason": "STOP"}]}}


CLAUDE_MESSAGE = {"id": "m1", "type": "message", "role": "assistant", "content": [], "model": "c",
                  "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}
CODEX_COMPLETED = {"type": "response.completed", "response": {"id": "r1", "status": "completed", "output": []}}


def chat_cred(provider: str, base: str) -> OAuthCredential:
    return OAuthCredential(f"{provider}-a.json", provider, StaticToken("tok"), base_url=base)


def ag_cred(base: str) -> OAuthCredential:
    return OAuthCredential("antigravity-a.json", "antigravity", StaticToken("ya29.ag"), project_id="p",
                           base_url=base)


@pytest.mark.parametrize("executor_class", [QwenExecutor, IFlowExecutor])
@pytest.mark.parametrize(("suffix", "path"), [
    ("/v1", "/v1/chat/completions"),
    ("/v1/", "/v1/chat/completions"),
    ("/v1//", "/v1//chat/completions"),
])
async def test_chat_base_loses_one_trailing_slash(upstream, client: UpstreamClient, executor_class: type,
                                                  suffix: str, path: str) -> None:
    upstream.answer_json(200, ANSWER)
    result = await executor_class(client).execute(chat_cred(executor_class.name, upstream.url + suffix),
                                                  UpstreamRequest("m", MESSAGES))
    assert result.status == 200
    assert upstream.last.path_qs == path


async def test_copilot_override_loses_every_trailing_slash(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, ANSWER)
    executor = CopilotExecutor(client, request_ids=lambda: "rid")
    await executor.execute(chat_cred("github-copilot", upstream.url + "/copilot//"), UpstreamRequest("m", MESSAGES))
    assert upstream.last.path_qs == "/copilot/chat/completions"


@pytest.mark.parametrize(("suffix", "path"), [
    ("", "/v1internal:generateContent"),
    ("/", "/v1internal:generateContent"),
    ("//", "/v1internal:generateContent"),
    ("/ag//", "/ag/v1internal:generateContent"),
    ("/ag///", "/ag//v1internal:generateContent"),
    (" /ag/// ", "/ag//v1internal:generateContent"),
])
async def test_antigravity_custom_base_loses_two_trailing_slashes(upstream, client: UpstreamClient,
                                                                  suffix: str, path: str) -> None:
    upstream.answer_json(200, GEMINI_ANSWER)
    executor = AntigravityExecutor(client, request_ids=lambda: "agent-x", project_ids=lambda: "p")
    await executor.execute(ag_cred(upstream.url + suffix), UpstreamRequest("gemini-2.5-flash", GEMINI_BODY))
    assert len(upstream.requests) == 1
    assert upstream.last.path_qs == path


async def test_antigravity_stream_and_count_use_the_same_trimmed_base(upstream, client: UpstreamClient) -> None:
    executor = AntigravityExecutor(client, request_ids=lambda: "agent-x", project_ids=lambda: "p")
    upstream.answer_sse([upstream.frame(GEMINI_ANSWER)])
    async with await executor.stream(ag_cred(upstream.url + "/ag///"),
                                     UpstreamRequest("gemini-2.5-flash", GEMINI_BODY, stream=True)) as stream:
        assert [event.payload async for event in stream] == [GEMINI_ANSWER]
    assert upstream.last.path_qs == "/ag//v1internal:streamGenerateContent?alt=sse"
    upstream.answer_json(200, {"totalTokens": 3})
    await executor.execute(ag_cred(upstream.url + "/ag///"),
                           UpstreamRequest("gemini-2.5-flash", GEMINI_BODY, action="countTokens"))
    assert upstream.last.path_qs == "/ag//v1internal:countTokens"


def test_antigravity_slash_only_base_keeps_the_fallback_list() -> None:
    # A lone "/" trims to nothing, which the legacy reads as "no custom base" (:1384-1387).
    executor = AntigravityExecutor(client=None)  # type: ignore[arg-type]
    assert executor.base_urls(ag_cred("/")) == BASE_URLS
    assert executor.base_urls(ag_cred("http://relay:1//")) == ("http://relay:1/",)


@pytest.mark.parametrize(("suffix", "path"), [
    ("/api", "/api/v1/messages"),
    ("/api/", "/api//v1/messages"),
    ("/api//", "/api///v1/messages"),
])
@pytest.mark.parametrize("action", ["", "countTokens"])
async def test_claude_key_base_keeps_its_trailing_slashes(upstream, client: UpstreamClient, suffix: str,
                                                          path: str, action: str) -> None:
    upstream.answer_json(200, {"input_tokens": 3} if action else CLAUDE_MESSAGE)
    executor = ClaudeAPIExecutor(client)
    await executor.execute(APIKeyCredential("claude", "k", upstream.url + suffix),
                           UpstreamRequest("claude-sonnet-4-5", dict(MESSAGES, max_tokens=8), action=action))
    assert upstream.last.path_qs == path + ("/count_tokens" if action else "") + "?beta=true"


@pytest.mark.parametrize(("suffix", "path"), [
    ("/api/v1", "/api/v1/responses"),
    ("/api/v1/", "/api/v1/responses"),
    ("/api/v1//", "/api/v1//responses"),
])
async def test_codex_key_base_loses_one_trailing_slash(upstream, client: UpstreamClient, suffix: str,
                                                       path: str) -> None:
    upstream.answer_sse([upstream.frame(CODEX_COMPLETED)])
    executor = CodexAPIExecutor(client, session_ids=lambda: "s")
    await executor.execute(APIKeyCredential("codex", "k", upstream.url + suffix),
                           UpstreamRequest("gpt-5", {"input": []}))
    assert upstream.last.path_qs == path
