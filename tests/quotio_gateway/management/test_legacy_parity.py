"""The same management script against the stand-in legacy server and the native handlers.

The stand-in (tests/fakes) was written from the Go source independently of these handlers, so
agreement on status and body bytes is a cross-check of both readings. Left out on purpose:
reads of a list right after it was emptied (the stand-in keeps Go's in-memory nil until its
watcher reloads, the ConfigStore serves the reloaded file at once) and YAML error messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config.store import ConfigStore
from quotio_gateway.management.routes import setup_management
from quotio_gateway.native import NativeRegistry
from tests.fakes import start_legacy
from tests.fakes.loopback import serve_on_loopback

CONFIG = """\
port: 8317
remote-management:
  allow-remote: false
  secret-key: "s3cret"
debug: false
api-keys:
  - k1
routing:
  strategy: round-robin
"""
KEY = {"Authorization": "Bearer s3cret"}

SCRIPT: list[tuple[str, str, bytes | None, dict[str, str] | None, dict[str, str] | None]] = [
    ("GET", "debug", None, None, {}),
    ("GET", "debug", None, None, {"Authorization": "Bearer nope"}),
    ("GET", "debug", None, None, {"Authorization": "Basic s3cret"}),
    ("PUT", "debug", b'{"value":true}', None, KEY),
    ("PATCH", "debug", b"{}", None, KEY),
    ("PUT", "debug", b'{"Value":false} trailing', None, KEY),
    ("PUT", "request-retry", b'{"value":2.5}', None, KEY),
    ("PATCH", "request-retry", b'{"value":4}', None, KEY),
    ("GET", "request-retry", None, None, KEY),
    ("PUT", "logs-max-total-size-mb", b'{"value":-9}', None, KEY),
    ("GET", "logs-max-total-size-mb", None, None, KEY),
    ("PUT", "routing/strategy", b'{"value":" RR "}', None, KEY),
    ("PUT", "routing/strategy", b'{"value":"weighted"}', None, KEY),
    ("GET", "routing/strategy", None, None, KEY),
    ("PUT", "proxy-url", b'{"value":" socks5://h:1 "}', None, KEY),
    ("GET", "proxy-url", None, None, KEY),
    ("DELETE", "proxy-url", None, None, KEY),
    ("PATCH", "quota-exceeded/switch-preview-model", b'{"value":true}', None, KEY),
    ("GET", "quota-exceeded/switch-preview-model", None, None, KEY),
    ("PUT", "api-keys", b'{"items":[]}', None, KEY),
    ("PUT", "api-keys", b'["a","b"]', None, KEY),
    ("PATCH", "api-keys", b'{"old":"zz","new":"c"}', None, KEY),
    ("PATCH", "api-keys", b'{"index":1,"value":"B"}', None, KEY),
    ("PATCH", "api-keys", b'{"index":9}', None, KEY),
    ("DELETE", "api-keys", None, {"index": "7"}, KEY),
    ("DELETE", "api-keys", None, {"value": " c "}, KEY),
    ("GET", "api-keys", None, None, KEY),
    ("PUT", "gemini-api-key", b'[{"api-key":" g1 ","prefix":"/t/","headers":{"A":" 1 ","B":""},'
                              b'"excluded-models":[" M ","m"]},{"api-key":"g1"},{"api-key":"g2","base-url":"u"}]',
     None, KEY),
    ("GET", "gemini-api-key", None, None, KEY),
    ("PATCH", "gemini-api-key", b'{"match":"nope","value":{}}', None, KEY),
    ("PATCH", "gemini-api-key", b'{"index":0}', None, KEY),
    ("PATCH", "gemini-api-key", b'{"match":"g2","value":{"proxy-url":" p ","excluded-models":["X"]}}', None, KEY),
    ("GET", "gemini-api-key", None, None, KEY),
    ("DELETE", "gemini-api-key", None, {"api-key": "unknown"}, KEY),
    ("DELETE", "gemini-api-key", None, {}, KEY),
    ("PUT", "claude-api-key", b'[{"api-key":" c1 ","models":[{"name":" m ","alias":""},{"name":"","alias":""}],'
                              b'"cloak":{"mode":"always"}},{"api-key":"c2","prefix":"a/b","models":[]}]', None, KEY),
    ("GET", "claude-api-key", None, None, KEY),
    ("PATCH", "claude-api-key", b'{"match":"c2","value":{"api-key":" x ","base-url":" https://b "}}', None, KEY),
    ("DELETE", "claude-api-key", None, {"api-key": "unknown"}, KEY),
    ("GET", "claude-api-key", None, None, KEY),
    ("PUT", "codex-api-key", b'[{"api-key":"x1","base-url":"https://x","prefix":" px ","models":[{"name":"a"}]},'
                             b'{"api-key":"x2","base-url":" "}]', None, KEY),
    ("GET", "codex-api-key", None, None, KEY),
    ("PUT", "vertex-api-key", b'[{"api-key":"v1","base-url":"https://v","models":[{"name":"a","alias":""},'
                              b'{"name":" b ","alias":" c "}]},{"api-key":"v2"}]', None, KEY),
    ("GET", "vertex-api-key", None, None, KEY),
    ("PATCH", "vertex-api-key", b'{"match":"v1","value":{"headers":{"H":"v"}}}', None, KEY),
    ("GET", "vertex-api-key", None, None, KEY),
    ("PUT", "openai-compatibility", b'[{"name":" p ","base-url":" https://o ","api-key-entries":[{"api-key":" k "}],'
                                    b'"models":[{"name":"m","alias":"a"}]},{"name":"d","base-url":""}]', None, KEY),
    ("GET", "openai-compatibility", None, None, KEY),
    ("PATCH", "openai-compatibility", b'{"name":"p","value":{"prefix":" z "}}', None, KEY),
    ("GET", "openai-compatibility", None, None, KEY),
    ("DELETE", "openai-compatibility", None, None, KEY),
    ("PATCH", "oauth-excluded-models", b'{"provider":"Gemini-CLI","models":[" M1 ","m1"]}', None, KEY),
    ("PATCH", "oauth-excluded-models", b'{"provider":" "}', None, KEY),
    ("GET", "oauth-excluded-models", None, None, KEY),
    ("DELETE", "oauth-excluded-models", None, {"provider": "nope"}, KEY),
    ("PUT", "oauth-excluded-models", b'{"Zed":["B","b"],"alpha":["x"],"e":[]}', None, KEY),
    ("GET", "oauth-excluded-models", None, None, KEY),
    ("PUT", "config.yaml", b"foo: [", None, KEY),
]


async def run_script(base: str) -> list[tuple[str, str, int, bytes]]:
    out = []
    async with aiohttp.ClientSession() as session:
        for method, path, body, params, headers in SCRIPT:
            async with session.request(method, f"{base}/v0/management/{path}", data=body, params=params,
                                       headers=headers) as response:
                payload = await response.read()
                if response.status == 400 and path == "config.yaml":
                    payload = b"(yaml error message)"
                out.append((method, path, response.status, payload))
    return out


async def test_native_matches_stand_in_legacy(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    (tmp_path / "native").mkdir()
    (tmp_path / "legacy" / "config.yaml").write_text(CONFIG)
    (tmp_path / "native" / "config.yaml").write_text(CONFIG)

    legacy_runner, legacy_url = await start_legacy(tmp_path / "legacy" / "config.yaml")
    app = web.Application()
    app[CONFIG_STORE] = ConfigStore(tmp_path / "native" / "config.yaml")
    registry = NativeRegistry()
    setup_management(registry)
    for route in registry.routes:
        app.router.add_route(route.method, route.path, route.handler)
    runner, native_url = await serve_on_loopback(app)
    try:
        legacy: Any = await run_script(legacy_url)
        native: Any = await run_script(native_url)
    finally:
        await legacy_runner.cleanup()
        await runner.cleanup()
    mismatches = [(want, got) for want, got in zip(legacy, native, strict=True) if want != got]
    assert mismatches == []
