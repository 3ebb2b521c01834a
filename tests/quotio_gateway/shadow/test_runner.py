from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quotio_gateway.flags.schema import ShadowSettings
from quotio_gateway.metrics import Metrics
from quotio_gateway.shadow import runner as runner_module
from quotio_gateway.shadow.comparators import compare
from quotio_gateway.shadow.runner import ShadowRunner, plan_shadow
from quotio_gateway.shadow.store import SampleStore
from quotio_gateway.shadow.types import Captured, Comparison, Outcome
from quotio_gateway.state import StateDB

ROUTE = "GET /v1/models"
SECRET = "sk-proj-SHADOWSECRET0123456789"
JSON = [("Content-Type", "application/json")]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[StateDB]:
    state = StateDB(tmp_path / "state.sqlite3")
    await state.open()
    yield state
    await state.close()


def make_runner(db: StateDB, **settings: Any) -> ShadowRunner:
    shadow = ShadowSettings(**settings)
    return ShadowRunner(shadow, SampleStore(db, shadow.max_samples, shadow.sample_bytes), Metrics())


async def test_stored_samples_are_throttled_per_route(db: StateDB) -> None:
    runner = make_runner(db, sample_interval_seconds=60)
    for n in range(5):
        await run_one(runner, value(Captured(200, JSON, b'{"a": 1}')), value(Captured(200, JSON, b'{"a": 2}')),
                      request_id=f"rid-{n}")
    assert runner.counters()[ROUTE]["mismatch"] == 5  # every comparison is counted...
    assert [s["request_id"] for s in await runner.store.list()] == ["rid-0"]  # ...one is stored


def metric(runner: ShadowRunner, outcome: str, route: str = ROUTE) -> float:
    value = runner.metrics.registry.get_sample_value("quotio_gateway_shadow_results_total",
                                                     {"route": route, "outcome": outcome})
    return value or 0.0


def leg(body: bytes, status: int = 200, elapsed: float = 0.01) -> Captured:
    return Captured(status=status, headers=JSON, body=body, elapsed=elapsed)


async def value(captured: Captured, delay: float = 0.0) -> Captured:
    await asyncio.sleep(delay)
    return captured


async def run_one(runner: ShadowRunner, legacy: Any, native: Any, **kw: Any) -> None:
    assert runner.try_acquire()
    runner.submit(route=kw.pop("route", ROUTE), request_id=kw.pop("request_id", "rid-1"),
                  method=kw.pop("method", "GET"), path=kw.pop("path", "/v1/models"), legacy=legacy,
                  native=native, **kw)
    await runner.drain(5)


async def test_match_is_counted_with_metrics_and_leg_latency(db: StateDB) -> None:
    runner = make_runner(db)
    await run_one(runner, value(leg(b'{"a": 1}', elapsed=0.2)), value(leg(b'{"a": 1}', elapsed=0.3)))
    assert runner.counters() == {ROUTE: {"match": 1, "mismatch": 0, "ignored": 0, "error": 0, "skipped": 0}}
    assert metric(runner, "match") == 1
    registry = runner.metrics.registry
    for side, elapsed in (("legacy", 0.2), ("native", 0.3)):
        assert registry.get_sample_value("quotio_gateway_shadow_leg_duration_seconds_sum",
                                         {"route": ROUTE, "side": side}) == pytest.approx(elapsed)
    assert await runner.store.list() == []
    assert runner.inflight == 0


async def test_ignored_is_counted_not_stored(db: StateDB) -> None:
    runner = make_runner(db)
    await run_one(runner, value(leg(b'{"id": "a"}')), value(leg(b'{"id": "b"}')))
    assert runner.counters()[ROUTE]["ignored"] == 1
    assert await runner.store.list() == []


