"""What GET /v0/management/auth-files shows about a credential after real inference traffic.

CLIProxyAPI v6.7.15 (9b72ea9ef): every attempt ends in ``MarkResult`` (conductor.go:1290-1405),
and the entry built from the auth (auth_files.go:363-436) carries its ``status``,
``status_message`` (the executor error's text) and ``unavailable`` (updateAggregatedAvailability,
conductor.go:1435-1482). Config API-key auths have no ``path`` attribute and are never listed
(auth_files.go:372-375). Times are a listed deliberate difference (docs/compatibility.md) and are
not asserted here; nor is the text of a failure without an HTTP answer (Go's error string there).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from handlers.inference.runtime import INFERENCE
from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import FakeLLM, Fault, status
from tests.handlers.credentials.auth_files_gateway import Gateway

SONNET = "claude-sonnet-4-5-20250929"
CLAUDE_FILE = "claude-ann@example.com.json"
CLAUDE = {"type": "claude", "email": "ann@example.com", "access_token": "tok-ann", "refresh_token": "rt",
          "expired": "2099-01-01T00:00:00Z"}
GEMINI_FILE = "gemini-bob@example.com-all.json"
GEMINI = {"type": "gemini", "email": "bob@example.com", "project_id": "p1,p2",
          "token": {"access_token": "tok-bob", "refresh_token": "rt", "expiry": "2099-01-01T00:00:00Z"}}
GEMINI_ANSWER = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]},
                                              "finishReason": "STOP", "index": 0}],
                              "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1,
                                                "totalTokenCount": 2}}}
FIELDS = ("status", "status_message", "unavailable", "disabled")


class CodeAssist:
    """A Cloud Code Assist ``v1internal:generateContent`` answering per project: ``failing`` maps
    a project to the status (and empty body) it gets, the others get an answer."""

    def __init__(self) -> None:
        self.failing: dict[str, int] = {}
        self.projects: list[str] = []
        self.server = TestServer(self._app(), host="127.0.0.1")

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1internal:generateContent", self._generate)
        return app

    async def _generate(self, request: web.Request) -> web.Response:
        project = (await request.json())["project"]
        self.projects.append(project)
        if project in self.failing:
            return web.Response(status=self.failing[project])
        return web.json_response(GEMINI_ANSWER)

    @property
    def root(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@dataclass
class Traffic:
    gateway: Gateway
    advance: Callable[[float], None]

    async def post(self, path: str, body: dict[str, Any]) -> int:
        async with self.gateway.session.post(self.gateway.url + path, json=body,
                                             headers={"Authorization": "Bearer client-key"}) as resp:
            await resp.read()
            return resp.status

    async def claude(self, *, stream: bool = False) -> int:
        return await self.post("/v1/messages", {"model": SONNET, "max_tokens": 5, "stream": stream,
                                                "messages": [{"role": "user", "content": "hi"}]})

    async def entry(self, name: str) -> tuple[Any, ...]:
        found = next(f for f in await self.gateway.files() if f["name"] == name)
        return tuple(found[k] for k in FIELDS)

    async def names(self) -> list[str]:
        return [f["name"] for f in await self.gateway.files()]


@pytest.fixture
async def code_assist() -> AsyncIterator[CodeAssist]:
    fake = CodeAssist()
    await fake.server.start_server()
    yield fake
    await fake.server.close()


@pytest.fixture
async def traffic(make_gateway: GatewayFactory, tmp_path: Path, fake_llm: FakeLLM,
                  code_assist: CodeAssist) -> AsyncIterator[Traffic]:
    auths = tmp_path / "auths"
    auths.mkdir()
    (auths / CLAUDE_FILE).write_text(json.dumps(CLAUDE))
    (auths / GEMINI_FILE).write_text(json.dumps(GEMINI))
    root = fake_llm.root
    app = await make_gateway({"default": "native"}, config={
        "claude-api-key": [{"api-key": "sk-claude", "base-url": root, "models": [{"name": SONNET, "alias": "c-key"}]}],
        "gemini-api-key": [{"api-key": "sk-gemini", "base-url": root,
                            "models": [{"name": "gemini-2.5-flash", "alias": "g-key"}]}],
        "codex-api-key": [{"api-key": "sk-codex", "base-url": root + "/v1"}],
        "openai-compatibility": [{"name": "compat", "base-url": root + "/v1",
                                  "api-key-entries": [{"api-key": "sk-compat"}],
                                  "models": [{"name": "up", "alias": "m"}]}],
        "gateway": {"provider-endpoints": {"claude": {"inference-base-url": root},
                                           "gemini-cli": {"inference-base-url": code_assist.root}}}})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gateway = Gateway(str(server.make_url("")).rstrip("/"), auths)
    state = app[INFERENCE].state
    real = state.clock
    offset = [0.0]
    state.clock = lambda: real() + offset[0]

    def advance(seconds: float) -> None:
        offset[0] += seconds

    try:
        yield Traffic(gateway, advance)
    finally:
        await gateway.session.close()
        await server.close()


async def test_an_error_with_an_empty_body_shows_status_n(traffic: Traffic, fake_llm: FakeLLM) -> None:
    # statusErr.Error() is "status N" when the upstream sent no body (openai_compat_executor.go:379-384),
    # and MarkResult keeps that text as the auth's StatusMessage (conductor.go:1327-1332).
    fake_llm.script("tok-ann", status(503, b""))
    assert await traffic.claude() == 503
    assert await traffic.entry(CLAUDE_FILE) == ("error", "status 503", True, False)
    traffic.advance(61)  # the 1-minute cooldown of a 503 has run out
    fake_llm.script("tok-ann", status(429, b""))
    assert await traffic.claude() == 429
    assert await traffic.entry(CLAUDE_FILE) == ("error", "status 429", True, False)
    traffic.advance(2)
    assert await traffic.claude() == 200
    assert await traffic.entry(CLAUDE_FILE) == ("active", "", False, False)


async def test_a_bad_request_still_marks_the_credential_without_a_cooldown(traffic: Traffic,
                                                                           fake_llm: FakeLLM) -> None:
    # MarkResult has no case for 400: the model state turns unavailable with no retry time and the
    # auth turns "error" with the upstream's body as its message (conductor.go:1321-1384); no retry
    # time means the next request still goes to it, and its success clears everything.
    body = b'{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}'
    fake_llm.script("tok-ann", status(400, body))
    assert await traffic.claude() == 400
    assert await traffic.entry(CLAUDE_FILE) == ("error", body.decode(), True, False)
    assert await traffic.claude() == 200
    assert await traffic.entry(CLAUDE_FILE) == ("active", "", False, False)


async def test_a_stream_broken_mid_body_is_a_failure_and_a_clean_early_end_a_success(traffic: Traffic,
                                                                                     fake_llm: FakeLLM) -> None:
    # A read error mid-stream is one failed MarkResult without a status (conductor.go:713-726): "error",
    # unavailable, no cooldown. A stream whose body ends cleanly, however early, is a success for the
    # Claude executor's reader (claude_executor.go:321-345), which clears the failure.
    fake_llm.script("tok-ann", Fault("reset", after=2))
    assert await traffic.claude(stream=True) == 200
    status_, message, unavailable, disabled = await traffic.entry(CLAUDE_FILE)
    assert (status_, unavailable, disabled) == ("error", True, False) and message
    fake_llm.script("tok-ann", Fault("cut", after=2))
    assert await traffic.claude(stream=True) == 200
    assert await traffic.entry(CLAUDE_FILE) == ("active", "", False, False)


async def test_config_api_keys_are_never_listed_whatever_their_traffic(traffic: Traffic, fake_llm: FakeLLM) -> None:
    # buildAuthFileEntry skips an auth with neither a path attribute nor runtime_only
    # (auth_files.go:372-375): the config synthesizer's API-key auths have neither.
    listed = await traffic.names()
    assert listed == [CLAUDE_FILE, GEMINI_FILE, GEMINI_FILE + "::p1", GEMINI_FILE + "::p2"]
    for key in ("sk-claude", "sk-gemini", "sk-codex", "sk-compat"):
        fake_llm.script(key, status(401))
    assert await traffic.post("/v1/messages", {"model": "c-key", "max_tokens": 5,
                                               "messages": [{"role": "user", "content": "hi"}]}) == 401
    assert await traffic.post("/v1/chat/completions", {"model": "m",
                                                       "messages": [{"role": "user", "content": "hi"}]}) == 401
    assert await traffic.post("/v1/chat/completions", {"model": "gpt-5",
                                                       "messages": [{"role": "user", "content": "hi"}]}) == 401
    assert await traffic.post("/v1beta/models/g-key:generateContent",
                              {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}) == 401
    assert len(fake_llm.requests) == 4
    assert await traffic.names() == listed
    assert await traffic.entry(CLAUDE_FILE) == ("active", "", False, False)


async def test_a_gemini_project_carries_its_own_state_and_the_file_stays_disabled(traffic: Traffic,
                                                                                  code_assist: CodeAssist) -> None:
    # Each project is its own runtime-only virtual auth (synthesizer/file.go:122-190), marked by the
    # results of its own calls; the primary stays disabled and untouched.
    code_assist.failing["p1"] = 403
    chat = {"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]}
    assert await traffic.post("/v1/chat/completions", chat) == 200
    assert await traffic.post("/v1/chat/completions", chat) == 200
    assert code_assist.projects == ["p1", "p2", "p2"]
    assert await traffic.entry(GEMINI_FILE) == ("disabled", "", False, True)
    assert await traffic.entry(GEMINI_FILE + "::p1") == ("error", "status 403", True, False)
    assert await traffic.entry(GEMINI_FILE + "::p2") == ("active", "", False, False)
    code_assist.failing.clear()
    traffic.advance(1801)  # past the 30-minute cooldown of a 403
    # Round robin comes back to p1 within two picks.
    for _ in range(2):
        assert await traffic.post("/v1/chat/completions", chat) == 200
    assert "p1" in code_assist.projects[-2:]
    assert await traffic.entry(GEMINI_FILE + "::p1") == ("active", "", False, False)


async def test_a_404_suspends_the_model_from_the_lists_but_not_from_the_files_models(traffic: Traffic,
                                                                                   fake_llm: FakeLLM) -> None:
    # A 404 cools the model for 12 h and suspends the client for it in the registry
    # (conductor.go:1346-1350, 1398-1402), which /v1/models reads; /auth-files/models reads the
    # client's registered models only (GetModelsForClient, model_registry.go:1159-1192).
    body = b'{"type":"error","error":{"type":"not_found_error","message":"model: claude-sonnet-4-5-20250929"}}'
    fake_llm.script("tok-ann", status(404, body))
    assert await traffic.claude() == 404
    assert await traffic.entry(CLAUDE_FILE) == ("error", body.decode(), True, False)
    gateway = traffic.gateway
    async with gateway.session.get(gateway.url + "/v1/models", headers={"Authorization": "Bearer client-key"}) as resp:
        assert SONNET not in [m["id"] for m in (await resp.json())["data"]]
    code, _, raw = await gateway.call("GET", "auth-files/models", params={"name": CLAUDE_FILE})
    assert code == 200 and SONNET in [m["id"] for m in json.loads(raw)["models"]]
    assert await traffic.claude() == 500  # auth_unavailable while it cools; nothing is marked
    assert len(fake_llm.requests) == 1
    assert await traffic.entry(CLAUDE_FILE) == ("error", body.decode(), True, False)
