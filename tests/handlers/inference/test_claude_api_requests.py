"""The exact upstream request of the claude-api-key executor, end to end, where a key's ``headers:``,
the client's own headers, the body's ``betas`` and the payload rules meet.

Facts: claude_executor.go ``applyClaudeHeaders`` (621-686: Authorization, the Anthropic-Beta merge,
EnsureHeader identity headers a client value replaces, Accept, then the entry's headers last),
``applyCloaking`` (936-985; the client's User-Agent from the Gin context decides, 828-833), Execute
(113-124: cloaking, payload rules, then ``extractAndRemoveBetas``) and CountTokens (384-415: betas
extracted, no payload rules).
"""

from __future__ import annotations

from typing import Any

import pytest

from handlers.providers.claude_api import _USER_ID
from tests.fakes.llm_upstream import FakeLLM, Recorded
from tests.handlers.inference.conftest import MakeClient

MODEL = "claude-sonnet-4-5-20250929"
HI = [{"role": "user", "content": "hi"}]
CLAUDE_CODE_UA = "claude-cli/2.0.14 (external, cli)"
CLOAK_LINE = {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}


def config(root: str, entry_agent: str) -> str:
    return (f"claude-api-key:\n  - api-key: sk-claude\n    base-url: {root}\n"
            f"    headers:\n      User-Agent: \"{entry_agent}\"\n      anthropic-version: 2024-10-22\n"
            "      X-Stainless-Os: Plan9\n      Authorization: Bearer entry-token\n"
            "payload:\n"
            "  default:\n    - models:\n        - name: claude-*\n          protocol: claude\n"
            "      params:\n        betas: [from-default]\n"
            "  override:\n    - models:\n        - name: claude-*\n          protocol: claude\n"
            "      params:\n        betas: [b4, b2]\n")


def sent_headers(seen: Recorded) -> dict[str, str]:
    # Host carries the fake's port and Content-Length the body's size: neither is the executor's.
    # Names compare case-insensitively, as HTTP reads them (Go would write them canonicalised).
    return {k.lower(): v for k, v in seen.headers.items() if k.lower() not in ("host", "content-length")}


@pytest.mark.parametrize(("client_agent", "entry_agent", "cloaked"), [
    # Claude Code asks: not cloaked, though the upstream sees the entry's agent.
    (CLAUDE_CODE_UA, "my-agent", False),
    # An SDK asks: cloaked, though the upstream sees a Claude Code agent from the entry.
    ("sdk/1", "claude-cli/1.0.83 (external, cli)", True),
])
async def test_entry_headers_come_last_and_cloaking_reads_the_clients_own_agent(
        gateway: MakeClient, fake_llm: FakeLLM, client_agent: str, entry_agent: str, cloaked: bool) -> None:
    client = await gateway(config(fake_llm.root, entry_agent))
    headers = {"User-Agent": client_agent, "Anthropic-Version": "2023-01-01", "X-Stainless-Os": "Linux",
               "X-Stainless-Lang": "python", "Anthropic-Beta": "b1, b2"}
    body: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": HI, "betas": ["b2", " b3 ", ""]}
    resp = await client.post("/v1/messages", json=body, headers=headers, skip_auto_headers=("User-Agent",))
    assert resp.status == 200, await resp.text()
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1/messages", {"beta": "true"})
    # The override's betas replaced the body's before they were taken out for the header; the
    # default did not apply, the client having sent betas. The client's header is the base, with
    # oauth added and the extra betas it lacks appended.
    assert sent_headers(seen) == {
        "authorization": "Bearer entry-token", "content-type": "application/json",
        "anthropic-beta": "b1, b2,oauth-2025-04-20,b4",
        "anthropic-dangerous-direct-browser-access": "true", "x-app": "cli",
        "x-stainless-helper-method": "stream", "x-stainless-retry-count": "0",
        "x-stainless-runtime-version": "v24.3.0", "x-stainless-package-version": "0.55.1",
        "x-stainless-runtime": "node", "x-stainless-lang": "python", "x-stainless-arch": "arm64",
        "x-stainless-timeout": "60", "connection": "keep-alive", "accept-encoding": "gzip, deflate, br, zstd",
        "accept": "application/json", "user-agent": entry_agent, "anthropic-version": "2024-10-22",
        "x-stainless-os": "Plan9"}
    sent = seen.body
    assert "betas" not in sent
    if cloaked:
        assert sent["system"] == [CLOAK_LINE]
        assert _USER_ID.fullmatch(sent["metadata"]["user_id"])
    else:
        assert sent == {"model": MODEL, "max_tokens": 64, "messages": HI}


async def test_count_tokens_takes_the_bodys_betas_without_payload_rules(gateway: MakeClient,
                                                                        fake_llm: FakeLLM) -> None:
    client = await gateway(config(fake_llm.root, "my-agent"))
    body = {"model": MODEL, "messages": HI, "betas": ["b2", " b3 ", ""]}
    resp = await client.post("/v1/messages/count_tokens", json=body,
                             headers={"User-Agent": "sdk/1", "Anthropic-Beta": "b1,oauth-x"},
                             skip_auto_headers=("User-Agent",))
    assert resp.status == 200, await resp.text()
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1/messages/count_tokens", {"beta": "true"})
    # A client header naming oauth gets none added; b2 and b3 are the body's own, no rule replaced them.
    assert sent_headers(seen)["anthropic-beta"] == "b1,oauth-x,b2,b3"
    assert seen.body == {"model": MODEL, "messages": HI, "system": [CLOAK_LINE]}
