"""vertex-api-key executor (reference: providers §5.5; gemini_vertex_executor.go API-key branch)."""

from __future__ import annotations

import pytest

from handlers.providers import APIKeyCredential, UpstreamClient, UpstreamError, UpstreamRequest, VertexAPIExecutor

LAST = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def cred(base: str, key: str = "vertex-express-key") -> APIKeyCredential:
    return APIKeyCredential("vertex", key, base, headers=(("X-Extra", "yes"),))


async def test_non_stream_request_shape(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, LAST)
    result = await VertexAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("gemini-2.5-pro", BODY))
    assert result.json() == LAST
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1/publishers/google/models/gemini-2.5-pro:generateContent")
    assert seen.headers["x-goog-api-key"] == "vertex-express-key"
    assert seen.headers["X-Extra"] == "yes"
    assert seen.json == BODY | {"model": "gemini-2.5-pro"}


async def test_stream_url_and_events(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(LAST)])
    req = UpstreamRequest("gemini-2.5-flash", BODY, stream=True)
    async with await VertexAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        assert [e.payload async for e in stream] == [LAST]
    assert upstream.last.path_qs == "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def test_default_base() -> None:
    prepared = VertexAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred(""), UpstreamRequest("gemini-2.5-pro", BODY, action="countTokens"))
    assert prepared.url == "https://generativelanguage.googleapis.com/v1/publishers/google/models/gemini-2.5-pro:countTokens"
    assert prepared.header("x-goog-api-key") == "vertex-express-key"


@pytest.mark.parametrize(("model", "stream", "action"), [("gemini-2.5-pro", False, ""), ("gemini-2.5-pro", True, ""),
                                                          ("gemini-2.5-pro", False, "countTokens"),
                                                          ("imagen-4.0-generate-001", False, "")])
async def test_keyless_entry_fails_before_any_io(upstream, client: UpstreamClient, model: str, stream: bool,
                                                 action: str) -> None:
    # gemini_vertex_executor.go:240-245: no api_key sends the legacy to the service-account
    # branch, where a config entry has no metadata: a status-less error, answered as 500.
    req = UpstreamRequest(model, BODY, stream=stream, action=action)
    with pytest.raises(UpstreamError) as caught:
        if stream:
            await VertexAPIExecutor(client).stream(cred(upstream.url, key=""), req)
        else:
            await VertexAPIExecutor(client).execute(cred(upstream.url, key=""), req)
    err = caught.value
    assert (err.scope, err.status, err.client_status, err.body) == (
        "transient", None, 500, b"vertex executor: missing auth metadata")
    assert upstream.requests == []


async def test_imagen_is_refused_before_any_io(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as caught:
        await VertexAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("imagen-4.0-generate-001", BODY))
    assert (caught.value.scope, caught.value.status) == ("request", 400)
    assert caught.value.body == b"imagen models are not served by the native vertex executor"
    assert upstream.requests == []


async def test_permission_denied_is_credential_scoped(upstream, client: UpstreamClient) -> None:
    denied = {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}}
    upstream.answer_json(403, denied)
    with pytest.raises(UpstreamError) as caught:
        await VertexAPIExecutor(client).stream(cred(upstream.url), UpstreamRequest("gemini-2.5-pro", BODY, stream=True))
    assert (caught.value.scope, caught.value.status, caught.value.reason) == ("credential", 403, "payment_required")
    assert caught.value.body == b'{"error":{"code":403,"message":"API key not valid.","status":"PERMISSION_DENIED"}}'
