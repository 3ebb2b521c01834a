"""Running the app: bind the configured address, drain on SIGTERM within a bound, then clean up."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from typing import Any

import structlog
from aiohttp import web

from . import appkeys
from .app import GatewayOptions, create_app
from .envswitch import switch
from .frontdoor import FrontDoor, frontdoor_enabled
from .frontdoor_http import GO_MAX_HEADER_BYTES, MAX_HEADER_FIELDS
from .logging import access_sink
from .shadow.remote import ShadowWorker, worker_enabled

log = structlog.get_logger("quotio_gateway.server")


def install_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# Young-generation size before a collection (CPython's default is 700). A stream keeps several
# hundred container objects alive while it runs, so 100 streams starting at once grow the young
# generation by tens of thousands: at 700 a collection ran every few set-ups, each rescanning the
# live objects of all the others, and even at 10,000 a few ran in every burst. Garbage in cycles,
# the only kind the collector is needed for, is rare on the request paths (none per stream).
GC_YOUNG_THRESHOLD = 100_000


def settle_gc() -> None:
    """Once start-up is done: collect, then move everything alive into the permanent generation.

    The config, registry, routes and imported modules live as long as the process; left in the
    collected generations, every full collection walked all of them again (tens of thousands of
    objects) while requests waited. Objects created later are collected as usual; start-up objects
    that a reload drops are freed by reference counting, only cycles among them are kept.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


REUSE_PORT_SWITCH = "QUOTIO_GATEWAY_REUSE_PORT"


def reuse_port_enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether to listen with SO_REUSEPORT, so that several gateway processes can share the port.

    Off by default: each process keeps its own rotation state, metrics, usage figures and login
    sessions, so processes sharing a port disagree on all of them. It exists for measuring what
    more than one event loop gives (benchmarks/inference.py, target ``native-2p``).
    """
    return switch(REUSE_PORT_SWITCH, default=False, environ=environ)


# The aiohttp server behind the front door. The drain is ours (``serve``); aiohttp's own shutdown
# wait applies twice per connection, so it only gets a token timeout for what is left after the grace.
RUNNER_OPTIONS: dict[str, Any] = {
    "handler_cancellation": True, "access_log": None, "shutdown_timeout": 0.05,
    "max_line_size": GO_MAX_HEADER_BYTES, "max_field_size": GO_MAX_HEADER_BYTES, "max_headers": MAX_HEADER_FIELDS,
}


async def serve(options: GatewayOptions, *, host: str | None = None, port: int | None = None,
                ready: asyncio.Event | None = None) -> None:
    app = await create_app(options)
    cfg = app[appkeys.CONFIG_STORE].current
    bind_host = host if host is not None else (cfg.host or None)
    bind_port = port if port is not None else (cfg.port or 8317)
    runner = web.AppRunner(app, **RUNNER_OPTIONS)
    await runner.setup()
    loop = asyncio.get_running_loop()
    assert runner.server is not None
    runtime = app[appkeys.RUNTIME]
    # Started on the first shadowed request the front door meets, never before (shadow/remote.py).
    table = app[appkeys.FLAG_STORE].current.table
    # flags.yaml decides; the environment switches can still turn either off for one run.
    worker = ShadowWorker(app[appkeys.SHADOW], config_path=runtime.config_path, flags_path=runtime.flags_path,
                          local_password=runtime.local_password) \
        if table.shadow.worker and worker_enabled() else None
    # Every connection is accepted by the front door, which answers legacy pass-through itself
    # and hands anything else to aiohttp's handler (frontdoor.py).
    door = FrontDoor(app, runner.server, enabled=table.server.front_door and frontdoor_enabled(), worker=worker)
    try:
        listener = await loop.create_server(door, bind_host, bind_port, reuse_address=True, backlog=4096,
                                            reuse_port=reuse_port_enabled())
    except OSError as exc:
        message = f"quotio-gateway: cannot listen on {bind_host or '*'}:{bind_port}: {exc.strerror or exc}"
        door.abort_all()
        if worker is not None:
            await worker.close(0)
        await runner.cleanup()
        raise SystemExit(message) from None
    log.info("quotio-gateway listening", host=bind_host or "*", port=bind_port,
             legacy=app[appkeys.LEGACY].url or "none", flags_version=app[appkeys.FLAG_STORE].current.version)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settle_gc()
    if ready is not None:
        ready.set()
    await stop.wait()
    grace = app[appkeys.FLAG_STORE].current.table.server.shutdown_grace_seconds
    log.info("shutting down", grace_seconds=grace)
    # Stop accepting, let open requests and streams finish within the grace, then cancel what is
    # left and run the app's cleanup (legacy child stopped last).
    listener.close()
    door.start_drain()
    inflight = app[appkeys.RUNTIME].inflight
    if not await inflight.wait_idle(grace):
        log.warning("grace period over, cutting open requests", open=inflight.count)
    door.abort_all()
    if worker is not None:
        # Launchers SIGKILL two seconds after SIGTERM: results still in flight get a moment only.
        await worker.close(0.2)
    await runner.cleanup()
    if (sink := access_sink()) is not None:
        sink.flush()
