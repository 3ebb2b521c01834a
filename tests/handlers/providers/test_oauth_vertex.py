"""Vertex service-account executor (providers §5.4)."""

from __future__ import annotations

import orjson
import pytest

from handlers.providers import UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.gemini_api import CANVAS_PROMPT, white_png_base64
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_vertex import VertexServiceAccountExecutor, vertex_base_url
from handlers.translation.model import Format

ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}


def cred(base: str = "", location: str = "europe-west4", project: str = "my-proj") -> OAuthCredential:
    return OAuthCredential("vertex-my-proj.json", "vertex", StaticToken("ya29.sa"), base_url=base,
                           project_id=project, location=location)


async def test_regional_url_and_bearer(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, ANSWER)
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "session_id": "s"}
    executor = VertexServiceAccountExecutor(client)
    result = await executor.execute(cred(upstream.url), UpstreamRequest("gemini-2.5-pro", body))
    assert result.json() == ANSWER
    seen = upstream.last
    assert seen.path_qs == ("/v1/projects/my-proj/locations/europe-west4/publishers/google/models/"
                            "gemini-2.5-pro:generateContent")
    assert seen.json == {"contents": body["contents"], "model": "gemini-2.5-pro"}
    assert seen.headers["Authorization"] == "Bearer ya29.sa"
    assert VertexServiceAccountExecutor.upstream_format is Format.GEMINI


def test_default_host_stream_and_location() -> None:
    executor = VertexServiceAccountExecutor(client=None)  # type: ignore[arg-type]
    prepared = executor.prepare(cred(location="").with_token("t"), UpstreamRequest("gemini-2.5-flash", {}, stream=True))
    assert prepared.url == ("https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1"
                            "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert vertex_base_url("asia-east1") == "https://asia-east1-aiplatform.googleapis.com"


async def test_imagen_predict_on_the_service_account_path(upstream, client: UpstreamClient) -> None:
    # providers §5.4 (executeWithServiceAccount): the body from the client's request, the answer
    # converted to Gemini.
    upstream.answer_json(200, {"predictions": [{"bytesBase64Encoded": "QUJD", "mimeType": "image/png"}]})
    client_body = {"contents": [{"role": "user", "parts": [{"text": "a lighthouse"}]}], "sampleCount": "3"}
    result = await VertexServiceAccountExecutor(client).execute(
        cred(upstream.url), UpstreamRequest("imagen-4.0-ultra-generate-001", {}, client_body=client_body))
    seen = upstream.last
    assert seen.path_qs == ("/v1/projects/my-proj/locations/europe-west4/publishers/google/models/"
                            "imagen-4.0-ultra-generate-001:predict")
    assert seen.headers["Authorization"] == "Bearer ya29.sa"
    assert seen.json == {"instances": [{"prompt": "a lighthouse"}], "parameters": {"sampleCount": 3}}
    assert result.json()["candidates"][0]["content"]["parts"] == [
        {"inlineData": {"data": "QUJD", "mimeType": "image/png"}}]


async def test_missing_project_is_refused_before_io(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as err:
        request = UpstreamRequest("imagen-4.0-generate-001", {}, stream=True, client_body={"prompt": "x"})
        await VertexServiceAccountExecutor(client).stream(cred(upstream.url, project=""), request)
    assert err.value.body == b"vertex executor: missing project_id in credentials"
    with pytest.raises(UpstreamError) as err:
        await VertexServiceAccountExecutor(client).execute(cred(upstream.url, project=""),
                                                           UpstreamRequest("gemini-2.5-pro", {}))
    # gemini_vertex_executor.go:949-951: a plain error, no status, so the client sees 500.
    assert (err.value.scope, err.value.status, err.value.client_status) == ("transient", None, 500)
    assert err.value.body == b"vertex executor: missing project_id in credentials"
    assert upstream.requests == []


def test_image_preview_canvas_on_the_service_account_path() -> None:
    # gemini_vertex_executor.go:327 and :543 apply fixGeminiImageAspectRatio as the Gemini executor does.
    body = {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
            "generationConfig": {"imageConfig": {"aspectRatio": "1:1"}}}
    prepared = VertexServiceAccountExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred().with_token("t"), UpstreamRequest("gemini-2.5-flash-image-preview", body, stream=True))
    assert orjson.loads(prepared.body) == {
        "contents": [{"role": "user", "parts": [
            {"text": CANVAS_PROMPT},
            {"inlineData": {"mime_type": "image/png", "data": white_png_base64("1:1")}},
            {"text": "a cat"}]}],
        "generationConfig": {"responseModalities": ["IMAGE", "TEXT"]},
        "model": "gemini-2.5-flash-image-preview",
    }
