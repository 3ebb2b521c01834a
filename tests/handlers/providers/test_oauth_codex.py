"""Codex OAuth executor (reference: providers §3.4)."""

from __future__ import annotations

import orjson
import pytest

from handlers.providers import UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_codex import CodexOAuthExecutor
from handlers.translation.model import Format

COMPLETED = {"type": "response.completed", "response": {"id": "resp_1", "status": "completed"}}


def cred(base: str, **meta: object) -> OAuthCredential:
    return OAuthCredential("codex-a@b.json", "codex", StaticToken("eyJ-access"), base_url=base, metadata=meta)


async def test_oauth_headers_and_always_streamed(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame({"type": "response.created"}), upstream.frame(COMPLETED)])
    executor = CodexOAuthExecutor(client, session_ids=lambda: "sess-1")
    result = await executor.execute(cred(upstream.url, account_id="acc-123"),
                                    UpstreamRequest("gpt-5-codex", {"input": [], "previous_response_id": "r"}))
    assert result.json() == COMPLETED
    seen = upstream.last
    assert seen.path_qs == "/responses"
    assert seen.json == {"input": [], "model": "gpt-5-codex", "stream": True, "instructions": "",
                         "prompt_cache_key": ""}
    assert seen.headers["Authorization"] == "Bearer eyJ-access"
    assert seen.headers["Originator"] == "codex_cli_rs"
    assert seen.headers["Chatgpt-Account-Id"] == "acc-123"
    assert seen.headers["Session_id"] == "sess-1"
    assert seen.headers["Accept"] == "text/event-stream"
    assert CodexOAuthExecutor.upstream_format is Format.CODEX


def test_no_account_header_without_account_id_and_default_base() -> None:
    prepared = CodexOAuthExecutor(client=None).prepare(  # type: ignore[arg-type]
        cred("").with_token("t"), UpstreamRequest("gpt-5", {}))
    assert prepared.url == "https://chatgpt.com/backend-api/codex/responses"
    assert prepared.header("Originator") == "codex_cli_rs"
    assert prepared.header("Chatgpt-Account-Id") is None


async def test_truncated_stream_is_the_legacy_408(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame({"type": "response.created"})])
    with pytest.raises(UpstreamError) as err:
        await CodexOAuthExecutor(client).execute(cred(upstream.url), UpstreamRequest("gpt-5", {}))
    assert (err.value.status, err.value.body) == (
        408, b"stream error: stream disconnected before completion: stream closed before response.completed")


async def test_401_is_credential_scoped(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(401, {"detail": "Unauthorized"})
    with pytest.raises(UpstreamError) as err:
        await CodexOAuthExecutor(client).execute(cred(upstream.url), UpstreamRequest("gpt-5", {}))
    assert (err.value.scope, err.value.status, err.value.reason, err.value.body) == (
        "credential", 401, "unauthorized", b'{"detail":"Unauthorized"}')


async def test_count_is_local_and_needs_no_token(upstream, client: UpstreamClient) -> None:
    body = {"instructions": "Be brief.", "input": [{"type": "message", "role": "user",
                                                    "content": [{"type": "input_text", "text": "hi"}]}]}
    # "Be" " brief" ".\n" "hi" in o200k_base (gpt-5); the credential's token is never asked for.
    answer = await CodexOAuthExecutor(client).count_locally(UpstreamRequest("gpt-5(high)", body, action="countTokens"))
    assert orjson.loads(answer) == {"response": {"usage": {"input_tokens": 4, "output_tokens": 0, "total_tokens": 4}}}
    assert upstream.requests == []
