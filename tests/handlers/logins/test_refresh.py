"""RefreshManager: due refreshes, single flight, two processes, failures and backoff, 401 handling, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import structlog
from prometheus_client import CollectorRegistry

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores import StoreUnavailable
from handlers.auth.stores.file_store import FileTokenStore
from handlers.logins.device_copilot import CopilotTokenCache
from handlers.logins.endpoints import endpoints_for
from handlers.logins.refresh import RefreshFailed, RefreshManager, interval_seconds
from handlers.logins.refresh_metrics import RefreshMetrics
from handlers.logins.refresh_providers import RefreshContext
from tests.fakes.device_providers import DeviceProviderState, provider_endpoints, start_device_providers

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NAME = "qwen-me@example.com.json"


@dataclass
class Clock:
    now: float = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Env:
    fake: DeviceProviderState
    http: aiohttp.ClientSession
    auth_dir: Path
    store: FileTokenStore
    clock: Clock
    registry: CollectorRegistry
    metrics: RefreshMetrics

    def context(self) -> RefreshContext:
        table = provider_endpoints(self.fake.base_url)
        endpoints = lambda provider: endpoints_for(provider, {"provider-endpoints": table})  # noqa: E731
        return RefreshContext(self.http, endpoints, copilot=CopilotTokenCache(self.http, endpoints("github-copilot")))

    def manager(self, store: FileTokenStore | None = None, **kwargs: object) -> RefreshManager:
        return RefreshManager(store or self.store, self.context(), metrics=self.metrics,
                              clock=self.clock, conflict_recheck=0.3, **kwargs)  # type: ignore[arg-type]

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def on_disk(self, name: str = NAME) -> dict[str, object]:
        return json.loads((self.auth_dir / name).read_bytes())


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    runner, fake = await start_device_providers()
    store = FileTokenStore(tmp_path / "auth")
    await store.start()
    async with aiohttp.ClientSession() as http:
        registry = CollectorRegistry()
        yield Env(fake, http, tmp_path / "auth", store, Clock(), registry, RefreshMetrics(registry))
    await store.close()
    await runner.cleanup()


async def qwen_file(env: Env, *, expires_in: timedelta = timedelta(hours=4), refresh: str = "qwen-refresh-0",
                    access: str = "qwen-access-0", store: FileTokenStore | None = None) -> Credential:
    env.fake.issue_refresh("qwen", refresh)
    return await (store or env.store).save(new_credential(NAME, {
        "type": "qwen", "email": "me@example.com", "access_token": access, "refresh_token": refresh,
        "resource_url": "portal.qwen.ai", "last_refresh": "2026-03-01T11:00:00Z",
        "expired": (T0 + expires_in).strftime("%Y-%m-%dT%H:%M:%SZ"), "prefix": "team", "quotio_note": "keep me",
    }))


async def test_a_disabled_credential_is_not_refreshed_in_the_background(env):
    manager = env.manager()
    credential = await qwen_file(env)
    disabled = await env.store.save(new_credential(NAME, {**credential.metadata, "disabled": True}))
    manager.load([disabled])
    env.clock.advance(4 * 3600)  # long expired
    assert manager.due_names() == []
    assert await manager.run_due() == []
    assert env.on_disk()["access_token"] == "qwen-access-0"
    enabled = await env.store.save(new_credential(NAME, {**credential.metadata, "disabled": "false"}))
    manager.load([enabled])
    assert manager.due_names() == [NAME]


async def test_expiry_approaching_refreshes_and_persists(env):
    manager = env.manager()
    manager.load([await qwen_file(env)])
    assert manager.due_names() == []
    env.clock.advance(3600 + 1)  # now inside Qwen's 3 h lead
    assert manager.due_names() == [NAME]
    assert await manager.run_due() == [NAME]
    stored = env.on_disk()
    assert stored["access_token"] == "qwen-access-1"
    assert stored["refresh_token"] == "qwen-refresh-1"
    assert stored["expired"] == "2026-03-01T14:00:01Z"
    assert stored["last_refresh"] == "2026-03-01T13:00:01Z"
    # Keys the refresh does not own survive it.
    assert stored["prefix"] == "team" and stored["quotio_note"] == "keep me"
    assert manager.get(NAME).metadata["access_token"] == "qwen-access-1"
    # The new token lives 1 h, less than the 3 h lead: not due again until half of it has passed.
    assert manager.due_names() == []
    env.clock.advance(1799)
    assert manager.due_names() == []
    env.clock.advance(2)
    assert manager.due_names() == [NAME]
    assert env.metric("quotio_gateway_credential_refreshes_total", provider="qwen", reason="due",
                      result="success") == 1


async def test_concurrent_requests_share_one_refresh(env):
    manager = env.manager()
    manager.load([await qwen_file(env)])
    results = await asyncio.gather(*(manager.refresh(NAME) for _ in range(10)))
    assert {r.metadata["access_token"] for r in results} == {"qwen-access-1"}
    assert len(env.fake.calls("/qwen/token")) == 1


async def test_ensure_fresh_costs_nothing_until_expiry(env):
    manager = env.manager()
    cred = await qwen_file(env, expires_in=timedelta(minutes=1))
    manager.load([cred])
    assert await manager.ensure_fresh(NAME) is manager.get(NAME)
    assert env.fake.calls("/qwen/token") == []
    env.clock.advance(61)
    fresh = await manager.ensure_fresh(NAME)
    assert fresh.metadata["access_token"] == "qwen-access-1"
    assert env.metric("quotio_gateway_credential_refreshes_total", provider="qwen", reason="on_use",
                      result="success") == 1


@pytest.mark.parametrize("rotate", [False, True])
async def test_two_processes_refreshing_the_same_credential(env, rotate):
    env.fake.rotate_refresh = rotate
    env.fake.refresh_gate = 2  # both token calls are in flight before either is answered
    cred = await qwen_file(env)
    other_store = FileTokenStore(env.auth_dir)  # a second gateway process on the same auth-dir
    await other_store.start()
    first, second = env.manager(), env.manager(other_store)
    first.load([cred])
    second.load([cred])
    a, b = await asyncio.gather(first.refresh(NAME), second.refresh(NAME))
    stored = env.on_disk()
    assert a.metadata["access_token"] == b.metadata["access_token"] == stored["access_token"]
    assert a.revision == b.revision
    assert first.failure(NAME) is None and second.failure(NAME) is None
    assert env.metric("quotio_gateway_credential_refreshes_total", provider="qwen", reason="manual",
                      result="success") == 1
    assert env.metric("quotio_gateway_credential_refreshes_total", provider="qwen", reason="manual",
                      result="conflict") == 1
    await other_store.close()


@pytest.mark.parametrize(("fault", "message", "permanent"), [
    ("malformed", "qwen token refresh failed: {host} answered malformed JSON", False),
    ("http500", "qwen token refresh failed: {host} answered HTTP 500", False),
    ("invalid_grant", "qwen token refresh refused by {host} (invalid_grant: fake invalid_grant)", True),
])
async def test_failures_keep_the_file_and_back_off(env, fault, message, permanent):
    env.fake.refresh_fault["qwen"] = fault
    manager = env.manager()
    manager.load([await qwen_file(env, expires_in=timedelta(hours=2))])
    before = (env.auth_dir / NAME).read_bytes()
    host = env.fake.base_url.removeprefix("http://")
    with structlog.testing.capture_logs() as logs:
        assert await manager.run_due() == []
    assert (env.auth_dir / NAME).read_bytes() == before
    failure = manager.failure(NAME)
    assert failure is not None
    assert failure.message == message.format(host=host)
    assert failure.permanent is permanent
    assert env.metric("quotio_gateway_credential_refreshes_total", provider="qwen", reason="due",
                      result="failure") == 1
    # Secrets never reach the log lines.
    assert not any("qwen-refresh-0" in str(event) or "qwen-access-0" in str(event) for event in logs)
    assert any(event["event"] == "credential refresh failed" for event in logs)
    # Backoff: no retry for 5 minutes (never, when the refresh token was refused).
    assert manager.due_names() == []
    env.clock.advance(301)
    assert manager.due_names() == ([] if permanent else [NAME])
    # The token is still valid for ~2 h: selection keeps using it unless the failure is permanent.
    assert manager.is_blocked(NAME) is permanent
    assert env.metric("quotio_gateway_credentials_blocked", provider="qwen") == (1 if permanent else 0)
    env.clock.advance(2 * 3600)
    assert manager.is_blocked(NAME)
    assert manager.usable([NAME, "other.json"], name_of=lambda n: n) == ["other.json"]


async def test_second_failure_doubles_the_backoff(env):
    env.fake.refresh_fault["qwen"] = "http500"
    manager = env.manager()
    manager.load([await qwen_file(env, expires_in=timedelta(hours=2))])
    with pytest.raises(RefreshFailed):
        await manager.refresh(NAME, reason="due")
    assert manager.failure(NAME).next_attempt == env.clock.now + 300
    env.clock.advance(301)
    with pytest.raises(RefreshFailed):
        await manager.refresh(NAME, reason="due")
    assert manager.failure(NAME).count == 2
    assert manager.failure(NAME).next_attempt == env.clock.now + 600


async def test_a_new_login_clears_a_permanent_failure(env):
    env.fake.refresh_fault["qwen"] = "invalid_grant"
    manager = env.manager()
    manager.load([await qwen_file(env)])
    with pytest.raises(RefreshFailed) as caught:
        await manager.refresh(NAME)
    assert caught.value.permanent
    assert manager.is_blocked(NAME)
    manager.upsert(await qwen_file(env, access="qwen-access-new", refresh="qwen-refresh-new"))
    assert not manager.is_blocked(NAME)
    assert manager.failure(NAME) is None


async def test_unauthorized_refreshes_once_then_gives_up(env):
    manager = env.manager()
    manager.load([await qwen_file(env)])
    retried = await manager.on_unauthorized(NAME, "qwen-access-0")
    assert retried is not None and retried.metadata["access_token"] == "qwen-access-1"
    # Another request that used the old token meanwhile: no second refresh, just the new token.
    again = await manager.on_unauthorized(NAME, "qwen-access-0")
    assert again is not None and again.metadata["access_token"] == "qwen-access-1"
    assert len(env.fake.calls("/qwen/token")) == 1
    # The fresh token is refused too: give up cleanly, skip the credential for the backoff.
    assert await manager.on_unauthorized(NAME, "qwen-access-1") is None
    assert manager.is_blocked(NAME)
    assert len(env.fake.calls("/qwen/token")) == 1
    env.clock.advance(301)
    assert not manager.is_blocked(NAME)


async def test_a_corrupt_stored_file_is_left_alone(env):
    manager = env.manager()
    manager.load([await qwen_file(env)])
    (env.auth_dir / NAME).write_text("{half written")
    with pytest.raises(RefreshFailed) as caught:
        await manager.refresh(NAME)
    assert str(caught.value) == f"{NAME}: stored credential unreadable (corrupt)"
    assert (env.auth_dir / NAME).read_text() == "{half written"
    assert manager.get(NAME).metadata["access_token"] == "qwen-access-0"
    assert env.fake.calls("/qwen/token") == []


async def test_a_deleted_credential_is_forgotten(env):
    manager = env.manager()
    manager.load([await qwen_file(env)])
    await env.store.delete(NAME)
    with pytest.raises(LookupError):
        await manager.refresh(NAME)
    assert manager.get(NAME) is None


async def test_copilot_refresh_rebuys_the_token_and_never_writes(env):
    cred = await env.store.save(new_credential("github-copilot-octocat.json", {
        "type": "github-copilot", "access_token": "gho_fake1", "token_type": "bearer", "scope": "user:email",
        "username": "octocat"}))
    before = (env.auth_dir / cred.file_name).read_bytes()
    manager = env.manager()
    manager.load([cred])
    assert manager.due_names() == []  # no lead: the loop leaves Copilot alone
    used = (await manager.context.copilot.get(cred)).token
    assert used == "tid=copilot-1"
    assert await manager.on_unauthorized(cred.file_name, used) is not None
    assert manager.context.copilot.current(cred.file_name) == "tid=copilot-2"
    # A request that still held the old token: no second exchange.
    assert await manager.on_unauthorized(cred.file_name, used) is not None
    assert len(env.fake.calls("/copilot_internal/v2/token")) == 2
    # The re-bought token is refused too: give up, skip the credential during the backoff.
    assert await manager.on_unauthorized(cred.file_name, "tid=copilot-2") is None
    assert manager.is_blocked(cred.file_name)
    assert (env.auth_dir / cred.file_name).read_bytes() == before


async def test_copilot_exchange_refused_blocks_for_good(env):
    cred = await env.store.save(new_credential("github-copilot-octocat.json", {
        "type": "github-copilot", "access_token": "gho_revoked", "username": "octocat"}))
    env.fake.copilot_status = 401
    manager = env.manager()
    manager.load([cred])
    assert await manager.on_unauthorized(cred.file_name, "") is None
    assert manager.failure(cred.file_name).permanent
    assert manager.failure(cred.file_name).message == "copilot token exchange refused: HTTP 401"
    assert manager.is_blocked(cred.file_name)


async def test_refresh_interval_in_the_file_overrides_the_lead(env):
    manager = env.manager()
    cred = await qwen_file(env, expires_in=timedelta(days=30))
    manager.load([cred.with_metadata(refresh_interval_seconds=600)])
    assert manager.due_names() == [NAME]  # last refresh was an hour ago
    manager.load([cred.with_metadata(refresh_interval="2h")])
    assert manager.due_names() == []


def test_interval_values():
    assert interval_seconds(90) == 90
    assert interval_seconds("1h30m") == 5400
    assert interval_seconds("45") == 45
    assert interval_seconds("soon") == 0
    assert interval_seconds(-5) == 0
    assert interval_seconds(True) == 0


async def test_background_loop_refreshes_ahead_of_expiry(env):
    manager = RefreshManager(env.store, env.context(), metrics=env.metrics, check_interval=0.02)
    # Expires an hour from the real now: inside Qwen's 3 h lead.
    manager.load([await qwen_file(env, expires_in=(datetime.now(UTC) - T0) + timedelta(hours=1))])
    manager.start()
    try:
        for _ in range(250):
            if env.on_disk()["access_token"] == "qwen-access-1":
                break
            await asyncio.sleep(0.02)
    finally:
        await manager.stop()
    assert env.on_disk()["access_token"] == "qwen-access-1"


async def test_follows_the_auth_dir_watcher(env):
    manager = env.manager()
    manager.load([])
    watcher = env.store.watch(manager.on_auth_change, interval=0.02)
    await watcher.start()
    try:
        # An outside writer (the Quotio app, CLIProxyAPI) drops a credential into the auth-dir.
        outside = FileTokenStore(env.auth_dir)
        await outside.start()
        await qwen_file(env, store=outside)
        for _ in range(200):
            if manager.get(NAME) is not None:
                break
            await asyncio.sleep(0.02)
        assert manager.get(NAME) is not None
        (env.auth_dir / NAME).unlink()
        for _ in range(200):
            if manager.get(NAME) is None:
                break
            await asyncio.sleep(0.02)
        assert manager.get(NAME) is None
        await outside.close()
    finally:
        await watcher.stop()


async def test_success_logs_carry_no_tokens(env):
    manager = env.manager()
    manager.load([await qwen_file(env)])
    with structlog.testing.capture_logs() as logs:
        await manager.refresh(NAME)
    assert any(event["event"] == "credential refreshed" for event in logs)
    for secret in ("qwen-access-0", "qwen-refresh-0", "qwen-access-1", "qwen-refresh-1"):
        assert not any(secret in str(event) for event in logs)


class FlakyStore(FileTokenStore):
    """A file store whose next ``failures`` saves fail as an unreachable backend would."""

    failures = 0

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("file store: save failed after 3 attempts: OSError: disk full")
        return await super().save(credential, if_revision=if_revision)


async def test_store_down_mid_refresh_keeps_the_new_token_and_saves_it_later(env):
    flaky = FlakyStore(env.auth_dir)
    await flaky.start()
    cred = await qwen_file(env, store=flaky)
    before = (env.auth_dir / NAME).read_bytes()
    manager = env.manager(flaky)
    manager.load([cred])
    flaky.failures = 1
    with pytest.raises(RefreshFailed) as caught:
        await manager.refresh(NAME)
    assert str(caught.value) == (f"{NAME}: refreshed but not stored: "
                                 "file store: save failed after 3 attempts: OSError: disk full")
    # Nothing half-written; requests already use the new token.
    assert (env.auth_dir / NAME).read_bytes() == before
    assert manager.get(NAME).metadata["access_token"] == "qwen-access-1"
    # Qwen rotated the refresh token: the next attempt stores what it has instead of asking again.
    env.clock.advance(301)
    saved = await manager.refresh(NAME)
    assert saved.metadata["refresh_token"] == "qwen-refresh-1"
    assert env.on_disk()["refresh_token"] == "qwen-refresh-1"
    assert len(env.fake.calls("/qwen/token")) == 1
    await flaky.close()


async def test_runtime_refresher_refreshes_or_adopts(env):
    manager = env.manager()
    cred = await qwen_file(env)
    refresher = manager.as_refresher()
    # The runtime's copy is the stored one: ask the provider.
    fresh = await refresher(cred)
    assert fresh.metadata["access_token"] == "qwen-access-1"
    # A caller still holding the old copy gets the stored newer token, without a second call.
    again = await refresher(cred)
    assert again.metadata["access_token"] == "qwen-access-1"
    assert len(env.fake.calls("/qwen/token")) == 1
    assert env.metric("quotio_gateway_credential_refreshes_total", provider="qwen", reason="runtime",
                      result="adopted") == 1


async def test_after_the_backoff_a_refused_token_is_refreshed_again(env):
    """Giving up after a 401 is not for good: once the backoff has passed, the next 401 on the
    same token refreshes once more instead of leaving the credential unusable until its next
    scheduled refresh (hours away for most providers)."""
    manager = env.manager()
    manager.load([await qwen_file(env)])
    assert (await manager.on_unauthorized(NAME, "qwen-access-0")).metadata["access_token"] == "qwen-access-1"
    assert await manager.on_unauthorized(NAME, "qwen-access-1") is None
    assert manager.is_blocked(NAME)
    env.clock.advance(301)
    assert not manager.is_blocked(NAME)
    again = await manager.on_unauthorized(NAME, "qwen-access-1")
    assert again is not None and again.metadata["access_token"] == "qwen-access-2"
    assert len(env.fake.calls("/qwen/token")) == 2
    assert manager.failure(NAME) is None and not manager.is_blocked(NAME)
    # And the rule holds again for the new token: refused right away -> give up.
    assert await manager.on_unauthorized(NAME, "qwen-access-2") is None
    assert len(env.fake.calls("/qwen/token")) == 2
