"""claude-api-key executor (reference: providers §2.4, §2.6; claude_executor.go)."""

from __future__ import annotations

import gzip
import uuid

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDict

from handlers.providers import APIKeyCredential, ClaudeAPIExecutor, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.base import custom_headers
from handlers.providers.claude_api import (
    _USER_ID,
    DEFAULT_BETAS,
    CloakSettings,
    accept_encoding,
    cloak_settings_for,
    fake_user_id,
)
from quotio_gateway.config.models import Config

ANTHROPIC_ERROR = {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens"}}
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}],
           "model": "claude-sonnet-4-5", "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}
FAKE_ID = "user_" + "0f" * 32 + "_account__session_00000000-0000-4000-8000-000000000000"
CC_BLOCK = {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}
CLAUDE_CODE_UA = CIMultiDict({"User-Agent": "claude-cli/2.0.14 (external, cli)"})


def body(**extra: object) -> dict:
    return {"model": "alias", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **extra}


def cred(base: str, **kw: object) -> APIKeyCredential:
    return APIKeyCredential("claude", "sk-ant-api03-key", base, **kw)  # type: ignore[arg-type]


async def test_non_stream_call_on_a_custom_base_uses_bearer_and_every_fixed_header(upstream, client) -> None:
    upstream.answer_json(200, MESSAGE)
    executor = ClaudeAPIExecutor(client)
    executor.new_user_id = lambda: FAKE_ID  # type: ignore[method-assign]
    result = await executor.execute(
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
    # No client User-Agent, so the legacy's default cloak mode (auto) dresses it as Claude Code.
    assert seen.json == body(stream=False) | {"model": "claude-sonnet-4-5", "system": [CC_BLOCK],
                                              "metadata": {"user_id": FAKE_ID}}


async def test_header_entries_for_host_and_framing_change_nothing_on_the_wire(upstream, client) -> None:
    # Go's request writer takes Host, Content-Length, Transfer-Encoding and Trailer from the request
    # itself, never from Header (header_helpers.go sets them, net/http ignores them).
    upstream.answer_json(200, MESSAGE)
    configured = {"Host": "virtual.example.com", "content-length": "5", "Transfer-Encoding": "chunked",
                  "Trailer": "X-T", "X-Custom": "1"}
    headers = custom_headers(configured)
    assert headers == (("X-Custom", "1"),)
    result = await ClaudeAPIExecutor(client).execute(cred(upstream.url, headers=headers),
                                                     UpstreamRequest("claude-sonnet-4-5", body(stream=False)))
    assert result.json() == MESSAGE
    seen = upstream.last
    assert seen.headers["Host"] == upstream.url.removeprefix("http://").rstrip("/")
    assert seen.headers["X-Custom"] == "1" and "Transfer-Encoding" not in seen.headers
    assert seen.json["messages"] == body()["messages"]


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
    # Non-string items count by their JSON text, as gjson's String() reads them (claude_executor.go:517).
    assert prepared.header("Anthropic-Beta") == "context-1m-2025-08-07,oauth-2025-04-20,files-api-2025-04-14,7"
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


async def test_count_tokens_puts_the_claude_code_line_first_and_keeps_thinking(upstream, client) -> None:
    # claude_executor.go:384-415: CountTokens applies checkSystemInstructions and never
    # disableThinkingIfToolChoiceForced; the call is non-stream (Accept: application/json).
    upstream.answer_json(200, {"input_tokens": 42})
    thinking = {"type": "enabled", "budget_tokens": 1024}
    sent = body(system=[{"type": "text", "text": "be brief"}, {"type": "image", "source": {}}],
                tool_choice={"type": "any"}, thinking=thinking, betas=["token-counting-2024-11-01"])
    result = await ClaudeAPIExecutor(client).execute(
        cred(upstream.url), UpstreamRequest("claude-sonnet-4-5(8192)", sent, action="countTokens"))
    assert result.json() == {"input_tokens": 42}
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1/messages/count_tokens?beta=true")
    assert seen.json == {
        "model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
        "system": [CC_BLOCK, {"type": "text", "text": "be brief"}],
        "tool_choice": {"type": "any"}, "thinking": thinking,
    }
    assert seen.headers.getall("Anthropic-Beta") == [DEFAULT_BETAS + ",token-counting-2024-11-01"]
    assert seen.headers.getall("Accept") == ["application/json"]


@pytest.mark.parametrize(("model", "system", "expected"), [
    # A string system prompt follows the line (the legacy replaces it with the line, row 19s).
    ("claude-opus-4-1", "be brief", [CC_BLOCK, {"type": "text", "text": "be brief"}]),
    ("claude-opus-4-1", "", [CC_BLOCK]),
    ("claude-opus-4-1", None, [CC_BLOCK]),
    ("claude-opus-4-1", [CC_BLOCK, {"type": "image"}], [CC_BLOCK, {"type": "image"}]),
    ("claude-3-5-haiku-20241022", "be brief", "be brief"),
])
def test_count_tokens_system_rewrite(model: str, system: object, expected: object) -> None:
    sent = body() if system is None else body(system=system)
    prepared = ClaudeAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred("http://h"), UpstreamRequest(model, sent, action="countTokens"))
    assert orjson.loads(prepared.body)["system"] == expected


