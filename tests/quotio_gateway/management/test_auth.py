"""Management access control: legacy answers for every refusal, bans, and trusted-proxy rules."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from quotio_gateway.management.auth import (
    BAN_SECONDS,
    ManagementGuard,
    client_ip,
    go_duration,
    management_key_id,
    provided_key,
)

from .conftest import BEARER, CONFIG_YAML, SECRET, SECRET_LINE, MakeHarness

CPA = {"X-CPA-VERSION": "6.7.15", "X-CPA-COMMIT": "9b72ea9ef", "X-CPA-BUILD-DATE": "2026-01-20T12:02:29Z"}
ALLOW_REMOTE = CONFIG_YAML.replace("allow-remote: false", "allow-remote: true")
# A second loopback address: the socket peer is then genuinely not 127.0.0.1.
REMOTE = "127.0.0.5"
BANNED_PREFIX = "IP banned due to too many failed attempts. Try again in "


def assert_cpa(response: Any) -> None:
    for name, value in CPA.items():
        assert response.headers[name] == value


async def error_of(response: Any) -> str:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return (await response.json())["error"]


# --- §10 cases 1-8 ---------------------------------------------------------------------------


async def test_missing_key_from_localhost(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "config", headers=None)
    assert response.status == 401
    assert await response.read() == b'{"error":"missing management key"}'
    assert_cpa(response)


async def test_wrong_bearer_key(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "debug", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    assert await response.read() == b'{"error":"invalid management key"}'
    assert_cpa(response)


async def test_right_bearer_key(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "debug")
    assert response.status == 200
    assert await response.read() == b'{"debug":false}'
    assert_cpa(response)


async def test_plaintext_secret_is_hashed_at_load(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML.replace(SECRET_LINE, 'secret-key: "s3cret"'))
    assert h.store.current.remote_management.secret_key.startswith("$2a$10$")
    assert "s3cret" not in h.text()
    assert (await h.call("GET", "debug")).status == 200
    # The stored hash itself is not a key.
    hashed = h.store.current.remote_management.secret_key
    assert (await h.call("GET", "debug", headers={"Authorization": f"Bearer {hashed}"})).status == 401


@pytest.mark.parametrize(("headers", "status"), [
    ({"X-Management-Key": SECRET}, 200),
    ({"Authorization": SECRET}, 200),
    ({"Authorization": f"bEaReR {SECRET}"}, 200),
    ({"Authorization": f"Basic {SECRET}"}, 401),             # whole value compared
    ({"Authorization": f"Bearer  {SECRET}"}, 401),           # key is not trimmed
    ({"Authorization": "Bearer wrong", "X-Management-Key": SECRET}, 401),  # Authorization wins
    # Header values lose trailing spaces on the wire, so this is the key "Bearer", not a fallthrough.
    ({"Authorization": "Bearer ", "X-Management-Key": SECRET}, 401),
])
async def test_key_sources(make_harness: MakeHarness, headers: dict[str, str], status: int) -> None:
    h = await make_harness()
    response = await h.call("GET", "debug", headers=headers)
    assert response.status == status


async def test_query_string_key_is_not_accepted(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "debug", headers=None, params={"key": SECRET})
    assert response.status == 401


async def test_no_secret_anywhere_is_gin_404(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML.replace(SECRET_LINE, 'secret-key: ""'))
    response = await h.call("GET", "debug")
    assert response.status == 404
    assert await response.read() == b"404 page not found"
    assert response.headers["Content-Type"] == "text/plain"
    # The availability check runs before the middleware that stamps the build headers.
    assert "X-CPA-VERSION" not in response.headers


async def test_a_secret_removed_by_reload_is_an_empty_404(make_harness: MakeHarness) -> None:
    """Once mounted, the legacy's management routes stay; its availability middleware then answers
    a removed secret with a bare 404 (server.go:627-635), not Gin's text 404."""
    h = await make_harness()
    assert (await h.call("GET", "debug")).status == 200
    edited = h.store.current.model_copy(deep=True)
    edited.remote_management.secret_key = ""
    await h.store.save(edited)
    response = await h.call("GET", "debug")
    assert response.status == 404
    assert await response.read() == b""
    assert "X-CPA-VERSION" not in response.headers


