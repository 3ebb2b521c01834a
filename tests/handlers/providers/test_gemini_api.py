"""gemini-api-key executor (reference: providers §5.6; gemini_executor.go)."""

from __future__ import annotations

import base64
import struct
import zlib

import orjson
import pytest

from handlers.providers import APIKeyCredential, GeminiAPIExecutor, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.gemini_api import CANVAS_PROMPT, fix_image_aspect_ratio, white_png_base64

GOOGLE_429 = {"error": {"code": 429, "message": "Resource has been exhausted. Your quota will reset after 39s.",
                        "status": "RESOURCE_EXHAUSTED", "details": [
                            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.847655010s"}]}}
CHUNK = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}]}
LAST = {"candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2, "totalTokenCount": 4}}
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "session_id": "abc"}


def cred(base: str) -> APIKeyCredential:
    return APIKeyCredential("gemini", "AIza-key", base, headers=(("X-Goog-User-Project", "proj"),))


async def test_non_stream_request_shape(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, LAST)
    result = await GeminiAPIExecutor(client).execute(cred(upstream.url + "//"),
                                                     UpstreamRequest("gemini-2.5-pro(8192)", dict(BODY)))
    assert result.json() == LAST
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1beta/models/gemini-2.5-pro:generateContent")
    assert seen.headers["x-goog-api-key"] == "AIza-key"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Goog-User-Project"] == "proj"
    assert "Authorization" not in seen.headers
    # gemini_executor.go sets neither: Go's client sends its own name and asks for gzip.
    assert seen.headers["User-Agent"] == "Go-http-client/1.1"
    assert seen.headers["Accept-Encoding"] == "gzip"
    assert seen.json == {"contents": BODY["contents"], "model": "gemini-2.5-pro"}


def test_urls_for_alt_and_count_tokens() -> None:
    executor = GeminiAPIExecutor(client=None)  # type: ignore[arg-type]
    default = APIKeyCredential("gemini", "k", "")
    base = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
    cases = [
        (UpstreamRequest("gemini-2.5-flash", {}, stream=True), f"{base}:streamGenerateContent?alt=sse", False),
        (UpstreamRequest("gemini-2.5-flash", {}, stream=True, alt="sse"), f"{base}:streamGenerateContent?alt=sse",
         False),
        (UpstreamRequest("gemini-2.5-flash", {}, stream=True, alt="json"), f"{base}:streamGenerateContent?$alt=json",
         True),
        (UpstreamRequest("gemini-2.5-flash", {}, alt="json"), f"{base}:generateContent?$alt=json", False),
        (UpstreamRequest("gemini-2.5-flash", {}, action="countTokens", alt="json"), f"{base}:countTokens", False),
    ]
    for request, url, raw in cases:
        prepared = executor.prepare(default, request)
        assert (prepared.url, prepared.raw_stream) == (url, raw)


async def test_stream_events_end_on_finish_reason(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame(LAST)])
    req = UpstreamRequest("gemini-2.5-pro", dict(BODY), stream=True)
    async with await GeminiAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        assert [e.payload async for e in stream] == [CHUNK, LAST]
    assert upstream.last.path_qs == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"


async def test_blocked_prompt_is_a_complete_stream(upstream, client: UpstreamClient) -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}}
    upstream.answer_sse([upstream.frame(blocked)])
    req = UpstreamRequest("gemini-2.5-pro", dict(BODY), stream=True)
    async with await GeminiAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        assert [e.payload async for e in stream] == [blocked]


async def test_stream_closing_before_finish_reason(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)])
    req = UpstreamRequest("gemini-2.5-pro", dict(BODY), stream=True)
    with pytest.raises(UpstreamError) as caught:
        async with await GeminiAPIExecutor(client).stream(cred(upstream.url), req) as stream:
            async for _ in stream:
                pass
    assert (caught.value.scope, caught.value.status) == ("transient", None)
    assert caught.value.message == "upstream stream closed before a finishReason"


