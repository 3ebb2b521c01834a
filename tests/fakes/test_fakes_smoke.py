"""Smoke tests for the stand-in legacy server and the fake provider (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ruamel.yaml import YAML

from . import start_fake_provider, start_legacy

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret"
MGMT = {"X-Management-Key": SECRET}
CONFIG_TEMPLATE = """\
# stand-in config used by the smoke tests
host: 127.0.0.1
port: {port}
remote-management:
  # local access only
  allow-remote: false
  secret-key: "{secret}"
auth-dir: {auth_dir}
api-keys:
  - client-key   # the only client key
debug: false
openai-compatibility:
  - name: Fake
    base-url: {provider}/v1
    api-key-entries:
      - api-key: upstream-key
    models:
      - name: fake-model
        alias: fm
      - name: fail-429
        alias: broken
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(tmp_path: Path, provider_url: str, port: int = 0) -> Path:
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(
        CONFIG_TEMPLATE.format(port=port, secret=SECRET, auth_dir=auth_dir, provider=provider_url),
        encoding="utf-8",
    )
    return path


class Stack:
    def __init__(self, url: str, provider_url: str, config: Path, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.provider_url = provider_url
        self.config = config
        self.session = session

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        async with self.session.request(method, self.url + path, **kwargs) as response:
            return response.status, dict(response.headers), await response.read()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    provider_runner, provider_url = await start_fake_provider()
    config = write_config(tmp_path, provider_url)
    legacy_runner, url = await start_legacy(config)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield Stack(url, provider_url, config, session)
    await legacy_runner.cleanup()
    await provider_runner.cleanup()


async def test_root_cors_options_and_404(stack: Stack) -> None:
    status, headers, body = await stack.call("GET", "/")
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body) == {
        "message": "CLI Proxy API Server",
        "endpoints": ["POST /v1/chat/completions", "POST /v1/completions", "GET /v1/models"],
    }
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    assert headers["Access-Control-Allow-Headers"] == "*"

    status, headers, body = await stack.call("OPTIONS", "/v0/management/config")
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == "*"

    for method, path in (("GET", "/nope"), ("POST", "/v1/models"), ("HEAD", "/")):
        status, headers, body = await stack.call(method, path)
        assert status == 404
        assert headers["Content-Type"] == "text/plain"
        assert body == (b"" if method == "HEAD" else b"404 page not found")


async def test_client_auth_errors(stack: Stack) -> None:
    assert (await stack.call("GET", "/v1/models"))[::2] == (401, b'{"error":"Missing API key"}')
    wrong = {"Authorization": "Bearer nope"}
    assert (await stack.call("GET", "/v1/models", headers=wrong))[::2] == (401, b'{"error":"Invalid API key"}')
    for kwargs in (
        {"headers": {"Authorization": "Bearer client-key"}},
        {"headers": {"Authorization": "client-key"}},
        {"headers": {"X-Goog-Api-Key": "client-key"}},
        {"headers": {"X-Api-Key": "client-key"}},
        {"params": {"key": "client-key"}},
        {"params": {"auth_token": "client-key"}},
    ):
        assert (await stack.call("GET", "/v1/models", **kwargs))[0] == 200, kwargs


async def test_models_openai_and_claude_shapes(stack: Stack) -> None:
    auth = {"Authorization": "Bearer client-key"}
    _, _, body = await stack.call("GET", "/v1/models", headers=auth)
    listing = json.loads(body)
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["fm", "broken"]
    assert set(listing["data"][0]) == {"id", "object", "created", "owned_by"}
    assert listing["data"][0]["owned_by"] == "Fake"

    _, _, body = await stack.call("GET", "/v1/models", headers={**auth, "User-Agent": "claude-cli/1.0"})
    claude = json.loads(body)
    assert set(claude) == {"data"}
    assert claude["data"][0]["type"] == "openai-compatibility"
    assert claude["data"][0]["display_name"] == "fm"


