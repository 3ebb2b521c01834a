"""Management writes: the gateway (routes native, own process) against the stand-in, file for file.

tests/quotio_gateway/management/test_legacy_parity.py compares response bodies of the bare native
handlers. This file goes through the whole gateway process (dispatch, guard, ConfigStore, file
watcher) and then compares what matters to an operator: the config.yaml each side is left with.
Both start from identical copies holding a plaintext secret, so both also hash it in place.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import bcrypt
import yaml

from tests.conftest import ScriptedLegacy
from tests.e2e.conftest import Processes, free_port, write_flags
from tests.fakes import start_legacy

SECRET = "parity-plaintext-secret"
KEY = {"Authorization": f"Bearer {SECRET}"}
COMMENTS = ["# operator's notes: keep me", "# who may manage", "# retry policy", "# client keys",
            "# gemini keys", "# local upstream", "# exclusions per provider"]
CONFIG = f"""\
# operator's notes: keep me
host: 127.0.0.1
port: {{port}}
auth-dir: {{auth_dir}}
remote-management:
  # who may manage
  allow-remote: false
  secret-key: "{SECRET}"
debug: false
logging-to-file: false
usage-statistics-enabled: true
proxy-url: ""
# retry policy
request-retry: 3
max-retry-interval: 30
quota-exceeded:
  switch-project: true
  switch-preview-model: true
routing:
  strategy: round-robin
# client keys
api-keys:
  - client-1
# gemini keys
gemini-api-key:
  - api-key: AIza-one
    prefix: team
claude-api-key:
  - api-key: sk-ant-one
    base-url: https://claude.example
# local upstream
openai-compatibility:
  - name: local
    base-url: http://127.0.0.1:9/v1
    api-key-entries:
      - api-key: sk-local
    models:
      - name: fake-model
        alias: fm
# exclusions per provider
oauth-excluded-models:
  codex:
    - gpt-old