async def test_remote_disabled_even_with_right_key(make_harness: MakeHarness) -> None:
    h = await make_harness()
    response = await h.call("GET", "debug", from_addr=REMOTE)
    assert response.status == 403
    assert await error_of(response) == "remote management disabled"
    assert_cpa(response)
    # Refusing a disabled remote does not count towards a ban.
    assert h.guard.failures(REMOTE) == 0


async def test_remote_ban_after_five_failures(make_harness: MakeHarness) -> None:
    h = await make_harness(ALLOW_REMOTE)
    for _ in range(5):
        response = await h.call("GET", "debug", headers={"Authorization": "Bearer wrong"}, from_addr=REMOTE)
        assert response.status == 401
    response = await h.call("GET", "debug", from_addr=REMOTE)
    assert response.status == 403
    assert await response.read() == (
        b'{"error":"IP banned due to too many failed attempts. Try again in 30m0s"}')
    assert_cpa(response)

    h.clock.now += 61.4
    response = await h.call("GET", "debug", from_addr=REMOTE)
    assert await error_of(response) == BANNED_PREFIX + "28m59s"
    # Another remote address is unaffected; localhost is never banned.
    assert (await h.call("GET", "debug", from_addr="127.0.0.6")).status == 200
    assert (await h.call("GET", "debug")).status == 200

    h.clock.now += BAN_SECONDS
    assert (await h.call("GET", "debug", from_addr=REMOTE)).status == 200


async def test_missing_key_counts_as_remote_failure(make_harness: MakeHarness) -> None:
    h = await make_harness(ALLOW_REMOTE)
    for _ in range(4):
        assert (await h.call("GET", "debug", headers=None, from_addr=REMOTE)).status == 401
    assert h.guard.failures(REMOTE) == 4
    response = await h.call("GET", "debug", headers=None, from_addr=REMOTE)
    assert response.status == 401
    response = await h.call("GET", "debug", from_addr=REMOTE)
    assert (await error_of(response)).startswith(BANNED_PREFIX)


async def test_success_resets_the_failure_count(make_harness: MakeHarness) -> None:
    h = await make_harness(ALLOW_REMOTE)
    bad = {"Authorization": "Bearer wrong"}
    for _ in range(4):
        await h.call("GET", "debug", headers=bad, from_addr=REMOTE)
    assert (await h.call("GET", "debug", from_addr=REMOTE)).status == 200
    for _ in range(4):
        await h.call("GET", "debug", headers=bad, from_addr=REMOTE)
    assert (await h.call("GET", "debug", from_addr=REMOTE)).status == 200


async def test_localhost_is_never_banned(make_harness: MakeHarness) -> None:
    h = await make_harness()
    for _ in range(10):
        assert (await h.call("GET", "debug", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await h.call("GET", "debug")).status == 200
    assert list(h.guard.tracked()) == []


# --- env secret, local password ----------------------------------------------------------------


async def test_env_password_enables_management_and_remote(make_harness: MakeHarness) -> None:
    h = await make_harness(CONFIG_YAML.replace(SECRET_LINE, 'secret-key: ""'), env_secret="envpw")
    assert (await h.call("GET", "debug", headers={"Authorization": "Bearer envpw"})).status == 200
    # MANAGEMENT_PASSWORD forces allow-remote even though the file says false.
    response = await h.call("GET", "debug", headers={"Authorization": "Bearer envpw"}, from_addr=REMOTE)
    assert response.status == 200
    response = await h.call("GET", "debug", headers={"Authorization": "Bearer nope"}, from_addr=REMOTE)
    assert await error_of(response) == "invalid management key"


async def test_env_password_and_config_secret_both_work(make_harness: MakeHarness) -> None:
    h = await make_harness(env_secret="envpw")
    assert (await h.call("GET", "debug", headers={"X-Management-Key": "envpw"})).status == 200
    assert (await h.call("GET", "debug")).status == 200


def test_env_password_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "  fromenv \n")
    guard = ManagementGuard()
    assert guard.env_secret == "fromenv"
    assert guard.allow_remote_override
    monkeypatch.delenv("MANAGEMENT_PASSWORD")
    assert not ManagementGuard().allow_remote_override


