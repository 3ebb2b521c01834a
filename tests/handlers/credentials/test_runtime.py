"""CredentialRuntime: load, skip, disabled, watch-reload, registry feed, selection input,
executors, refresh on use, token exchange, and the refresh manager hooks (runtime.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from handlers.auth.credential import Credential, CredentialError, new_credential, parse_credential
from handlers.auth.stores import LoadResult, TokenStore
from handlers.auth.stores.file_store import FileTokenStore
from handlers.credentials import CredentialRuntime
from handlers.logins.refresh import RefreshManager
from handlers.logins.refresh_providers import refresh_context
from handlers.models.registry import LiveModelRegistry
from handlers.providers import Timeouts, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.oauth_claude import ClaudeOAuthExecutor
from handlers.providers.oauth_openai_chat import CopilotExecutor
from quotio_gateway.config.models import Config
from quotio_gateway.config.store import ConfigStore
from tests.conftest import eventually
from tests.fakes.loopback import serve_on_loopback

SONNET = "claude-sonnet-4-5-20250929"
ANSWER = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "stop_reason": "end_turn"}


def write(auth_dir: Path, name: str, payload: object) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    (auth_dir / name).write_bytes(raw)



@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    pool = UpstreamClient(Timeouts(connect=2.0, first_byte=2.0, idle=2.0))
    yield pool
    await pool.close()


@pytest.fixture
def registry() -> LiveModelRegistry:
    return LiveModelRegistry(ConfigStore(None))


@pytest.fixture
async def fake() -> AsyncIterator[tuple[str, list[web.Request], dict]]:
    """A fake provider: records requests, answers per path from a mutable table."""
    seen: list[web.Request] = []
    answers: dict[str, tuple[int, object]] = {}

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request)
        status, body = answers.get(request.path, (200, ANSWER))
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner, root = await serve_on_loopback(app)
    yield root, seen, answers
    await runner.cleanup()


def runtime_for(auth_dir: Path, client: UpstreamClient, **options: object) -> CredentialRuntime:
    options.setdefault("watch_interval", 0.02)
    return CredentialRuntime(FileTokenStore(auth_dir), client, **options)  # type: ignore[arg-type]


async def test_bad_files_are_skipped_and_the_others_load(tmp_path: Path, client, registry) -> None:
    write(tmp_path, "claude-a@x.json", {"type": "claude", "access_token": "tok-a", "email": "a@x"})
    write(tmp_path, "codex-b@x.json", {"type": "codex", "access_token": "tok-b", "account_id": "acc"})
    write(tmp_path, "corrupt.json", b"{not json")
    write(tmp_path, "empty.json", b"")
    write(tmp_path, "mystery.json", {"type": "mystery-provider", "access_token": "x"})
    runtime = runtime_for(tmp_path, client, registry=registry)
    with capture_logs() as logs:
        result = await runtime.start()
    try:
        warned = {(e["file"], e["reason"]) for e in logs if e["event"] == "skipping credential"}
        assert warned == {("corrupt.json", "corrupt"), ("empty.json", "empty"), ("mystery.json", "unknown_type")}
        assert all(e["log_level"] == "warning" for e in logs if e["event"] == "skipping credential")
        assert not any("tok-" in str(e) for e in logs)  # no token in any log line
        assert sorted(result.credentials) == ["claude-a@x.json", "codex-b@x.json"]
        assert runtime.skipped == {"corrupt.json": "corrupt", "empty.json": "empty", "mystery.json": "unknown_type"}
        assert [c.id for c in runtime.credentials()] == ["claude-a@x.json", "codex-b@x.json"]
        assert [(r.provider, r.id) for r in runtime.records()] == [("claude", "claude-a@x.json"),
                                                                   ("codex", "codex-b@x.json")]
        assert registry.current.providers(SONNET) == ["claude"]
        assert [c.id for c in runtime.candidates(["claude"], SONNET)] == ["claude-a@x.json"]
        assert [c.id for c in runtime.candidates(["claude"], SONNET + "(8192)")] == ["claude-a@x.json"]
        assert runtime.candidates(["codex"], SONNET) == []
        assert [c.id for c in runtime.candidates(["codex", "claude"], "gpt-5")] == ["codex-b@x.json"]
    finally:
        await runtime.stop()


async def test_disabled_credentials_are_known_but_never_selected(tmp_path: Path, client, registry) -> None:
    write(tmp_path, "claude-on.json", {"type": "claude", "access_token": "t1"})
    write(tmp_path, "claude-off.json", {"type": "claude", "access_token": "t2", "disabled": True})
    runtime = runtime_for(tmp_path, client, registry=registry)
    await runtime.start()
    try:
        off = runtime.get("claude-off.json")
        assert off is not None and off.disabled
        assert [c.id for c in runtime.candidates(["claude"], SONNET)] == ["claude-on.json"]
        assert [r.id for r in runtime.records()] == ["claude-on.json"]
        assert [c.id for c in registry.current.credentials] == ["claude-on.json"]
        write(tmp_path, "claude-on.json", {"type": "claude", "access_token": "t1", "disabled": "true"})
        await eventually(lambda: runtime.candidates(["claude"], SONNET) == [])
        await eventually(lambda: registry.current.providers(SONNET) == [])
    finally:
        await runtime.stop()


async def test_outside_edits_reload_without_restart(tmp_path: Path, client, registry, fake) -> None:
    base, seen, _ = fake
    write(tmp_path, "claude-a.json", {"type": "claude", "access_token": "old-token"})
    runtime = runtime_for(tmp_path, client, registry=registry, base_url=lambda provider: base)
    await runtime.start()
    try:
        cred = runtime.candidates(["claude"], SONNET)[0]
        executor = runtime.executor_for(cred)
        await executor.execute(cred, UpstreamRequest(SONNET, {"messages": []}))
        assert seen[-1].headers["Authorization"] == "Bearer old-token"

        # The Quotio app rewrites the file: the same view now sends the new token.
        write(tmp_path, "claude-a.json", {"type": "claude", "access_token": "new-token"})
        await eventually(lambda: (runtime.file_credential("claude-a.json") or cred).metadata.get("access_token")
                         == "new-token")
        await executor.execute(runtime.candidates(["claude"], SONNET)[0], UpstreamRequest(SONNET, {"messages": []}))
        assert seen[-1].headers["Authorization"] == "Bearer new-token"

        # A half-written edit keeps the last good copy live.
        write(tmp_path, "claude-a.json", b'{"type": "cla')
        write(tmp_path, "codex-new.json", {"type": "codex", "access_token": "c"})
        await eventually(lambda: runtime.get("codex-new.json") is not None)
        assert runtime.get("claude-a.json") is not None
        await eventually(lambda: registry.current.providers("gpt-5") == ["codex"])

        (tmp_path / "claude-a.json").unlink()
        await eventually(lambda: runtime.get("claude-a.json") is None)
        assert runtime.candidates(["claude"], SONNET) == []
        with pytest.raises(UpstreamError) as err:
            await executor.execute(cred, UpstreamRequest(SONNET, {}))
        assert (err.value.scope, err.value.status, err.value.body) == (
            "credential", 401, b"credential no longer available")
    finally:
        await runtime.stop()


async def test_executors_are_shared_per_provider(tmp_path: Path, client) -> None:
    write(tmp_path, "claude-1.json", {"type": "claude", "access_token": "a"})
    write(tmp_path, "claude-2.json", {"type": "claude", "access_token": "b"})
    write(tmp_path, "github-copilot-u.json", {"type": "github-copilot", "access_token": "gho_x"})
    runtime = runtime_for(tmp_path, client)
    await runtime.start()
    try:
        one, two, copilot = (runtime.get(n) for n in ("claude-1.json", "claude-2.json", "github-copilot-u.json"))
        assert one is not None and two is not None and copilot is not None
        assert runtime.executor_for(one) is runtime.executor_for(two)
        assert isinstance(runtime.executor_for(one), ClaudeOAuthExecutor)
        assert isinstance(runtime.executor_for(copilot), CopilotExecutor)
        # Without a registry, selection input is by provider only.
        assert [c.id for c in runtime.candidates(["claude"], "anything")] == ["claude-1.json", "claude-2.json"]
    finally:
        await runtime.stop()


async def test_views_follow_a_changed_inference_base(tmp_path: Path, client) -> None:
    write(tmp_path, "claude-1.json", {"type": "claude", "access_token": "a"})
    config = Config()
    runtime = runtime_for(tmp_path, client, config=lambda: config)
    await runtime.start()
    try:
        before = runtime.get("claude-1.json")
        assert before is not None and before.base_url == ""  # the executor's own default
        config = Config.model_validate({"gateway": {"provider-endpoints": {
            "claude": {"inference-base-url": "http://127.0.0.1:9/relay"}}}})
        runtime.rebuild_views()
        after = runtime.get("claude-1.json")
        assert after is not None and after.base_url == "http://127.0.0.1:9/relay"
    finally:
        await runtime.stop()


async def test_kiro_views_carry_a_configured_amazon_q_url(tmp_path: Path, client) -> None:
    write(tmp_path, "kiro-google-a.json", {"type": "kiro", "access_token": "a", "auth_method": "social"})
    config = Config()
    runtime = runtime_for(tmp_path, client, config=lambda: config)
    await runtime.start()
    try:
        before = runtime.get("kiro-google-a.json")
        assert before is not None and before.fallback_urls == ()  # the executor's own two endpoints
        config = Config.model_validate({"gateway": {"provider-endpoints": {
            "kiro": {"amazonq-url": "http://127.0.0.1:9/q"}}}})
        runtime.rebuild_views()
        after = runtime.get("kiro-google-a.json")
        assert after is not None and (after.base_url, after.fallback_urls) == ("", ("http://127.0.0.1:9/q",))
    finally:
        await runtime.stop()


async def test_expired_token_is_refreshed_once_for_concurrent_requests(tmp_path: Path, client) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    write(tmp_path, "qwen-a.json", {"type": "qwen", "access_token": "stale", "expired": past})
    calls: list[str] = []
    gate = asyncio.Event()

    async def refresher(credential: Credential) -> Credential:
        calls.append(credential.file_name)
        await gate.wait()
        future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return credential.with_metadata(access_token="fresh", expired=future)

    runtime = runtime_for(tmp_path, client, refresher=refresher)
    await runtime.start()
    try:
        cred = runtime.get("qwen-a.json")
        assert cred is not None
        waiters = [asyncio.create_task(cred.tokens.access_token()) for _ in range(5)]
        await asyncio.sleep(0.05)
        gate.set()
        assert await asyncio.gather(*waiters) == ["fresh"] * 5
        assert calls == ["qwen-a.json"]
        assert await cred.tokens.access_token() == "fresh"  # no longer due: no second refresh
        assert calls == ["qwen-a.json"]
    finally:
        await runtime.stop()


async def test_failed_refresh_keeps_the_old_token(tmp_path: Path, client) -> None:
    write(tmp_path, "claude-a.json", {"type": "claude", "access_token": "old", "expired": "2020-01-01T00:00:00Z"})

    async def refresher(credential: Credential) -> Credential:
        raise RuntimeError("token endpoint down")

    runtime = runtime_for(tmp_path, client, refresher=refresher)
    await runtime.start()
    try:
        cred = runtime.get("claude-a.json")
        assert cred is not None
        assert await cred.tokens.access_token() == "old"
    finally:
        await runtime.stop()


async def test_copilot_token_is_exchanged_and_cached(tmp_path: Path, client, fake) -> None:
    base, seen, answers = fake
    answers["/copilot_internal/v2/token"] = (200, {"token": "tid=api-token", "expires_at": 4102444800})
    answers["/chat/completions"] = (200, {"id": "c", "choices": []})
    write(tmp_path, "github-copilot-u.json", {"type": "github-copilot", "access_token": "gho_secret"})
    config = {"provider-endpoints": {"github-copilot": {"copilot-token-url": f"{base}/copilot_internal/v2/token",
                                                        "inference-base-url": base}}}
    runtime = runtime_for(tmp_path, client, config=config)
    await runtime.start()
    try:
        cred = runtime.get("github-copilot-u.json")
        assert cred is not None and cred.base_url == base
        executor = runtime.executor_for(cred)
        for _ in range(2):
            await executor.execute(cred, UpstreamRequest("gpt-4.1", {"messages": []}))
        paths = [r.path for r in seen]
        assert paths == ["/copilot_internal/v2/token", "/chat/completions", "/chat/completions"]
        assert seen[0].headers["Authorization"] == "token gho_secret"
        assert seen[1].headers["Authorization"] == "Bearer tid=api-token"
    finally:
        await runtime.stop()


async def test_copilot_exchange_refused_is_a_credential_error(tmp_path: Path, client, fake) -> None:
    base, seen, answers = fake
    answers["/copilot_internal/v2/token"] = (401, {"message": "Bad credentials"})
    write(tmp_path, "github-copilot-u.json", {"type": "github-copilot", "access_token": "gho_revoked"})
    config = {"provider-endpoints": {"github-copilot": {"copilot-token-url": f"{base}/copilot_internal/v2/token",
                                                        "inference-base-url": base}}}
    runtime = runtime_for(tmp_path, client, config=config)
    await runtime.start()
    try:
        cred = runtime.get("github-copilot-u.json")
        assert cred is not None
        with pytest.raises(UpstreamError) as err:
            await runtime.executor_for(cred).execute(cred, UpstreamRequest("gpt-4.1", {"messages": []}))
        assert (err.value.scope, err.value.status) == ("credential", 401)
        assert err.value.body == b"failed to get copilot api token: copilot token exchange refused: HTTP 401"
        assert [r.path for r in seen] == ["/copilot_internal/v2/token"]
    finally:
        await runtime.stop()


async def test_from_env_uses_the_auth_dir_and_a_missing_dir_is_created(tmp_path: Path, client) -> None:
    auth_dir = tmp_path / "auths"
    runtime = CredentialRuntime.from_env({}, auth_dir, client, watch_interval=0.02)
    result = await runtime.start()
    try:
        assert result.credentials == {} and auth_dir.is_dir()
        write(auth_dir, "iflow-a.json", {"type": "iflow", "api_key": "sk-if"})
        await eventually(lambda: runtime.get("iflow-a.json") is not None)
        cred = runtime.get("iflow-a.json")
        assert cred is not None and await cred.tokens.access_token() == "sk-if"
    finally:
        await runtime.stop()


class MemoryStore(TokenStore):
    """A store without a watcher (like PostgreSQL, Git or S3): loaded once, rescanned on demand."""

    kind = "memory"

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def load_all(self) -> LoadResult:
        result = LoadResult()
        for name, data in sorted(self.files.items()):
            try:
                result.credentials[name] = parse_credential(name, data)
            except CredentialError as err:
                result.skipped[name] = err
        return result

    async def get(self, file_name: str) -> Credential | None:
        return (await self.load_all()).credentials.get(file_name)

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        self.files[credential.file_name] = credential.to_bytes()
        return credential

    async def delete(self, file_name: str) -> bool:
        return self.files.pop(file_name, None) is not None


async def test_non_file_store_loads_once_and_reloads_on_demand(client, registry) -> None:
    store = MemoryStore({"claude-a.json": b'{"type":"claude","access_token":"a"}', "bad.json": b"[]"})
    runtime = CredentialRuntime(store, client, registry=registry)
    result = await runtime.start()
    try:
        assert sorted(result.credentials) == ["claude-a.json"]
        assert runtime.skipped == {"bad.json": "not_object"}
        store.files["claude-b.json"] = b'{"type":"claude","access_token":"b"}'
        assert runtime.get("claude-b.json") is None  # no I/O until asked
        await runtime.reload()
        assert [c.id for c in runtime.candidates(["claude"], SONNET)] == ["claude-a.json", "claude-b.json"]
        assert len(registry.current.credentials) == 2
    finally:
        await runtime.stop()


async def test_a_burst_of_changes_rebuilds_the_registry_once(tmp_path: Path, client, registry,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "claude-0.json", {"type": "claude", "access_token": "t"})
    runtime = runtime_for(tmp_path, client, registry=registry)
    await runtime.start()
    rebuilds: list[int] = []
    original = registry.refresh
    monkeypatch.setattr(registry, "refresh", lambda config=None: (rebuilds.append(1), original(config))[1])
    try:
        base = runtime.file_credential("claude-0.json")
        assert base is not None
        # A token-only change (a refresh) changes nothing the registry holds: no rebuild at all.
        runtime.apply(base.with_metadata(access_token="t2"))
        for index in range(1, 50):
            runtime.apply(new_credential(f"claude-{index}.json", {"type": "claude", "access_token": f"t{index}"}))
        assert len(runtime.candidates(["claude"], SONNET)) == 1  # new ones wait for the registry rebuild
        await eventually(lambda: len(runtime.candidates(["claude"], SONNET)) == 50)
        assert rebuilds == [1]
    finally:
        await runtime.stop()


async def test_vertex_service_account_token_is_minted_and_used(tmp_path: Path, client, fake) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    base, seen, answers = fake
    answers["/token"] = (200, {"access_token": "ya29.minted", "expires_in": 3600, "token_type": "Bearer"})
    answers["/v1/projects/proj-1/locations/us-east5/publishers/google/models/gemini-2.5-pro:generateContent"] = (
        200, {"candidates": []})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    write(tmp_path, "vertex-proj-1.json", {
        "type": "vertex", "project_id": "proj-1", "location": "us-east5", "email": "sa@proj-1.iam.test",
        "service_account": {"type": "service_account", "project_id": "proj-1", "private_key": pem,
                            "client_email": "sa@proj-1.iam.test", "token_uri": f"{base}/token"}})
    config = {"provider-endpoints": {"vertex": {"inference-base-url": base}}}
    runtime = runtime_for(tmp_path, client, config=config)
    await runtime.start()
    try:
        cred = runtime.get("vertex-proj-1.json")
        assert cred is not None and (cred.project_id, cred.location, cred.base_url) == ("proj-1", "us-east5", base)
        await runtime.executor_for(cred).execute(cred, UpstreamRequest("gemini-2.5-pro", {"contents": []}))
        assert [r.path for r in seen] == ["/token", "/v1/projects/proj-1/locations/us-east5/publishers/google/models/"
                                          "gemini-2.5-pro:generateContent"]
        assert seen[-1].headers["Authorization"] == "Bearer ya29.minted"
    finally:
        await runtime.stop()


async def test_vertex_without_private_key_is_the_legacys_internal_error(tmp_path: Path, client, fake) -> None:
    base, seen, _ = fake
    write(tmp_path, "vertex-p.json", {"type": "vertex", "project_id": "p", "service_account": {
        "type": "service_account", "client_email": "sa@p.test", "token_uri": f"{base}/token"}})
    runtime = runtime_for(tmp_path, client, config={"provider-endpoints": {"vertex": {"inference-base-url": base}}})
    await runtime.start()
    try:
        cred = runtime.get("vertex-p.json")
        assert cred is not None
        with pytest.raises(UpstreamError) as err:
            await runtime.executor_for(cred).execute(cred, UpstreamRequest("gemini-2.5-pro", {}))
        # The legacy's statusErr{500, "internal server error"} (gemini_vertex_executor.go:350-355).
        assert (err.value.scope, err.value.status, err.value.body) == ("transient", 500, b"internal server error")
        assert seen == []
    finally:
        await runtime.stop()


async def test_fits_the_inference_runtime_credential_source(tmp_path: Path, client) -> None:
    from handlers.inference.runtime import upstream_format
    from handlers.translation.model import Format

    write(tmp_path, "kiro-a.json", {"type": "kiro", "access_token": "aoa"})
    runtime = runtime_for(tmp_path, client)
    await runtime.start()
    other = UpstreamClient()
    try:
        cred = next(iter(runtime.credentials()))
        mine = runtime.executor_for(cred)
        theirs = runtime.executor_for(cred, other)
        assert mine.client is client and theirs.client is other
        assert runtime.executor_for(cred, other) is theirs
        assert upstream_format(theirs) is Format.CLAUDE
    finally:
        await other.close()
        await runtime.stop()


async def test_exclusions_and_prefixes_come_from_the_registry(tmp_path: Path, client) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("oauth-excluded-models:\n  claude:\n    - claude-opus-*\n")
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    write(auth_dir, "claude-a.json", {"type": "claude", "access_token": "a", "prefix": "/team/"})
    registry = LiveModelRegistry(ConfigStore(config))
    runtime = runtime_for(auth_dir, client, registry=registry)
    await runtime.start()
    try:
        assert [c.id for c in runtime.candidates(["claude"], "team/" + SONNET)] == ["claude-a.json"]
        assert [c.id for c in runtime.candidates(["claude"], SONNET)] == ["claude-a.json"]
        assert runtime.candidates(["claude"], "claude-opus-4-5-20251101") == []
        assert registry.current.upstream_model("claude-a.json", "team/" + SONNET) == SONNET
    finally:
        await runtime.stop()


# --- with the refresh manager of handlers.logins ------------------------------------------

TOKEN_PATH = "/api/v1/oauth2/token"


@pytest.fixture
async def qwen_provider() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, str]]], dict[str, object]]]:
    """A fake Qwen: token endpoint answers ``state["token"]``; chat answers 200 or ``state["chat"]``."""
    seen: list[tuple[str, dict[str, str]]] = []
    state: dict[str, object] = {"token": "fresh-1", "chat": 200}

    async def handle(request: web.Request) -> web.Response:
        form = dict(await request.post()) if request.path == TOKEN_PATH else {}
        fields = {k: str(v) for k, v in form.items()}
        seen.append((request.path, {"auth": request.headers.get("Authorization", ""), **fields}))
        if request.path == TOKEN_PATH:
            return web.json_response({"access_token": state["token"], "refresh_token": "rt-2", "expires_in": 3600,
                                      "token_type": "Bearer"})
        status = int(state["chat"])  # type: ignore[call-overload]
        body = {"id": "c", "choices": []} if status == 200 else {"error": {"message": "invalid token"}}
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner, root = await serve_on_loopback(app)
    yield root, seen, state
    await runner.cleanup()


async def test_refresh_on_use_401_retry_and_blocking(tmp_path: Path, qwen_provider) -> None:
    base, seen, state = qwen_provider
    (tmp_path / "qwen-me.json").write_text(json.dumps({
        "type": "qwen", "access_token": "stale", "refresh_token": "rt-1", "expired": "2020-01-01T00:00:00Z"}))
    config = {"provider-endpoints": {"qwen": {"token-url": base + TOKEN_PATH, "inference-base-url": base + "/v1"}}}
    client = UpstreamClient(Timeouts(connect=2, first_byte=2, idle=2))
    session, _ = client.session_for("")
    store = FileTokenStore(tmp_path)
    context = refresh_context(session, lambda: config)
    manager = RefreshManager(store, context)
    runtime = CredentialRuntime(store, client, config=lambda: config, refresher=manager.as_refresher(),
                                copilot_tokens=context.copilot, vertex_tokens=context.vertex,
                                unauthorized=manager.on_unauthorized, blocked=manager.is_blocked,
                                listeners=[manager.on_auth_change], watch_interval=0.05)
    result = await runtime.start()
    manager.load(result.credentials.values())
    try:
        cred = runtime.candidates(["qwen"], "qwen3-coder-plus")[0]
        executor = runtime.executor_for(cred)
        await executor.execute(cred, UpstreamRequest("qwen3-coder-plus", {"messages": []}))
        assert [path for path, _ in seen] == [TOKEN_PATH, "/v1/chat/completions"]
        assert seen[0][1]["refresh_token"] == "rt-1"
        assert seen[1][1]["auth"] == "Bearer fresh-1"
        stored = json.loads((tmp_path / "qwen-me.json").read_text())
        assert (stored["access_token"], stored["refresh_token"]) == ("fresh-1", "rt-2")

        # The upstream refuses the token: one refresh, one retry with the new token.
        state["token"] = "fresh-2"
        assert await runtime.refresh_now(cred.id) is True
        await executor.execute(cred, UpstreamRequest("qwen3-coder-plus", {"messages": []}))
        assert seen[-1][1]["auth"] == "Bearer fresh-2"

        # Refused again right after that refresh: give up, and selection leaves it out.
        assert await runtime.refresh_now(cred.id) is False
        assert runtime.candidates(["qwen"], "qwen3-coder-plus") == []
    finally:
        await runtime.stop()
        await client.close()


async def test_saves_through_the_same_store_are_seen_at_next_use(tmp_path: Path, client) -> None:
    write(tmp_path, "codex-a.json", {"type": "codex", "access_token": "one"})
    store = FileTokenStore(tmp_path)
    runtime = CredentialRuntime(store, client, watch_interval=0.05)
    await runtime.start()
    try:
        current = runtime.file_credential("codex-a.json")
        assert current is not None
        await store.save(current.with_metadata(access_token="two"), if_revision=current.revision)
        cred = runtime.get("codex-a.json")
        assert cred is not None and await cred.tokens.access_token() == "two"
    finally:
        await runtime.stop()


async def test_an_adopted_copy_is_not_replaced_by_the_watchers_older_one(tmp_path: Path, client) -> None:
    """Another process refreshed the file first and the refresh adopted its copy straight from the
    store, before this watcher polled the file: the watcher still holds the older copy (another
    revision), and that must not replace the adopted one at the next use."""
    write(tmp_path, "qwen-a.json", {"type": "qwen", "access_token": "old", "expired": "2020-01-01T00:00:00Z"})
    other_process = FileTokenStore(tmp_path)
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def refresher(credential: Credential) -> Credential:
        await other_process.save(credential.with_metadata(access_token="theirs", expired=future))
        adopted = await other_process.get(credential.file_name)
        assert adopted is not None
        return adopted

    # A watcher that does not poll during the test: its copy stays the one loaded at start.
    runtime = runtime_for(tmp_path, client, refresher=refresher, watch_interval=3600)
    await runtime.start()
    try:
        cred = runtime.get("qwen-a.json")
        assert cred is not None
        assert await cred.tokens.access_token() == "theirs"
        current = runtime.file_credential("qwen-a.json")
        assert current is not None and current.metadata["access_token"] == "theirs"
        assert await cred.tokens.access_token() == "theirs"
    finally:
        await runtime.stop()


async def test_a_due_credential_is_refreshed_in_the_background_while_others_serve(tmp_path: Path, client) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    write(tmp_path, "qwen-a.json", {"type": "qwen", "access_token": "stale", "expired": past})
    write(tmp_path, "qwen-b.json", {"type": "qwen", "access_token": "ok", "expired": future})
    calls: list[str] = []
    gate = asyncio.Event()

    async def refresher(credential: Credential) -> Credential:
        calls.append(credential.file_name)
        await gate.wait()
        return credential.with_metadata(access_token="fresh", expired=future)

    runtime = runtime_for(tmp_path, client, refresher=refresher)
    await runtime.start()
    try:
        assert runtime.needs_refresh("qwen-b.json") is False
        assert runtime.needs_refresh("qwen-a.json") is True  # and its refresh has started
        assert runtime.needs_refresh("qwen-a.json") is True  # asked again: still the one refresh
        await asyncio.sleep(0.05)
        assert calls == ["qwen-a.json"]
        gate.set()
        await eventually(lambda: not runtime.needs_refresh("qwen-a.json"))
        cred = runtime.get("qwen-a.json")
        assert cred is not None and await cred.tokens.access_token() == "fresh"
        assert calls == ["qwen-a.json"]
    finally:
        await runtime.stop()
