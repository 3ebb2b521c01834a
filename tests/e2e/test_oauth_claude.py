"""Claude OAuth, the whole path: HTTP login -> credential file -> Anthropic SDK -> refresh -> 401.

The login goes through the management API as the Quotio app drives it (``anthropic-auth-url``,
the browser at the fake's authorize page, the pasted callback URL on ``oauth-callback``,
``get-auth-status``); every later step runs through the same in-process gateway.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import GatewayFactory
from tests.e2e.oauth_gateway import LONG_LIVED, OAuthGateway, oauth_gateway, past
from tests.fakes.oauth_providers import FakeOAuthProviders

FILE = "claude-user@example.com.json"
MODEL = "claude-sonnet-4-5-20250929"
MESSAGES = "/claude/v1/messages"
TOKEN = "/claude/token"


async def http_login(gw: OAuthGateway, *, via_main_server: bool = False) -> dict:
    """``anthropic-auth-url`` -> consent -> the callback -> ``get-auth-status`` until ``ok``.

    The callback is pasted into ``oauth-callback`` (the headless way), or, with
    ``via_main_server``, lands on the gateway's own ``/anthropic/callback`` route."""
    status, started = await gw.management("GET", "anthropic-auth-url")
    assert status == 200 and started["status"] == "ok" and set(started) == {"status", "url", "state"}
    assert started["url"].startswith(f"{gw.fake.url}/claude/authorize?")
    state = started["state"]
    assert await gw.management("GET", "get-auth-status", params={"state": state}) == (200, {"status": "wait"})
    callback = await gw.consent(started["url"])
    assert callback.startswith("http://localhost:54545/callback?")
    if via_main_server:
        query = callback.split("?", 1)[1]
        async with gw.http.get(f"{gw.url}/anthropic/callback?{query}") as page:
            assert page.status == 200 and "Authentication successful!" in await page.text()
    else:
        assert await gw.management("POST", "oauth-callback", json={
            "provider": "anthropic", "redirect_url": callback}) == (200, {"status": "ok"})
    assert await gw.auth_status_until_done(state) == {"status": "ok"}
    return gw.read(FILE)


async def ask(gw: OAuthGateway) -> str:
    message = await gw.anthropic().messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "say hello"}])
    assert message.content[0].type == "text"
    return message.content[0].text