async def test_concurrency_cap_skips(db: StateDB) -> None:
    runner = make_runner(db, max_concurrency=2)
    gate: asyncio.Future[Captured] = asyncio.get_running_loop().create_future()
    for n in range(2):
        assert runner.try_acquire()
        runner.submit(route=ROUTE, request_id=f"r{n}", method="GET", path="/v1/models",
                      legacy=value(leg(b"{}")), native=asyncio.shield(gate))
    assert not runner.try_acquire()
    runner.skip(ROUTE, "concurrency")
    assert runner.counters()[ROUTE]["skipped"] == 1
    assert runner.skip_reasons() == {ROUTE: {"concurrency": 1}}
    assert metric(runner, "skipped") == 1
    gate.set_result(leg(b"{}"))
    await runner.drain(5)
    assert runner.inflight == 0
    assert runner.try_acquire()
    assert runner.counters()[ROUTE] == {"match": 2, "mismatch": 0, "ignored": 0, "error": 0, "skipped": 1}


async def test_native_timeout_is_error_and_native_is_cancelled(db: StateDB) -> None:
    runner = make_runner(db, timeout_seconds=0.1)
    cancelled = asyncio.Event()

    async def slow_native() -> Captured:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return leg(b"{}")

    await run_one(runner, value(leg(b"{}")), slow_native())
    assert cancelled.is_set()
    assert runner.counters()[ROUTE]["error"] == 1
    [sample] = await runner.store.list()
    assert (sample["outcome"], sample["diff"]) == ("error", "native leg did not finish within 0.1s")
    assert sample["native"]["error"] == "TimeoutError"
    assert runner.metrics.registry.get_sample_value(
        "quotio_gateway_shadow_leg_duration_seconds_count", {"route": ROUTE, "side": "native"}) == 1


async def test_slow_legacy_future_is_skipped_and_never_cancelled(db: StateDB) -> None:
    runner = make_runner(db, timeout_seconds=0.1)
    legacy: asyncio.Future[Captured] = asyncio.get_running_loop().create_future()
    await run_one(runner, legacy, value(leg(b"{}")))
    assert runner.counters()[ROUTE]["skipped"] == 1
    assert runner.skip_reasons() == {ROUTE: {"legacy_timeout": 1}}
    assert not legacy.cancelled()
    legacy.set_result(leg(b"{}"))  # the dispatcher resolving it late must not blow up


async def test_legacy_failure_is_skipped(db: StateDB) -> None:
    runner = make_runner(db)
    legacy: asyncio.Future[Captured] = asyncio.get_running_loop().create_future()
    legacy.set_exception(ConnectionResetError("client went away"))
    await run_one(runner, legacy, value(leg(b"{}")))
    failed_leg = Captured(status=499, headers=[], body=b"", error="CancelledError")
    await run_one(runner, value(failed_leg), value(leg(b"{}")))
    assert runner.skip_reasons() == {ROUTE: {"legacy_failed": 2}}


async def test_native_awaitable_raising_is_error(db: StateDB) -> None:
    runner = make_runner(db)

    async def broken() -> Captured:
        raise RuntimeError("boom")

    await run_one(runner, value(leg(b"{}")), broken())
    assert runner.counters()[ROUTE]["error"] == 1
    [sample] = await runner.store.list()
    assert sample["diff"] == "native leg failed: RuntimeError"


@pytest.mark.parametrize("size", [10, runner_module.THREAD_COMPARE_BYTES])
async def test_comparator_raising_is_error_and_caller_unaffected(db: StateDB, size: int) -> None:
    def exploding(*args: Any, **kwargs: Any) -> Comparison:
        raise ZeroDivisionError("comparator bug")

    shadow = ShadowSettings()
    runner = ShadowRunner(shadow, SampleStore(db, 10, 1024), Metrics(), comparator=exploding)
    assert runner.try_acquire()
    body = b'"' + b"x" * size + b'"'
    result = runner.submit(route=ROUTE, request_id="r", method="GET", path="/v1/models",
                           legacy=value(leg(body)), native=value(leg(body)))
    assert result is None
    await runner.drain(5)
    assert runner.counters()[ROUTE]["error"] == 1
    assert metric(runner, "error") == 1
    [sample] = await runner.store.list()
    assert sample["diff"] == "comparator 'models' raised ZeroDivisionError"
    assert runner.inflight == 0