def test_claude_code_client_is_not_cloaked_in_auto_mode() -> None:
    prepared = ClaudeAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred("http://h"), UpstreamRequest("claude-opus-4-1", body(system="be brief"), client_headers=CLAUDE_CODE_UA))
    assert orjson.loads(prepared.body) == body(system="be brief") | {"model": "claude-opus-4-1"}


def cloaked(settings: CloakSettings | None, model: str, sent: dict, headers: CIMultiDict | None = None) -> dict:
    executor = ClaudeAPIExecutor(client=None)  # type: ignore[arg-type]
    executor.new_user_id = lambda: FAKE_ID  # type: ignore[method-assign]
    if settings is not None:
        executor.cloak_resolver = lambda credential: settings  # type: ignore[method-assign]
    prepared = executor.prepare(cred("http://h"), UpstreamRequest(model, sent, client_headers=headers or {}))
    return orjson.loads(prepared.body)


def test_cloaking_for_an_sdk_client_prepends_the_line_and_fakes_the_user_id() -> None:
    # claude_executor.go:936-985 with the default mode: an SDK's User-Agent is not claude-cli.
    sdk = CIMultiDict({"User-Agent": "Anthropic/Python 0.40.0"})
    sent = body(system=[{"type": "text", "text": "be brief"}], metadata={"user_id": "alice", "x": 1})
    assert cloaked(None, "claude-opus-4-1", sent, sdk) == body() | {
        "model": "claude-opus-4-1", "system": [CC_BLOCK, {"type": "text", "text": "be brief"}],
        "metadata": {"user_id": FAKE_ID, "x": 1}}
    valid = "user_" + "ab" * 32 + "_account__session_123e4567-e89b-42d3-a456-426614174000"
    kept = cloaked(None, "claude-3-5-haiku-20241022", body(system="s", metadata={"user_id": valid}), sdk)
    assert kept == body() | {"model": "claude-3-5-haiku-20241022", "system": "s", "metadata": {"user_id": valid}}


@pytest.mark.parametrize(("settings", "headers", "expected_system", "expected_meta"), [
    (CloakSettings("never"), None, "be brief", None),
    # A string prompt follows the line (row 19s); strict mode keeps the line alone.
    (CloakSettings("always"), CLAUDE_CODE_UA, [CC_BLOCK, {"type": "text", "text": "be brief"}], {"user_id": FAKE_ID}),
    (CloakSettings("AUTO", strict=True), None, [CC_BLOCK], {"user_id": FAKE_ID}),
])
def test_cloak_modes(settings: CloakSettings, headers: CIMultiDict | None, expected_system: object,
                     expected_meta: object) -> None:
    out = cloaked(settings, "claude-opus-4-1", body(system="be brief"), headers)
    assert out["system"] == expected_system
    assert out.get("metadata") == expected_meta


