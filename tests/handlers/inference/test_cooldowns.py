"""Cooldown bookkeeping seen from a client (reference B6, surface §4): the quota backoff ladder,
``disable-cooling``, the answer when credentials are blocked for mixed reasons, and state kept
per route model. The rotation tables themselves are unit-tested in ``tests/handlers/rotation``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from handlers.inference.runtime import INFERENCE
from tests.fakes.llm_upstream import ANSWER, FakeLLM, status
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    JSON,
    MakeGateway,
    claude,
    error_body,
    freeze_rotation_clock,
)

QUOTA = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


def _keys(root: str, *keys: str, extra: str = "", entry: str = "") -> str:
    entries = "".join(f"  - api-key: {k}\n    base-url: {root}\n{entry}" for k in keys)
    return f"{extra}claude-api-key:\n{entries}"


def _clock(client: Any) -> Callable[[float], None]:
    """Moves the rotation state's clock forward by the given seconds, so cooldowns run out
    without the test sleeping. It keeps running in between, for a request that waits out a
    cooldown; a test that only reads cooldowns freezes it (``freeze_rotation_clock``)."""
    state = client.server.app[INFERENCE].state
    real = state.clock
    offset = [0.0]
    state.clock = lambda: real() + offset[0]

    def advance(seconds: float) -> None:
        offset[0] += seconds
    return advance


def _cooldown(model: str, seconds: int, shown: str) -> bytes:
    return orjson.dumps({"error": {"code": "model_cooldown",
                                   "message": f"All credentials for model {model} are cooling down",
                                   "model": model, "reset_seconds": seconds, "reset_time": shown}})


async def test_consecutive_429s_double_the_cooldown_and_a_success_resets_it(gateway: MakeGateway,
                                                                            fake_llm: FakeLLM) -> None:
    # nextQuotaCooldown: 1 s x 2^level, the level climbing per 429 without a hint (conductor.go:1635-1651);
    # a success drops the state, so the next 429 starts at 1 s again (conductor.go:1305-1317).
    client = await gateway(_keys(fake_llm.root, "k1"))
    advance = freeze_rotation_clock(client)  # the shown 2 s and 4 s would round down after 0.5 s
    fake_llm.script("k1", status(429, QUOTA), status(429, QUOTA), status(429, QUOTA))
    for seconds in (1, 2, 4):
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
        assert resp.status == 429 and await resp.json() == QUOTA
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
        assert resp.status == 429 and resp.headers["Retry-After"] == str(seconds)
        assert await resp.read() == _cooldown(CLAUDE_MODEL, seconds, f"{seconds}s")
        advance(seconds + 0.01)
    assert len(fake_llm.requests) == 3
    assert (await client.post("/v1/messages", json=claude(CLAUDE_MODEL))).status == 200
    fake_llm.script("k1", status(429, QUOTA))
    assert (await client.post("/v1/messages", json=claude(CLAUDE_MODEL))).status == 429
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.headers["Retry-After"] == "1"
    assert await resp.read() == _cooldown(CLAUDE_MODEL, 1, "1s")


async def test_disable_cooling_sends_every_request_after_a_429_upstream(gateway: MakeGateway,
                                                                        fake_llm: FakeLLM) -> None:
    # With disable-cooling the quota cooldown is zero, so the credential is never blocked and no
    # model_cooldown answer is given: each request reaches the upstream and gets its answer.
    client = await gateway(_keys(fake_llm.root, "k1", extra="disable-cooling: true\n"))
    fake_llm.script("k1", status(429, QUOTA), status(429, QUOTA))
    for _ in range(2):
        resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
        assert resp.status == 429 and "Retry-After" not in resp.headers
        assert await resp.json() == QUOTA
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 200 and (await resp.json())["content"] == [{"type": "text", "text": ANSWER}]
    assert len(fake_llm.requests) == 3


async def test_one_cooling_and_one_failing_credential_answer_auth_unavailable(gateway: MakeGateway,
                                                                             fake_llm: FakeLLM) -> None:
    # model_cooldown needs every candidate blocked by quota (selector.go:145-160); a 503's one-minute
    # block is another reason, so the local answer is the 500 auth_unavailable, without Retry-After.
    client = await gateway(_keys(fake_llm.root, "k1", "k2"))
    freeze_rotation_clock(client)  # k1's quota block is 1 s: it must outlast the next request
    quota, down = json.dumps(QUOTA).encode(), b'{"error":{"message":"down"}}'
    fake_llm.script("k1", status(429, quota))
    fake_llm.script("k2", status(503, down))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    # The pass answers with the last credential's error, whichever round-robin tried last.
    last = fake_llm.requests[-1].key
    assert sorted(r.key for r in fake_llm.requests) == ["k1", "k2"]
    assert resp.status == (429 if last == "k1" else 503)
    assert await resp.read() == (quota if last == "k1" else down)
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 500 and resp.headers["Content-Type"] == JSON and "Retry-After" not in resp.headers
    assert await resp.read() == error_body("auth_unavailable: no auth available", "server_error",
                                           "internal_server_error")
    assert len(fake_llm.requests) == 2


async def test_cooldowns_belong_to_the_model_name_the_client_asked_for(gateway: MakeGateway,
                                                                       fake_llm: FakeLLM) -> None:
    # State and cursors are keyed by the route model (conductor.go:572, 598): a prefixed name and a
    # thinking-suffixed name are models of their own, though all reach the same upstream model.
    client = await gateway(_keys(fake_llm.root, "k1", entry="    prefix: teamA\n"))
    freeze_rotation_clock(client)  # the 1 s block must outlast the next request
    fake_llm.script("k1", status(429, QUOTA))
    prefixed = f"teamA/{CLAUDE_MODEL}"
    assert (await client.post("/v1/messages", json=claude(prefixed))).status == 429
    resp = await client.post("/v1/messages", json=claude(prefixed))
    assert resp.status == 429 and await resp.read() == _cooldown(prefixed, 1, "1s")
    for model in (CLAUDE_MODEL, f"{CLAUDE_MODEL}(8192)"):
        assert (await client.post("/v1/messages", json=claude(model))).status == 200
    assert [r.body["model"] for r in fake_llm.requests] == [CLAUDE_MODEL] * 3


async def test_a_request_arriving_while_every_credential_cools_waits_for_the_first(gateway: MakeGateway,
                                                                                   fake_llm: FakeLLM) -> None:
    # The pick error (model_cooldown) ends a pass like an upstream error, so another pass follows
    # once the earliest cooldown ends within max-retry-interval (conductor.go:465-496, 1222-1237).
    client = await gateway(_keys(fake_llm.root, "k1", extra="request-retry: 1\nmax-retry-interval: 5\n"))
    advance = _clock(client)
    fake_llm.script("k1", status(429, QUOTA), status(429, QUOTA))
    # Two passes (1 s wait between), both 429: the last upstream answer, not model_cooldown.
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 429 and await resp.json() == QUOTA
    advance(1.9)  # 0.1 s left of the second, 2 s cooldown
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL, stream=True))
    assert resp.status == 200 and (await resp.read()).endswith(b'data: {"type": "message_stop"}\n\n')
    assert len(fake_llm.requests) == 3


async def test_token_counts_rotate_and_share_the_cooldowns_of_their_model(gateway: MakeGateway,
                                                                         fake_llm: FakeLLM) -> None:
    # ExecuteCount runs the same passes and MarkResult as Execute (conductor.go:500-533, 617-664):
    # a count's 429 moves to the next key, and the cooldowns it leaves answer the generate call too.
    client = await gateway(_keys(fake_llm.root, "k1", "k2"))
    freeze_rotation_clock(client)  # the 1 s blocks must outlast the requests below
    fake_llm.script("k1", status(429, QUOTA))
    fake_llm.script("k2", status(429, QUOTA))
    resp = await client.post("/v1/messages/count_tokens", json=claude(CLAUDE_MODEL))
    assert resp.status == 429 and await resp.json() == QUOTA
    assert sorted(r.key for r in fake_llm.requests) == ["k1", "k2"]
    assert {r.path for r in fake_llm.requests} == {"/v1/messages/count_tokens"}
    for path in ("/v1/messages/count_tokens", "/v1/messages"):
        resp = await client.post(path, json=claude(CLAUDE_MODEL))
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"
        assert await resp.read() == _cooldown(CLAUDE_MODEL, 1, "1s")
    assert len(fake_llm.requests) == 2


async def test_waiting_stops_at_the_first_cooldown_longer_than_max_retry_interval(gateway: MakeGateway,
                                                                                  fake_llm: FakeLLM) -> None:
    # shouldRetryAfterError (conductor.go:1222-1237): the 1 s cooldown fits a 1 s interval, the
    # doubled 2 s one does not, so passes remain but the second 429 is the answer.
    client = await gateway(_keys(fake_llm.root, "k1", extra="request-retry: 3\nmax-retry-interval: 1\n"))
    fake_llm.script("k1", status(429, QUOTA), status(429, QUOTA), status(429, QUOTA))
    resp = await client.post("/v1/messages", json=claude(CLAUDE_MODEL))
    assert resp.status == 429 and "Retry-After" not in resp.headers
    assert await resp.json() == QUOTA
    assert len(fake_llm.requests) == 2
