"""The naive anchor plus a fixed amount of CPU per request: the TTFB case's calibration.

    python benchmarks/naive_spin.py PORT UPSTREAM_URL MICROSECONDS

Loads the anchors' ``naive_proxy.py`` unchanged and puts one middleware in front of its handler
that keeps the event loop busy for MICROSECONDS before the request goes upstream, as any work a
proxy does per request (reading JSON, routing, translating) would. Measured beside the plain
anchor in the same run, it tells how much first-byte time at 100 concurrent streams one
microsecond of per-request CPU costs on this machine, which is what the 2 ms TTFB budget of
issue 4 has to be read against.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_anchor() -> ModuleType:
    anchors = Path(os.environ.get("QUOTIO_BENCH_ANCHORS", Path(__file__).resolve().parents[2] / "shared" / "bench"))
    spec = importlib.util.spec_from_file_location("naive_proxy", anchors / "naive_proxy.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no naive_proxy.py under {anchors}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spinning(microseconds: float) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    seconds = microseconds / 1e6

    @web.middleware
    async def spin(request: web.Request, handler: Handler) -> web.StreamResponse:
        # A busy loop, not a sleep: the point is CPU the event loop cannot spend on other streams.
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        return await handler(request)

    return spin


def main(argv: list[str]) -> None:
    port, upstream, microseconds = int(argv[1]), argv[2], float(argv[3])
    anchor = load_anchor()
    anchor.app.middlewares.append(spinning(microseconds))
    anchor.app["upstream"] = upstream
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(anchor.app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(sys.argv)
