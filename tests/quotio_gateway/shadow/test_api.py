from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from quotio_gateway.appkeys import SHADOW
from quotio_gateway.flags.schema import ShadowSettings
from quotio_gateway.metrics import Metrics
from quotio_gateway.shadow.api import shadow_handler
from quotio_gateway.shadow.runner import ShadowRunner
from quotio_gateway.shadow.store import SampleStore
from quotio_gateway.shadow.types import Captured
from quotio_gateway.state import StateDB

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[ShadowRunner]:
    db = StateDB(tmp_path / "state.sqlite3")
    await db.open()
    shadow = ShadowRunner(ShadowSettings(), SampleStore(db, 100, 1024), Metrics())
    yield shadow
    await db.close()


@pytest.fixture
async def client(runner: ShadowRunner, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    app = web.Application()
    app[SHADOW] = runner
    app.router.add_get("/v0/gateway/shadow", shadow_handler)
    for n, (route, outcome) in enumerate([("GET /v1/models", "mismatch"), ("GET /v1/models", "error"),
                                          ("GET /v0/management/config", "mismatch")]):
        await runner.store.add(route=route, request_id=f"r{n}", method="GET", path="/p", outcome=outcome,
                               comparator="json", diff="@ $.a\n- 1\n+ 2", ts=100.0 + n,
                               legacy=Captured(200, [], b"1"), native=Captured(200, [], b"2"))
    runner.skip("GET /v1/models", "concurrency")
    runner.not_sampled("GET /v1/models")
    runner.not_sampled("GET /v1/models")
    assert runner.try_acquire()
    runner.submit(route="GET /v1/models", request_id="r3", method="GET", path="/v1/models",
                  legacy=leg(b'{"a": 1}'), native=leg(b'{"a": 2}'))
    await runner.drain(5)
    return await aiohttp_client(app)


async def leg(body: bytes) -> Captured:
    return Captured(200, [("Content-Type", "application/json")], body)


async def test_lists_counters_and_newest_samples(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v0/gateway/shadow")
    assert response.status == 200
    data = await response.json()
    assert data["counters"] == {"GET /v1/models": {"match": 0, "mismatch": 1, "ignored": 0, "error": 0,
                                                   "skipped": 1}}
    assert data["skip_reasons"] == {"GET /v1/models": {"concurrency": 1}}
    assert data["not_sampled"] == {"GET /v1/models": 2}
    assert [s["request_id"] for s in data["samples"]] == ["r3", "r2", "r1", "r0"]
    assert data["samples"][0]["diff"] == "@ $.a\n- 1\n+ 2"
    assert data["samples"][1]["legacy"] == {"status": 200, "headers": [], "body": "1", "truncated": False,
                                            "error": None, "elapsed": 0.0}


async def test_filters(client: TestClient[Any, Any]) -> None:
    data = await (await client.get("/v0/gateway/shadow", params={"route": "GET /v1/models",
                                                                 "outcome": "error"})).json()
    assert [s["request_id"] for s in data["samples"]] == ["r1"]
    assert list(data["counters"]) == ["GET /v1/models"]
    data = await (await client.get("/v0/gateway/shadow", params={"limit": "1"})).json()
    assert [s["request_id"] for s in data["samples"]] == ["r3"]
    data = await (await client.get("/v0/gateway/shadow", params={"route": "GET /nothing"})).json()
    assert data == {"counters": {}, "skip_reasons": {}, "expected_differences": {}, "not_sampled": {},
                    "samples": []}


async def test_documented_deviations_are_counted_by_rule(client: TestClient[Any, Any],
                                                         runner: ShadowRunner) -> None:
    # Results from the worker (count) and from the in-process runner (record_result) alike; an
    # answer explained by two rules counts for both.
    from quotio_gateway.shadow.types import Comparison, Outcome

    route = "POST /v1/messages"
    runner.count(route, Outcome.IGNORED, "expected:claude-stream-tool-use-stop", 2)
    both = Comparison(Outcome.IGNORED, "", reason="expected:a-rule+claude-stream-tool-use-stop")
    runner.record_result(route=route, request_id="x", method="POST", path="/v1/messages", comparator="llm",
                         comparison=both, legacy=Captured(200, [], b""), native=None, native_elapsed=None)
    runner.count(route, Outcome.IGNORED, None, 1)  # volatile fields only: no rule to name
    data = await (await client.get("/v0/gateway/shadow", params={"route": route})).json()
    assert data["expected_differences"] == {route: {"claude-stream-tool-use-stop": 3, "a-rule": 1}}
    assert data["counters"][route]["ignored"] == 4


@pytest.mark.parametrize(("query", "message"), [
    ({"limit": "abc"}, "limit must be an integer"),
    ({"limit": "0"}, "limit must be between 1 and 500"),
    ({"limit": "501"}, "limit must be between 1 and 500"),
    ({"outcome": "bad"}, "invalid outcome 'bad'; use one of match, mismatch, ignored, error, skipped"),
])
async def test_bad_query(client: TestClient[Any, Any], query: dict[str, str], message: str) -> None:
    response = await client.get("/v0/gateway/shadow", params=query)
    assert response.status == 400
    assert await response.json() == {"error": message}


async def test_limit_500_is_accepted(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v0/gateway/shadow", params={"limit": "500"})
    assert response.status == 200