async def test_raw_alt_stream_hands_back_bytes(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([b"[{\"candidates\": []}\n", b",{\"candidates\": []}]"])
    req = UpstreamRequest("gemini-2.5-pro", dict(BODY), stream=True, alt="json")
    async with await GeminiAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        chunks = [c async for c in stream]
    assert all(isinstance(c, bytes) for c in chunks)
    assert b"".join(chunks) == b"[{\"candidates\": []}\n,{\"candidates\": []}]"
    assert upstream.last.path_qs == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?$alt=json"


async def test_inband_error_chunk(upstream, client: UpstreamClient) -> None:
    failure = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame(failure)])
    req = UpstreamRequest("gemini-2.5-pro", dict(BODY), stream=True)
    async with await GeminiAPIExecutor(client).stream(cred(upstream.url), req) as stream:
        events = [e async for e in stream]
    assert events[-1].error is not None
    assert (events[-1].error.scope, events[-1].error.status) == ("transient", 503)


@pytest.mark.parametrize(("status", "scope"), [(400, "request"), (403, "credential"), (404, "credential"),
                                               (429, "quota"), (500, "transient"), (503, "transient")])
async def test_google_error_bodies(upstream, client: UpstreamClient, status: int, scope: str) -> None:
    upstream.answer_json(status, GOOGLE_429)
    with pytest.raises(UpstreamError) as caught:
        await GeminiAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest("gemini-2.5-pro", dict(BODY)))
    assert (caught.value.scope, caught.value.status) == (scope, status)
    # v6.7.15's gemini executor passes the body through without reading RetryInfo.
    assert caught.value.retry_after is None
    assert caught.value.message.startswith('{"error":{"code":429,"message":"Resource has been exhausted.')


IMAGE_MODEL = "gemini-2.5-flash-image-preview"
DRAW = {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
        "generationConfig": {"temperature": 1, "imageConfig": {"aspectRatio": "16:9"}}}


async def test_image_preview_aspect_ratio_becomes_a_white_canvas(upstream, client: UpstreamClient) -> None:
    # gemini_executor.go:500-540 (fixGeminiImageAspectRatio): no image in the request yet, so the
    # first turn gets the instruction and a white 1344x768 PNG before its own parts.
    upstream.answer_json(200, LAST)
    await GeminiAPIExecutor(client).execute(cred(upstream.url), UpstreamRequest(IMAGE_MODEL, DRAW))
    sent = upstream.last.json
    canvas = sent["contents"][0]["parts"][1]["inlineData"]
    assert sent == {
        "contents": [{"role": "user", "parts": [{"text": CANVAS_PROMPT},
                                                {"inlineData": {"mime_type": "image/png", "data": canvas["data"]}},
                                                {"text": "a cat"}]}],
        "generationConfig": {"temperature": 1, "responseModalities": ["IMAGE", "TEXT"]},
        "model": IMAGE_MODEL,
    }
    png = base64.b64decode(canvas["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1344, 768)
    pixels = zlib.decompress(png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8])
    assert set(pixels[1:1 + 1344 * 3]) == {0xFF}
    assert DRAW["contents"][0]["parts"] == [{"text": "a cat"}]  # the caller's body is untouched


def test_a_count_keeps_the_canvas_and_drops_the_generation_config() -> None:
    # gemini_executor.go:346-351: the canvas fix runs before the count drops generationConfig, so
    # the white canvas and its instruction are counted while the modalities it set are not sent.
    body = {**DRAW, "tools": [{"functionDeclarations": [{"name": "f"}]}], "safetySettings": [{"category": "x"}]}
    prepared = GeminiAPIExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred(""), UpstreamRequest(f"{IMAGE_MODEL}(low)", body, action="countTokens"))
    assert prepared.url.endswith(f"/v1beta/models/{IMAGE_MODEL}:countTokens")
    sent = orjson.loads(prepared.body)
    assert sent == {"contents": [{"role": "user", "parts": [
        {"text": CANVAS_PROMPT}, {"inlineData": {"mime_type": "image/png", "data": white_png_base64("16:9")}},
        {"text": "a cat"}]}], "model": IMAGE_MODEL}


@pytest.mark.parametrize(("model", "body", "expected"), [
    # An image already there: only imageConfig goes.
    (IMAGE_MODEL, {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "x"}}]}],
                   "generationConfig": {"imageConfig": {"aspectRatio": "1:1"}}},
     {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "x"}}]}],
      "generationConfig": {}}),
    # Any other model is left alone.
    ("gemini-2.5-flash-image", DRAW, DRAW),
])
def test_image_aspect_ratio_cases(model: str, body: dict, expected: dict) -> None:
    assert fix_image_aspect_ratio(body, model) == expected


def test_unknown_ratio_uses_the_square_canvas() -> None:
    png = base64.b64decode(white_png_base64("7:3"))
    assert struct.unpack(">II", png[16:24]) == (1024, 1024)
