"""openai-compatibility executor against a fake upstream (reference: providers §10)."""

from __future__ import annotations

import pytest

from handlers.providers import (
    APIKeyCredential,
    OpenAICompatExecutor,
    StreamEvent,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
)

OPENAI_ERROR = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                          "param": None, "code": "invalid_api_key"}}
COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}


def credential(base: str, key: str = "sk-compat-1") -> APIKeyCredential:
    return APIKeyCredential("openrouter", key, base + "/v1", headers=(("X-Title", "quotio"),),
                            compat_name="OpenRouter")


def request(stream: bool = False) -> UpstreamRequest:
    return UpstreamRequest("qwen3-coder(high)", {"model": "coder", "messages": [{"role": "user", "content": "hi"}],
                                                 "stream": stream}, stream=stream)


async def test_non_stream_request_shape_and_answer(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, COMPLETION)
    result = await OpenAICompatExecutor(client).execute(credential(upstream.url), request())
    assert result.status == 200
    assert result.json() == COMPLETION
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1/chat/completions")
    assert seen.headers["Authorization"] == "Bearer sk-compat-1"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == "cli-proxy-openai-compat"
    assert seen.headers["X-Title"] == "quotio"
    assert "Cache-Control" not in seen.headers
    assert seen.json == {"model": "qwen3-coder", "messages": [{"role": "user", "content": "hi"}], "stream": False}


async def test_stream_headers_and_events(upstream, client: UpstreamClient) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    last = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    upstream.answer_sse([upstream.frame(chunk), upstream.frame(last), b"data: [DONE]\n\n"])
    stream = await OpenAICompatExecutor(client).stream(credential(upstream.url), request(stream=True))
    async with stream:
        events = [e async for e in stream]
    assert [e.payload for e in events if isinstance(e, StreamEvent)] == [chunk, last, None]
    assert events[-1].data == "[DONE]"
    assert upstream.last.headers["Accept"] == "text/event-stream"
    assert upstream.last.headers["Cache-Control"] == "no-cache"


async def test_stream_without_done_but_with_finish_reason_is_complete(upstream, client: UpstreamClient) -> None:
    last = {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    upstream.answer_sse([upstream.frame(last)])
    async with await OpenAICompatExecutor(client).stream(credential(upstream.url), request(True)) as stream:
        assert [e.payload async for e in stream] == [last]


async def test_keyless_entry_sends_no_authorization(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, COMPLETION)
    await OpenAICompatExecutor(client).execute(credential(upstream.url, key=""), request())
    assert "Authorization" not in upstream.last.headers


async def test_one_trailing_slash_is_dropped(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, COMPLETION)
    cred = APIKeyCredential("p", "k", upstream.url + "/api/v1/")
    await OpenAICompatExecutor(client).execute(cred, request())
    assert upstream.last.path_qs == "/api/v1/chat/completions"


async def test_missing_base_url_is_a_credential_error_without_io(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as caught:
        await OpenAICompatExecutor(client).execute(APIKeyCredential("p", "k", ""), request())
    assert (caught.value.scope, caught.value.status, caught.value.body) == ("credential", 401,
                                                                           b"missing provider baseURL")
    assert upstream.requests == []


@pytest.mark.parametrize(("status", "headers", "scope", "reason", "header_hint"), [
    (400, None, "request", "request", None),
    (401, None, "credential", "unauthorized", None),
    (403, None, "credential", "payment_required", None),
    (404, None, "credential", "not_found", None),
    (429, None, "quota", "quota", None),
    (429, {"Retry-After": "7"}, "quota", "quota", 7.0),
    (500, None, "transient", "transient", None),
    (503, {"Retry-After": "7"}, "transient", "transient", None),
])
async def test_error_statuses_are_classified_and_body_passes_through(
        upstream, client: UpstreamClient, status, headers, scope, reason, header_hint) -> None:
    upstream.answer_json(status, OPENAI_ERROR, headers)
    for stream in (False, True):
        executor = OpenAICompatExecutor(client)
        with pytest.raises(UpstreamError) as caught:
            if stream:
                await executor.stream(credential(upstream.url), request(True))
            else:
                await executor.execute(credential(upstream.url), request())
        error = caught.value
        assert (error.scope, error.status, error.reason) == (scope, status, reason)
        assert error.body == b'{"error":{"message":"Incorrect API key provided","type":"invalid_request_error",' \
                             b'"param":null,"code":"invalid_api_key"}}'
        assert error.retry_after is None  # the legacy never reads a hint for this executor
        assert error.retry_after_header == header_hint


async def test_inband_error_chunk_ends_the_stream_with_a_classified_error(upstream, client: UpstreamClient) -> None:
    first = {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}
    failure = {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": 429}}
    upstream.answer_sse([upstream.frame(first), upstream.frame(failure), upstream.frame(first)])
    async with await OpenAICompatExecutor(client).stream(credential(upstream.url), request(True)) as stream:
        events = [e async for e in stream]
    assert [e.payload for e in events] == [first, failure]
    assert events[0].error is None
    error = events[1].error
    assert error is not None
    assert (error.scope, error.status) == ("quota", 429)
