"""Gemini CLI executor: v1internal envelope, project id, Google retry hints (providers §1.4/1.5)."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict

from handlers.providers import StreamEvent, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.gemini_api import CANVAS_PROMPT, white_png_base64
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_gemini_cli import CLIENT_METADATA, GeminiCLIExecutor
from handlers.translation.model import Format

CHUNK = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]}}
LAST = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP"}],
                     "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2, "totalTokenCount": 4}}}
ENVELOPE = {"model": "ignored", "project": "", "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}


def cred(base: str, project: str = "proj-1") -> OAuthCredential:
    return OAuthCredential("a@b-proj-1.json", "gemini-cli", StaticToken("ya29.tok"), base_url=base, project_id=project)


async def test_stream_url_envelope_headers_and_unwrapped_terminal(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame(LAST)])
    async with await GeminiCLIExecutor(client).stream(
            cred(upstream.url), UpstreamRequest("gemini-2.5-pro(8192)", ENVELOPE, stream=True)) as stream:
        events = [event async for event in stream]
    assert [e.payload for e in events if isinstance(e, StreamEvent)] == [CHUNK, LAST]
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1internal:streamGenerateContent?alt=sse")
    assert seen.json == {**ENVELOPE, "model": "gemini-2.5-pro", "project": "proj-1"}
    assert seen.headers["Authorization"] == "Bearer ya29.tok"
    assert seen.headers["User-Agent"] == "google-api-nodejs-client/9.15.1"
    assert seen.headers["X-Goog-Api-Client"] == "gl-node/22.17.0"
    assert seen.headers["Client-Metadata"] == CLIENT_METADATA
    assert seen.headers["Accept"] == "text/event-stream"
    assert GeminiCLIExecutor.upstream_format is Format.GEMINI_CLI


async def test_stream_without_finish_reason_is_truncated(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK)])
    with pytest.raises(UpstreamError) as err:
        request = UpstreamRequest("gemini-2.5-pro", ENVELOPE, stream=True)
        async with await GeminiCLIExecutor(client).stream(cred(upstream.url), request) as s:
            async for _ in s:
                pass
    assert (err.value.scope, err.value.body) == ("transient", b"upstream stream closed before a finishReason")


def test_non_stream_count_tokens_and_client_identity() -> None:
    executor = GeminiCLIExecutor(client=None)  # type: ignore[arg-type]
    plain = executor.prepare(cred("").with_token("t"), UpstreamRequest("gemini-2.5-flash", ENVELOPE))
    assert plain.url == "https://cloudcode-pa.googleapis.com/v1internal:generateContent"
    assert plain.header("Accept") == "application/json"
    count = executor.prepare(cred("").with_token("t"), UpstreamRequest(
        "gemini-2.5-flash", ENVELOPE, action="countTokens", client_headers=CIMultiDict({"user-agent": "GeminiCLI/1"})))
    assert count.url.endswith("/v1internal:countTokens")
    # A client's alt goes along on countTokens too (gemini_cli_executor.go:498-501).
    counted = executor.prepare(cred("").with_token("t"),
                               UpstreamRequest("m", ENVELOPE, action="countTokens", alt="json"))
    assert counted.url.endswith("/v1internal:countTokens?$alt=json")
    assert b'"project"' not in count.body and b'"model"' not in count.body
    assert count.header("User-Agent") == "GeminiCLI/1"
    alt = executor.prepare(cred("").with_token("t"), UpstreamRequest("m", ENVELOPE, stream=True, alt="json"))
    assert alt.url.endswith(":streamGenerateContent?$alt=json") and alt.raw_stream


async def test_429_carries_the_retry_info_hint(upstream, client: UpstreamClient) -> None:
    body = {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}]}}
    upstream.answer_json(429, body)
    with pytest.raises(UpstreamError) as err:
        await GeminiCLIExecutor(client).execute(cred(upstream.url), UpstreamRequest("gemini-2.5-pro", ENVELOPE))
    assert (err.value.scope, err.value.status, err.value.retry_after) == ("quota", 429, 12.5)


async def test_quota_reset_delay_and_after_seconds_hints(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(429, {"error": {"code": 429, "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "metadata": {"quotaResetDelay": "373.8ms"}}]}})
    with pytest.raises(UpstreamError) as err:
        await GeminiCLIExecutor(client).execute(cred(upstream.url), UpstreamRequest("m", ENVELOPE))
    assert err.value.retry_after == pytest.approx(0.3738)
    upstream.answer_json(429, {"error": {"code": 429, "message": "Quota exceeded, retry after 30s."}})
    with pytest.raises(UpstreamError) as err:
        await GeminiCLIExecutor(client).execute(cred(upstream.url), UpstreamRequest("m", ENVELOPE))
    assert err.value.retry_after == 30.0


async def test_in_band_error_chunk_is_classified(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame({"error": {"code": 503, "message": "overloaded"}})])
    async with await GeminiCLIExecutor(client).stream(cred(upstream.url),
                                                      UpstreamRequest("m", ENVELOPE, stream=True)) as stream:
        events = [e async for e in stream]
    last = events[-1]
    assert isinstance(last, StreamEvent) and last.error is not None
    assert (last.error.scope, last.error.status) == ("transient", 503)


def test_image_preview_canvas_goes_inside_the_envelope() -> None:
    # gemini_cli_executor.go:795-834 (fixGeminiCLIImageAspectRatio) on request.*.
    envelope = {"model": "x", "request": {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
                                          "generationConfig": {"imageConfig": {"aspectRatio": "3:4"}}}}
    prepared = GeminiCLIExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred("").with_token("t"), UpstreamRequest("gemini-2.5-flash-image-preview", envelope))
    sent = orjson.loads(prepared.body)
    parts = sent["request"]["contents"][0]["parts"]
    assert parts[0] == {"text": CANVAS_PROMPT}
    assert parts[1] == {"inlineData": {"mime_type": "image/png", "data": white_png_base64("3:4")}}
    assert parts[2:] == [{"text": "a cat"}]
    assert sent["request"]["generationConfig"] == {"responseModalities": ["IMAGE", "TEXT"]}
    assert (sent["model"], sent["project"]) == ("gemini-2.5-flash-image-preview", "proj-1")


def test_the_envelope_canvas_fix_is_made_before_the_payload_rules() -> None:
    # gemini_cli_executor.go:131-132: fixGeminiCLIImageAspectRatio, then the payload rules (on
    # ``request``). The pipeline's order is replayed here: hook, a rule's edit, prepare.
    executor = GeminiCLIExecutor(client=None)  # type: ignore[arg-type]
    model = "gemini-2.5-flash-image-preview"
    envelope = {"model": "x", "request": {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
                                          "generationConfig": {"imageConfig": {"aspectRatio": "3:4"}}}}
    shaped = executor.before_payload(cred(""), envelope, model, {}, False)
    envelope["request"]["generationConfig"]["imageConfig"] = {"aspectRatio": "1:1"}  # an override rule
    prepared = executor.prepare(cred("").with_token("t"), UpstreamRequest(model, envelope, shaped=shaped))
    sent = orjson.loads(prepared.body)["request"]
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mime_type": "image/png",
                                                              "data": white_png_base64("3:4")}}
    assert sent["generationConfig"] == {"responseModalities": ["IMAGE", "TEXT"], "imageConfig": {"aspectRatio": "1:1"}}