"""

Step = tuple[str, str, bytes | None, dict[str, str] | None, dict[str, str]]
SCRIPT: list[Step] = [
    ("PUT", "debug", b'{"value":true}', None, KEY),
    ("PUT", "debug", b'"yes"', None, KEY),
    ("PUT", "debug", b'{"value":false}', None, {"Authorization": "Bearer wrong"}),
    ("PUT", "debug", b'{"value":false}', None, {}),
    ("POST", "debug", b'{"value":false}', None, KEY),
    ("PATCH", "logging-to-file", b'{"value":true}', None, KEY),
    ("PUT", "logs-max-total-size-mb", b'{"value":250}', None, KEY),
    ("PUT", "usage-statistics-enabled", b'{"value":false}', None, KEY),
    ("PUT", "proxy-url", b'{"value":"socks5://127.0.0.1:1080"}', None, KEY),
    ("DELETE", "proxy-url", None, None, KEY),
    ("PUT", "proxy-url", b'{"value":" http://proxy.example:8080 "}', None, KEY),
    ("PUT", "request-retry", b'{"value":5}', None, KEY),
    ("PUT", "request-retry", b'{"value":"5"}', None, KEY),
    ("PUT", "max-retry-interval", b'{"value":60}', None, KEY),
    ("PATCH", "quota-exceeded/switch-project", b'{"value":false}', None, KEY),
    ("PUT", "quota-exceeded/switch-preview-model", b'{"value":false}', None, KEY),
    ("PUT", "force-model-prefix", b'{"value":true}', None, KEY),
    ("PUT", "routing/strategy", b'{"value":"fill-first"}', None, KEY),
    ("PATCH", "routing/strategy", b'{"value":"random"}', None, KEY),
    ("PUT", "ws-auth", b'{"value":true}', None, KEY),
    ("PUT", "request-log", b'{"value":true}', None, KEY),
    ("PUT", "api-keys", b'["client-1","client-2","client-3"]', None, KEY),
    ("PATCH", "api-keys", b'{"old":"client-2","new":"client-2b"}', None, KEY),
    ("PATCH", "api-keys", b'{"index":0,"value":"client-1b"}', None, KEY),
    ("PATCH", "api-keys", b'{"index":7,"value":"nope"}', None, KEY),
    ("DELETE", "api-keys", None, {"index": "2"}, KEY),
    ("DELETE", "api-keys", None, {"value": "missing"}, KEY),
    ("PUT", "api-keys", b'{"items":[]}', None, KEY),
    ("GET", "api-keys", None, None, KEY),
    ("PATCH", "gemini-api-key", b'{"index":0,"value":{"headers":{"X-Team":"blue"}}}', None, KEY),
    ("PUT", "gemini-api-key", b'[{"api-key":"AIza-one","prefix":"team"},{"api-key":"AIza-two",'
                              b'"excluded-models":["gemini-1.5-pro"]}]', None, KEY),
    ("DELETE", "gemini-api-key", None, {"api-key": "AIza-one"}, KEY),
    ("GET", "gemini-api-key", None, None, KEY),
    ("PATCH", "claude-api-key", b'{"match":"sk-ant-one","value":{"models":[{"name":"claude-sonnet-4-5",'
                              b'"alias":"sonnet"}]}}', None, KEY),
    ("DELETE", "claude-api-key", None, {"api-key": "unknown"}, KEY),
    ("PUT", "codex-api-key", b'[{"api-key":"sk-codex","base-url":"https://codex.example"},'
                             b'{"api-key":"dropped-no-base-url"}]', None, KEY),
    ("PUT", "vertex-api-key", b'[{"api-key":"vk-1","base-url":"https://vertex.example"}]', None, KEY),
    ("PATCH", "vertex-api-key", b'{"index":0,"value":{"prefix":"vx"}}', None, KEY),
    ("PATCH", "openai-compatibility", b'{"name":"local","value":{"models":[{"name":"fake-model","alias":"fm"},'
                                    b'{"name":"fake-model-mini","alias":"mini"}]}}', None, KEY),
    ("PUT", "openai-compatibility", b'not json', None, KEY),
    ("PATCH", "oauth-excluded-models", b'{"provider":"gemini-cli","models":["gemini-1.0-pro"]}', None, KEY),
    ("DELETE", "oauth-excluded-models", None, {"provider": "codex"}, KEY),
    ("PUT", "config.yaml", b"port: [unclosed", None, KEY),
]
# Read once both sides settled: right after a write legacy serves its in-memory structs (a list PUT
# without "models" shows null) until its file watcher reloads the file it wrote (then []).
SETTLED_READS = ["config", "api-keys", "codex-api-key", "openai-compatibility", "oauth-excluded-models"]
SETTLE_SECONDS = 0.6


async def run_script(base: str) -> list[tuple[str, str, int, str, bytes]]:
    out = []
    async with aiohttp.ClientSession() as session:
        for method, path, body, params, headers in SCRIPT:
            async with session.request(method, f"{base}/v0/management/{path}", data=body, params=params,
                                       headers=headers) as response:
                payload = await response.read()
                if path == "config.yaml" and response.status == 400:
                    # The message quotes the YAML library's own wording; the error key is the contract.
                    payload = yaml.safe_load(payload)["error"].encode()
                out.append((method, path, response.status, response.content_type, payload))
        await asyncio.sleep(SETTLE_SECONDS)
        for path in SETTLED_READS:
            async with session.get(f"{base}/v0/management/{path}", headers=KEY) as response:
                out.append(("GET", path, response.status, response.content_type, await response.read()))
    return out


def without_secret(text: str) -> tuple[dict, str]:
    doc = yaml.safe_load(text)
    secret = doc["remote-management"].pop("secret-key")
    return doc, secret


async def test_writes_leave_the_same_file_on_both_sides(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    for side in ("gateway", "legacy"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "config.yaml").write_text(CONFIG.format(port=port, auth_dir=tmp_path / "auths"))
    # The gateway gets a recording legacy of its own: with the routes native, nothing may reach it
    # (a native route without a handler, POST /debug, must be Gin's 404, not a forward).
    recorder = ScriptedLegacy()
    await recorder.start()
    flags = write_flags(tmp_path / "gateway" / "flags.yaml", {
        "legacy": {"url": recorder.url},
        "server": {"state_dir": str(tmp_path / "state")},
        "routes": [{"match": "* /v0/management/*", "mode": "native"}],
    })
    legacy_runner, legacy_url = await start_legacy(tmp_path / "legacy" / "config.yaml", port=0)
    try:
        gateway = processes.gateway(tmp_path / "gateway" / "config.yaml", flags, port=port)
        legacy = await run_script(legacy_url)
        native = await run_script(gateway.url)
    finally:
        await legacy_runner.cleanup()
        await recorder.stop()
    assert recorder.calls == []

    assert [(m, p, s) for m, p, s, _, _ in native] == [(m, p, s) for m, p, s, _, _ in legacy]
    assert [row for row, want in zip(native, legacy, strict=True) if row != want] == []
    # The error cases really were errors, each with the answer CLIProxyAPI gives.
    assert [(m, p, s, b) for m, p, s, _, b in legacy if s != 200] == [
        ("PUT", "debug", 400, b'{"error":"invalid body"}'),
        ("PUT", "debug", 401, b'{"error":"invalid management key"}'),
        ("PUT", "debug", 401, b'{"error":"missing management key"}'),
        ("POST", "debug", 404, b"404 page not found"),
        ("PUT", "request-retry", 400, b'{"error":"invalid body"}'),
        ("PATCH", "routing/strategy", 400, b'{"error":"invalid strategy"}'),
        ("PATCH", "api-keys", 400, b'{"error":"missing fields"}'),
        ("PUT", "api-keys", 400, b'{"error":"invalid body"}'),
        ("PUT", "openai-compatibility", 400, b'{"error":"invalid body"}'),
        ("PUT", "config.yaml", 400, b"invalid_yaml"),
    ]

    gateway_text = (tmp_path / "gateway" / "config.yaml").read_text()
    legacy_text = (tmp_path / "legacy" / "config.yaml").read_text()
    gateway_doc, gateway_secret = without_secret(gateway_text)
    legacy_doc, legacy_secret = without_secret(legacy_text)
    assert gateway_doc == legacy_doc
    for secret in (gateway_secret, legacy_secret):
        assert secret.startswith("$2a$10$") and bcrypt.checkpw(SECRET.encode(), secret.encode())
    for text in (gateway_text, legacy_text):
        assert [c for c in COMMENTS if c not in text] == []
    assert gateway_doc["api-keys"] == ["client-1b", "client-2b"]
    assert gateway_doc["routing"] == {"strategy": "fill-first"}
    assert gateway_doc["proxy-url"] == " http://proxy.example:8080 "  # Go stores the value as sent
