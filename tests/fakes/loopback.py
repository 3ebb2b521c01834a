"""One way for tests to put a scripted aiohttp app on a free loopback port."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve_on_loopback(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, str]:
    """Start ``app`` on 127.0.0.1 with a port the kernel picks; the runner (the caller cleans it
    up) and the root URL ``http://127.0.0.1:<port>``."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
