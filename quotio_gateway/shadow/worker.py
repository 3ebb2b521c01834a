"""The shadow worker process: runs native legs and comparisons for the front door's shadow lane.

At 100% sample a shadowed route doubles the work per request; on the gateway's one event loop
that work sits between client requests. The gateway therefore starts this helper (see
``shadow.remote``), which builds the same app from the same config and flag files (its own
throwaway state directory, so it never writes the gateway's SQLite), and then, per job: runs the
route's native handler on a request rebuilt from the recorded one, compares its answer with the
recorded legacy answer, and sends the outcome back. Counting, metrics and stored samples stay in
the gateway. The worker exits when the gateway closes the socket or dies.

Run as ``python -m quotio_gateway.shadow.worker FD``; the options come in ``QUOTIO_SHADOW_WORKER``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web

from ..flags.schema import ShadowSettings
from .comparators import DEFAULT_IGNORE_PATHS, compare
from .offline import run_native
from .remote import FLUSH_DELAY
from .runner import THREAD_COMPARE_BYTES
from .types import Captured, Comparison, Outcome
from .wire import FrameError, FrameReader, Job, Result, decode_job, encode, encode_results

log = structlog.get_logger("quotio_gateway.shadow.worker")

OPTIONS_ENV = "QUOTIO_SHADOW_WORKER"
_SAMPLED = frozenset({Outcome.MISMATCH, Outcome.ERROR})


async def compare_legs(kind: str, legacy: Captured, native: Captured) -> Comparison:
    try:
        if len(legacy.body) + len(native.body) > THREAD_COMPARE_BYTES:
            return await asyncio.to_thread(compare, kind, legacy, native, ignore_paths=DEFAULT_IGNORE_PATHS)
        return compare(kind, legacy, native, ignore_paths=DEFAULT_IGNORE_PATHS)
    except Exception as exc:
        return Comparison(Outcome.ERROR, f"comparator {kind!r} raised {type(exc).__name__}",
                          reason="comparator_raised")


class WorkerProtocol(asyncio.Protocol):
    """Reads jobs, answers results; one task per job, results written once per loop turn."""

    def __init__(self, app: web.Application, get_settings: Callable[[], ShadowSettings],
                 closed: asyncio.Future[None]) -> None:
        self.app = app
        self.get_settings = get_settings  # the flag table's, read per job so hot reloads apply
        self.closed = closed
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self._out: list[Result] = []
        self._last_sample: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Native legs running now. Beyond shadow.max_concurrency (the table read per job, so a
        # changed limit applies at once) a job is skipped, as the in-process runner skips it.
        self._running = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(encode({"ready": True, "pid": os.getpid()}))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        try:
            for meta, payload in self.reader.feed(data):
                task = asyncio.get_running_loop().create_task(self._run(decode_job(meta, payload)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (FrameError, KeyError, TypeError, ValueError) as exc:
            log.error("shadow worker got a broken frame; closing", error=type(exc).__name__)
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for task in self._tasks:
            task.cancel()
        if not self.closed.done():
            self.closed.set_result(None)

    def _send(self, result: Result) -> None:
        if not self._out:
            # Results go back in batches, one frame each, so the gateway wakes for them a few
            # hundred times a second at most, however many requests are shadowed.
            asyncio.get_running_loop().call_later(FLUSH_DELAY, self._flush)
        self._out.append(result)

    def _flush(self) -> None:
        results, self._out = self._out, []
        if results and self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_results(results))

    async def _run(self, job: Job) -> None:
        settings = self.get_settings()
        timeout = settings.timeout_seconds
        if self._running >= settings.max_concurrency:
            self._send(Result(job.id, Comparison(Outcome.SKIPPED, "", reason="concurrency"), None, None))
            return
        self._running += 1
        try:
            async with asyncio.timeout(timeout):
                native = await run_native(self.app, method=job.method, target=job.target,
                                          headers=job.headers, body=job.body, peer=job.peer,
                                          max_bytes=settings.max_compare_bytes)
        except TimeoutError:
            native = Captured(status=0, headers=[], body=b"", error="TimeoutError", elapsed=timeout)
            comparison = Comparison(Outcome.ERROR, f"native leg did not finish within {timeout:g}s",
                                    reason="native_timeout")
        else:
            comparison = await compare_legs(job.comparator, job.legacy, native)
        finally:
            self._running -= 1
        due = False
        if comparison.outcome in _SAMPLED:
            # Samples are rate limited per route in the gateway too; sending the native body only
            # when one may be stored keeps the common result frame a few dozen bytes.
            now = time.monotonic()
            last = self._last_sample.get(job.route)
            due = last is None or now - last >= settings.sample_interval_seconds
            if due:
                self._last_sample[job.route] = now
        timed_out = comparison.reason == "native_timeout"
        self._send(Result(job.id, comparison, None if timed_out else native.elapsed, native if due else None))


def _options_from_env() -> Any:
    from ..app import GatewayOptions

    raw = orjson.loads(os.environ.get(OPTIONS_ENV, "{}"))
    return GatewayOptions(config_path=Path(raw["config"]) if raw.get("config") else None,
                          flags_path=Path(raw["flags"]) if raw.get("flags") else None,
                          local_password=raw.get("password"), start_legacy=False,
                          panel_updates=False)


async def serve_worker(fd: int) -> None:
    from .. import appkeys
    from ..app import create_app

    options = _options_from_env()
    with tempfile.TemporaryDirectory(prefix="quotio-shadow-worker-") as state:
        options.state_dir = Path(state)
        app = await create_app(options)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        flags = app[appkeys.FLAG_STORE]
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()
        sock = socket.socket(fileno=fd)
        try:
            await loop.create_unix_connection(
                lambda: WorkerProtocol(app, lambda: flags.current.table.shadow, closed), sock=sock)
            await closed
        finally:
            await runner.cleanup()


def lower_priority() -> str:
    """Run only on CPU time nobody else wants, so comparisons never slow the gateway's clients.

    Under sustained full load the worker falls behind; its backlog is bounded in the gateway and
    overflow is counted there as skipped (``queue_full``). The policy name is returned for the log.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "SCHED_IDLE"
    with contextlib.suppress(OSError):
        os.nice(19)
        return "nice 19"
    return "unchanged"


def main(argv: list[str]) -> int:
    # Ctrl-C in a terminal reaches the whole process group; the worker ends when the gateway does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    policy = lower_priority()
    from ..logging import setup_logging
    from ..server import install_uvloop

    setup_logging(level=os.environ.get("QUOTIO_SHADOW_WORKER_LOG", "warning"))
    install_uvloop()
    log.info("shadow worker starting", scheduling=policy)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_worker(int(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