async def test_local_password_only_from_loopback(make_harness: MakeHarness) -> None:
    h = await make_harness(ALLOW_REMOTE, local_password="tray-pw")
    assert (await h.call("GET", "debug", headers={"Authorization": "Bearer tray-pw"})).status == 200
    response = await h.call("GET", "debug", headers={"Authorization": "Bearer tray-pw"}, from_addr=REMOTE)
    assert await error_of(response) == "invalid management key"


# --- trusted proxies (deliberate difference from Gin) --------------------------------------------


async def test_forwarded_headers_ignored_from_untrusted_peer(make_harness: MakeHarness) -> None:
    h = await make_harness()
    spoofed = {**BEARER, "X-Forwarded-For": "10.0.0.5"}
    assert (await h.call("GET", "debug", headers=spoofed)).status == 200
    # And a remote peer cannot claim to be local.
    response = await h.call("GET", "debug", headers={**BEARER, "X-Forwarded-For": "127.0.0.1"},
                            from_addr=REMOTE)
    assert await error_of(response) == "remote management disabled"


async def test_forwarded_headers_believed_from_trusted_proxy(make_harness: MakeHarness) -> None:
    h = await make_harness(trusted=["127.0.0.1/32"])
    response = await h.call("GET", "debug", headers={**BEARER, "X-Forwarded-For": "10.0.0.5"})
    assert await error_of(response) == "remote management disabled"
    response = await h.call("GET", "debug", headers={**BEARER, "X-Real-IP": "10.0.0.9"})
    assert await error_of(response) == "remote management disabled"
    assert (await h.call("GET", "debug")).status == 200


async def test_trusted_proxy_bans_the_forwarded_client(make_harness: MakeHarness) -> None:
    h = await make_harness(ALLOW_REMOTE, trusted=["127.0.0.0/8"])
    bad = {"Authorization": "Bearer wrong", "X-Forwarded-For": "203.0.113.7"}
    for _ in range(5):
        await h.call("GET", "debug", headers=bad)
    response = await h.call("GET", "debug", headers={**BEARER, "X-Forwarded-For": "203.0.113.7"})
    assert (await error_of(response)).startswith(BANNED_PREFIX)
    assert (await h.call("GET", "debug", headers={**BEARER, "X-Forwarded-For": "203.0.113.8"})).status == 200


def _request(peer: str, headers: dict[str, str]) -> web.Request:
    class Transport:
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return (peer, 1234) if name == "peername" else default

        def is_closing(self) -> bool:
            return False

    return make_mocked_request("GET", "/", headers=headers, transport=Transport())


