"""What GET /metrics shows for native inference traffic (README "Observability"), over HTTP through
the whole app behind the front door as served, every inference route native, fake upstreams.

Per request: ``requests_total{route,mode,side,status}`` with the status the client got, one
observation each in ``request_duration_seconds`` and ``time_to_first_byte_seconds``; a native
stream is on ``open_streams{route,side="native"}`` while it runs. Labels stay bounded: flag-route
labels, never the client's model, request id or any key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import FakeLLM, Fault, status
from tests.handlers.inference.test_faults_stream import GatedUpstream, read_until
from tests.quotio_gateway.test_frontdoor import serving

CLIENT_KEY = "sk-client-metrics-0123"
KEY_A, KEY_B = "sk-claude-metrics-aaaa", "sk-claude-metrics-bbbb"
GEMINI_KEY, GATED_KEY = "sk-gemini-metrics-cccc", "sk-gated-metrics-dddd"
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
GEMINI_MODEL = "gemini-2.5-flash"
GATED_MODEL = "gated-claude"
MESSAGES, GEMINI_ROUTE = "POST /v1/messages", "POST /v1beta/models/*"
CHAT_CLAUDE = "POST /v1/chat/completions [claude-*]"
FLAGS = {"default": "legacy", "routes": [
    {"match": "POST /v1/messages", "mode": "native"},
    {"match": "POST /v1/chat/completions", "model": "claude-*", "mode": "native"},
    {"match": "POST /v1/chat/completions", "mode": "native"},
    {"match": "POST /v1beta/models/*", "mode": "native"},
]}


@dataclass
class Gateway:
    url: str
    slow_url: str  # the same app without the front door: aiohttp's own server
    session: aiohttp.ClientSession
    fake: FakeLLM
    gated: GatedUpstream

    def post(self, path: str, body: dict[str, Any], **headers: str) -> Any:
        return self.session.post(self.url + path, json=body,
                                 headers={"Authorization": f"Bearer {CLIENT_KEY}", **headers})

    async def call(self, path: str, body: dict[str, Any], **headers: str) -> int:
        async with self.post(path, body, **headers) as resp:
            await resp.read()
            return resp.status

    async def metrics(self) -> dict[str, float]:
        """Every sample on /metrics by its exposition name and labels (``name{a="x",b="y"}``)."""
        async with self.session.get(self.url + "/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    async def metrics_once(self, check: Callable[[dict[str, float]], bool]) -> dict[str, float]:
        """/metrics once ``check`` holds: a request is counted just after its answer is written."""
        async with asyncio.timeout(5):
            while not check(samples := await self.metrics()):  # noqa: ASYNC110 - read over HTTP
                await asyncio.sleep(0.02)
        return samples


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, fake_llm: FakeLLM,
                  request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    """Indirect parameter: more config.yaml keys."""
    gated = GatedUpstream()
    await gated.start()
    config = {
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": KEY_A, "base-url": fake_llm.root},
                           {"api-key": KEY_B, "base-url": fake_llm.root},
                           {"api-key": GATED_KEY, "base-url": gated.root,
                            "models": [{"name": "claude-gated-upstream", "alias": GATED_MODEL}]}],
        "gemini-api-key": [{"api-key": GEMINI_KEY, "base-url": fake_llm.root}],
        **getattr(request, "param", {}),
    }
    # No legacy server: the table's native routes keep their labels, the rest would be a 503.
    async with serving(await make_gateway(FLAGS, config=config)) as pair, aiohttp.ClientSession() as session:
        yield Gateway(f"http://127.0.0.1:{pair.fast}", f"http://127.0.0.1:{pair.slow}", session, fake_llm, gated)
    await gated.stop()


def requests(route: str, status_: int) -> str:
    return f'quotio_gateway_requests_total{{mode="native",route="{route}",side="native",status="{status_}"}}'


def per_side(name: str, route: str) -> str:
    return f'quotio_gateway_{name}{{mode="native",route="{route}",side="native"}}'


def open_streams(route: str, side: str = "native") -> str:
    return f'quotio_gateway_open_streams{{route="{route}",side="{side}"}}'


def claude(model: str = CLAUDE_MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], **extra}


async def test_native_answers_by_route_status_and_side(gateway: Gateway) -> None:
    fake = gateway.fake
    rid = "rid-metrics-5f3a9c"
    assert await gateway.call("/v1/messages", claude(), **{"X-Request-Id": rid}) == 200
    assert await gateway.call("/v1/messages", claude(stream=True)) == 200
    # OpenAI client, Claude upstream: the route's label carries its model glob, not the model.
    chat = {"model": CLAUDE_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    assert await gateway.call("/v1/chat/completions", chat) == 200
    assert await gateway.call("/v1/chat/completions", {**chat, "stream": True}) == 200
    # A 429 moves on to the other key: one 200 for the client.
    first = fake.requests[-1].key
    other = KEY_B if first == KEY_A else KEY_A
    fake.script(other, status(429, headers={"Retry-After": "60"}))
    assert await gateway.call("/v1/messages", claude()) == 200
    assert [r.key for r in fake.requests[-2:]] == [other, first]
    # The last pickable key answers 429 too: the client gets it, then both keys are cooling.
    fake.script(first, status(429, headers={"Retry-After": "60"}))
    assert await gateway.call("/v1/messages", claude()) == 429
    upstream_calls = len(fake.requests)
    assert await gateway.call("/v1/messages", claude()) == 429
    assert await gateway.call("/v1/chat/completions", chat) == 429
    assert len(fake.requests) == upstream_calls  # answered from the cooldown, no upstream call
    # An upstream 500 on the only Gemini key.
    fake.script(GEMINI_KEY, status(500))
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert await gateway.call(f"/v1beta/models/{GEMINI_MODEL}:generateContent", gemini) == 500

    answered = {(MESSAGES, 200): 3, (MESSAGES, 429): 2, (CHAT_CLAUDE, 200): 2, (CHAT_CLAUDE, 429): 1,
                (GEMINI_ROUTE, 500): 1}

    samples = await gateway.metrics_once(
        lambda got: all(got.get(requests(route, code)) == n for (route, code), n in answered.items()))
    counted = {name: value for name, value in samples.items() if name.startswith("quotio_gateway_requests_total{")
               and 'route="POST /' in name}
    assert counted == {requests(route, code): float(n) for (route, code), n in answered.items()}
    for route in (MESSAGES, CHAT_CLAUDE, GEMINI_ROUTE):
        total = float(sum(n for (r, _), n in answered.items() if r == route))
        assert samples[per_side("request_duration_seconds_count", route)] == total
        assert samples[per_side("time_to_first_byte_seconds_count", route)] == total
        assert samples[per_side("time_to_first_byte_seconds_sum", route)] <= \
            samples[per_side("request_duration_seconds_sum", route)]
    # Both streams ran and ended: counted while open, back to zero now.
    assert samples[open_streams(MESSAGES)] == 0
    assert samples[open_streams(CHAT_CLAUDE)] == 0
    errors = ("quotio_gateway_native_errors_total{", "quotio_gateway_native_stream_errors_total{")
    assert not any(name.startswith(errors) for name in samples)
    text = "\n".join(samples)
    for secret in (CLIENT_KEY, KEY_A, KEY_B, GEMINI_KEY, GATED_KEY, CLAUDE_MODEL, GEMINI_MODEL, rid):
        assert secret not in text


@pytest.mark.parametrize("front_door", [True, False])
@pytest.mark.parametrize("client_leaves", [False, True])
async def test_a_native_stream_is_open_while_it_streams(gateway: Gateway, client_leaves: bool,
                                                        front_door: bool) -> None:
    if not front_door:
        gateway.url = gateway.slow_url
    gauge = open_streams(MESSAGES)
    resp = await gateway.post("/v1/messages", claude(GATED_MODEL, stream=True)).__aenter__()
    try:
        assert resp.status == 200
        await read_until(resp, b"Hello")  # the upstream waits for the gate from here on
        assert (await gateway.metrics())[gauge] == 1
        if client_leaves:
            resp.close()
            await asyncio.wait_for(gateway.gated.cancelled.wait(), 5)
        else:
            gateway.gated.gate.set()
            assert (await resp.read()).endswith(b'data: {"type": "message_stop"}\n\n')
    finally:
        resp.release()
    # The client that left is a 499 of the side that was streaming.
    code = 499 if client_leaves else 200
    samples = await gateway.metrics_once(lambda got: got.get(requests(MESSAGES, code)) == 1)
    assert samples[gauge] == 0
    assert samples[per_side("request_duration_seconds_count", MESSAGES)] == 1
    assert not any('side="legacy"' in name and MESSAGES in name for name in samples)


async def test_a_native_stream_broken_after_its_head_is_a_stream_error(gateway: Gateway) -> None:
    # The client sees 200 and then the protocol's error frame: only this counter tells.
    for key in (KEY_A, KEY_B):
        gateway.fake.script(key, Fault("reset", after=3))
    chat = {"model": CLAUDE_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    for path, body, error in (("/v1/messages", claude(stream=True), b"event: error\n"),
                              ("/v1/chat/completions", chat, b'"type":"server_error"')):
        async with gateway.post(path, body) as resp:
            assert resp.status == 200
            assert error in await resp.read()
    assert sorted(r.key for r in gateway.fake.requests) == [KEY_A, KEY_B]
    samples = await gateway.metrics_once(lambda got: got.get(requests(CHAT_CLAUDE, 200)) == 1)
    stream_errors = {name: value for name, value in samples.items()
                     if name.startswith("quotio_gateway_native_stream_errors_total{")}
    assert stream_errors == {f'quotio_gateway_native_stream_errors_total{{route="{MESSAGES}"}}': 1.0,
                             f'quotio_gateway_native_stream_errors_total{{route="{CHAT_CLAUDE}"}}': 1.0}
    assert samples[requests(MESSAGES, 200)] == 1


@pytest.mark.parametrize("gateway", [{"nonstream-keepalive-interval": 1}], indirect=True)
async def test_a_non_stream_error_after_keepalive_newlines_is_a_stream_error(gateway: Gateway) -> None:
    gateway.gated.answer = (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    async with gateway.post("/v1/messages", claude(GATED_MODEL)) as resp:
        assert resp.status == 200
        assert await resp.content.readany() == b"\n"  # 200 is committed
        assert (await gateway.metrics())[open_streams(MESSAGES)] == 1
        gateway.gated.gate.set()
        assert b"overloaded_error" in await resp.read()
    samples = await gateway.metrics_once(lambda got: got.get(requests(MESSAGES, 200)) == 1)
    assert samples[f'quotio_gateway_native_stream_errors_total{{route="{MESSAGES}"}}'] == 1
    assert samples[open_streams(MESSAGES)] == 0
