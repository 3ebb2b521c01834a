"""Qwen, iFlow and GitHub Copilot executors (providers §9.4, §6.4, §4.4)."""

from __future__ import annotations

import orjson
import pytest

from handlers.providers import UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_openai_chat import (
    IFLOW_NOOP_TOOL,
    QWEN_DECOY_TOOL,
    CopilotExecutor,
    IFlowExecutor,
    QwenExecutor,
)
from handlers.translation.model import Format

CHUNK = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
DONE_CHUNK = {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
ANSWER = {"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                   "finish_reason": "stop"}]}
MESSAGES = {"messages": [{"role": "user", "content": "hi"}]}


def cred(provider: str, base: str = "", token: str = "tok", **fields: object) -> OAuthCredential:
    return OAuthCredential(f"{provider}-a.json", provider, StaticToken(token), base_url=base, **fields)  # type: ignore[arg-type]


async def test_qwen_stream_adds_decoy_tool_and_usage(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame(DONE_CHUNK), b"data: [DONE]\n\n"])
    async with await QwenExecutor(client).stream(cred("qwen", upstream.url + "/v1"),
                                                 UpstreamRequest("qwen3-coder-plus", MESSAGES, stream=True)) as s:
        events = [e async for e in s]
    assert [e.payload for e in events] == [CHUNK, DONE_CHUNK, None]
    seen = upstream.last
    assert seen.path_qs == "/v1/chat/completions"
    assert seen.json == {**MESSAGES, "model": "qwen3-coder-plus", "tools": [QWEN_DECOY_TOOL],
                         "stream_options": {"include_usage": True}}
    assert seen.headers["Authorization"] == "Bearer tok"
    assert seen.headers["User-Agent"] == "google-api-nodejs-client/9.15.1"
    assert seen.headers["X-Goog-Api-Client"] == "gl-node/22.17.0"
    assert seen.headers["Client-Metadata"] == "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI"
    assert seen.headers["Accept"] == "text/event-stream"
    assert QwenExecutor.upstream_format is Format.OPENAI


def test_qwen_base_from_resource_url_and_non_stream_body_untouched() -> None:
    executor = QwenExecutor(client=None)  # type: ignore[arg-type]
    prepared = executor.prepare(cred("qwen", resource_url="portal.qwen.ai").with_token("t"),
                                UpstreamRequest("qwen3-coder-plus", MESSAGES))
    assert prepared.url == "https://portal.qwen.ai/v1/chat/completions"
    assert prepared.body == b'{"messages":[{"role":"user","content":"hi"}],"model":"qwen3-coder-plus"}'
    assert prepared.header("Accept") == "application/json"
    default = executor.prepare(cred("qwen").with_token("t"), UpstreamRequest("m", {"tools": [{"type": "function"}]},
                                                                             stream=True))
    assert default.url == "https://portal.qwen.ai/v1/chat/completions"
    assert b"do_not_call_me" not in default.body


@pytest.mark.parametrize(("tools", "expected"), [({}, [QWEN_DECOY_TOOL]), ({"tools": []}, [QWEN_DECOY_TOOL]),
                                                 ({"tools": None}, None)])
def test_qwen_decoy_only_for_absent_or_empty_tools(tools: dict, expected: object) -> None:
    prepared = QwenExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred("qwen").with_token("t"), UpstreamRequest("qwen3-coder-plus", {**MESSAGES, **tools}, stream=True))
    assert orjson.loads(prepared.body) == {**MESSAGES, "model": "qwen3-coder-plus", "tools": expected,
                                           "stream_options": {"include_usage": True}}


async def test_iflow_uses_the_api_key_and_noop_tool(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, ANSWER)
    result = await IFlowExecutor(client).execute(cred("iflow", upstream.url, token="sk-iflow"),
                                                 UpstreamRequest("glm-4.6", {**MESSAGES, "tools": []}))
    assert result.json() == ANSWER
    seen = upstream.last
    assert seen.json == {**MESSAGES, "tools": [], "model": "glm-4.6"}  # non-stream: tools left alone
    assert seen.headers["Authorization"] == "Bearer sk-iflow"
    assert seen.headers["User-Agent"] == "iFlow-Cli"
    prepared = IFlowExecutor(client).prepare(cred("iflow").with_token("k"),
                                             UpstreamRequest("glm-4.6", {"tools": []}, stream=True))
    assert prepared.url == "https://apis.iflow.cn/v1/chat/completions"
    assert orjson.loads(prepared.body)["tools"] == [IFLOW_NOOP_TOOL]


