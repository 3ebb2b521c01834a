from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from quotio_gateway.shadow.report import fetch_report, render_report, report_from_db
from quotio_gateway.shadow.store import SampleStore
from quotio_gateway.shadow.types import Captured
from quotio_gateway.state import StateDB

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

DATA: dict[str, Any] = {
    "counters": {
        "GET /v1/models": {"match": 6, "mismatch": 2, "ignored": 2, "error": 1, "skipped": 0},
        "POST /v1/messages": {"match": 0, "mismatch": 0, "ignored": 0, "error": 0, "skipped": 4},
    },
    "skip_reasons": {"POST /v1/messages": {"write": 3, "concurrency": 1}},
    "expected_differences": {"GET /v1/models": {"truncated-stream-error-frame": 2}},
    "not_sampled": {"POST /v1/messages": 30},
    "samples": [{
        "id": 9, "ts": 1764072000.0, "route": "GET /v1/models", "request_id": "abc123", "method": "GET",
        "path": "/v1/models", "outcome": "mismatch", "comparator": "json",
        "diff": "@ $.data[0].owned_by\n- \"a\"\n+ \"b\"",
        "legacy": {"status": 200, "error": None}, "native": {"status": 500, "error": "KeyError"},
    }],
}


def test_render_report() -> None:
    assert render_report(DATA) == (
        "route              match  mismatch  ignored  error  skipped  mismatch rate\n"
        "-----------------  -----  --------  -------  -----  -------  -------------\n"
        "GET /v1/models         6         2        2      1        0          20.0%\n"
        "POST /v1/messages      0         0        0      0        4            n/a\n"
        "\n"
        "skipped because:\n"
        "  POST /v1/messages: concurrency 1, write 3\n"
        "\n"
        "ignored as documented differences (docs/compatibility.md):\n"
        "  GET /v1/models: truncated-stream-error-frame 2\n"
        "\n"
        "left out by the route's sample (not compared, not counted above):\n"
        "  POST /v1/messages: 30\n"
        "\n"
        "latest samples (1):\n"
        "\n"
        "#9 2025-11-25 12:00:00Z mismatch [json] GET /v1/models  GET /v1/models  request abc123\n"
        "  legacy 200 | native 500 KeyError\n"
        "    @ $.data[0].owned_by\n"
        "    - \"a\"\n"
        "    + \"b\"\n")


def test_render_empty_report() -> None:
    assert render_report({"counters": {}, "samples": []}) == "no shadow results yet\n\nno stored samples\n"


def test_long_diffs_are_cut() -> None:
    sample = dict(DATA["samples"][0], diff="\n".join(f"line {n}" for n in range(25)))
    text = render_report({"counters": {}, "samples": [sample]})
    assert "    line 19\n    … 5 more lines\n" in text
    assert "line 20" not in text


async def test_report_from_db(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    db = StateDB(path)
    await db.open()
    store = SampleStore(db, 10, 1024)
    for n, outcome in enumerate(["mismatch", "mismatch", "error"]):
        await store.add(route="GET /v1/models", request_id=f"r{n}", method="GET", path="/v1/models",
                        outcome=outcome, comparator="json", diff="d", legacy=Captured(200, [], b""), native=None)
    await db.close()
    data = await report_from_db(path, limit=2)
    assert data["counters"] == {"GET /v1/models": {"match": 0, "mismatch": 2, "ignored": 0, "error": 1,
                                                   "skipped": 0}}
    assert [s["request_id"] for s in data["samples"]] == ["r2", "r1"]
    text = render_report(data)
    assert text.startswith("(offline: counts are stored samples only; matches are never stored)\n")
    assert "legacy 200 | native (not captured)" in text


async def test_report_from_missing_db(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no state database at"):
        await report_from_db(tmp_path / "missing.sqlite3")


async def test_fetch_report_sends_the_management_key(aiohttp_server: ServerFactory) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer mk":
            return web.json_response({"error": "invalid management key"}, status=401)
        return web.json_response({"counters": {}, "samples": [], "query": dict(request.query)})

    app = web.Application()
    app.router.add_get("/v0/gateway/shadow", handler)
    server = await aiohttp_server(app)
    base = str(server.make_url("/"))
    data = await fetch_report(base, "mk", route="GET /v1/models", outcome="mismatch", limit=5)
    assert data["query"] == {"limit": "5", "route": "GET /v1/models", "outcome": "mismatch"}
    with pytest.raises(aiohttp.ClientResponseError) as info:
        await fetch_report(base, "wrong")
    assert info.value.status == 401
    assert "invalid management key" in info.value.message
