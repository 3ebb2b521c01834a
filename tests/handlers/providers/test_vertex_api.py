"""vertex-api-key executor (reference: providers §5.5; gemini_vertex_executor.go API-key branch)."""

from __future__ import annotations

import orjson
import pytest

from handlers.providers import APIKeyCredential, UpstreamClient, UpstreamError, UpstreamRequest, VertexAPIExecutor
from handlers.providers.gemini_api import CANVAS_PROMPT, white_png_base64

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


IMAGEN_ANSWER = {"predictions": [{"bytesBase64Encoded": "iVBORw0KGgo=", "mimeType": "image/jpeg"},
                                 {"bytesBase64Encoded": "AAAA"}, {"raiFilteredReason": "filtered"}]}


async def test_imagen_predict_is_built_from_the_client_body(upstream, client: UpstreamClient) -> None:
    # providers §5.4: ``:predict`` with instances/parameters, predictions back as a Gemini answer.
    # The legacy's API-key branch skips both conversions; done here as on the service-account one.
    upstream.answer_json(200, IMAGEN_ANSWER)
    client_body = {"model": "imagen-4.0-generate-001", "messages": [{"role": "user", "content": "a red fox"}],
                   "aspectRatio": "16:9", "sampleCount": 2, "negativePrompt": "blur"}
    req = UpstreamRequest("imagen-4.0-generate-001", BODY, client_body=client_body)
    result = await VertexAPIExecutor(client).execute(cred(upstream.url), req)
    seen = upstream.last
    assert seen.path_qs == "/v1/publishers/google/models/imagen-4.0-generate-001:predict"
    assert seen.headers["x-goog-api-key"] == "vertex-express-key"
    assert seen.headers["X-Extra"] == "yes"
    assert seen.json == {"instances": [{"negativePrompt": "blur", "prompt": "a red fox"}],
                         "parameters": {"aspectRatio": "16:9", "sampleCount": 2}}
    answer = result.json()
    assert answer["candidates"] == [{"content": {"parts": [
        {"inlineData": {"data": "iVBORw0KGgo=", "mimeType": "image/jpeg"}},
        {"inlineData": {"data": "AAAA", "mimeType": "image/png"}}], "role": "model"}, "finishReason": "STOP"}]
    assert answer["modelVersion"] == "imagen-4.0-generate-001"
    assert answer["responseId"].startswith("imagen-")
    assert answer["usageMetadata"] == {"candidatesTokenCount": 0, "promptTokenCount": 0, "totalTokenCount": 0}


async def test_imagen_alt_and_count_tokens(upstream, client: UpstreamClient) -> None:
    executor = VertexAPIExecutor(client=None)  # type: ignore[arg-type]
    client_body = {"prompt": "a fox"}
    prepared = executor.prepare(cred("http://h"), UpstreamRequest("imagen-3.0-generate-002", BODY, alt="json",
                                                                  client_body=client_body))
    assert prepared.url == "http://h/v1/publishers/google/models/imagen-3.0-generate-002:predict?$alt=json"
    # Counting is a plain Gemini countTokens call for Imagen too (countTokensWithAPIKey).
    counted = executor.prepare(cred("http://h"), UpstreamRequest("imagen-3.0-generate-002", BODY,
                                                                 action="countTokens", client_body=client_body))
    assert counted.url == "http://h/v1/publishers/google/models/imagen-3.0-generate-002:countTokens"
    assert b"contents" in counted.body


async def test_imagen_stream_is_the_whole_answer_as_one_event(upstream, client: UpstreamClient) -> None:
    # predict does not stream: one non-stream call, its converted answer as the stream's one event.
    upstream.answer_json(200, IMAGEN_ANSWER)
    req = UpstreamRequest("imagen-4.0-generate-001", BODY, stream=True, client_body={"prompt": "a fox"})
    async with await VertexAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        events = [event async for event in stream]
    assert upstream.last.path_qs == "/v1/publishers/google/models/imagen-4.0-generate-001:predict"
    assert upstream.last.json == {"instances": [{"prompt": "a fox"}], "parameters": {"sampleCount": 1}}
    assert len(events) == 1
    assert events[0].payload["candidates"][0]["finishReason"] == "STOP"
    assert events[0].payload["candidates"][0]["content"]["parts"][0]["inlineData"]["data"] == "iVBORw0KGgo="
    assert stream.closed