async def test_iflow_without_api_key_answers_like_the_legacy(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as err:
        await IFlowExecutor(client).execute(cred("iflow", upstream.url, token=""), UpstreamRequest("glm-4.6", MESSAGES))
    # iflow_executor.go:74-77: a plain fmt error, no status, so the client sees 500.
    assert (err.value.scope, err.value.status, err.value.client_status) == ("transient", None, 500)
    assert err.value.body == b"iflow executor: missing api key"
    assert upstream.requests == []


async def test_copilot_headers_and_stream_usage(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame(DONE_CHUNK), b"data: [DONE]\n\n"])
    executor = CopilotExecutor(client, request_ids=lambda: "req-1")
    async with await executor.stream(cred("github-copilot", upstream.url, token="tid=copilot"),
                                     UpstreamRequest("gpt-4.1", MESSAGES, stream=True)) as s:
        assert len([e async for e in s]) == 3
    seen = upstream.last
    assert seen.path_qs == "/chat/completions"
    assert seen.json == {**MESSAGES, "model": "gpt-4.1", "stream_options": {"include_usage": True}}
    expected = {"Content-Type": "application/json", "Authorization": "Bearer tid=copilot", "Accept": "application/json",
                "User-Agent": "GithubCopilot/1.0", "Editor-Version": "vscode/1.100.0",
                "Editor-Plugin-Version": "copilot/1.300.0", "Openai-Intent": "conversation-panel",
                "Copilot-Integration-Id": "vscode-chat", "X-Request-Id": "req-1"}
    for name, value in expected.items():
        assert seen.headers.getall(name) == [value], name


async def test_copilot_count_tokens_is_refused_before_any_io(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as err:
        await CopilotExecutor(client).execute(cred("github-copilot", upstream.url),
                                              UpstreamRequest("gpt-4.1", MESSAGES, action="countTokens"))
    assert (err.value.scope, err.value.status, err.value.body) == (
        "request", 501, b"count tokens not supported for github-copilot")
    assert upstream.requests == []


@pytest.mark.parametrize(("status", "scope"), [(400, "request"), (401, "credential"), (403, "credential"),
                                               (429, "quota"), (500, "transient"), (503, "transient")])
async def test_error_statuses_are_classified_without_hints(upstream, client: UpstreamClient, status: int,
                                                           scope: str) -> None:
    upstream.answer_json(status, {"error": {"message": "x", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}]}})
    with pytest.raises(UpstreamError) as err:
        await QwenExecutor(client).execute(cred("qwen", upstream.url), UpstreamRequest("m", MESSAGES))
    assert (err.value.scope, err.value.status, err.value.retry_after) == (scope, status, None)


@pytest.mark.parametrize("executor_class", [QwenExecutor, IFlowExecutor])
async def test_qwen_and_iflow_count_locally(executor_class, upstream, client: UpstreamClient) -> None:
    # "user\nhi" in o200k_base: the legacy's tokenizerForModel default.
    answer = await executor_class(client).count_locally(UpstreamRequest("qwen3-coder-plus", MESSAGES,
                                                                        action="countTokens"))
    assert orjson.loads(answer) == {"usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}}
    assert upstream.requests == []


async def test_copilot_does_not_count_locally(client: UpstreamClient) -> None:
    assert await CopilotExecutor(client).count_locally(UpstreamRequest("gpt-4.1", MESSAGES,
                                                                       action="countTokens")) is None


def test_qwen_and_iflow_add_their_stream_edits_before_the_payload_rules() -> None:
    """qwen_executor.go:180-187, iflow_executor.go:199-204: the decoy/no-op tool and Qwen's usage
    flag go in before the payload rules, so a rule's later value holds (the pipeline calls
    ``before_payload``, then the rules, then ``prepare`` with ``shaped``)."""
    qwen = QwenExecutor(client=None)  # type: ignore[arg-type]
    body: dict = {**MESSAGES}
    assert qwen.before_payload(cred("qwen"), body, "qwen3-coder-plus", {}, True)
    assert body["tools"] == [QWEN_DECOY_TOOL] and body["stream_options"] == {"include_usage": True}
    body["stream_options"] = {"include_usage": False}  # what a payload rule made of it
    sent = qwen.prepare(cred("qwen").with_token("t"),
                        UpstreamRequest("qwen3-coder-plus", body, stream=True, shaped=True))
    assert orjson.loads(sent.body)["stream_options"] == {"include_usage": False}
    iflow = IFlowExecutor(client=None)  # type: ignore[arg-type]
    body = {**MESSAGES, "tools": []}
    assert iflow.before_payload(cred("iflow").with_token("k"), body, "glm-4.6", {}, True)
    assert body["tools"] == [IFLOW_NOOP_TOOL]
    body["tools"] = []  # a rule emptied it again
    sent = iflow.prepare(cred("iflow").with_token("k"), UpstreamRequest("glm-4.6", body, stream=True, shaped=True))
    assert orjson.loads(sent.body)["tools"] == []