async def test_chat_non_stream_and_stream_through_provider(stack: Stack) -> None:
    auth = {"Authorization": "Bearer client-key"}
    request = {"model": "fm", "messages": [{"role": "user", "content": "hi"}]}
    status, headers, body = await stack.call("POST", "/v1/chat/completions", headers=auth, json=request)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["model"] == "fake-model"

    status, headers, body = await stack.call(
        "POST", "/v1/chat/completions", headers=auth, json={**request, "stream": True}
    )
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    events = body.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert json.loads(events[0].removeprefix("data: "))["choices"][0]["delta"]["content"] == "Hello"

    async with stack.session.get(stack.provider_url + "/__requests") as response:
        seen = await response.json()
    assert [r["json"]["model"] for r in seen] == ["fake-model", "fake-model"]
    assert seen[0]["headers"]["Authorization"] == "Bearer upstream-key"
    assert seen[1]["headers"]["Accept"] == "text/event-stream"


async def test_chat_errors(stack: Stack) -> None:
    auth = {"Authorization": "Bearer client-key"}
    status, headers, body = await stack.call(
        "POST", "/v1/chat/completions", headers=auth, json={"model": "nope", "stream": True}
    )
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "error": {"message": "unknown provider for model nope", "type": "invalid_request_error"}
    }
    status, _, body = await stack.call("POST", "/v1/chat/completions", headers=auth, json={"model": "broken"})
    assert status == 429
    assert json.loads(body)["error"]["message"] == "forced failure 429"


async def test_management_auth_read_write_keeps_comments(stack: Stack) -> None:
    on_disk = stack.config.read_text()
    assert SECRET not in on_disk and '"$2a$10$' in on_disk  # plaintext secret hashed at load

    assert (await stack.call("GET", "/v0/management/debug"))[::2] == (401, b'{"error":"missing management key"}')
    bad = {"Authorization": "Bearer wrong"}
    assert (await stack.call("GET", "/v0/management/debug", headers=bad))[::2] == (
        401,
        b'{"error":"invalid management key"}',
    )
    remote = {**MGMT, "X-Forwarded-For": "10.0.0.5"}
    assert (await stack.call("GET", "/v0/management/debug", headers=remote))[::2] == (
        403,
        b'{"error":"remote management disabled"}',
    )
    status, headers, body = await stack.call("GET", "/v0/management/debug", headers=MGMT)
    assert (status, body) == (200, b'{"debug":false}')
    assert headers["X-CPA-VERSION"] == "dev"

    status, _, body = await stack.call("PUT", "/v0/management/debug", headers=MGMT, json={"value": "yes"})
    assert (status, body) == (400, b'{"error":"invalid body"}')
    status, _, body = await stack.call("PUT", "/v0/management/debug", headers=MGMT, json={"value": True})
    assert (status, body) == (200, b'{"status":"ok"}')
    text = stack.config.read_text()
    assert "# stand-in config used by the smoke tests" in text
    assert "# local access only" in text
    assert "# the only client key" in text
    parsed = YAML(typ="safe").load(text)
    assert parsed["debug"] is True
    assert parsed["remote-management"]["panel-github-repository"].endswith("Cli-Proxy-API-Management-Center")

    status, _, body = await stack.call("PATCH", "/v0/management/api-keys", headers=MGMT, json={"old": "x", "new": "k2"})
    assert status == 200
    assert YAML(typ="safe").load(stack.config.read_text())["api-keys"] == ["client-key", "k2"]
    status, _, body = await stack.call("GET", "/v0/management/usage", headers=MGMT)
    assert json.loads(body)["usage"]["apis"] == {}
    _write_auth_file(stack.config.parent / "auth" / "a.json", {"type": "codex", "email": "e@x"})
    status, _, body = await stack.call("GET", "/v0/management/auth-files", headers=MGMT)
    entry = json.loads(body)["files"][0]
    assert (entry["name"], entry["provider"], entry["auth_index"]) == (
        "a.json",
        "codex",
        hashlib.sha256(b"file:a.json").hexdigest()[:16],
    )


def _write_auth_file(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content), encoding="utf-8")


async def test_hot_reload_and_bad_yaml_keeps_config(stack: Stack) -> None:
    text = stack.config.read_text().replace("- client-key", "- rotated-key")
    stack.config.write_text(text)
    auth = {"Authorization": "Bearer rotated-key"}
    for _ in range(40):
        if (await stack.call("GET", "/v1/models", headers=auth))[0] == 200:
            break
        await asyncio.sleep(0.1)
    assert (await stack.call("GET", "/v1/models", headers=auth))[0] == 200
    stack.config.write_text("api-keys: [\n")
    await asyncio.sleep(0.8)
    assert (await stack.call("GET", "/v1/models", headers=auth))[0] == 200


