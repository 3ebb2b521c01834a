"""Kiro Builder ID and social logins, and both Kiro refreshes, against the fake AWS OIDC / Kiro service."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from handlers.auth.credential import Credential
from handlers.logins.device_http import TokenEndpointError
from handlers.logins.device_poll import DeviceFlowError, LoginIO
from handlers.logins.endpoints import endpoints_for
from handlers.logins.kiro import (
    KiroBuilderIdLogin,
    KiroLoginError,
    KiroSocialLogin,
    KiroTokens,
    email_from_jwt,
    kiro_credential,
    refresh_kiro,
    run_kiro_builder_id_login,
    run_kiro_social_login,
    sanitize_for_file_name,
)
from tests.fakes.device_providers import (
    DeviceProviderState,
    FakeTime,
    fake_jwt,
    provider_endpoints,
)


def kiro_endpoints(fake: DeviceProviderState):
    return endpoints_for("kiro", {"provider-endpoints": provider_endpoints(fake.base_url)})


async def test_builder_id_login_writes_the_plus_file(fake, http, store, tmp_path):
    fake.polls["kiro"] = ["pending", "slow_down", "token"]
    fake.interval = 3
    clock = FakeTime()
    login = KiroBuilderIdLogin(http, kiro_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    saved = await run_kiro_builder_id_login(http, kiro_endpoints(fake), store,
                                            LoginIO(say=lambda _m: None, no_browser=True), login=login)
    assert saved.file_name == "kiro-aws-dev@example.com.json"
    on_disk = json.loads((tmp_path / "auth" / saved.file_name).read_bytes())
    assert set(on_disk) == {"type", "access_token", "refresh_token", "profile_arn", "expires_at", "auth_method",
                            "provider", "client_id", "client_secret", "email"}
    assert on_disk["type"] == "kiro"
    assert on_disk["auth_method"] == "builder-id"
    assert on_disk["provider"] == "AWS"
    assert on_disk["client_id"] == "kiro-client-1"
    assert on_disk["client_secret"] == "kiro-secret-1"
    assert on_disk["refresh_token"] == "kiro-refresh-1"
    assert on_disk["profile_arn"] == "arn:aws:codewhisperer:us-east-1:123456789012:profile/BLD"
    assert on_disk["email"] == "dev@example.com"
    datetime.strptime(on_disk["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert clock.sleeps == [3, 3, 8]
    register = fake.calls("/kiro/client/register")[0]["body"]
    assert register["clientType"] == "public"
    assert register["clientName"].startswith("CLI-Proxy-API-")
    assert register["scopes"] == ["codewhisperer:completions", "codewhisperer:analysis",
                                  "codewhisperer:conversations"]
    device = fake.calls("/kiro/device_authorization")[0]["body"]
    assert device == {"clientId": "kiro-client-1", "clientSecret": "kiro-secret-1",
                      "startUrl": "https://view.awsapps.com/start"}
    poll = fake.calls("/kiro/token")[0]["body"]
    assert poll["grantType"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert poll["deviceCode"] == "kiro-device"


@pytest.mark.parametrize(("script", "reason"), [
    (["pending", "expired_token"], "expired"),
    (["access_denied"], "denied"),
    (["malformed"], "bad_response"),
    (["http500"], "http_error"),
])
async def test_builder_id_poll_faults(fake, http, store, tmp_path, script, reason):
    fake.polls["kiro"] = script
    clock = FakeTime()
    login = KiroBuilderIdLogin(http, kiro_endpoints(fake), sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(DeviceFlowError) as caught:
        await run_kiro_builder_id_login(http, kiro_endpoints(fake), store,
                                        LoginIO(say=lambda _m: None, no_browser=True), login=login)
    assert caught.value.reason == reason
    assert list((tmp_path / "auth").glob("*.json")) == []


async def social(http, fake) -> tuple[KiroSocialLogin, str]:
    login = KiroSocialLogin(http, kiro_endpoints(fake), "google", ports=(0,))
    return login, await login.start()


async def test_social_login_through_the_local_callback(fake, http, store, tmp_path):
    login, url = await social(http, fake)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{fake.base_url}/kiro-social/login?idp=Google&redirect_uri=kiro%3A%2F%2F")
    assert query["redirect_uri"] == ["kiro://kiro.kiroAgent/authenticate-success"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["prompt"] == ["select_account"]
    async with http.get(f"http://127.0.0.1:{login.port}/oauth/callback",
                        params={"code": "social-code", "state": query["state"][0]}) as resp:
        assert resp.status == 200
        assert "Login Successful" in await resp.text()
    tokens = await login.wait()
    saved = await store.save(kiro_credential(tokens))
    assert saved.file_name == "kiro-google-dev@example.com.json"
    on_disk = json.loads((tmp_path / "auth" / saved.file_name).read_bytes())
    assert set(on_disk) == {"type", "access_token", "refresh_token", "profile_arn", "expires_at", "auth_method",
                            "provider", "email"}
    assert on_disk["auth_method"] == "social"
    assert on_disk["provider"] == "Google"
    assert on_disk["profile_arn"] == "arn:aws:codewhisperer:us-east-1:123456789012:profile/SOCIAL"
    exchange = fake.calls("/kiro-social/oauth/token")[0]
    assert exchange["body"]["redirect_uri"] == "kiro://kiro.kiroAgent/authenticate-success"
    assert exchange["headers"]["User-Agent"] == "cli-proxy-api/1.0.0"


async def test_social_state_mismatch_is_refused(fake, http):
    login, _url = await social(http, fake)
    async with http.get(f"http://127.0.0.1:{login.port}/oauth/callback",
                        params={"code": "social-code", "state": "forged"}) as resp:
        assert resp.status == 200
    with pytest.raises(KiroLoginError) as caught:
        await login.wait()
    assert caught.value.reason == "state_mismatch"
    assert str(caught.value) == "OAuth state validation failed - please try again"
    assert fake.calls("/kiro-social/oauth/token") == []


async def test_social_consent_denied(fake, http):
    login, _url = await social(http, fake)
    async with http.get(f"http://127.0.0.1:{login.port}/oauth/callback",
                        params={"error": "access_denied"}) as resp:
        assert resp.status == 400
        assert "Login Failed" in await resp.text()
    with pytest.raises(KiroLoginError) as caught:
        await login.wait()
    assert caught.value.reason == "denied"
    assert str(caught.value) == "kiro sign-in failed: access_denied"


async def test_social_callback_without_code(fake, http):
    login, url = await social(http, fake)
    state = parse_qs(urlsplit(url).query)["state"][0]
    login.deliver_redirect(f"kiro://kiro.kiroAgent/authenticate-success?state={state}")
    with pytest.raises(KiroLoginError) as caught:
        await login.wait()
    assert str(caught.value) == "no authorization code received"


async def test_social_pasted_redirect_works_without_the_server(fake, http):
    login, url = await social(http, fake)
    state = parse_qs(urlsplit(url).query)["state"][0]
    login.deliver_redirect(f"kiro://kiro.kiroAgent/authenticate-success?code=social-code&state={state}")
    tokens = await login.wait()
    assert tokens.provider == "Google"


async def test_social_wait_is_bounded(fake, http):
    login = KiroSocialLogin(http, kiro_endpoints(fake), "github", ports=(0,), timeout=0.05)
    await login.start()
    with pytest.raises(KiroLoginError) as caught:
        await login.wait()
    assert caught.value.reason == "expired"


async def test_refresh_builder_id_uses_the_registered_client(fake, http):
    fake.issue_refresh("kiro", "r-0")
    cred = kiro_credential_for("builder-id", "r-0", client=True)
    now = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    updates = await refresh_kiro(http, kiro_endpoints(fake), cred, now)
    assert updates["refresh_token"] == "kiro-refresh-1"
    assert updates["expires_at"] == "2026-05-06T08:08:09Z"
    assert updates["last_refresh"] == "2026-05-06T07:08:09Z"
    assert fake.calls("/kiro/token")[0]["body"] == {"clientId": "cid", "clientSecret": "csecret",
                                                    "refreshToken": "r-0", "grantType": "refresh_token"}


async def test_refresh_social_uses_the_kiro_service(fake, http):
    fake.issue_refresh("kiro-social", "s-0")
    cred = kiro_credential_for("social", "s-0", client=False)
    updates = await refresh_kiro(http, kiro_endpoints(fake), cred, datetime.now(UTC))
    assert updates["refresh_token"] == "kiro-social-refresh-1"
    assert fake.calls("/kiro-social/refreshToken")[0]["body"] == {"refreshToken": "s-0"}


async def test_refresh_expired_refresh_token(fake, http):
    cred = kiro_credential_for("social", "never-issued", client=False)
    with pytest.raises(TokenEndpointError) as caught:
        await refresh_kiro(http, kiro_endpoints(fake), cred, datetime.now(UTC))
    assert caught.value.permanent


def kiro_credential_for(method: str, refresh: str, *, client: bool) -> Credential:
    return kiro_credential(KiroTokens(access_token="a", refresh_token=refresh, profile_arn="", expires_at="",
                                      auth_method=method, provider="AWS" if client else "Github",
                                      email="x@example.com", client_id="cid" if client else "",
                                      client_secret="csecret" if client else ""))


def test_email_from_jwt_and_file_name_rules():
    assert email_from_jwt(fake_jwt({"email": "a@b.c"})) == "a@b.c"
    assert email_from_jwt(fake_jwt({"preferred_username": "u@b.c"})) == "u@b.c"
    assert email_from_jwt(fake_jwt({"sub": "not-an-email"})) == ""
    assert email_from_jwt("opaque-token") == ""
    assert sanitize_for_file_name("../../etc/passwd") == "______etc_passwd"
    assert sanitize_for_file_name("a%2Fb c:d") == "a_b_c_d"


async def test_cli_social_login_accepts_the_pasted_kiro_link(fake, http, store, tmp_path):
    login = KiroSocialLogin(http, kiro_endpoints(fake), "github", ports=(0,))

    async def paste(_question: str) -> str:
        return f"kiro://kiro.kiroAgent/authenticate-success?code=social-code&state={login.state}"

    said: list[str] = []
    saved = await run_kiro_social_login(http, kiro_endpoints(fake), store,
                                        LoginIO(say=said.append, no_browser=True, prompt=paste), "github",
                                        login=login)
    assert saved.file_name == "kiro-github-dev@example.com.json"
    assert json.loads((tmp_path / "auth" / saved.file_name).read_bytes())["provider"] == "Github"
    assert any("/kiro-social/login?idp=Github" in line for line in said)