async def test_login_serve_refresh_and_retry(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        # 1. login -> the file CLIProxyAPI writes, same name and fields, 0600
        data = await http_login(gw)
        assert set(data) == {"id_token", "access_token", "refresh_token", "last_refresh", "email", "type", "expired"}
        assert data["type"] == "claude" and data["email"] == "user@example.com" and data["id_token"] == ""
        assert data["access_token"] in gw.fake.issued_tokens and data["access_token"].startswith("claude-at-")
        assert data["refresh_token"].startswith("claude-rt-")
        assert gw.mode(FILE) == 0o600
        first = data["access_token"]

        # 2. the gateway serves it (the watcher found the new file) with the exact upstream call
        await gw.until_served(MODEL, FILE)
        assert await ask(gw) == "hello from fake claude"
        [sent] = gw.fake.seen(MESSAGES)
        assert sent["method"] == "POST"
        assert sent["query"] == {"beta": "true"}
        assert sent["headers"]["Authorization"] == f"Bearer {first}"
        assert "X-Api-Key" not in sent["headers"]
        assert "oauth-2025-04-20" in sent["headers"]["Anthropic-Beta"]
        assert sent["headers"]["Anthropic-Version"] == "2023-06-01"
        assert sent["body"]["model"] == MODEL
        assert sent["body"]["messages"] == [{"role": "user", "content": "say hello"}]
        assert sent["body"]["max_tokens"] == 64

        # 3. the token expires (the Quotio app's copy says so) -> refreshed on use, saved, used
        expired = past()
        gw.edit(FILE, expired=expired)
        await gw.until_runtime_sees(FILE, "expired", expired)
        assert await ask(gw) == "hello from fake claude"
        refreshed = gw.read(FILE)
        second = refreshed["access_token"]
        assert second != first and second in gw.fake.issued_tokens
        assert refreshed["refresh_token"] != data["refresh_token"]
        assert refreshed["expired"] > expired
        assert gw.mode(FILE) == 0o600
        assert [r["body"]["refresh_token"] for r in gw.refresh_calls(TOKEN)] == [data["refresh_token"]]
        assert gw.fake.seen(MESSAGES)[-1]["headers"]["Authorization"] == f"Bearer {second}"
        assert gw.listing() == [FILE]  # no temp file left behind

        # 4. the provider revokes the token early -> one refresh, the same call once more
        third = await gw.revoke_and_expect_retry(second, lambda: ask(gw), "hello from fake claude", upstream=MESSAGES,
                                                 token_path=TOKEN, renewed=lambda: gw.read(FILE)["access_token"])
        assert third not in (first, second)


async def test_refused_refresh_token_leaves_the_file_alone(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        data = await http_login(gw)
        await gw.until_served(MODEL, FILE)
        # Both tokens revoked: the upstream refuses the access token, the token endpoint the refresh token.
        gw.fake.issued_tokens.discard(data["access_token"])
        gw.fake.issued_tokens.discard(data["refresh_token"])
        raw = gw.path(FILE).read_bytes()
        # The only credential is refused and cannot be refreshed: the upstream's own answer
        # comes back, as CLIProxyAPI passes the last credential's error through.
        status, body = await gw.chat_status(MODEL)
        assert (status, body) == (401, {"type": "error", "error": {"type": "authentication_error"}})
        assert len(gw.refresh_calls(TOKEN)) == 1
        assert gw.path(FILE).read_bytes() == raw
        assert gw.mode(FILE) == 0o600


@pytest.mark.parametrize("bad", [b"{not json", b"", b'{"type": "martian", "access_token": "x"}'],
                         ids=["corrupt", "empty", "unknown-type"])
async def test_bad_file_next_to_a_good_one(make_gateway: GatewayFactory, tmp_path: Path, bad: bytes) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        await http_login(gw, via_main_server=True)
        gw.write("claude-broken.json", bad)
        await gw.until_served(MODEL, FILE)
        assert await ask(gw) == "hello from fake claude"
        assert gw.serving(MODEL) == [FILE]


def seeded(fake: FakeOAuthProviders, email: str) -> dict:
    """A Claude file as CLIProxyAPI (or the Quotio app) leaves it, with tokens the fake knows."""
    access, refresh = f"claude-at-seeded-{email}", f"claude-rt-seeded-{email}"
    fake.issued_tokens.update({access, refresh})
    return {"id_token": "", "access_token": access, "refresh_token": refresh, "last_refresh": past(60),
            "email": email, "type": "claude", "expired": past(-LONG_LIVED)}


async def test_bad_files_at_start_are_skipped_with_a_warning(make_gateway: GatewayFactory, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    def prepare(auth_dir: Path, fake: FakeOAuthProviders) -> None:
        (auth_dir / FILE).write_text(json.dumps(seeded(fake, "user@example.com")))
        (auth_dir / "a-corrupt.json").write_bytes(b"{not json")
        (auth_dir / "b-empty.json").write_bytes(b"")
        (auth_dir / "c-unknown.json").write_text('{"type": "martian", "access_token": "secret-martian"}')

    async with oauth_gateway(make_gateway, tmp_path, before_start=prepare) as gw:
        assert gw.runtime.skipped == {"a-corrupt.json": "corrupt", "b-empty.json": "empty",
                                      "c-unknown.json": "unknown_type"}
        assert gw.serving(MODEL) == [FILE]
        assert await ask(gw) == "hello from fake claude"
        assert gw.fake.seen(MESSAGES)[0]["headers"]["Authorization"] == "Bearer claude-at-seeded-user@example.com"
        out = capsys.readouterr().out
        for name in ("a-corrupt.json", "b-empty.json", "c-unknown.json"):
            assert any("skipp" in line and name in line for line in out.splitlines()), name
        assert "secret-martian" not in out and "claude-at-seeded" not in out


async def test_good_file_turning_bad_keeps_its_last_good_copy(make_gateway: GatewayFactory, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        data = await http_login(gw)
        await gw.until_served(MODEL, FILE)
        gw.write(FILE, b"{half a fi")
        out: list[str] = []

        def warned() -> bool:
            out.append(capsys.readouterr().out)
            return any("unusable" in line and FILE in line and "corrupt" in line
                       for line in "".join(out).splitlines())

        await gw.until(warned, "the watcher's warning about the broken file")
        # The change is refused; the credential keeps serving its last good copy.
        assert await ask(gw) == "hello from fake claude"
        assert gw.fake.seen(MESSAGES)[-1]["headers"]["Authorization"] == f"Bearer {data['access_token']}"
        assert gw.path(FILE).read_bytes() == b"{half a fi"


async def test_refused_refresh_token_with_another_credential(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        bad = await http_login(gw)
        other = "claude-other@example.com.json"
        gw.write(other, seeded(gw.fake, "other@example.com"))
        await gw.until_served(MODEL, other)
        await gw.until_served(MODEL, FILE)
        gw.fake.issued_tokens.discard(bad["access_token"])
        gw.fake.issued_tokens.discard(bad["refresh_token"])
        raw = gw.path(FILE).read_bytes()
        # Whichever credential the rotation tries first, every request is answered by the good one.
        for _ in range(4):
            assert await ask(gw) == "hello from fake claude"
        assert len(gw.refresh_calls(TOKEN)) == 1  # refused once, then the credential is left out
        assert FILE not in gw.serving(MODEL) and other in gw.serving(MODEL)
        assert gw.path(FILE).read_bytes() == raw
        good = [r for r in gw.fake.seen(MESSAGES) if r["headers"]["Authorization"] == "Bearer "
                "claude-at-seeded-other@example.com"]
        assert len(good) == 4


async def test_401_again_after_the_refresh_gives_up(make_gateway: GatewayFactory, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        await http_login(gw)
        await gw.until_served(MODEL, FILE)
        # The account is locked upstream: every token, old or new, is refused.
        monkeypatch.setattr(gw.fake, "_authorized", lambda request: False)
        status, body = await gw.chat_status(MODEL)
        assert (status, body) == (401, {"type": "error", "error": {"type": "authentication_error"}})
        assert len(gw.refresh_calls(TOKEN)) == 1
        assert len(gw.fake.seen(MESSAGES)) == 2  # the call and its one retry, no loop
        saved = gw.read(FILE)
        assert saved["access_token"] in gw.fake.issued_tokens  # the refreshed token was kept
        # Given up: the credential sits out (CLIProxyAPI's answer when every candidate is blocked
        # for a reason other than quota), and the provider is not asked again.
        status, body = await gw.chat_status(MODEL)
        assert (status, body) == (500, {"error": {"message": "auth_unavailable: no auth available",
                                                  "type": "server_error", "code": "internal_server_error"}})
        assert len(gw.refresh_calls(TOKEN)) == 1 and len(gw.fake.seen(MESSAGES)) == 2


async def test_streamed_answer_through_the_oauth_credential(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    async with oauth_gateway(make_gateway, tmp_path) as gw:
        data = await http_login(gw)
        await gw.until_served(MODEL, FILE)
        async with gw.anthropic().messages.stream(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "say hello"}]) as stream:
            texts = [text async for text in stream.text_stream]
            final = await stream.get_final_message()
        assert texts == ["hello from ", "fake claude"]
        assert final.stop_reason == "end_turn" and final.usage.output_tokens == 4
        [sent] = gw.fake.seen(MESSAGES)
        assert sent["body"]["stream"] is True
        assert sent["headers"]["Accept"] == "text/event-stream"
        assert sent["headers"]["Authorization"] == f"Bearer {data['access_token']}"
