"""Every inference route in shadow against the stand-in legacy: zero mismatches on a deterministic upstream.

The gateway runs as its own process; the stand-in (tests/fakes/legacy_server.py with
legacy_inference.py) and the scripted fake upstream run in the test. Each client protocol is sent
to the upstream that speaks it (the pairs the stand-in reproduces independently), streamed and not,
plus token counting and the model lists. The client always gets the legacy answer; the native
leg runs off the response path and its structural comparison must match.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.conftest import API_KEY, MGMT_HASH, Processes, free_port, mgmt_headers, write_flags
from tests.fakes import start_legacy
from tests.fakes.llm_upstream import FakeLLM

MODELS = {"claude": ("c-alias", "claude-sonnet-4-5-20250929"), "gemini": ("g-alias", "gemini-2.5-flash"),
          "codex": ("x-alias", "gpt-5"), "compat": ("o-alias", "upstream-model")}


def config_text(port: int, root: str) -> str:
    def models(kind: str) -> str:
        alias, name = MODELS[kind]
        return f"    models:\n      - name: {name}\n        alias: {alias}\n"

    return (f'host: 127.0.0.1\nport: {port}\nremote-management:\n  secret-key: "{MGMT_HASH}"\n'
            f"api-keys:\n  - {API_KEY}\n"
            f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {root}\n{models('claude')}"
            f"gemini-api-key:\n  - api-key: sk-gemini\n    base-url: {root}\n{models('gemini')}"
            f"codex-api-key:\n  - api-key: sk-codex\n    base-url: {root}/v1\n{models('codex')}"
            f"openai-compatibility:\n  - name: compat\n    base-url: {root}/v1\n"
            f"    api-key-entries:\n      - api-key: sk-compat\n{models('compat')}")


def calls() -> list[tuple[str, dict[str, Any]]]:
    messages = [{"role": "user", "content": "say hello"}]
    weather = [{"role": "user", "content": "what is the weather in Paris"}]
    chat_tool = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}}}}]
    claude_tool = [{"name": "get_weather", "input_schema": {"type": "object",
                                                            "properties": {"location": {"type": "string"}}}}]
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "say hello"}]}]}
    out: list[tuple[str, dict[str, Any]]] = []
    for stream in (False, True):
        out.append(("/v1/chat/completions", {"model": "o-alias", "messages": messages, "stream": stream}))
        out.append(("/v1/chat/completions", {"model": "o-alias", "messages": weather, "tools": chat_tool,
                                             "stream": stream}))
        out.append(("/v1/messages", {"model": "c-alias", "max_tokens": 64, "messages": messages, "stream": stream}))
        out.append(("/v1/messages", {"model": "c-alias", "max_tokens": 64, "messages": weather,
                                     "tools": claude_tool, "stream": stream}))
        out.append(("/v1/responses", {"model": "x-alias", "input": "say hello", "stream": stream}))
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        out.append((f"/v1beta/models/g-alias:{method}", gemini_body))
    out.append(("/v1/messages/count_tokens", {"model": "c-alias", "messages": messages}))
    out.append(("/v1beta/models/g-alias:countTokens", gemini_body))
    # Errors compare too: an unknown model is answered before any upstream call on both sides.
    out.append(("/v1/messages", {"model": "nope", "max_tokens": 5, "messages": messages}))
    return out


async def wait_compared(session: aiohttp.ClientSession, url: str, total: int) -> dict:
    report: dict = {}
    for _ in range(200):
        async with session.get(f"{url}/v0/gateway/shadow", headers=mgmt_headers()) as response:
            report = await response.json()
        if sum(sum(c.values()) for c in report["counters"].values()) >= total:
            return report
        await asyncio.sleep(0.05)
    return report


async def test_inference_routes_match_legacy_in_shadow(tmp_path: Path, processes: Processes) -> None:
    fake = FakeLLM()
    await fake.start()
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(port, fake.root))
    legacy_runner, legacy_url = await start_legacy(config, port=0)
    try:
        flags = write_flags(tmp_path / "flags.yaml", {
            "default": "legacy",
            "legacy": {"url": legacy_url},
            "server": {"state_dir": str(tmp_path / "state")},
            "routes": [{"match": "POST /v1/*", "mode": "shadow", "shadow_llm": True},
                       {"match": "POST /v1beta/*", "mode": "shadow", "shadow_llm": True}],
        })
        gateway = processes.gateway(config, flags, port=port)
        todo = calls()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with aiohttp.ClientSession() as session:
            for path, body in todo:
                async with session.post(f"{gateway.url}{path}", json=body, headers=headers) as response:
                    await response.read()
                    assert response.headers["X-Quotio-Route"] == "shadow/legacy", path
            report = await wait_compared(session, gateway.url, len(todo))
    finally:
        await legacy_runner.cleanup()
        await fake.stop()
    totals: dict[str, int] = {}
    for counters in report["counters"].values():
        for outcome, count in counters.items():
            totals[outcome] = totals.get(outcome, 0) + count
    assert report["samples"] == [], report["samples"]
    assert totals.get("mismatch", 0) == 0 and totals.get("error", 0) == 0 and totals.get("skipped", 0) == 0
    assert totals.get("match", 0) + totals.get("ignored", 0) == len(todo)
    # Both legs reached the upstream: twice the calls that passed model resolution.
    assert len(fake.requests) == 2 * (len(todo) - 1)


async def test_openai_model_list_matches_legacy_in_shadow(tmp_path: Path, processes: Processes) -> None:
    """``GET /v1/models`` in both shapes (the ``claude-cli`` User-Agent switch). The stand-in lists
    only ``openai-compatibility`` models (no static catalogues), so the config has only those."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f'host: 127.0.0.1\nport: {port}\nremote-management:\n  secret-key: "{MGMT_HASH}"\n'
                      f"api-keys:\n  - {API_KEY}\n"
                      "openai-compatibility:\n  - name: compat\n    base-url: http://127.0.0.1:9/v1\n"
                      "    api-key-entries:\n      - api-key: sk-compat\n"
                      "    models:\n      - name: upstream-model\n        alias: o-alias\n"
                      "      - name: second-model\n")
    legacy_runner, legacy_url = await start_legacy(config, port=0)
    try:
        flags = write_flags(tmp_path / "flags.yaml", {
            "default": "legacy", "legacy": {"url": legacy_url},
            "server": {"state_dir": str(tmp_path / "state")},
            "routes": [{"match": "GET /v1/models", "mode": "shadow"}],
        })
        gateway = processes.gateway(config, flags, port=port)
        async with aiohttp.ClientSession() as session:
            for agent in ("openai-python/1.0", "claude-cli/2.0.0 (external, cli)"):
                async with session.get(f"{gateway.url}/v1/models", headers={
                        "Authorization": f"Bearer {API_KEY}", "User-Agent": agent}) as response:
                    assert response.status == 200 and response.headers["X-Quotio-Route"] == "shadow/legacy"
            report = await wait_compared(session, gateway.url, 2)
    finally:
        await legacy_runner.cleanup()
    assert report["samples"] == []
    assert report["counters"]["GET /v1/models"]["mismatch"] == 0
    assert report["counters"]["GET /v1/models"]["match"] + report["counters"]["GET /v1/models"]["ignored"] == 2
