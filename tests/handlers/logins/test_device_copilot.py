"""GitHub Copilot device login and Copilot token exchange against the fake GitHub."""

from __future__ import annotations

import json

import pytest

from handlers.auth.credential import new_credential
from handlers.logins.device_copilot import (
    CopilotDeviceLogin,
    CopilotTokenCache,
    GitHubToken,
    copilot_credential,
    exchange_copilot_token,
    run_copilot_login,
)
from handlers.logins.device_http import TokenEndpointError
from handlers.logins.device_poll import DeviceFlowError, LoginIO
from handlers.logins.endpoints import endpoints_for
from tests.fakes.device_providers import DeviceProviderState, FakeTime, provider_endpoints


def gh_endpoints(fake: DeviceProviderState):
    return endpoints_for("github-copilot", {"provider-endpoints": provider_endpoints(fake.base_url)})


def flow(http, fake, clock: FakeTime) -> CopilotDeviceLogin:
    return CopilotDeviceLogin(http, gh_endpoints(fake), sleep=clock.sleep, clock=clock.clock)


async def test_login_writes_the_plus_copilot_file(fake, http, store, tmp_path):
    fake.polls["github"] = ["pending", "token"]
    clock = FakeTime()
    said: list[str] = []
    saved = await run_copilot_login(http, gh_endpoints(fake), store, LoginIO(say=said.append, no_browser=True),
                                    login=flow(http, fake, clock))
    assert saved.file_name == "github-copilot-octocat.json"
    on_disk = json.loads((tmp_path / "auth" / "github-copilot-octocat.json").read_bytes())
    assert on_disk == {"access_token": "gho_fake1", "token_type": "bearer", "scope": "user:email",
                       "username": "octocat", "type": "github-copilot"}
    # GitHub polls never run faster than 5 s, even when the server says 5 or less.
    assert clock.sleeps == [5, 5]
    device = fake.calls("/github/login/device/code")[0]["body"]
    assert device == {"client_id": "Iv1.b507a08c87ecfe98", "scope": "user:email"}
    exchange = fake.calls("/copilot_internal/v2/token")[0]["headers"]
    assert exchange["Authorization"] == "token gho_fake1"
    assert exchange["Editor-Version"] == "vscode/1.100.0"
    assert exchange["Editor-Plugin-Version"] == "copilot/1.300.0"
    assert exchange["User-Agent"] == "GithubCopilot/1.0"
    assert any("ABCD-0001" in line for line in said)
    assert not any("gho_" in line for line in said)


async def test_slow_down_adds_five_seconds(fake, http):
    fake.polls["github"] = ["slow_down", "pending", "slow_down", "token"]
    fake.interval = 8
    clock = FakeTime()
    login = flow(http, fake, clock)
    token = await login.wait(await login.start())
    assert token.access_token == "gho_fake1"
    assert clock.sleeps == [8, 13, 13, 18]


@pytest.mark.parametrize(("script", "reason", "message"), [
    (["pending", "expired_token"], "expired", "device code expired; start the login again"),
    (["access_denied"], "denied", "authorization denied by the user; start the login again"),
    (["malformed"], "bad_response", None),
    (["http500"], "http_error", None),
])
async def test_poll_faults(fake, http, store, tmp_path, script, reason, message):
    fake.polls["github"] = script
    clock = FakeTime()
    with pytest.raises(DeviceFlowError) as caught:
        await run_copilot_login(http, gh_endpoints(fake), store, LoginIO(say=lambda _m: None, no_browser=True),
                                login=flow(http, fake, clock))
    assert caught.value.reason == reason
    if message:
        assert str(caught.value) == message
    assert list((tmp_path / "auth").glob("*.json")) == []


async def test_wait_ends_at_the_code_expiry(fake, http):
    fake.polls["github"] = ["pending"]
    clock = FakeTime()
    login = flow(http, fake, clock)
    with pytest.raises(DeviceFlowError) as caught:
        await login.wait(await login.start())
    assert caught.value.reason == "expired"
    assert sum(clock.sleeps) == 900


async def test_account_without_copilot_gets_no_file(fake, http, store, tmp_path):
    fake.copilot_status = 404
    clock = FakeTime()
    with pytest.raises(DeviceFlowError) as caught:
        await run_copilot_login(http, gh_endpoints(fake), store, LoginIO(say=lambda _m: None, no_browser=True),
                                login=flow(http, fake, clock))
    assert str(caught.value).startswith("could not verify Copilot access; is a Copilot subscription active?")
    assert list((tmp_path / "auth").glob("*.json")) == []


async def test_exchange_refused_is_permanent(fake, http):
    fake.copilot_status = 401
    with pytest.raises(TokenEndpointError) as caught:
        await exchange_copilot_token(http, gh_endpoints(fake), "gho_revoked")
    assert caught.value.permanent
    assert str(caught.value) == "copilot token exchange refused: HTTP 401"


async def test_token_cache_reuses_until_forced(fake, http):
    cred = copilot_credential(GitHubToken("gho_fake9", "bearer", "user:email"), "octocat")
    cache = CopilotTokenCache(http, gh_endpoints(fake))
    first = await cache.get(cred)
    again = await cache.get(cred)
    assert first.token == again.token == "tid=copilot-1"
    forced = await cache.get(cred, force=True)
    assert forced.token == "tid=copilot-2"
    # A new GitHub token in the file (a new login) buys a new Copilot token.
    relogged = new_credential(cred.file_name, {**cred.metadata, "access_token": "gho_fake10"})
    assert (await cache.get(relogged)).token == "tid=copilot-3"
    assert len(fake.calls("/copilot_internal/v2/token")) == 3
