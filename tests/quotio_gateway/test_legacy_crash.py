"""The legacy process dies in the middle of a stream: the client learns it, nothing hangs, and the
next request gets the protocol-shaped 503."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import yaml

from quotio_gateway import appkeys
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


async def wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(15):
        while True:
            assert proc.returncode is None, "stand-in legacy exited early"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)


async def test_legacy_process_dying_mid_stream(tmp_path, make_gateway, aiohttp_client):
    port = free_port()
    config = tmp_path / "legacy.yaml"
    config.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": port}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.legacy_server", "-config", str(config), cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_listening(port, proc)
        app = await make_gateway({"legacy": {"url": f"http://127.0.0.1:{port}"}})
        client = await aiohttp_client(app)
        resp = await client.get("/v1/chat/completions/__x")  # any legacy route first: the pool is warm
        await resp.read()
        resp = await client.post("/__fault/die-mid-stream?n=2", data=b"{}")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        body = await asyncio.wait_for(resp.read(), 10)
        assert body.startswith(b'data: {"index":0}\n\ndata: {"index":1}\n\n')
        # The stream is closed with the OpenAI-style in-stream error, never a [DONE] that was not sent.
        assert b"legacy stream interrupted" in body and b"[DONE]" not in body
        assert await asyncio.wait_for(proc.wait(), 5) == 1
        resp = await client.post("/v1/chat/completions", data=b'{"model":"m"}')
        assert resp.status == 503
        assert await resp.json() == {"error": {"message": "legacy server is unreachable", "type": "server_error",
                                               "code": "internal_server_error"}}
        registry = app[appkeys.METRICS].registry
        assert registry.get_sample_value("quotio_gateway_legacy_errors_total",
                                         {"route": "(default)", "kind": "reset"}) == 1
        assert registry.get_sample_value("quotio_gateway_open_streams", {"route": "(default)", "side": "legacy"}) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
