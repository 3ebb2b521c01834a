"""Management reads in shadow against the stand-in legacy server: no differences, nothing uncompared.

The gateway runs as its own process with ``legacy.url`` pointing at the stand-in (tests/fakes), an
independent second reading of CLIProxyAPI v6.7.15. Both read the same config.yaml (its secret is
pre-hashed, so neither rewrites it). Every read is answered by legacy and re-answered natively in
the background; GET /v0/gateway/shadow must then show only matches.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.e2e.conftest import API_KEY, MGMT_HASH, Processes, free_port, mgmt_headers, write_flags
from tests.fakes import start_legacy

CONFIG = f"""\
# e2e: a CLIProxyAPI config with something in every section the reads show
host: 127.0.0.1
port: {{port}}
auth-dir: {{auth_dir}}
remote-management:
  allow-remote: false  # loopback only
  secret-key: "{MGMT_HASH}"
debug: true
logging-to-file: false
logs-max-total-size-mb: 64
usage-statistics-enabled: true
proxy-url: "socks5://127.0.0.1:1080"
request-retry: 2
max-retry-interval: 45
quota-exceeded:
  switch-project: true
  switch-preview-model: false
force-model-prefix: false
routing:
  strategy: fill-first
ws-auth: true
request-log: false
api-keys:
  - {API_KEY}
  - second-client-key
# Gemini keys, one with headers and exclusions
gemini-api-key:
  - api-key: AIza-e2e-1
    prefix: team
    headers:
      X-Team: blue
    excluded-models:
      - gemini-1.5-pro
  - api-key: AIza-e2e-2
    base-url: https://generativelanguage.example
claude-api-key:
  - api-key: sk-ant-e2e
    base-url: https://claude.example
    models:
      - name: claude-sonnet-4-5
        alias: sonnet
codex-api-key:
  - api-key: sk-codex-e2e
    base-url: https://codex.example
vertex-api-key:
  - api-key: vk-e2e
    base-url: https://vertex.example
    models:
      - name: gemini-2.5-pro
        alias: vpro
openai-compatibility:
  # a local OpenAI-style upstream
  - name: local
    base-url: http://127.0.0.1:9/v1
    api-key-entries:
      - api-key: sk-local
    models:
      - name: fake-model
        alias: fm
oauth-excluded-models:
  gemini-cli:
    - gemini-1.0-pro
# present, so the binary's alias migration leaves the file alone
oauth-model-alias:
  antigravity:
    - name: gemini-3-pro-high
      alias: g3
"""

READS = ["config", "config.yaml", "debug", "logging-to-file", "logs-max-total-size-mb",
         "usage-statistics-enabled", "proxy-url", "request-retry", "max-retry-interval",
         "quota-exceeded/switch-project", "quota-exceeded/switch-preview-model", "force-model-prefix",
         "routing/strategy", "ws-auth", "request-log", "api-keys", "gemini-api-key", "claude-api-key",
         "codex-api-key", "vertex-api-key", "openai-compatibility", "oauth-excluded-models"]
# (path, headers, expected status); GET / has no management key requirement.
CALLS: list[tuple[str, dict[str, str], int]] = [
    *[(f"/v0/management/{p}", mgmt_headers(), 200) for p in READS],
    *[(f"/v0/management/{p}", mgmt_headers("wrong-key"), 401) for p in READS],
    *[(f"/v0/management/{p}", {}, 401) for p in READS],
    ("/", {}, 200),
]


async def wait_compared(session: aiohttp.ClientSession, url: str, total: int) -> dict:
    """Shadow legs finish off the response path; poll until every request has an outcome."""
    report: dict = {}
    for _ in range(100):
        async with session.get(f"{url}/v0/gateway/shadow", headers=mgmt_headers()) as response:
            assert response.status == 200
            report = await response.json()
        if sum(sum(c.values()) for c in report["counters"].values()) >= total:
            return report
        await asyncio.sleep(0.05)
    return report


async def test_every_management_read_matches_in_shadow(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(port=port, auth_dir=tmp_path / "auths"))
    (tmp_path / "auths").mkdir()
    original = config.read_text()
    legacy_runner, legacy_url = await start_legacy(config, port=0)
    try:
        flags = write_flags(tmp_path / "flags.yaml", {
            "default": "legacy",
            "legacy": {"url": legacy_url},
            "server": {"state_dir": str(tmp_path / "state")},
            "routes": [{"match": "GET /v0/management/*", "mode": "shadow"}, {"match": "GET /", "mode": "shadow"}],
        })
        gateway = processes.gateway(config, flags, port=port)
        async with aiohttp.ClientSession() as session:
            answers = []
            for path, headers, _ in CALLS:
                async with session.get(f"{gateway.url}{path}", headers=headers) as response:
                    answers.append((path, response.status, response.headers.get("X-Quotio-Route")))
                    await response.read()
            assert answers == [(path, status, "shadow/legacy") for path, _, status in CALLS]
            report = await wait_compared(session, gateway.url, len(CALLS))
    finally:
        await legacy_runner.cleanup()
    counters = report["counters"]
    assert set(counters) == {"GET /v0/management/*", "GET /"}
    mgmt, root = counters["GET /v0/management/*"], counters["GET /"]
    assert report["samples"] == []
    assert mgmt.get("mismatch", 0) == 0 and mgmt.get("error", 0) == 0 and mgmt.get("skipped", 0) == 0
    assert mgmt.get("match", 0) + mgmt.get("ignored", 0) == len(CALLS) - 1
    assert root.get("match", 0) + root.get("ignored", 0) == 1
    assert root.get("mismatch", 0) == root.get("error", 0) == root.get("skipped", 0) == 0
    assert config.read_text() == original  # reads never touch the file


async def test_unreachable_legacy_is_not_a_shadow_mismatch(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(port=port, auth_dir=tmp_path / "auths"))
    flags = write_flags(tmp_path / "flags.yaml", {
        "legacy": {"url": f"http://127.0.0.1:{free_port()}"},  # nothing listens there
        "server": {"state_dir": str(tmp_path / "state")},
        "routes": [{"match": "GET /v0/management/*", "mode": "shadow"}],
    })
    gateway = processes.gateway(config, flags, port=port)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/v0/management/debug", headers=mgmt_headers()) as response:
            assert (response.status, await response.json()) == (503, {"error": "legacy server is unreachable"})
        report = await wait_compared(session, gateway.url, 1)
    counters = report["counters"]["GET /v0/management/*"]
    assert (counters["mismatch"], counters["skipped"], report["samples"]) == (0, 1, [])