@pytest.mark.parametrize(("peer", "headers", "trusted", "expected"), [
    ("10.1.1.1", {"X-Forwarded-For": "127.0.0.1"}, [], "10.1.1.1"),
    ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4, 10.1.1.2"}, ["10.0.0.0/8"], "1.2.3.4"),
    ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4, 5.6.7.8"}, ["10.0.0.0/8"], "5.6.7.8"),
    ("10.1.1.1", {"X-Forwarded-For": "junk, 1.2.3.4"}, ["10.0.0.0/8"], "1.2.3.4"),
    ("10.1.1.1", {"X-Forwarded-For": "1.2.3.4, junk", "X-Real-IP": "9.9.9.9"}, ["10.0.0.0/8"], "9.9.9.9"),
    ("10.1.1.1", {"X-Forwarded-For": "10.0.0.7"}, ["10.0.0.0/8"], "10.0.0.7"),
    ("10.1.1.1", {}, ["10.1.1.1"], "10.1.1.1"),
    ("::ffff:127.0.0.1", {}, [], "127.0.0.1"),
    ("::1", {"X-Real-IP": "::1"}, ["::1", "not-an-address"], "::1"),
])
def test_client_ip(peer: str, headers: dict[str, str], trusted: list[str], expected: str) -> None:
    assert client_ip(_request(peer, headers), trusted) == expected


# --- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.4, "0s"), (0.5, "1s"), (59.6, "1m0s"), (61, "1m1s"), (1800, "30m0s"), (3723, "1h2m3s"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(("headers", "key"), [
    ({"Authorization": "Bearer abc"}, "abc"),
    ({"Authorization": "Token abc"}, "Token abc"),
    ({"Authorization": "Bearer"}, "Bearer"),
    ({"X-Management-Key": " abc "}, " abc "),
    ({}, ""),
])
def test_provided_key(headers: dict[str, str], key: str) -> None:
    assert provided_key(make_mocked_request("GET", "/", headers=headers)) == key


def test_management_key_id_is_short_and_one_way() -> None:
    request = make_mocked_request("GET", "/", headers={"Authorization": "Bearer top-secret"})
    key_id = management_key_id(request)
    assert key_id == hashlib.sha256(b"top-secret").hexdigest()[:12]
    assert "top-secret" not in key_id
    assert management_key_id(make_mocked_request("GET", "/")) == ""


async def test_bcrypt_against_a_non_hash_fails_closed() -> None:
    guard = ManagementGuard(env_secret="")
    assert not await guard.bcrypt_matches("plaintext-not-a-hash", "plaintext-not-a-hash")
    assert not await guard.bcrypt_matches("", "")


async def test_bcrypt_compares_only_the_first_72_bytes_like_go() -> None:
    import bcrypt

    hashed = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(rounds=4)).decode()
    guard = ManagementGuard(env_secret="")
    assert await guard.bcrypt_matches(hashed, "a" * 80)
    assert await guard.bcrypt_matches(hashed, "a" * 80)  # second time from the verified cache
    assert not await guard.bcrypt_matches(hashed, "a" * 71)


async def test_non_utf8_key_bytes_are_compared_raw(make_harness: MakeHarness) -> None:
    # os.environ hands undecodable bytes over as surrogate escapes, as aiohttp does for headers.
    h = await make_harness(env_secret="p\udcffw")

    async def status_for(key: bytes) -> int:
        reader, writer = await asyncio.open_connection(h.client.host, h.client.port)
        writer.write(b"GET /v0/management/debug HTTP/1.1\r\nHost: x\r\nX-Management-Key: " + key
                     + b"\r\nConnection: close\r\n\r\n")
        await writer.drain()
        head = (await reader.read()).split(b"\r\n", 1)[0]
        writer.close()
        return int(head.split()[1])

    assert await status_for(b"p\xffw") == 200
    assert await status_for(b"pw") == 401
    assert await status_for(b"p\xfew") == 401


def test_idle_entries_are_purged_but_bans_kept() -> None:
    now = [0.0]
    guard = ManagementGuard(env_secret="", clock=lambda: now[0])
    guard.record_failure("10.0.0.1")
    now[0] = 6000.0
    for _ in range(5):
        guard.record_failure("10.0.0.2")  # banned until 7800
    now[0] = 7201.0  # 10.0.0.1 idle for more than two hours; the hourly sweep is due
    assert guard.ban_remaining("10.0.0.3") is None
    assert set(guard.tracked()) == {"10.0.0.2"}
    assert guard.ban_remaining("10.0.0.2") == 599.0
