"""The front door's native lane against aiohttp's own server, byte for byte, on real sockets.

One gateway app (every route native, API keys on the fake upstream) behind two listeners:
``fast`` (the front door as served, native requests answered on the lane) and ``slow`` (the
front door off, aiohttp answers everything). A client must see the same answer on both, apart
from the Date header and the ``created`` second (Gemini's ``createTime``) of translated answers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from handlers.inference import routes
from quotio_gateway import appkeys, frontdoor_native
from quotio_gateway.dispatch import Dispatcher
from quotio_gateway.frontdoor import (
    ADMIT_SWITCH,
    DEFAULT_ADMIT_PER_TURN,
    NATIVE_LANE_SWITCH,
    Admission,
    admit_per_turn,
    native_lane_enabled,
)
from quotio_gateway.frontdoor_http import MAX_INLINE_BODY
from tests.conftest import eventually
from tests.fakes.llm_upstream import FakeLLM, Fault, status
from tests.quotio_gateway.test_frontdoor import Answer, Pair, exchange, read_answer, serving

CLIENT_KEY = "sk-lane-client"
CLAUDE_KEY = "sk-lane-claude"
COMPAT_KEY = "sk-lane-compat"


def lane_config(fake: FakeLLM) -> dict[str, Any]:
    return {
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": CLAUDE_KEY, "base-url": fake.root,
                            "models": [{"name": "claude-up", "alias": "lane-claude"}]}],
        "openai-compatibility": [{"name": "compat", "base-url": f"{fake.root}/v1",
                                  "api-key-entries": [{"api-key": COMPAT_KEY}],
                                  "models": [{"name": "upstream-model", "alias": "lane-compat"}]}],
    }


@pytest.fixture
def fake(fake_llm: FakeLLM) -> FakeLLM:
    return fake_llm


@pytest.fixture
async def lane(make_gateway, fake) -> AsyncIterator[Pair]:
    async with serving(await make_gateway({"default": "native"}, config=lane_config(fake))) as pair:
        yield pair


@pytest.fixture
def lane_calls(monkeypatch) -> list[str]:
    """Paths the native lane served (the fast listener's native requests must all be here)."""
    calls: list[str] = []
    real = frontdoor_native.serve

    async def counting(app: web.Application, conn: Any, head: Any, body: bytes | None) -> bool:
        calls.append(head.path)
        return await real(app, conn, head, body)

    monkeypatch.setattr(frontdoor_native, "serve", counting)
    return calls


def post(target: str, body: Any, *headers: str, key: str | None = CLIENT_KEY, rid: str = "rid-lane") -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    lines = [f"POST {target} HTTP/1.1", "Host: gw.test:8317", f"X-Request-Id: {rid}",
             "Content-Type: application/json", f"Content-Length: {len(raw)}", *headers]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


_CREATED = re.compile(rb'"created(_at)?":\s*\d+')
# A Gemini answer translated from another upstream stamps the second it was made.
_CREATE_TIME = re.compile(rb'"createTime":\s*"[^"]*"')


def comparable(answer: Answer) -> tuple[str, list[tuple[str, str]], bytes]:
    status_line, headers, body = answer.comparable()
    return status_line, headers, _CREATE_TIME.sub(b'"createTime":"-"', _CREATED.sub(b'"created":0', body))


async def both(pair: Pair, raw: bytes, **kw: Any) -> tuple[list[Answer], list[Answer]]:
    return await exchange(pair.fast, raw, **kw), await exchange(pair.slow, raw, **kw)


CHAT = {"model": "lane-claude", "messages": [{"role": "user", "content": "hi"}]}
CHAT_STREAM = {**CHAT, "stream": True}
MESSAGES = {"model": "lane-claude", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("raw", [
    post("/v1/chat/completions", CHAT),
    post("/v1/chat/completions", CHAT_STREAM),
    post("/v1/chat/completions", {"model": "lane-compat", "messages": [{"role": "user", "content": "hi"}],
                                  "stream": True}),
    post("/v1/messages", {**MESSAGES, "stream": True}),
    post("/v1/messages?beta=true", MESSAGES, "Anthropic-Version: 2023-06-01"),
    post("/v1/responses", {"model": "lane-claude", "input": "hi"}),
    post("/v1beta/models/lane-claude:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    post("/v1/chat/completions", CHAT, key=None),
    post("/v1/chat/completions", CHAT, key="sk-wrong"),
    post("/v1/chat/completions?key=" + CLIENT_KEY, CHAT, key=None),
    post("/v1/chat/completions", b"{not json"),
    post("/v1/chat/completions", b"[1, 2]"),
    post("/v1/chat/completions", {"model": "lane-claude", "messages": []}),
    post("/v1/chat/completions", {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}),
    post("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    post("/v1/chat/completions", b""),
    post("/v1/chat/completions", CHAT, "Connection: close"),
    post("/v1/chat/completions", CHAT, "X-Title: caf\xc3\xa9"),
    post("/v1/no-such-endpoint", CHAT),
    post("/v1/models", CHAT),
    post("/v1beta/models/lane-claude:noSuchMethod", {"contents": []}),
], ids=["chat", "chat-stream", "compat-stream", "messages-stream", "messages-beta", "responses", "gemini",
        "no-key", "wrong-key", "query-key", "bad-json", "not-object", "empty-messages", "unknown-model",
        "no-model", "empty-body", "connection-close", "utf8-header", "unknown-path", "post-to-a-get-route",
        "unknown-gemini-method"])
async def test_native_lane_answers_like_aiohttp(lane, lane_calls, raw):
    fast, slow = await both(lane, raw)
    assert comparable(fast[0]) == comparable(slow[0])
    assert lane_calls, "the fast listener did not serve this request on the native lane"


async def test_the_gateways_own_endpoints_stay_with_aiohttp(lane, lane_calls):
    raw = post("/healthz", b"{}")
    fast, slow = await both(lane, raw)
    assert comparable(fast[0]) == comparable(slow[0])
    assert lane_calls == []


async def test_upstream_request_is_the_same_on_both_lanes(lane, fake):
    raw = post("/v1/chat/completions", CHAT_STREAM, "User-Agent: lane-test/1.0", "X-Title: caf\xc3\xa9")
    await exchange(lane.fast, raw)
    await exchange(lane.slow, raw)
    fast, slow = fake.requests
    # Claude cloaking makes a fresh fake user id per request; everything else must match.
    for sent in (fast, slow):
        sent.body["metadata"]["user_id"] = "-"
    assert (fast.path, fast.query, fast.body) == (slow.path, slow.query, slow.body)
    assert fast.headers == slow.headers


async def test_upstream_errors_reach_the_client_the_same(make_gateway, fake):
    # A fresh gateway per answer: a 429 cools the credential down, which would change the next one.
    for fault in (status(429, {"error": {"type": "rate_limit_error", "message": "slow down"}}, {"Retry-After": "7"}),
                  status(400, {"error": {"type": "invalid_request_error", "message": "bad"}}),
                  status(503, b"upstream down"), Fault("malformed", after=2), Fault("cut", after=2),
                  Fault("reset", after=2)):
        answers = []
        for fast in (True, False):
            async with serving(await make_gateway({"default": "native"}, config=lane_config(fake))) as pair:
                fake.script(CLAUDE_KEY, fault)
                port = pair.fast if fast else pair.slow
                answers.append((await exchange(port, post("/v1/chat/completions", CHAT_STREAM)))[0])
        assert comparable(answers[0]) == comparable(answers[1]), fault


async def test_keep_alive_and_pipelining(lane, lane_calls):
    raw = (post("/v1/chat/completions", CHAT, rid="a") + post("/v1/chat/completions", CHAT_STREAM, rid="b")
           + post("/v1/chat/completions", CHAT, key="sk-wrong", rid="c"))
    answers = await exchange(lane.fast, raw, answers=3)
    assert [a.status_line for a in answers] == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized"]
    assert [a.header("X-Request-Id") for a in answers] == ["a", "b", "c"]
    assert answers[1].body.endswith(b"data: [DONE]\n\n")
    assert len(lane_calls) == 3


async def test_body_split_across_packets(lane, lane_calls):
    raw = post("/v1/chat/completions", CHAT)
    reader, writer = await asyncio.open_connection("127.0.0.1", lane.fast)
    split = raw.index(b"\r\n\r\n") + 10
    writer.write(raw[:split])
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(raw[split:])
    answer = await read_answer(reader)
    writer.close()
    assert answer.status_line == "HTTP/1.1 200 OK" and b"Hello from the fake upstream" in answer.body
    assert lane_calls == ["/v1/chat/completions"]


@pytest.mark.parametrize("raw", [
    # Bodies the lane does not read itself: aiohttp streams or decodes them, with the same answer.
    post("/v1/chat/completions", {**CHAT, "pad": "x" * (MAX_INLINE_BODY + 10)}),
    post("/v1/chat/completions", gzip.compress(json.dumps(CHAT).encode()), "Content-Encoding: gzip"),
], ids=["large", "gzip"])
async def test_bodies_the_lane_leaves_to_aiohttp(lane, lane_calls, raw):
    fast, slow = await both(lane, raw)
    assert comparable(fast[0]) == comparable(slow[0])
    assert fast[0].status_line == "HTTP/1.1 200 OK"
    assert lane_calls == []


async def test_get_routes_still_go_to_aiohttp(lane, lane_calls):
    raw = (f"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Request-Id: r\r\n"
           f"Authorization: Bearer {CLIENT_KEY}\r\n\r\n").encode()
    fast, slow = await both(lane, raw)
    assert comparable(fast[0]) == comparable(slow[0])
    assert fast[0].status_line == "HTTP/1.1 200 OK" and lane_calls == []


async def test_client_disconnect_cancels_the_upstream_call(lane, fake):
    registry = lane.app[appkeys.METRICS].registry
    inflight = lane.app[appkeys.RUNTIME].inflight
    # The dispatcher counts a request cut before its answer as a 499 of the native side on either listener.
    labels = {"route": "(default)", "mode": "native", "side": "native", "status": "499"}
    for done, port in enumerate((lane.fast, lane.slow), start=1):
        fake.script(CLAUDE_KEY, Fault("stall", seconds=10))
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/v1/chat/completions", CHAT_STREAM))
        await writer.drain()
        await eventually(lambda done=done: len(fake.requests) == done)
        writer.close()
        await eventually(lambda done=done: fake.cancelled == done and inflight.count == 0
                         and registry.get_sample_value("quotio_gateway_requests_total", labels) == done)
        assert fake.cancelled == done
        assert inflight.count == 0
        assert registry.get_sample_value("quotio_gateway_requests_total", labels) == done
    assert not lane.doors[0].connections


async def test_a_gateway_bug_before_the_answer_is_aiohttps_500(lane, monkeypatch):
    async def broken(self, request, native):
        raise RuntimeError("boom")

    monkeypatch.setattr(Dispatcher, "handle", broken)
    for accept in ("application/json", "text/html"):
        fast, slow = await both(lane, post("/v1/chat/completions", CHAT, f"Accept: {accept}"))
        assert comparable(fast[0]) == comparable(slow[0])
        assert fast[0].status_line == "HTTP/1.1 500 Internal Server Error"
        assert fast[0].header("Connection") == "close"


async def test_a_gateway_bug_mid_answer_cuts_the_connection(lane, monkeypatch):
    async def half(self, request, native):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        raise RuntimeError("boom mid-answer")

    monkeypatch.setattr(Dispatcher, "handle", half)
    reader, writer = await asyncio.open_connection("127.0.0.1", lane.fast)
    writer.write(post("/v1/chat/completions", CHAT_STREAM))
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert rest.startswith(b"HTTP/1.1 200 OK") and not rest.endswith(b"0\r\n\r\n")


async def test_without_legacy_everything_post_is_native_on_the_lane(make_gateway, fake, lane_calls):
    # `make run`: no legacy server, so the dispatcher answers every route natively.
    async with serving(await make_gateway({"default": "legacy"}, config=lane_config(fake))) as pair:
        fast, slow = await both(pair, post("/v1/chat/completions", CHAT))
    assert comparable(fast[0]) == comparable(slow[0]) and fast[0].status_line == "HTTP/1.1 200 OK"
    assert lane_calls == ["/v1/chat/completions"]


def test_switch_and_version_guard():
    assert frontdoor_native.COMPATIBLE  # the pinned aiohttp is the verified one
    assert native_lane_enabled({}) is True
    assert native_lane_enabled({NATIVE_LANE_SWITCH: "off"}) is False
    assert native_lane_enabled({NATIVE_LANE_SWITCH: "0"}) is False
    assert native_lane_enabled({NATIVE_LANE_SWITCH: "on"}) is True


# --- admission: a burst of new requests does not hold back answers already under way ----------


def _burst(per_turn: int) -> list[str]:
    """Four requests arrive at once; each one's start schedules its upstream answer (call_soon)."""
    async def run() -> list[str]:
        loop = asyncio.get_running_loop()
        order: list[str] = []
        admission = Admission(loop, per_turn)

        def start(name: str) -> None:
            order.append(name)
            loop.call_soon(order.append, f"{name}-answer")

        for name in "ABCD":
            admission.admit(lambda name=name: start(name))
        for _ in range(20):
            await asyncio.sleep(0)
        return order

    return asyncio.run(run())


def test_admission_lets_answers_out_between_starts():
    assert _burst(1) == ["A", "A-answer", "B", "B-answer", "C", "C-answer", "D", "D-answer"]
    assert _burst(2) == ["A", "A-answer", "B", "C", "B-answer", "C-answer", "D", "D-answer"]
    # Switched off: every start first, as requests used to begin.
    assert _burst(0) == ["A", "B", "C", "D", "A-answer", "B-answer", "C-answer", "D-answer"]


def test_admission_without_backlog_starts_at_once():
    async def run() -> None:
        admission = Admission(asyncio.get_running_loop(), 1)
        started: list[int] = []
        admission.admit(lambda: started.append(1))
        assert started == [1]  # synchronously, no turn waited for
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        admission.admit(lambda: started.append(2))
        assert started == [1, 2] and len(admission) == 0

    asyncio.run(run())


def test_admission_switch():
    assert admit_per_turn({}) == DEFAULT_ADMIT_PER_TURN == 4
    assert admit_per_turn({ADMIT_SWITCH: "1"}) == 1
    assert admit_per_turn({ADMIT_SWITCH: "0"}) == 0
    assert admit_per_turn({ADMIT_SWITCH: "-3"}) == 0
    assert admit_per_turn({ADMIT_SWITCH: "many"}) == 4


async def test_a_burst_of_streams_is_served_whole(lane, fake, lane_calls):
    # Thirty clients at once: every one is admitted in turn and gets its whole stream.
    answers = await asyncio.gather(*(exchange(lane.fast, post("/v1/chat/completions", CHAT_STREAM, rid=f"r{i}"))
                                     for i in range(30)))
    assert all(a[0].status_line == "HTTP/1.1 200 OK" and a[0].body.endswith(b"data: [DONE]\n\n") for a in answers)
    assert sorted(a[0].header("X-Request-Id") for a in answers) == sorted(f"r{i}" for i in range(30))
    assert len(lane_calls) == 30 and len(lane.doors[0].admission) == 0


async def test_a_client_leaving_while_queued_is_dropped(lane, monkeypatch):
    door = lane.doors[0]
    held: list[Any] = []
    # Hold every start so the request stays queued, then let the client go.
    monkeypatch.setattr(door, "admission", type("Held", (), {"admit": staticmethod(held.append)})())
    _, writer = await asyncio.open_connection("127.0.0.1", lane.fast)
    writer.write(post("/v1/chat/completions", CHAT))
    await writer.drain()
    await eventually(lambda: bool(held))
    assert len(held) == 1
    (conn,) = door.connections
    assert conn.task is not None  # a queued request keeps the connection busy (drain, keep-alive sweep)
    writer.close()
    await eventually(lambda: conn.lost)
    held[0]()
    await asyncio.sleep(0.05)
    assert not isinstance(conn.task, asyncio.Task)
    assert lane.app[appkeys.RUNTIME].inflight.count == 0


async def test_a_write_to_a_client_that_hung_up_is_a_499_not_a_handler_error(lane, monkeypatch, caplog):
    # The client's socket is closing but the cancellation has not landed yet: the next write
    # fails with ConnectionResetError. That is the client leaving, on either listener.
    async def hung_up(request, runtime, call):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        request.transport.close()
        await response.write(b"data: 2\n\n")
        return response

    monkeypatch.setattr(routes, "serve", hung_up)
    registry = lane.app[appkeys.METRICS].registry
    gone = {"route": "(default)", "mode": "native", "side": "native", "status": "499"}
    for done, port in enumerate((lane.fast, lane.slow), start=1):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/v1/chat/completions", CHAT_STREAM))
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await eventually(lambda done=done: registry.get_sample_value("quotio_gateway_requests_total", gone) == done)
        assert registry.get_sample_value("quotio_gateway_requests_total", gone) == done
    assert not registry.get_sample_value("quotio_gateway_native_errors_total", {"route": "(default)"})
    assert "native handler raised" not in caplog.text


async def test_a_native_handler_raising_after_its_head_is_counted_under_the_status_sent(lane, monkeypatch):
    async def half(request, runtime, call):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        raise RuntimeError("boom after the head")

    monkeypatch.setattr(routes, "serve", half)
    registry = lane.app[appkeys.METRICS].registry
    sent = {"route": "(default)", "mode": "native", "side": "native", "status": "200"}
    for done, port in enumerate((lane.fast, lane.slow), start=1):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/v1/chat/completions", CHAT_STREAM))
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert rest.startswith(b"HTTP/1.1 200 OK") and b"data: 1" in rest and not rest.endswith(b"0\r\n\r\n")
        await eventually(lambda done=done: registry.get_sample_value("quotio_gateway_requests_total", sent) == done)
        assert registry.get_sample_value("quotio_gateway_native_errors_total", {"route": "(default)"}) == done