async def test_imagen_without_a_prompt_fails_before_any_io(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as caught:
        await VertexAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("imagen-4.0-generate-001", BODY,
                                                                                    client_body={"input": "x"}))
    # convertToImagenRequest's plain error: no status, so 500 once no credential is left.
    assert (caught.value.scope, caught.value.status, caught.value.client_status) == ("transient", None, 500)
    assert caught.value.body == b"imagen: no prompt found in request"
    assert upstream.requests == []


async def test_permission_denied_is_credential_scoped(upstream, client: UpstreamClient) -> None:
    denied = {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}}
    upstream.answer_json(403, denied)
    with pytest.raises(UpstreamError) as caught:
        await VertexAPIExecutor(client).stream(cred(upstream.url), UpstreamRequest("gemini-2.5-pro", BODY, stream=True))
    assert (caught.value.scope, caught.value.status, caught.value.reason) == ("credential", 403, "payment_required")
    assert caught.value.body == b'{"error":{"code":403,"message":"API key not valid.","status":"PERMISSION_DENIED"}}'


def test_the_canvas_fix_is_made_before_the_payload_rules() -> None:
    # gemini_vertex_executor.go:440-442 and 666-668: fixGeminiImageAspectRatio, then the payload
    # rules, then the model. The pipeline's order is replayed here: hook, a rule's edit, prepare.
    executor = VertexAPIExecutor(client=None)  # type: ignore[arg-type]
    model = "gemini-2.5-flash-image-preview"
    body = {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
            "generationConfig": {"imageConfig": {"aspectRatio": "3:2"}}}
    shaped = executor.before_payload(cred(""), body, model, {}, False)
    body["generationConfig"]["responseModalities"] = ["TEXT"]  # an override rule
    prepared = executor.prepare(cred(""), UpstreamRequest(model, body, shaped=shaped))
    assert prepared.url == f"https://generativelanguage.googleapis.com/v1/publishers/google/models/{model}:generateContent"
    assert orjson.loads(prepared.body) == {
        "contents": [{"role": "user", "parts": [
            {"text": CANVAS_PROMPT}, {"inlineData": {"mime_type": "image/png", "data": white_png_base64("3:2")}},
            {"text": "a cat"}]}],
        "generationConfig": {"responseModalities": ["TEXT"]}, "model": model}


def test_a_count_makes_the_canvas_fix_itself() -> None:
    # gemini_vertex_executor.go:865-870: a count has no payload rules and the pipeline calls no
    # hook for it, so the fix is made when the call is built, before generationConfig goes.
    model = "gemini-2.5-flash-image-preview"
    body = {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
            "generationConfig": {"imageConfig": {"aspectRatio": "3:2"}}}
    prepared = VertexAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred(""), UpstreamRequest(model, body, action="countTokens"))
    assert orjson.loads(prepared.body) == {
        "contents": [{"role": "user", "parts": [
            {"text": CANVAS_PROMPT}, {"inlineData": {"mime_type": "image/png", "data": white_png_base64("3:2")}},
            {"text": "a cat"}]}], "model": model}


async def test_base_url_is_used_as_written(upstream, client: UpstreamClient) -> None:
    # gemini_vertex_executor.go:452-455 takes base_url untrimmed (the Gemini executor trims its
    # trailing slashes, this one does not), so a trailing "/" leaves "//v1" in the path.
    upstream.answer_json(200, LAST)
    await VertexAPIExecutor(client).execute(cred(upstream.url + "/api/"), UpstreamRequest("gemini-2.5-pro", BODY))
    assert upstream.last.path_qs == "/api//v1/publishers/google/models/gemini-2.5-pro:generateContent"


async def test_entry_headers_win_over_the_executor_s_own(upstream, client: UpstreamClient) -> None:
    # applyGeminiHeaders runs after Content-Type and x-goog-api-key are set (gemini_vertex_executor.go:465-469).
    upstream.answer_json(200, LAST)
    entry = APIKeyCredential("vertex", "vertex-express-key", upstream.url,
                             headers=(("X-Goog-Api-Key", "from-headers"), ("Content-Type", "text/plain")))
    await VertexAPIExecutor(client).execute(entry, UpstreamRequest("gemini-2.5-pro", BODY, alt="json"))
    seen = upstream.last
    assert seen.path_qs == "/v1/publishers/google/models/gemini-2.5-pro:generateContent?$alt=json"
    assert seen.headers.getall("x-goog-api-key") == ["from-headers"]
    assert seen.headers.getall("Content-Type") == ["text/plain"]
