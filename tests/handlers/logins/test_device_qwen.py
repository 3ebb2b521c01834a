"""Qwen device login against the fake Qwen service: the file it writes, every polling fault, refresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from handlers.logins.device_http import TokenEndpointError, token_call_session
from handlers.logins.device_poll import DeviceFlowError, LoginIO
from handlers.logins.device_qwen import QwenDeviceLogin, QwenToken, qwen_credential, refresh_qwen, run_qwen_login
from handlers.logins.endpoints import endpoints_for
from tests.fakes.device_providers import DeviceProviderState, FakeTime, provider_endpoints


def qwen_endpoints(fake: DeviceProviderState):
    return endpoints_for("qwen", {"provider-endpoints": provider_endpoints(fake.base_url)})


def quiet_io(email: str = "") -> tuple[LoginIO, list[str]]:
    said: list[str] = []

    async def prompt(_question: str) -> str:
        return email

    return LoginIO(say=said.append, no_browser=True, prompt=prompt if email else None), said


async def test_login_writes_the_legacy_qwen_file(fake, http, store, tmp_path):
    fake.polls["qwen"] = ["pending", "pending", "token"]
    fake.interval = 7
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    io, said = quiet_io("me@example.com")

    saved = await run_qwen_login(http, qwen_endpoints(fake), store, io, login=login)

    assert saved.file_name == "qwen-me@example.com.json"
    on_disk = json.loads((tmp_path / "auth" / "qwen-me@example.com.json").read_bytes())
    assert set(on_disk) == {"access_token", "refresh_token", "last_refresh", "resource_url", "email", "type",
                            "expired"}
    assert on_disk["access_token"] == "qwen-access-1"
    assert on_disk["refresh_token"] == "qwen-refresh-1"
    assert on_disk["resource_url"] == "portal.qwen.ai"
    assert on_disk["email"] == "me@example.com"
    assert on_disk["type"] == "qwen"
    expired = datetime.strptime(on_disk["expired"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    last = datetime.strptime(on_disk["last_refresh"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (expired - last).total_seconds() == 3600
    # The server's interval is honoured, one wait before each of the three polls.
    assert clock.sleeps == [7, 7, 7]
    assert (tmp_path / "auth" / "qwen-me@example.com.json").stat().st_mode & 0o777 == 0o600
    # The device request carried the PKCE challenge and the scope; the poll the device grant.
    device = fake.calls("/qwen/device/code")[0]["body"]
    assert device["client_id"] == "f0304373b74a44d2b584a3fb70ca9e56"
    assert device["scope"] == "openid profile email model.completion"
    poll = fake.calls("/qwen/token")[0]["body"]
    assert poll["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert any("qwen/verify?user_code=QW-0001" in line for line in said)
    assert not any("qwen-access" in line for line in said)


async def test_the_poll_sends_no_accept_as_postform_does(fake, store):
    # qwen_auth.go: the device request sets Accept: application/json, PollForToken's http.PostForm none.
    fake.polls["qwen"] = ["token"]
    clock = FakeTime()
    async with token_call_session() as session:
        login = QwenDeviceLogin(session, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
        await run_qwen_login(session, qwen_endpoints(fake), store, quiet_io("me@example.com")[0], login=login)
    assert fake.calls("/qwen/device/code")[0]["headers"]["Accept"] == "application/json"
    poll = fake.calls("/qwen/token")[0]["headers"]
    assert "Accept" not in poll and poll["Content-Type"] == "application/x-www-form-urlencoded"


async def test_slow_down_grows_the_interval_by_half_up_to_ten_seconds(fake, http):
    fake.polls["qwen"] = ["slow_down", "slow_down", "slow_down", "token"]
    fake.interval = 5
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    token = await login.wait(await login.start())
    assert token.access_token == "qwen-access-1"
    assert clock.sleeps == [5, 7.5, 10, 10]


async def test_default_interval_when_the_server_sends_none(fake, http):
    fake.polls["qwen"] = ["pending", "token"]
    fake.interval = 0
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    await login.wait(await login.start())
    assert clock.sleeps == [5, 5]


@pytest.mark.parametrize(("script", "reason", "message"), [
    (["pending", "expired_token"], "expired", "device code expired; start the login again"),
    (["access_denied"], "denied", "authorization denied by the user; start the login again"),
    (["malformed"], "bad_response", "qwen device token poll failed: 127.0.0.1"),
    (["http500"], "http_error", "qwen device token poll failed: 127.0.0.1"),
    (["invalid_scope"], "provider_error", "device token poll failed (invalid_scope: fake invalid_scope)"),
])
async def test_poll_faults_end_the_login_with_a_clear_error(fake, http, store, tmp_path, script, reason, message):
    fake.polls["qwen"] = script
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    io, _ = quiet_io("me@example.com")
    with pytest.raises(DeviceFlowError) as caught:
        await run_qwen_login(http, qwen_endpoints(fake), store, io, login=login)
    assert caught.value.reason == reason
    assert str(caught.value).startswith(message)
    assert list((tmp_path / "auth").glob("*.json")) == []


async def test_malformed_and_500_messages_name_the_fault(fake, http):
    for fault, words in (("malformed", "answered malformed JSON"), ("http500", "answered HTTP 500")):
        fake.polls["qwen"] = [fault]
        clock = FakeTime()
        login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
        with pytest.raises(DeviceFlowError) as caught:
            await login.wait(await login.start())
        assert str(caught.value).endswith(words)


async def test_the_wait_is_bounded_at_five_minutes(fake, http):
    fake.polls["qwen"] = ["pending"]
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(DeviceFlowError) as caught:
        await login.wait(await login.start())
    assert caught.value.reason == "expired"
    assert str(caught.value) == "timed out after 300s waiting for the user to authorize"
    assert sum(clock.sleeps) == 300
    assert len(fake.calls("/qwen/token")) == 60


async def test_a_failed_login_leaves_an_existing_file_whole(fake, http, store, tmp_path):
    first = await store.save(qwen_credential(QwenToken("old-access", "old-refresh", "Bearer", "portal.qwen.ai", 60),
                                             "me@example.com"))
    before = (tmp_path / "auth" / first.file_name).read_bytes()
    fake.polls["qwen"] = ["access_denied"]
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    io, _ = quiet_io("me@example.com")
    with pytest.raises(DeviceFlowError):
        await run_qwen_login(http, qwen_endpoints(fake), store, io, login=login)
    assert (tmp_path / "auth" / first.file_name).read_bytes() == before


async def test_login_without_an_email_is_refused_before_saving(fake, http, store, tmp_path):
    clock = FakeTime()
    login = QwenDeviceLogin(http, qwen_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    io, _ = quiet_io("")
    with pytest.raises(DeviceFlowError) as caught:
        await run_qwen_login(http, qwen_endpoints(fake), store, io, login=login)
    assert str(caught.value) == "an email address or alias is required to name the Qwen credential"
    assert list((tmp_path / "auth").glob("*.json")) == []


async def test_device_endpoint_failure(fake, http):
    ep = endpoints_for("qwen", {"provider-endpoints": {"qwen": {"device-url": f"{fake.base_url}/nowhere"}}})
    with pytest.raises(DeviceFlowError) as caught:
        await QwenDeviceLogin(http, ep).start()
    assert caught.value.reason == "http_error"
    assert str(caught.value) == f"qwen device authorization failed: {fake.base_url[7:]} answered HTTP 404"


async def test_refresh_updates_tokens_and_keeps_other_fields(fake, http):
    fake.issue_refresh("qwen", "r-0")
    cred = qwen_credential(QwenToken("a-0", "r-0", "Bearer", "", 10), "me")
    cred = cred.with_metadata(prefix="team")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    updates = await refresh_qwen(http, qwen_endpoints(fake), cred, now)
    assert updates == {"access_token": "qwen-access-1", "refresh_token": "qwen-refresh-1",
                       "resource_url": "portal.qwen.ai", "expired": "2026-01-02T04:04:05Z", "type": "qwen",
                       "last_refresh": "2026-01-02T03:04:05Z"}
    form = fake.calls("/qwen/token")[0]["body"]
    assert form == {"grant_type": "refresh_token", "refresh_token": "r-0",
                    "client_id": "f0304373b74a44d2b584a3fb70ca9e56"}


async def test_refresh_with_a_used_refresh_token_is_permanent(fake, http):
    cred = qwen_credential(QwenToken("a-0", "dead", "Bearer", "", 10), "me")
    with pytest.raises(TokenEndpointError) as caught:
        await refresh_qwen(http, qwen_endpoints(fake), cred, datetime.now(UTC))
    assert caught.value.permanent
    assert str(caught.value) == f"qwen token refresh refused by {fake.base_url[7:]} (invalid_grant: fake invalid_grant)"