async def test_large_bodies_are_compared_off_the_event_loop(db: StateDB) -> None:
    threads: list[bool] = []

    def recording(*args: Any, **kwargs: Any) -> Comparison:
        threads.append(threading.current_thread() is threading.main_thread())
        return compare(*args, **kwargs)

    runner = ShadowRunner(ShadowSettings(), SampleStore(db, 10, 1024), Metrics(), comparator=recording)
    big = b'"' + b"x" * runner_module.THREAD_COMPARE_BYTES + b'"'
    await run_one(runner, value(leg(b"{}")), value(leg(b"{}")))
    await run_one(runner, value(leg(big)), value(leg(big)))
    assert threads == [True, False]
    assert runner.counters()[ROUTE]["match"] == 2


async def test_store_failure_does_not_escape(db: StateDB) -> None:
    runner = make_runner(db)
    await db.close()  # every insert now fails
    await run_one(runner, value(leg(b'{"a": 1}')), value(leg(b'{"a": 2}')))
    assert runner.counters()[ROUTE]["mismatch"] == 1
    await db.open()


async def test_mismatch_sample_stored_redacted_and_pruned(db: StateDB, tmp_path: Path) -> None:
    runner = make_runner(db, max_samples=2, sample_interval_seconds=0)
    legacy_body = b'{"models": ["a"], "api_key": "%s", "token": "t0k3n-value"}' % SECRET.encode()
    native_body = b'{"models": ["b"], "api_key": "%s", "token": "other-t0k3n"}' % SECRET.encode()
    headers = [*JSON, ("Authorization", f"Bearer {SECRET}"), ("Set-Cookie", "session=t0k3n-value")]
    for n in range(3):
        await run_one(runner, value(Captured(200, headers, legacy_body)), value(Captured(200, headers, native_body)),
                      request_id=f"rid-{n}", path=f"/v1/models?key={SECRET}")
    assert runner.counters()[ROUTE]["mismatch"] == 3
    samples = await runner.store.list()
    assert [s["request_id"] for s in samples] == ["rid-2", "rid-1"]
    assert samples[0]["diff"] == '@ $.models[0]\n- "a"\n+ "b"\n@ $.token\n- [redacted]\n+ [redacted]'
    assert samples[0]["legacy"]["body"] == '{"models":["a"],"api_key":"[redacted]","token":"[redacted]"}'
    raw = repr(sqlite3.connect(tmp_path / "state.sqlite3").execute("SELECT * FROM shadow_samples").fetchall())
    for secret in (SECRET, "t0k3n-value", "other-t0k3n"):
        assert secret not in raw


async def test_update_settings_applies_to_new_work(db: StateDB) -> None:
    runner = make_runner(db, max_concurrency=1)
    assert runner.try_acquire()
    assert not runner.try_acquire()
    runner.update_settings(ShadowSettings(max_concurrency=2, max_samples=5, sample_bytes=512))
    assert runner.try_acquire()
    assert (runner.store.max_samples, runner.store.sample_bytes) == (5, 512)


async def test_drain_cancels_stragglers(db: StateDB) -> None:
    runner = make_runner(db, timeout_seconds=60)
    legacy: asyncio.Future[Captured] = asyncio.get_running_loop().create_future()
    assert runner.try_acquire()
    runner.submit(route=ROUTE, request_id="r", method="GET", path="/", legacy=legacy,
                  native=value(leg(b"{}"), delay=30))
    await runner.drain(0.05)
    assert runner.inflight == 0
    assert runner.counters() == {}


@pytest.mark.parametrize("bad_side", ["legacy", "native"])
async def test_broken_leg_setup_never_raises(db: StateDB, bad_side: str) -> None:
    runner = make_runner(db)
    assert runner.try_acquire()
    coroutine = value(leg(b"{}"))
    # A value that is not awaitable makes task setup fail inside the background task.
    legs: dict[str, Any] = {"legacy": coroutine, "native": coroutine, bad_side: object()}
    runner.submit(route=ROUTE, request_id="r", method="GET", path="/", **legs)
    await runner.drain(5)
    assert runner.counters()[ROUTE]["error"] == 1
    assert runner.inflight == 0
    assert coroutine.cr_frame is None  # awaited/cancelled or closed, never left dangling


