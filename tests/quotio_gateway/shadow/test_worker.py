"""The worker's side: jobs in, results out, over a real socket pair (the worker's app in process)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from quotio_gateway.flags.schema import ShadowSettings
from quotio_gateway.native import NativeRegistry
from quotio_gateway.shadow.types import Captured, Outcome
from quotio_gateway.shadow.wire import FrameReader, Job, decode_results, encode, encode_job
from quotio_gateway.shadow.worker import WorkerProtocol, compare_legs

MODELS = b'{"object":"list","data":[{"id":"m1","object":"model","owned_by":"x","created":1}]}'


async def models(request: web.Request) -> web.Response:
    return web.Response(body=MODELS, content_type="application/json")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


@dataclass
class Link:
    writer: asyncio.StreamWriter
    reader: asyncio.StreamReader
    frames: FrameReader
    closed: asyncio.Future[None]

    pending: list[tuple[dict, bytes]]
    rows: list

    async def next_frame(self) -> tuple[dict, bytes]:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            if not data:
                raise ConnectionError("worker closed the socket")
            self.pending.extend(self.frames.feed(data))
        return self.pending.pop(0)

    async def result(self) -> tuple[int, Outcome, str | None, float | None, tuple[str, Captured] | None]:
        """The next result: (id, outcome, reason, native seconds, (diff, native) when sampled)."""
        while not self.rows:
            rows, sampled = decode_results(*await self.next_frame())
            self.rows.extend((*row, sampled.get(row[0])) for row in rows)
        return self.rows.pop(0)


@pytest.fixture
async def link(make_gateway) -> AsyncIterator[tuple[Link, ShadowSettings]]:
    registry = NativeRegistry()
    registry.add("GET", "/v1/models", models)
    registry.add("GET", "/slow", slow)
    app = await make_gateway({}, registry=registry)
    app.freeze()
    settings = ShadowSettings(timeout_seconds=0.2, sample_interval_seconds=60)
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.create_unix_connection(lambda: WorkerProtocol(app, lambda: settings, closed),
                                                     sock=theirs)
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    yield Link(writer, reader, FrameReader(), closed, [], []), settings
    writer.close()
    transport.close()


def job(job_id: int, target: str, legacy_body: bytes, *, route: str = "GET /v1/models") -> bytes:
    legacy = Captured(status=200, headers=[("Content-Type", "application/json")], body=legacy_body, elapsed=0.01)
    return encode_job(Job(job_id, route, f"rid-{job_id}", "GET", target, [("Host", "h")], "127.0.0.1", "models",
                          b"", legacy))


async def test_ready_then_one_result_per_job(link):
    conn, _ = link
    meta, _ = await conn.next_frame()
    assert meta["ready"] is True and isinstance(meta["pid"], int)
    other = MODELS.replace(b'"m1"', b'"m2"')
    conn.writer.write(job(1, "/v1/models", MODELS) + job(2, "/v1/models", other) + job(3, "/v1/models", other))
    results = {r[0]: r for r in [await conn.result() for _ in range(3)]}
    assert results[1][1] is Outcome.MATCH and results[1][4] is None
    assert results[1][3] is not None and results[1][3] >= 0
    # The first mismatch of a route carries the diff and native answer for a sample; the next one
    # inside sample_interval_seconds does not.
    assert results[2][1] is Outcome.MISMATCH and results[2][4] is not None
    diff, native = results[2][4]
    assert "m2" in diff and native.body == MODELS and native.status == 200
    assert results[3][1] is Outcome.MISMATCH and results[3][4] is None


async def test_native_timeout_is_an_error_result(link):
    conn, _ = link
    await conn.next_frame()
    conn.writer.write(job(9, "/slow", b"late", route="GET /slow"))
    job_id, outcome, reason, elapsed, sample = await conn.result()
    assert (job_id, outcome, reason, elapsed) == (9, Outcome.ERROR, "native_timeout", None)
    # An error is sampled (the first of its route) with its readable cause, but has no native answer.
    assert sample is not None and sample[0] == "native leg did not finish within 0.2s"


async def test_jobs_beyond_max_concurrency_are_skipped_with_the_limit_in_force(link):
    # As the in-process runner: no queue behind the limit, and the table read per job decides.
    conn, settings = link
    await conn.next_frame()
    settings.max_concurrency = 1
    conn.writer.write(job(1, "/slow", b"late", route="GET /slow") + job(2, "/slow", b"late", route="GET /slow"))
    skipped = await conn.result()
    assert (skipped[0], skipped[1], skipped[2], skipped[3]) == (2, Outcome.SKIPPED, "concurrency", None)
    assert (await conn.result())[1] is Outcome.ERROR  # the first ran (and timed out)
    settings.max_concurrency = 2
    conn.writer.write(job(3, "/slow", b"late", route="GET /slow") + job(4, "/slow", b"late", route="GET /slow"))
    assert sorted([(await conn.result())[1] for _ in range(2)]) == [Outcome.ERROR, Outcome.ERROR]


async def test_broken_frame_closes_the_worker(link):
    conn, _ = link
    await conn.next_frame()
    conn.writer.write(encode({"id": 1}))  # a frame, but not a job
    await asyncio.wait_for(conn.closed, 5)
    assert await conn.reader.read() == b""


async def test_comparator_raising_is_an_error_outcome():
    legacy = Captured(status=200, headers=[], body=b"{}")
    comparison = await compare_legs("no-such-comparator", legacy, legacy)
    assert comparison.outcome is Outcome.ERROR and comparison.reason == "comparator_raised"
    assert comparison.diff == "comparator 'no-such-comparator' raised ValueError"


def test_worker_runs_at_idle_priority():
    code = ("import os; from quotio_gateway.shadow.worker import lower_priority; "
            "print(lower_priority(), os.sched_getscheduler(0) == os.SCHED_IDLE)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.split("\n")[-2] == "SCHED_IDLE True"
