"""Token sources of auth-dir credentials (tokens.py) and forced refresh after a 401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores.file_store import FileTokenStore
from handlers.credentials import CredentialRuntime, ExchangedToken, FileToken, file_token
from handlers.credentials.tokens import is_due
from handlers.providers import Timeouts, UpstreamClient, UpstreamError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def stamp(delta: timedelta) -> str:
    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("meta", "expected"), [
    ({"type": "claude", "access_token": " sk-ant-oat "}, "sk-ant-oat"),
    ({"type": "iflow", "access_token": "oauth", "api_key": "sk-iflow"}, "sk-iflow"),
    ({"type": "iflow", "access_token": "oauth"}, ""),
    ({"type": "kiro", "accessToken": "aoa"}, "aoa"),
    ({"type": "gemini", "token": {"access_token": "ya29.nested"}}, "ya29.nested"),
    ({"type": "gemini", "access_token": "ya29.top", "token": {"access_token": "ya29.nested"}}, "ya29.top"),
    ({"type": "codex", "access_token": 5}, ""),
])
def test_file_token_field_per_provider(meta: dict, expected: str) -> None:
    assert file_token(new_credential("f.json", meta)) == expected


def test_on_use_skew_per_provider() -> None:
    def due(kind: str, left: timedelta) -> bool:
        return is_due(new_credential("f.json", {"type": kind, "expired": stamp(left)}), NOW)

    assert due("antigravity", timedelta(minutes=49)) and not due("antigravity", timedelta(minutes=51))
    assert due("gemini", timedelta(seconds=9)) and not due("gemini", timedelta(seconds=11))
    assert due("claude", timedelta(seconds=0)) and not due("claude", timedelta(seconds=1))
    assert not is_due(new_credential("f.json", {"type": "claude"}), NOW)


class Runtime:
    def __init__(self, credential: Credential | None, proxy: str = "") -> None:
        self.credential = credential
        self.refreshes = 0
        self.proxy = proxy

    def file_credential(self, file_name: str) -> Credential | None:
        return self.credential

    def default_proxy(self) -> str:
        return self.proxy

    async def refresh_file(self, file_name: str) -> Credential | None:
        self.refreshes += 1
        return None

    def now(self) -> datetime:
        return NOW


async def test_file_token_without_refresher_answer_uses_the_current_copy() -> None:
    expired = stamp(-timedelta(days=1))
    runtime = Runtime(new_credential("a.json", {"type": "claude", "access_token": "old", "expired": expired}))
    assert await FileToken(runtime, "a.json").access_token() == "old"
    assert runtime.refreshes == 1


async def test_exchange_not_configured_and_exchange_failure() -> None:
    runtime = Runtime(new_credential("c.json", {"type": "github-copilot", "access_token": "gho"}))
    with pytest.raises(UpstreamError) as err:
        await ExchangedToken(runtime, "c.json", lambda: None, b"failed to get copilot api token").access_token()
    assert err.value.body == b"failed to get copilot api token: token exchange not configured"

    class Broken:
        async def get(self, credential: Credential, *, force: bool = False) -> object:
            raise ConnectionResetError("peer reset while sending gho_secret")

    with pytest.raises(UpstreamError) as err:
        await ExchangedToken(runtime, "c.json", Broken, b"failed to get copilot api token").access_token()
    assert (err.value.scope, err.value.status, err.value.body) == (
        "credential", 401, b"failed to get copilot api token: ConnectionResetError")
    assert b"gho_secret" not in err.value.body
    gone = Runtime(None)
    with pytest.raises(UpstreamError) as err:
        await ExchangedToken(gone, "c.json", Broken).access_token()
    assert err.value.body == b"credential no longer available"


async def test_exchanges_use_the_global_proxy_when_the_file_names_none() -> None:
    seen: list[str] = []

    class Recording:
        async def get(self, credential: Credential, *, force: bool = False) -> object:
            seen.append(credential.proxy_url)
            return "token"

    plain = new_credential("c.json", {"type": "vertex"})
    own = new_credential("d.json", {"type": "vertex", "proxy_url": "http://own:1"})
    for credential in (plain, own):
        runtime = Runtime(credential, proxy="http://global:3128")
        assert await ExchangedToken(runtime, credential.file_name, Recording).access_token() == "token"
    assert seen == ["http://global:3128", "http://own:1"]


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    pool = UpstreamClient(Timeouts(connect=1.0, first_byte=1.0, idle=1.0))
    yield pool
    await pool.close()


async def test_refresh_now_after_a_401(tmp_path: Path, client: UpstreamClient) -> None:
    (tmp_path / "gemini-a-all.json").write_text(
        '{"type":"gemini","project_id":"p1,p2","token":{"access_token":"ya29.old"}}')
    (tmp_path / "github-copilot-u.json").write_text('{"type":"github-copilot","access_token":"gho"}')
    answers = iter(["ya29.new", "ya29.new"])

    async def refresher(credential: Credential) -> Credential:
        return credential.with_metadata(access_token=next(answers))

    forced: list[bool] = []

    class Exchange:
        async def get(self, credential: Credential, *, force: bool = False) -> object:
            forced.append(force)
            return "tid=1"

    runtime = CredentialRuntime(FileTokenStore(tmp_path), client, refresher=refresher, copilot_tokens=Exchange(),
                                watch_interval=0.05)
    await runtime.start()
    try:
        assert await runtime.refresh_now("gemini-a-all.json::p2") is True
        view = runtime.get("gemini-a-all.json::p1")
        assert view is not None and await view.tokens.access_token() == "ya29.new"
        assert await runtime.refresh_now("gemini-a-all.json::p1") is False  # same token again: give up
        assert await runtime.refresh_now("github-copilot-u.json") is True
        assert forced == [True]
        assert await runtime.refresh_now("missing.json") is False
    finally:
        await runtime.stop()


async def test_a_refused_exchange_says_why_without_any_body() -> None:
    from handlers.logins.device_http import TokenEndpointError

    class Refused:
        async def get(self, credential: Credential, *, force: bool = False) -> object:
            raise TokenEndpointError("http_error", "copilot token exchange failed: api.github.com answered 403",
                                     status=403)

    runtime = Runtime(new_credential("c.json", {"type": "github-copilot", "access_token": "gho_secret"}))
    with pytest.raises(UpstreamError) as err:
        await ExchangedToken(runtime, "c.json", Refused, b"failed to get copilot api token").access_token()
    assert err.value.body == (b"failed to get copilot api token: copilot token exchange failed: "
                              b"api.github.com answered 403")
