"""codex-api-key executor (reference: providers §3.4, §3.6; codex_executor.go)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from handlers.providers import APIKeyCredential, CodexAPIExecutor, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.codex_api import USER_AGENT, ClaudeClientSessions

CREATED = {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}
DELTA = {"type": "response.output_text.delta", "delta": "hi"}
COMPLETED = {"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
                                                        "usage": {"input_tokens": 3, "output_tokens": 1}}}
TRUNCATED = b"stream error: stream disconnected before completion: stream closed before response.completed"


def cred(base: str) -> APIKeyCredential:
    return APIKeyCredential("codex", "sk-proj-key", base + "/v1", headers=(("OpenAI-Organization", "org-1"),))


def executor(client: UpstreamClient) -> CodexAPIExecutor:
    return CodexAPIExecutor(client, session_ids=lambda: "fresh-session")


def request(stream: bool = False, **kw: object) -> UpstreamRequest:
    body = {"model": "x", "input": [], "stream": stream, "previous_response_id": "r0",
            "prompt_cache_retention": "24h", "safety_identifier": "s"}
    return UpstreamRequest("gpt-5-codex(high)", body, stream=stream, **kw)  # type: ignore[arg-type]


async def test_non_stream_call_streams_upstream_and_returns_the_completed_event(upstream, client) -> None:
    upstream.answer_sse([upstream.frame(CREATED, "response.created"), upstream.frame(DELTA),
                         upstream.frame(COMPLETED, "response.completed")])
    result = await executor(client).execute(cred(upstream.url), request())
    assert result.json() == COMPLETED
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1/responses")
    assert seen.json == {"model": "gpt-5-codex", "input": [], "stream": True, "instructions": "",
                         "prompt_cache_key": ""}
    expected = {"Authorization": "Bearer sk-proj-key", "Content-Type": "application/json",
                "Version": "0.21.0", "Openai-Beta": "responses=experimental", "Session_id": "fresh-session",
                "Conversation_id": "", "User-Agent": USER_AGENT, "Accept": "text/event-stream",
                "Connection": "Keep-Alive", "OpenAI-Organization": "org-1"}
    for name, value in expected.items():
        assert seen.headers.getall(name) == [value], name
    assert "Originator" not in seen.headers
    assert "Chatgpt-Account-Id" not in seen.headers


def test_cache_id_client_headers_and_default_base() -> None:
    prepared = CodexAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        APIKeyCredential("codex", "k", ""),
        request(prompt_cache_id="cache-1", client_headers=CIMultiDict({"version": "0.60.0", "User-Agent": "mine"})))
    assert prepared.url == "https://chatgpt.com/backend-api/codex/responses"
    assert prepared.header("Session_id") == "cache-1"
    assert prepared.header("Conversation_id") == "cache-1"
    assert prepared.header("Version") == "0.60.0"
    assert prepared.header("User-Agent") == "mine"
    assert b'"prompt_cache_key":"cache-1"' in prepared.body
    kept = CodexAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        APIKeyCredential("codex", "k", "http://h/"), UpstreamRequest("m", {"instructions": "be brief"}))
    assert kept.url == "http://h/responses"
    assert b'"instructions":"be brief"' in kept.body


async def test_non_stream_without_completed_is_408(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CREATED), upstream.frame(DELTA)])
    with pytest.raises(UpstreamError) as caught:
        await executor(client).execute(cred(upstream.url), request())
    assert (caught.value.scope, caught.value.status, caught.value.body) == ("transient", 408, TRUNCATED)


async def test_stream_events(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CREATED), upstream.frame(DELTA), upstream.frame(COMPLETED)])
    async with await executor(client).stream(cred(upstream.url), request(stream=True)) as stream:
        assert [e.payload async for e in stream] == [CREATED, DELTA, COMPLETED]


async def test_stream_closing_early_is_408(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CREATED), upstream.frame(DELTA)])
    with pytest.raises(UpstreamError) as caught:
        async with await executor(client).stream(cred(upstream.url), request(stream=True)) as stream:
            async for _ in stream:
                pass
    assert (caught.value.scope, caught.value.status, caught.value.body) == ("transient", 408, TRUNCATED)


async def test_response_failed_with_a_usage_limit_is_quota(upstream, client: UpstreamClient) -> None:
    failed = {"type": "response.failed", "response": {"id": "resp_1", "status": "failed",
                                                      "error": {"code": "usage_limit_reached", "message": "limit"}}}
    upstream.answer_sse([upstream.frame(CREATED), upstream.frame(failed)])
    async with await executor(client).stream(cred(upstream.url), request(stream=True)) as stream:
        events = [e async for e in stream]
    assert events[-1].payload == failed
    assert events[-1].error is not None
    assert (events[-1].error.scope, events[-1].error.status) == ("quota", 429)


async def test_error_event_without_a_known_code_is_transient(upstream, client: UpstreamClient) -> None:
    error = {"type": "error", "code": "server_is_overloaded", "message": "try again"}
    upstream.answer_sse([upstream.frame(error)])
    async with await executor(client).stream(cred(upstream.url), request(stream=True)) as stream:
        events = [e async for e in stream]
    assert events[0].error is not None
    assert (events[0].error.scope, events[0].error.status) == ("transient", None)


@pytest.mark.parametrize(("status", "scope"), [(400, "request"), (401, "credential"), (429, "quota"),
                                               (502, "transient")])
async def test_error_statuses(upstream, client: UpstreamClient, status: int, scope: str) -> None:
    payload = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                         "resets_in_seconds": 1234}}
    upstream.answer_json(status, payload)
    with pytest.raises(UpstreamError) as caught:
        await executor(client).stream(cred(upstream.url), request(stream=True))
    assert (caught.value.scope, caught.value.status) == (scope, status)
    assert caught.value.retry_after is None  # resets_in_seconds is not read by the legacy either
    assert caught.value.body == b'{"error":{"type":"usage_limit_reached","message":"The usage limit has been ' \
                                b'reached","resets_in_seconds":1234}}'


async def test_responses_client_prompt_cache_key_is_kept_and_names_the_session(upstream, client) -> None:
    # codex_executor.go:524-538: a Responses client's prompt_cache_key becomes the body key, the
    # Conversation_id and the Session_id; it used to be overwritten with "".
    upstream.answer_sse([upstream.frame(COMPLETED, "response.completed")])
    body = {"model": "x", "input": [], "prompt_cache_key": "codex-cli-thread-7"}
    await executor(client).execute(cred(upstream.url), UpstreamRequest("gpt-5-codex", body))
    seen = upstream.last
    assert seen.json == {"model": "gpt-5-codex", "input": [], "prompt_cache_key": "codex-cli-thread-7",
                         "stream": True, "instructions": ""}
    assert seen.headers.getall("Conversation_id") == ["codex-cli-thread-7"]
    assert seen.headers.getall("Session_id") == ["codex-cli-thread-7"]


def test_pipeline_cache_id_wins_over_the_body_key() -> None:
    prepared = CodexAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        APIKeyCredential("codex", "k", ""),
        UpstreamRequest("m", {"prompt_cache_key": "from-body"}, prompt_cache_id="from-claude-user"))
    assert prepared.header("Session_id") == "from-claude-user"
    assert b'"prompt_cache_key":"from-claude-user"' in prepared.body


def test_an_empty_pipeline_cache_id_still_replaces_the_body_key() -> None:
    # The pipeline passes "" for clients cacheHelper gives no id: a key a payload rule wrote into
    # the translated body is overwritten with it, not kept (codex_executor.go:524-538).
    prepared = CodexAPIExecutor(client=None, session_ids=lambda: "fresh").prepare(  # type: ignore[arg-type]
        APIKeyCredential("codex", "k", ""), UpstreamRequest("m", {"prompt_cache_key": "from-rule"}, prompt_cache_id=""))
    assert (prepared.header("Conversation_id"), prepared.header("Session_id")) == ("", "fresh")
    assert b'"prompt_cache_key":""' in prepared.body


def test_claude_client_sessions_last_an_hour_per_model_and_user() -> None:
    now = [1000.0]
    ids = iter(["s1", "s2", "s3"])
    sessions = ClaudeClientSessions(clock=lambda: now[0], new_id=lambda: next(ids))
    assert sessions.session_id("gpt-5-codex", "user_a") == "s1"
    now[0] += 3599
    assert sessions.session_id("gpt-5-codex", "user_a") == "s1"
    assert sessions.session_id("gpt-5", "user_a") == "s2"
    now[0] += 2
    assert sessions.session_id("gpt-5-codex", "user_a") == "s3"
