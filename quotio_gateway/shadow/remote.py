"""The gateway's side of the shadow worker: start it, send it jobs, record what comes back.

Started lazily, the first time the front door meets a shadowed request (until it is ready those
requests take the aiohttp lane and its in-process shadow). Jobs in flight are bounded; a job
that does not fit is counted as ``skipped`` with reason ``queue_full``, one whose result does not
come back in time as ``skipped`` (``worker_timeout``), and jobs lost with a dying worker as
``error`` (``worker_exited``), after which the worker is started again. Nothing is dropped
without being counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from ..envswitch import switch
from .runner import ShadowRunner
from .types import Captured, Comparison, Outcome
from .wire import FrameError, FrameReader, Row, decode_results, encode_job_parts

log = structlog.get_logger("quotio_gateway.shadow.remote")

ENV_SWITCH = "QUOTIO_GATEWAY_SHADOW_WORKER"
# Jobs sent and not yet answered, by count and by bytes: the worker runs at idle priority and
# works through this backlog whenever the machine has CPU to spare.
MAX_PENDING = 8192
MAX_PENDING_BYTES = 64 * 1024 * 1024
# Time past the shadow timeout a queued job may wait for its turn before it is given up on.
_GRACE = 120.0
_RESTART_DELAY = 1.0
# Jobs are written to the worker in batches: after this long, or once this many bytes wait.
FLUSH_DELAY = 0.005
FLUSH_BYTES = 256 * 1024
_START_TIMEOUT = 30.0


def worker_enabled(environ: dict[str, str] | None = None) -> bool:
    return switch(ENV_SWITCH, default=True, environ=environ)


@dataclass(slots=True)
class _Pending:
    route: str
    request_id: str
    method: str
    path: str
    comparator: str
    legacy: Captured
    deadline: float
    size: int


class ShadowWorker:
    def __init__(self, runner: ShadowRunner, *, config_path: Path | None, flags_path: Path | None,
                 local_password: str | None, max_pending: int = MAX_PENDING,
                 max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self.runner = runner
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.pending_bytes = 0
        self._env = {**os.environ, "QUOTIO_SHADOW_WORKER": orjson.dumps({
            "config": str(config_path) if config_path else None, "flags": str(flags_path) if flags_path else None,
            "password": local_password}).decode()}
        self.ready = False
        self.closed = False
        self.pid: int | None = None
        self._starting: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._transport: asyncio.Transport | None = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
        self._out: list[tuple[Any, ...]] = []
        self._out_bytes = 0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._reader = FrameReader()
        self._ready_waiter: asyncio.Future[None] | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._drained: asyncio.Event | None = None
        self._reaper: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --- lifecycle -------------------------------------------------------------------------
    def ensure_started(self) -> None:
        if self.ready or self.closed or self._starting is not None:
            return
        self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "quotio_gateway.shadow.worker", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), env=self._env, stdin=asyncio.subprocess.DEVNULL)
            theirs.close()
            self._ready_waiter = loop.create_future()
            await loop.create_unix_connection(lambda: _GatewaySide(self), sock=ours)
            async with asyncio.timeout(_START_TIMEOUT):
                await self._ready_waiter
        except Exception as exc:
            theirs.close()
            log.error("shadow worker did not start; shadowed requests stay in process", error=str(exc))
            await self._stop_process()
            self._starting = None
            if not self.closed:
                loop.call_later(_RESTART_DELAY * 10, self.ensure_started)
            return
        self.pid = self._process.pid
        self.ready = True
        self._starting = None
        self._sweeper = loop.call_later(1.0, self._sweep)
        log.info("shadow worker ready", pid=self.pid)

    async def close(self, timeout: float = 2.0) -> None:  # noqa: ASYNC109 - shutdown passes seconds
        """Shutdown: wait up to ``timeout`` for results in flight, then stop the worker."""
        self.closed = True
        self._flush()
        if self._pending and self.ready:
            self._drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._drained.wait()
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        self.ready = False
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._transport is not None:
            self._transport.close()
        await self._stop_process()
        self._fail_pending("worker_exited")

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    # --- jobs ------------------------------------------------------------------------------
    def submit(self, *, route: str, request_id: str, method: str, target: str, headers: list[tuple[str, str]],
               peer: str, comparator: str, body: bytes, legacy: Captured) -> bool:
        """Queue one comparison; False (the caller counts a skip) when the worker is full or down.
        The worker itself skips a job while ``shadow.max_concurrency`` native legs are running."""
        if not self.ready or self._transport is None or len(self._pending) >= self.max_pending:
            return False
        size = len(body) + len(legacy.body)
        if self.pending_bytes + size > self.max_pending_bytes:
            return False
        self._next_id += 1
        job_id = self._next_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.runner.settings.timeout_seconds + _GRACE
        self._pending[job_id] = _Pending(route, request_id, method, target, comparator, legacy, deadline, size)
        self.pending_bytes += size
        # Encoded later, in the batch: that work then mostly lands while the loop waits on
        # sockets instead of between a client's request and its answer.
        self._out.append((job_id, route, request_id, method, target, headers, peer, comparator, body, legacy))
        self._out_bytes += size
        if self._out_bytes >= FLUSH_BYTES:
            self._flush()
        elif self._flush_timer is None:
            # Jobs leave in batches: one write and one worker wake-up per FLUSH_DELAY, not per
            # request, keeps the gateway's loop (and the CPU it shares) for its clients.
            self._flush_timer = loop.call_later(FLUSH_DELAY, self._flush)
        return True

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        jobs, self._out, self._out_bytes = self._out, [], 0
        if jobs and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(encode_job_parts(*job) for job in jobs))

    def _received(self, data: bytes) -> None:
        try:
            for meta, payload in self._reader.feed(data):
                if meta.get("ready"):
                    if self._ready_waiter is not None and not self._ready_waiter.done():
                        self._ready_waiter.set_result(None)
                    continue
                self._results(*decode_results(meta, payload))
                if not self._pending and self._drained is not None:
                    self._drained.set()
        except (FrameError, KeyError, TypeError, ValueError) as exc:
            log.error("shadow worker sent a broken frame; restarting it", error=type(exc).__name__)
            if self._transport is not None:
                self._transport.abort()

    def _results(self, rows: list[Row], sampled: dict[int, tuple[str, Captured]]) -> None:
        """Count a batch of results: per job only a dict pop and the leg histograms; the outcome
        counters move once per (route, outcome) per batch."""
        runner = self.runner
        tally: dict[tuple[str, Outcome, str | None], int] = {}
        for job_id, outcome, reason, native_elapsed in rows:
            entry = self._pending.pop(job_id, None)
            if entry is None:
                continue  # already counted as timed out
            self.pending_bytes -= entry.size
            sample = sampled.get(job_id)
            if sample is not None:
                runner.record_result(route=entry.route, request_id=entry.request_id, method=entry.method,
                                     path=entry.path, comparator=entry.comparator,
                                     comparison=Comparison(outcome, sample[0], reason=reason), legacy=entry.legacy,
                                     native=sample[1], native_elapsed=native_elapsed)
                continue
            runner.observe_legs(entry.route, entry.legacy, native_elapsed, reason)
            key = (entry.route, outcome, reason)
            tally[key] = tally.get(key, 0) + 1
        for (route, outcome, reason), count in tally.items():
            runner.count(route, outcome, reason, count)

    def _lost(self) -> None:
        was_ready = self.ready
        self.ready = False
        self._transport = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._ready_waiter is not None and not self._ready_waiter.done():
            self._ready_waiter.set_exception(ConnectionError("shadow worker closed its socket"))
        self._fail_pending("worker_exited")
        self._reader = FrameReader()
        if was_ready and not self.closed:
            log.error("shadow worker exited; starting it again")
            loop = asyncio.get_running_loop()
            self._reaper = loop.create_task(self._stop_process())
            loop.call_later(_RESTART_DELAY, self.ensure_started)

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        self.pending_bytes = 0
        for entry in pending.values():
            self._fail(entry, reason)

    def _fail(self, entry: _Pending, reason: str) -> None:
        # A lost worker is the machinery failing (error); a job that waited out its time behind a
        # busy machine was never compared (skipped).
        outcome = Outcome.SKIPPED if reason == "worker_timeout" else Outcome.ERROR
        comparison = Comparison(outcome, f"shadow worker gave no result ({reason})", reason=reason)
        self.runner.record_result(route=entry.route, request_id=entry.request_id, method=entry.method,
                                  path=entry.path, comparator=entry.comparator, comparison=comparison,
                                  legacy=entry.legacy, native=None, native_elapsed=None)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for job_id in [i for i, entry in self._pending.items() if entry.deadline <= now]:
            entry = self._pending.pop(job_id)
            self.pending_bytes -= entry.size
            self._fail(entry, "worker_timeout")
        self._sweeper = loop.call_later(1.0, self._sweep)


class _GatewaySide(asyncio.Protocol):
    def __init__(self, worker: ShadowWorker) -> None:
        self.worker = worker

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.worker._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.worker._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker._lost()
