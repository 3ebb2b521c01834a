"""The harness proven on its own: each CLI straight against a fake upstream in its own protocol.

No gateway here. Each CLI answers ``say hello`` and must make exactly the one request the
reference recorded (../shared/reference/cli-agents-wire.md): path, query, key headers, body keys.
The proxy variables point at a probe, so a CLI reaching for anything beyond loopback is seen.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.agents.conftest import ProxyProbe, ThreadedUpstream, require
from tests.agents.upstream import answer_text

PROMPT = "say hello"
CLAUDE_BETAS = ("claude-code-20250219,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
                "context-management-2025-06-27,prompt-caching-scope-2026-01-05")


async def test_claude_code_direct(upstream: ThreadedUpstream, proxy_probe: ProxyProbe, tmp_path: Path) -> None:
    agent = require("claude")
    mark, probed = upstream.mark(), len(proxy_probe.peers)
    result = await agent.run(upstream.url, model="claude-sonnet-4-5", key="sk-direct-claude", prompt=PROMPT,
                             workdir=tmp_path, proxy=proxy_probe.url)
    assert result.exit_code == 0, result.describe()
    assert result.stdout.strip() == answer_text("claude")
    assert proxy_probe.peers[probed:] == []

    [seen] = upstream.since(mark)
    assert (seen.method, seen.path, seen.query) == ("POST", "/v1/messages", {"beta": "true"})
    assert seen.header("x-api-key") == "sk-direct-claude"
    assert seen.header("authorization") is None
    assert seen.header("anthropic-version") == "2023-06-01"
    assert seen.header("anthropic-beta") == CLAUDE_BETAS
    assert seen.header("user-agent") == "claude-cli/2.1.197 (external, sdk-cli)"
    assert seen.header("x-app") == "cli"
    assert seen.header("x-stainless-package-version") == "0.94.0"

    body = seen.body
    assert set(body) == {"model", "messages", "system", "tools", "metadata", "max_tokens", "thinking",
                         "context_management", "stream"}
    assert body["model"] == "claude-sonnet-4-5"
    assert body["stream"] is True
    assert body["max_tokens"] == 32000
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 31999}
    assert body["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    user_id = json.loads(body["metadata"]["user_id"])
    assert set(user_id) == {"device_id", "account_uuid", "session_id"}
    assert len(body["system"]) == 3
    assert body["system"][0]["text"].startswith("x-anthropic-billing-header: cc_version=")
    assert [block.get("cache_control") for block in body["system"]] == [None, {"type": "ephemeral"},
                                                                          {"type": "ephemeral"}]
    assert len(body["tools"]) == 24
    assert all(set(tool) == {"name", "description", "input_schema"} for tool in body["tools"])
    [turn] = body["messages"]
    assert turn["role"] == "user"
    assert len(turn["content"]) == 4
    assert all(block["text"].startswith("<system-reminder>") for block in turn["content"][:3])
    assert turn["content"][-1]["text"] == PROMPT
    assert "cache_control" in turn["content"][-1]


async def test_claude_code_with_a_non_claude_model(upstream: ThreadedUpstream, proxy_probe: ProxyProbe,
                                                  tmp_path: Path) -> None:
    """What a translator gets when Claude Code is given another vendor's model name.

    Thinking becomes ``adaptive`` (no budget), and a ``role: "system"`` message, which the
    Anthropic API itself does not accept, follows the user turn with the agent-type list.
    """
    agent = require("claude")
    mark = upstream.mark()
    result = await agent.run(upstream.url, model="gpt-5-codex", key="sk-direct-claude", prompt=PROMPT,
                             workdir=tmp_path, proxy=proxy_probe.url)
    assert result.exit_code == 0, result.describe()
    [seen] = upstream.since(mark)
    assert seen.body["model"] == "gpt-5-codex"
    assert seen.body["thinking"] == {"type": "adaptive"}
    assert [turn["role"] for turn in seen.body["messages"]] == ["user", "system"]
    assert seen.body["messages"][0]["content"][-1]["text"] == PROMPT
    assert isinstance(seen.body["messages"][1]["content"], str)


async def test_claude_code_auth_token_sends_bearer(upstream: ThreadedUpstream, proxy_probe: ProxyProbe,
                                                   tmp_path: Path) -> None:
    agent = require("claude")
    mark = upstream.mark()
    result = await agent.run(upstream.url, model="claude-sonnet-4-5", key="sk-direct-token", prompt=PROMPT,
                             workdir=tmp_path, proxy=proxy_probe.url, claude_auth="auth-token")
    assert result.exit_code == 0, result.describe()
    [seen] = upstream.since(mark)
    assert seen.header("authorization") == "Bearer sk-direct-token"
    assert seen.header("x-api-key") is None


async def test_codex_direct(upstream: ThreadedUpstream, proxy_probe: ProxyProbe, tmp_path: Path) -> None:
    agent = require("codex")
    mark, probed = upstream.mark(), len(proxy_probe.peers)
    result = await agent.run(upstream.url, model="gpt-5-codex", key="sk-direct-codex", prompt=PROMPT,
                             workdir=tmp_path, proxy=proxy_probe.url)
    assert result.exit_code == 0, result.describe()
    # stdout carries the final message only; the transcript goes to stderr.
    assert result.stdout.strip() == answer_text("responses")
    assert "OpenAI Codex v0.169.0" in result.stderr
    assert proxy_probe.peers[probed:] == []

    [seen] = upstream.since(mark)
    assert (seen.method, seen.path, seen.query) == ("POST", "/v1/responses", {})
    assert seen.header("authorization") == "Bearer sk-direct-codex"
    assert seen.header("accept") == "text/event-stream"
    assert seen.header("originator") == "codex_exec"
    assert (seen.header("user-agent") or "").startswith("codex_exec/0.169.0 (")
    assert seen.header("x-codex-beta-features") == "remote_compaction_v2"
    assert json.loads(seen.header("x-codex-turn-metadata") or "{}")["model"] == "gpt-5-codex"

    body = seen.body
    assert set(body) == {"model", "stream", "input", "tools", "tool_choice", "parallel_tool_calls", "reasoning",
                         "store", "include", "prompt_cache_key", "client_metadata"}
    assert body["model"] == "gpt-5-codex"
    assert (body["stream"], body["store"], body["tool_choice"], body["parallel_tool_calls"]) == (
        True, False, "auto", True)
    assert body["reasoning"] == {"summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert [(item["type"], item["role"]) for item in body["input"]] == [
        ("message", "developer"), ("message", "developer"), ("message", "user"), ("message", "user")]
    assert all("id" in item for item in body["input"])
    assert body["input"][-1]["content"] == [{"type": "input_text", "text": PROMPT}]
    kinds = [tool["type"] for tool in body["tools"]]
    assert (kinds.count("function"), kinds.count("namespace"), kinds.count("web_search")) == (7, 1, 1)
    assert len(kinds) == 9
    assert [tool["name"] for tool in body["tools"] if tool["type"] == "namespace"] == ["multi_agent_v1"]


async def test_gemini_cli_direct(upstream: ThreadedUpstream, proxy_probe: ProxyProbe, tmp_path: Path) -> None:
    agent = require("gemini")
    mark, probed = upstream.mark(), len(proxy_probe.peers)
    result = await agent.run(upstream.url, model="gemini-2.5-pro", key="sk-direct-gemini", prompt=PROMPT,
                             workdir=tmp_path, proxy=proxy_probe.url)
    assert result.exit_code == 0, result.describe()
    assert result.stdout.strip() == answer_text("gemini")
    assert proxy_probe.peers[probed:] == []

    [seen] = upstream.since(mark)
    assert (seen.method, seen.path, seen.query) == (
        "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", {"alt": "sse"})
    assert seen.header("x-goog-api-key") == "sk-direct-gemini"
    assert seen.header("user-agent") == "GeminiCLI-tui/0.61.0/gemini-2.5-pro (linux; x64; terminal)"
    assert (seen.header("x-goog-api-client") or "").startswith("google-genai-sdk/1.30.0 ")

    body = seen.body
    assert set(body) == {"contents", "systemInstruction", "tools", "generationConfig"}
    assert body["generationConfig"] == {"temperature": 1, "topP": 0.95, "topK": 64,
                                        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192}}
    [turn] = body["contents"]
    assert turn["role"] == "user"
    assert len(turn["parts"]) == 2
    assert turn["parts"][0]["text"].startswith("<session_context>")
    assert turn["parts"][-1] == {"text": PROMPT}
    assert body["systemInstruction"]["role"] == "user"
    assert body["systemInstruction"]["parts"][0]["text"]
    [tool_group] = body["tools"]
    declarations = tool_group["functionDeclarations"]
    assert len(declarations) == 8
    assert all("parametersJsonSchema" in d and "parameters" not in d for d in declarations)