async def test_websocket_echo(stack: Stack) -> None:
    async with stack.session.ws_connect(stack.url + "/v1/ws") as ws:
        await ws.send_str("ping")
        assert (await ws.receive()).data == "ping"
        await ws.send_bytes(b"\x00\x01")
        assert (await ws.receive()).data == b"\x00\x01"


async def test_fault_endpoints(stack: Stack) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    status, _, body = await stack.call("POST", "/__fault/echo?a=1", data=payload, headers={"X-Test": "v"})
    echoed = json.loads(body)
    assert status == 200
    assert (echoed["method"], echoed["query"], echoed["headers"]["X-Test"]) == ("POST", "a=1", "v")
    assert (echoed["body_length"], echoed["body_sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())

    status, headers, body = await stack.call("GET", "/__fault/gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["gzip"] is True

    status, _, body = await stack.call("DELETE", "/__fault/status/503")
    assert status == 503 and json.loads(body)["error"]["code"] == 503

    status, headers, _ = await stack.call("GET", "/__fault/headers", params={"X-Upstream": "yes"})
    assert headers["X-Upstream"] == "yes"

    status, _, body = await stack.call("GET", "/__fault/sse", params={"n": "3"})
    assert body.count(b"data: ") == 4 and body.endswith(b"data: [DONE]\n\n")

    with pytest.raises(aiohttp.ClientPayloadError):
        await stack.call("GET", "/__fault/reset")

    async with stack.session.get(stack.url + "/__fault/stall") as response:
        assert await response.content.readline() == b'data: {"index":0}\n'
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(response.content.read(), timeout=0.3)


def test_subprocess_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, "http://127.0.0.1:9", port=port)
    command = [sys.executable, "-m", "tests.fakes.legacy_server", "-config", str(config)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = _wait_for_root(port)
        assert json.loads(body)["message"] == "CLI Proxy API Server"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    bad = subprocess.run(
        [sys.executable, "-m", "tests.fakes.legacy_server", "-nope"], cwd=REPO_ROOT, capture_output=True, timeout=30
    )
    assert bad.returncode == 2
    assert b"flag provided but not defined: -nope" in bad.stderr


def _wait_for_root(port: int) -> bytes:
    import time
    import urllib.request

    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


MANAGEMENT_CASES: list[tuple[str, str, Any, int, Any]] = [
    ("PUT", "/debug", {}, 400, {"error": "invalid body"}),
    ("PUT", "/request-retry", {"value": 3}, 200, {"status": "ok"}),
    ("GET", "/request-retry", None, 200, {"request-retry": 3}),
    ("PUT", "/request-retry", {"value": 1.5}, 400, {"error": "invalid body"}),
    ("PUT", "/logs-max-total-size-mb", {"value": -5}, 200, {"status": "ok"}),
    ("GET", "/logs-max-total-size-mb", None, 200, {"logs-max-total-size-mb": 0}),
    ("PUT", "/routing/strategy", {"value": "FF"}, 200, {"status": "ok"}),
    ("GET", "/routing/strategy", None, 200, {"strategy": "fill-first"}),
    ("PUT", "/routing/strategy", {"value": "random"}, 400, {"error": "invalid strategy"}),
    ("PATCH", "/quota-exceeded/switch-project", {"value": True}, 200, {"status": "ok"}),
    ("GET", "/quota-exceeded/switch-project", None, 200, {"switch-project": True}),
    ("DELETE", "/proxy-url", None, 200, {"status": "ok"}),
    ("PUT", "/api-keys", ["a", "b"], 200, {"status": "ok"}),
    ("PUT", "/api-keys", {"items": []}, 400, {"error": "invalid body"}),
    ("PATCH", "/api-keys", {"old": "zzz", "new": "c"}, 200, {"status": "ok"}),
    ("PATCH", "/api-keys", {"index": 0, "value": "A"}, 200, {"status": "ok"}),
    ("GET", "/api-keys", None, 200, {"api-keys": ["A", "b", "c"]}),
    ("PATCH", "/api-keys", {}, 400, {"error": "missing fields"}),
    ("DELETE", "/api-keys?index=9", None, 400, {"error": "missing index or value"}),
    ("DELETE", "/api-keys?value=b", None, 200, {"status": "ok"}),
    ("PUT", "/gemini-api-key", [{"api-key": " g1 ", "prefix": "/team/"}], 200, {"status": "ok"}),
    ("GET", "/gemini-api-key", None, 200, {"gemini-api-key": [{"api-key": "g1", "prefix": "team"}]}),
    ("PATCH", "/gemini-api-key", {"match": "nope", "value": {"prefix": "x"}}, 404, {"error": "item not found"}),
    ("PATCH", "/gemini-api-key", {"index": 0}, 400, {"error": "invalid body"}),
    ("PATCH", "/gemini-api-key", {"index": 0, "value": {"api-key": "  "}}, 200, {"status": "ok"}),
    ("GET", "/gemini-api-key", None, 200, {"gemini-api-key": []}),
    ("DELETE", "/gemini-api-key?api-key=unknown", None, 404, {"error": "item not found"}),
    ("DELETE", "/claude-api-key?api-key=unknown", None, 200, {"status": "ok"}),
    ("PUT", "/codex-api-key", [{"api-key": "c1"}, {"api-key": "c2", "base-url": "http://x"}], 200, {"status": "ok"}),
    ("DELETE", "/openai-compatibility", None, 400, {"error": "missing name or index"}),
    ("PATCH", "/oauth-excluded-models", {"provider": "Gemini-CLI", "models": [" M1 ", "m1"]}, 200, {"status": "ok"}),
    ("GET", "/oauth-excluded-models", None, 200, {"oauth-excluded-models": {"gemini-cli": ["m1"]}}),
    ("DELETE", "/oauth-excluded-models?provider=nope", None, 404, {"error": "provider not found"}),
    ("DELETE", "/oauth-excluded-models", None, 400, {"error": "missing provider"}),
]


async def test_management_endpoint_answers(stack: Stack) -> None:
    for method, path, body, status, expected in MANAGEMENT_CASES:
        kwargs: dict[str, Any] = {"headers": MGMT}
        if body is not None:
            kwargs["json"] = body
        got_status, _, got = await stack.call(method, "/v0/management" + path, **kwargs)
        assert (got_status, json.loads(got)) == (status, expected), (method, path, body)
    # A nil list is null in JSON until the hot reload re-reads it from the file as [] (as in Go).
    status, _, got = await stack.call("GET", "/v0/management/codex-api-key", headers=MGMT)
    codex = json.loads(got)["codex-api-key"]
    assert codex in (
        [{"api-key": "c2", "base-url": "http://x", "proxy-url": "", "models": None}],
        [{"api-key": "c2", "base-url": "http://x", "proxy-url": "", "models": []}],
    )
    on_disk = YAML(typ="safe").load(stack.config.read_text())
    assert on_disk["api-keys"] == ["A", "c"]
    assert on_disk["gemini-api-key"] == []
    assert on_disk["codex-api-key"] == [{"api-key": "c2", "base-url": "http://x", "proxy-url": "", "models": []}]
    assert on_disk["oauth-excluded-models"] == {"gemini-cli": ["m1"]}
    assert on_disk["quota-exceeded"] == {"switch-project": True, "switch-preview-model": False}

    status, _, got = await stack.call("PUT", "/v0/management/config.yaml", headers=MGMT, data=b"foo: [")
    assert status == 400 and json.loads(got)["error"] == "invalid_yaml"
    status, _, got = await stack.call("GET", "/v0/management/config", headers=MGMT)
    assert not {"host", "port", "remote-management", "auth-dir"} & set(json.loads(got))


async def _wait_reload(stack: Stack, check: Any) -> None:
    for _ in range(50):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("config reload not observed")


async def test_remote_ban_and_secret_removal(stack: Stack) -> None:
    remote = {"X-Forwarded-For": "10.0.0.5"}
    stack.config.write_text(stack.config.read_text().replace("allow-remote: false", "allow-remote: true"))

    async def remote_allowed() -> bool:
        return (await stack.call("GET", "/v0/management/debug", headers=remote))[0] == 401

    await _wait_reload(stack, remote_allowed)  # that probe was failure 1 of 5
    for _ in range(4):
        status, _, body = await stack.call(
            "GET", "/v0/management/debug", headers={**remote, "Authorization": "Bearer wrong"}
        )
        assert (status, body) == (401, b'{"error":"invalid management key"}')
    status, _, body = await stack.call("GET", "/v0/management/debug", headers={**remote, **MGMT})
    assert status == 403
    message = json.loads(body)["error"]
    assert re.fullmatch(r"IP banned due to too many failed attempts\. Try again in (29m\d+s|30m0s)", message)
    assert (await stack.call("GET", "/v0/management/debug", headers=MGMT))[0] == 200  # localhost unaffected

    text = stack.config.read_text()
    start = text.index("  secret-key:")
    stack.config.write_text(text[:start] + text[text.index("\n", start) + 1 :])

    async def management_gone() -> bool:
        return (await stack.call("GET", "/v0/management/debug", headers=MGMT))[0] == 404

    await _wait_reload(stack, management_gone)
    status, _, body = await stack.call("GET", "/v0/management/debug", headers=MGMT)
    assert (status, body) == (404, b"")


WRITER_INPUT = """\
# top comment
port: 8317  # the port

api-keys: ["a", 'b']
openai-compatibility:
  - name: one
    priority: 0
    base-url: http://a
    api-keys: [legacy]
    models: [{name: m, alias: x}]
    extra: dropped
  - name: two   # second
    base-url: http://b
    models: []
claude-api-key:
  - api-key: "12345"
gemini-api-key:
oauth-excluded-models:
  codex: [a]
  empty: []
tls: ~
unknown-key: kept
"""

WRITER_OUTPUT = """\
# top comment
port: 8317 # the port
api-keys:
  - "a"
  - 'b'
  - "true"
openai-compatibility:
  - name: two # second
    base-url: http://b
    models: []
  - name: one
    base-url: http://a
    models:
      - name: m
        alias: x
    api-key-entries:
      - api-key: legacy
claude-api-key:
  - api-key: "12345"
gemini-api-key:
oauth-excluded-models:
  codex:
    - a
tls:
  enable: false
  cert: ""
  key: ""
unknown-key: kept
oauth-model-alias:
  antigravity:
    - name: rev19-uic3-1p
      alias: gemini-2.5-computer-use-preview-10-2025
    - name: gemini-3-pro-image
      alias: gemini-3-pro-image-preview
    - name: gemini-3-pro-high
      alias: gemini-3-pro-preview
    - name: gemini-3-flash
      alias: gemini-3-flash-preview
    - name: claude-sonnet-4-5
      alias: gemini-claude-sonnet-4-5
    - name: claude-sonnet-4-5-thinking
      alias: gemini-claude-sonnet-4-5-thinking
    - name: claude-opus-4-5-thinking
      alias: gemini-claude-opus-4-5-thinking
remote-management:
  allow-remote: false
  secret-key: ""
  disable-control-panel: false
  panel-github-repository: https://github.com/router-for-me/Cli-Proxy-API-Management-Center
debug: true
"""


def test_config_writer_follows_save_config_preserve_comments(tmp_path: Path) -> None:
    from .legacy_config import load_config
    from .legacy_yamlsave import save_config_preserve_comments

    path = tmp_path / "config.yaml"
    path.write_text(WRITER_INPUT, encoding="utf-8")
    cfg = load_config(path)  # alias defaults and legacy compat api-keys migrated here
    cfg["openai-compatibility"].reverse()
    cfg["api-keys"].append("true")
    cfg["debug"] = True
    save_config_preserve_comments(path, cfg)
    assert path.read_text(encoding="utf-8") == WRITER_OUTPUT


def test_config_writer_keeps_head_comments_when_the_previous_value_changes(tmp_path: Path) -> None:
    from .legacy_config import load_config
    from .legacy_yamlsave import save_config_preserve_comments

    path = tmp_path / "config.yaml"
    path.write_text(
        "debug: false   # eol\n# client keys\napi-keys:\n  - old-key\n# gemini keys\ngemini-api-key:\n"
        "  - api-key: g1\n# tail\noauth-model-alias: {}\n",
        encoding="utf-8",
    )
    cfg = load_config(path)
    cfg["api-keys"] = ["new-key"]
    cfg["gemini-api-key"] = []
    cfg["debug"] = True
    save_config_preserve_comments(path, cfg)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("debug: true # eol\n# client keys\napi-keys:\n  - new-key\n# gemini keys\n")
    assert "gemini-api-key: []\n# tail\n" in text
