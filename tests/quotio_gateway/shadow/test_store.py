from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quotio_gateway.shadow.store import SampleStore
from quotio_gateway.shadow.types import Captured
from quotio_gateway.state import StateDB

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[StateDB]:
    state = StateDB(tmp_path / "state.sqlite3")
    await state.open()
    yield state
    await state.close()


def leg(status: int, body: bytes) -> Captured:
    headers = [("Content-Type", "application/json"), ("Authorization", f"Bearer {SECRET}")]
    return Captured(status=status, headers=headers, body=body, elapsed=0.25)


async def add(store: SampleStore, n: int, route: str = "GET /v1/models", outcome: str = "mismatch") -> int:
    return await store.add(route=route, request_id=f"req-{n}", method="GET", path="/v1/models", outcome=outcome,
                           comparator="json", diff=f"@ $.n\n- {n}\n+ {n + 1}", legacy=leg(200, b'{"n": 1}'),
                           native=leg(200, b'{"n": 2}'), ts=1000.0 + n)


async def test_add_and_list_roundtrip(db: StateDB) -> None:
    store = SampleStore(db, max_samples=10, sample_bytes=1024)
    row_id = await add(store, 1)
    rows = await store.list()
    assert rows == [{
        "id": row_id, "ts": 1001.0, "route": "GET /v1/models", "request_id": "req-1", "method": "GET",
        "path": "/v1/models", "outcome": "mismatch", "comparator": "json", "diff": "@ $.n\n- 1\n+ 2",
        "legacy": {"status": 200, "headers": [["Content-Type", "application/json"], ["Authorization", "[redacted]"]],
                   "body": '{"n":1}', "truncated": False, "error": None, "elapsed": 0.25},
        "native": {"status": 200, "headers": [["Content-Type", "application/json"], ["Authorization", "[redacted]"]],
                   "body": '{"n":2}', "truncated": False, "error": None, "elapsed": 0.25},
    }]


async def test_filters_limit_and_order(db: StateDB) -> None:
    store = SampleStore(db, max_samples=100, sample_bytes=1024)
    for n in range(4):
        await add(store, n, route="GET /v1/models" if n % 2 else "GET /v0/management/config",
                  outcome="error" if n == 3 else "mismatch")
    assert [r["request_id"] for r in await store.list()] == ["req-3", "req-2", "req-1", "req-0"]
    assert [r["request_id"] for r in await store.list(limit=2)] == ["req-3", "req-2"]
    assert [r["request_id"] for r in await store.list(route="GET /v1/models")] == ["req-3", "req-1"]
    assert [r["request_id"] for r in await store.list(route="GET /v1/models", outcome="mismatch")] == ["req-1"]
    assert await store.summary() == [
        {"route": "GET /v0/management/config", "counts": {"mismatch": 2}},
        {"route": "GET /v1/models", "counts": {"error": 1, "mismatch": 1}},
    ]


async def test_pruned_to_max_samples_oldest_first(db: StateDB) -> None:
    store = SampleStore(db, max_samples=3, sample_bytes=1024)
    for n in range(5):
        await add(store, n)
    assert [r["request_id"] for r in await store.list(limit=100)] == ["req-4", "req-3", "req-2"]
    store.max_samples = 1
    await store.prune()
    assert [r["request_id"] for r in await store.list(limit=100)] == ["req-4"]


async def test_everything_stored_is_redacted_and_capped(db: StateDB, tmp_path: Path) -> None:
    store = SampleStore(db, max_samples=10, sample_bytes=300)
    body = json.dumps({"access_token": SECRET, "note": SECRET, "pad": "x" * 1000}).encode()
    await store.add(route="POST /v1/messages", request_id=f"id {SECRET}", method="POST",
                    path=f"/v1beta/models/m:generateContent?key={SECRET}", outcome="mismatch", comparator="llm",
                    diff=f'@ $.x\n- "{SECRET}"\n+ "y"' + "z" * 1000, legacy=leg(200, body), native=None)
    raw = sqlite3.connect(tmp_path / "state.sqlite3").execute("SELECT * FROM shadow_samples").fetchall()
    dumped = repr(raw)
    assert SECRET not in dumped
    assert "sk-live" not in dumped
    row = (await store.list())[0]
    assert row["path"] == "/v1beta/models/m:generateContent?key=[redacted]"
    assert row["native"] is None
    assert len(row["legacy"]["body"].encode()) <= 300 + len("…[truncated 10000 bytes]")
    assert row["legacy"]["body"].endswith("bytes]")
    assert row["diff"].startswith('@ $.x\n- "[redacted]"\n+ "y"')


async def test_compressed_bodies_are_stored_readable(db: StateDB) -> None:
    store = SampleStore(db, max_samples=10, sample_bytes=1024)
    wire = Captured(200, [("Content-Encoding", "gzip")], gzip.compress(b'{"ok": true, "token": "abc"}'))
    await store.add(route="r", request_id="1", method="GET", path="/", outcome="mismatch", comparator="json",
                    diff="", legacy=wire, native=None)
    assert (await store.list())[0]["legacy"]["body"] == '{"ok":true,"token":"[redacted]"}'


async def test_samples_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = StateDB(path)
    await first.open()
    await add(SampleStore(first, 10, 1024), 7)
    await first.close()
    second = StateDB(path)
    await second.open()
    try:
        rows = await SampleStore(second, 10, 1024).list()
        assert [r["request_id"] for r in rows] == ["req-7"]
    finally:
        await second.close()
