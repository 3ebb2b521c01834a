"""SIGTERM with streams open: what fits in server.shutdown_grace_seconds finishes, the rest is cut.

Quotio sends SIGTERM and SIGKILLs two seconds later, so the gateway drains for 1.5 s at most. Two
streams are open through the gateway to the stand-in when the signal lands: one needs ~0.8 s more
and must arrive whole, the other would need 10 s and must be cut at the bound, with the process
gone shortly after.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from tests.e2e.conftest import MGMT_HASH, Gateway, Processes, free_port, write_flags
from tests.fakes import start_legacy

GRACE = 1.5
SHORT = "/__fault/sse?n=8&delay_ms=100"
LONG = "/__fault/sse?n=100&delay_ms=100"


def sse_body(n: int) -> bytes:
    return b"".join(b'data: {"index":%d}\n\n' % i for i in range(n)) + b"data: [DONE]\n\n"


async def read_stream(response: aiohttp.ClientResponse, first: asyncio.Event) -> tuple[bytes, str | None, float]:
    """Everything the client got, how it ended (None = cleanly) and when."""
    data = b""
    ended: str | None = None
    try:
        async for chunk in response.content.iter_any():
            data += chunk
            first.set()
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionResetError) as exc:
        ended = type(exc).__name__
    return data, ended, time.monotonic()


@asynccontextmanager
async def gateway_before_stand_in(tmp_path: Path, processes: Processes) -> AsyncIterator[Gateway]:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f'host: 127.0.0.1\nport: {port}\nremote-management:\n  secret-key: "{MGMT_HASH}"\n'
                      "oauth-model-alias:\n  antigravity:\n    - {name: a, alias: b}\n")
    legacy_runner, legacy_url = await start_legacy(config, port=0)
    try:
        flags = write_flags(tmp_path / "flags.yaml", {
            "legacy": {"url": legacy_url},
            "server": {"state_dir": str(tmp_path / "state"), "shutdown_grace_seconds": GRACE},
        })
        yield processes.gateway(config, flags, port=port)
    finally:
        await legacy_runner.cleanup()


async def open_stream(session: aiohttp.ClientSession, url: str) -> asyncio.Task[tuple[bytes, str | None, float]]:
    """Starts reading a stream through the gateway; returns once its first event arrived."""
    response = await session.get(url)
    assert (response.status, response.headers["X-Quotio-Route"]) == (200, "legacy/legacy")
    first = asyncio.Event()
    reader = asyncio.create_task(read_stream(response, first))
    await asyncio.wait_for(first.wait(), 5)
    return reader


async def wait_exit(gateway: Gateway) -> tuple[int, float]:
    code = await asyncio.get_running_loop().run_in_executor(None, gateway.proc.wait, 10)
    return code, time.monotonic()


async def test_sigterm_lets_a_stream_inside_the_grace_finish(tmp_path: Path, processes: Processes) -> None:
    async with gateway_before_stand_in(tmp_path, processes) as gateway, aiohttp.ClientSession() as session:
        reader = await open_stream(session, f"{gateway.url}{SHORT}")
        gateway.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        await asyncio.sleep(0.2)
        # Draining: the listener is closed, so a new client is refused rather than left hanging.
        refused = None
        try:
            async with session.get(f"{gateway.url}/healthz") as response:
                refused = f"answered {response.status}"
        except aiohttp.ClientConnectorError:
            refused = "refused"
        data, ended, done_at = await asyncio.wait_for(reader, 10)
        code, exited = await wait_exit(gateway)
    assert refused == "refused"
    assert (data, ended) == (sse_body(8), None)
    assert done_at - signalled < GRACE
    assert code == 0 and exited - signalled < 2.5


async def test_sigterm_cuts_a_long_stream_at_the_grace_bound(tmp_path: Path, processes: Processes) -> None:
    async with gateway_before_stand_in(tmp_path, processes) as gateway, aiohttp.ClientSession() as session:
        reader = await open_stream(session, f"{gateway.url}{LONG}")
        gateway.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        data, ended, done_at = await asyncio.wait_for(reader, 10)
        code, exited = await wait_exit(gateway)
    # A clean prefix of the events, then the connection is lost at the bound, never a 10 s wait.
    assert ended is not None, "a 10 s stream outlived the shutdown grace"
    events = data.split(b"\n\n")[:-1]
    assert 5 <= len(events) < 100 and data == sse_body(100)[:len(data)]
    assert done_at - signalled < GRACE + 0.5
    assert code == 0 and exited - signalled < 2.5