def test_sensitive_words_get_a_zero_width_space() -> None:
    # cloak_obfuscate.go: case-insensitive, longest word first, system and message texts only.
    settings = CloakSettings(sensitive_words=("proxy", " CLIProxyAPI ", "x"))
    sent = body(system=[{"type": "text", "text": "via cliproxyapi"}],
                messages=[{"role": "user", "content": "a Proxy here"},
                          {"role": "assistant", "content": [{"type": "text", "text": "PROXY"},
                                                            {"type": "tool_use", "name": "proxy", "input": {}}]}])
    out = cloaked(settings, "claude-opus-4-1", sent)
    z = "\u200b"
    assert out["system"] == [CC_BLOCK, {"type": "text", "text": f"via c{z}liproxyapi"}]
    assert out["messages"] == [{"role": "user", "content": f"a P{z}roxy here"},
                               {"role": "assistant", "content": [{"type": "text", "text": f"P{z}ROXY"},
                                                                 {"type": "tool_use", "name": "proxy", "input": {}}]}]
    assert sent["messages"][0]["content"] == "a Proxy here"  # the caller's body is not touched


def test_cloak_settings_come_from_the_matching_claude_key() -> None:
    cfg = Config.model_validate({"claude-api-key": [
        {"api-key": "k1", "base-url": "https://other", "cloak": {"mode": "always"}},
        {"api-key": "K1", "cloak": {"mode": "never", "strict-mode": True, "sensitive-words": [" a b "]}},
        {"api-key": "k2"},
    ]})
    assert cloak_settings_for(cfg, "k1", "https://mine") == CloakSettings("never", True, ("a b",))
    assert cloak_settings_for(cfg, "k1", "https://other") == CloakSettings("always")
    assert cloak_settings_for(cfg, "k2", "") == CloakSettings()
    assert cloak_settings_for(cfg, "sk-ant-oat01-token", "") == CloakSettings()


def test_fake_user_ids_have_claude_codes_shape_and_a_version_4_uuid() -> None:
    seen = {fake_user_id() for _ in range(500)}
    assert len(seen) == 500
    for user_id in seen:
        assert _USER_ID.fullmatch(user_id)
        session = uuid.UUID(user_id.rsplit("_", 1)[1])
        assert (session.version, session.variant) == (4, uuid.RFC_4122)


OAT_TOOL_BODY = body(tools=[{"name": "get_w", "input_schema": {"type": "object"}}],
                     tool_choice={"type": "tool", "name": "get_w"})
PREFIXED_ANSWER = {**MESSAGE, "content": [{"type": "tool_use", "id": "t1", "name": "proxy_get_w", "input": {}}]}


async def test_an_oauth_token_as_a_claude_api_key_gets_the_tool_prefix(upstream, client: UpstreamClient) -> None:
    """claude_executor.go:125-128 goes by the token (isClaudeOAuthToken), whatever carries it: a
    claude-api-key entry holding an ``sk-ant-oat`` token sends ``proxy_`` tool names and gets them
    taken off the answer, as an OAuth credential file does."""
    oat = APIKeyCredential("claude", "sk-ant-oat01-key", upstream.url)
    upstream.answer_json(200, PREFIXED_ANSWER)
    result = await ClaudeAPIExecutor(client).execute(oat, UpstreamRequest("m", OAT_TOOL_BODY))
    sent = upstream.last.json
    assert [t["name"] for t in sent["tools"]] == ["proxy_get_w"] and sent["tool_choice"]["name"] == "proxy_get_w"
    assert result.json()["content"][0]["name"] == "get_w"
    start = {"type": "content_block_start", "index": 0,
             "content_block": {"type": "tool_use", "id": "t1", "name": "proxy_get_w", "input": {}}}
    upstream.answer_sse([upstream.frame(start, "content_block_start"),
                         upstream.frame({"type": "message_stop"}, "message_stop")])
    request = UpstreamRequest("m", {**OAT_TOOL_BODY, "stream": True}, stream=True)
    async with await ClaudeAPIExecutor(client).stream(oat, request) as stream:
        events = [e async for e in stream]
    assert events[0].payload["content_block"]["name"] == "get_w"
    # A plain API key changes nothing.
    upstream.answer_json(200, PREFIXED_ANSWER)
    await ClaudeAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("m", OAT_TOOL_BODY))
    assert [t["name"] for t in upstream.last.json["tools"]] == ["get_w"]
