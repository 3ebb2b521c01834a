"""Fixtures for the credential management tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import GatewayFactory
from tests.handlers.credentials.auth_files_gateway import CLAUDE, CODEX, GEMINI, Gateway


@pytest.fixture
async def gateway(make_gateway: GatewayFactory, tmp_path: Path) -> AsyncIterator[Gateway]:
    auths = tmp_path / "auths"
    auths.mkdir()
    for name, data in (("claude-ann@example.com.json", CLAUDE), ("gemini-bob@example.com-all.json", GEMINI),
                       ("codex-cy@example.com.json", CODEX)):
        (auths / name).write_text(json.dumps(data))
    app = await make_gateway({"default": "native"})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    gw = Gateway(str(server.make_url("")).rstrip("/"), auths)
    gw.app = app
    try:
        yield gw
    finally:
        await gw.session.close()
        await server.close()
