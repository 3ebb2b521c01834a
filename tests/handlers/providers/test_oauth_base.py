"""OAuthCredential and the token step every OAuth executor shares (oauth_base.py)."""

from __future__ import annotations

import pytest

from handlers.providers import UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_claude import ClaudeOAuthExecutor


class Failing:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    async def access_token(self) -> str:
        self.calls += 1
        raise self.exc


def test_repr_never_shows_token_or_metadata() -> None:
    cred = OAuthCredential("claude-a.json", "claude", StaticToken("sk-ant-oat-secret"),
                           metadata={"refresh_token": "rt-secret"}).with_token("sk-ant-oat-secret")
    text = repr(cred)
    assert "secret" not in text
    assert "claude-a.json" in text


async def test_token_source_failure_is_a_credential_error_without_detail(upstream, client: UpstreamClient) -> None:
    source = Failing(RuntimeError("token endpoint said: refresh_token=rt-secret invalid"))
    cred = OAuthCredential("c.json", "claude", source, base_url=upstream.url)
    with pytest.raises(UpstreamError) as err:
        await ClaudeOAuthExecutor(client).execute(cred, UpstreamRequest("claude-sonnet-4", {"messages": []}))
    assert (err.value.scope, err.value.status, err.value.body) == ("credential", 401, b"failed to obtain access token")
    assert upstream.requests == []


async def test_upstream_error_from_token_source_passes_through(upstream, client: UpstreamClient) -> None:
    mine = UpstreamError("credential", 401, b"credential no longer available")
    cred = OAuthCredential("c.json", "claude", Failing(mine), base_url=upstream.url)
    with pytest.raises(UpstreamError) as err:
        await ClaudeOAuthExecutor(client).stream(cred, UpstreamRequest("m", {}, stream=True))
    assert err.value is mine


async def test_empty_token_is_missing_access_token(upstream, client: UpstreamClient) -> None:
    cred = OAuthCredential("c.json", "claude", StaticToken(""), base_url=upstream.url)
    with pytest.raises(UpstreamError) as err:
        await ClaudeOAuthExecutor(client).execute(cred, UpstreamRequest("m", {}))
    assert (err.value.scope, err.value.status, err.value.body) == ("credential", 401, b"missing access token")
    assert upstream.requests == []


def test_meta_str_trims_and_ignores_non_strings() -> None:
    cred = OAuthCredential("k.json", "kiro", StaticToken("t"), metadata={"a": "  x ", "b": 3})
    assert (cred.meta_str("a"), cred.meta_str("b"), cred.meta_str("c")) == ("x", "", "")