@pytest.mark.parametrize(("method", "path", "opted", "draw", "expected"), [
    ("GET", "/v1/models", False, 0.0, ("models", None)),
    ("HEAD", "/v1/models", False, 0.0, ("models", None)),
    ("GET", "/v0/management/config", False, 0.0, ("json", None)),
    ("PUT", "/v0/management/debug", True, 0.0, (None, "write")),
    ("DELETE", "/v0/management/api-keys", True, 0.0, (None, "write")),
    ("POST", "/v1/chat/completions", False, 0.0, (None, "llm_not_opted_in")),
    ("POST", "/v1/chat/completions", True, 0.0, ("llm", None)),
    ("POST", "/v1/chat/completions", True, 0.5, (None, None)),
    ("GET", "/v1/models", False, 0.99, ("models", None)),
    # GETs that start or finish a login are writes: run twice they would log in twice.
    ("GET", "/v0/management/anthropic-auth-url", False, 0.0, (None, "write")),
    ("GET", "/v0/management/gemini-cli-auth-url?is_webui=true", False, 0.0, (None, "write")),
    ("GET", "/anthropic/callback?code=c&state=s", False, 0.0, (None, "write")),
    ("GET", "/v0/management/get-auth-status?state=s", False, 0.0, ("json", None)),
    # Gemini CLI: the inference methods are served locally; the rest are relayed to Cloud Code.
    ("POST", "/v1internal:streamGenerateContent?alt=sse", True, 0.0, ("llm", None)),
    ("POST", "/v1internal:onboardUser", True, 0.0, (None, "write")),
    ("POST", "/v1internal:loadCodeAssist", True, 0.0, (None, "write")),
])
def test_plan_shadow(method: str, path: str, opted: bool, draw: float,
                     expected: tuple[str | None, str | None]) -> None:
    sample = 0.25 if method == "POST" else 1.0
    assert plan_shadow(method, path, shadow_llm=opted, sample=sample, draw=draw) == expected


def test_outcome_values() -> None:
    assert [str(o) for o in Outcome] == ["match", "mismatch", "ignored", "error", "skipped"]


async def test_end_to_end_client_never_waits_for_the_native_leg(db: StateDB, aiohttp_client: Any) -> None:
    """A front handler wired like the dispatcher: legacy streams to the client through a BodyTee while
    the native handler is held on an event; the client is done before the native leg even answers."""
    from aiohttp import web

    from quotio_gateway.shadow.capture import BodyTee, capture_native

    runner = make_runner(db)
    release = asyncio.Event()

    async def native(request: web.Request) -> web.StreamResponse:
        await release.wait()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, '
                             b'"delta": {"content": "hey"}, "finish_reason": "length"}]}\n\n')
        await response.write(b"data: [DONE]\n\n")
        return response

    async def front(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        assert runner.try_acquire()
        legacy_done: asyncio.Future[Captured] = asyncio.get_running_loop().create_future()
        runner.submit(route="POST /v1/chat/completions", request_id="e2e", method="POST",
                      path="/v1/chat/completions", legacy=legacy_done,
                      native=capture_native(native, request, body, 1 << 20))
        tee = BodyTee(1 << 20)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in (b'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, ',
                      b'"delta": {"content": "hi"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'):
            tee.feed(chunk)
            await response.write(chunk)
        await response.write_eof()
        legacy_done.set_result(tee.result(200, list(response.headers.items()), 0.01))
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", front)
    client = await aiohttp_client(app)
    response = await client.post("/v1/chat/completions", json={"stream": True, "api_key": SECRET})
    assert response.headers["Content-Type"] == "text/event-stream"
    assert (await response.read()).endswith(b"data: [DONE]\n\n")
    assert runner.inflight == 1  # the native leg is still parked, yet the client has its full answer
    assert runner.counters() == {}
    release.set()
    await runner.drain(5)
    assert runner.counters()["POST /v1/chat/completions"]["mismatch"] == 1
    [sample] = await runner.store.list()
    assert sample["diff"] == '@ $.finish_reasons[0]\n- "stop"\n+ "length"'
    assert sample["comparator"] == "llm"
