"""Thinking settings against the model a key's ``models:`` entry names upstream, over HTTP.

The legacy looks the upstream name up (``ApplyThinking`` -> ``LookupModelInfo``): a name the
registry does not hold falls back to the static catalogue, and a catalogue model without thinking
support has its thinking field removed (apply.go:119-126, strip.go). An entry that registers a
built-in name as itself is user-defined: its settings pass unvalidated (service.go:1129-1170).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import GEMINI_BODY, MakeGateway, chat, claude

CONFIG = """gemini-api-key:
  - api-key: sk-gemini
    base-url: {root}
    models:
      - {{name: claude-haiku-4-5-20251001, alias: g-haiku}}
codex-api-key:
  - api-key: sk-codex
    base-url: {root}/v1
    models:
      - {{name: claude-haiku-4-5-20251001, alias: x-haiku}}
claude-api-key:
  - api-key: sk-claude
    base-url: {root}
    models:
      - {{name: claude-sonnet-4-5-20250929}}
openai-compatibility:
  - name: compat
    base-url: {root}/v1
    api-key-entries:
      - api-key: sk-compat
    models:
      - {{name: qwen3-coder-plus, alias: o-qwen}}
"""


def gemini(level: Any) -> dict[str, Any]:
    return {**GEMINI_BODY, "generationConfig": {"temperature": 0.5, "thinkingConfig": {"thinkingLevel": level}}}


@pytest.mark.parametrize(("path", "body", "expected"), [
    # qwen3-coder-plus is a Qwen catalogue model without thinking: every effort key is dropped,
    # an empty or null one as well (the legacy reads any value there as a setting).
    ("/v1/chat/completions", chat("o-qwen", reasoning_effort="high"), {}),
    ("/v1/chat/completions", chat("o-qwen", reasoning_effort=None), {}),
    ("/v1/chat/completions", chat("o-qwen", reasoning_effort=""), {}),
    ("/v1/chat/completions", chat("x-haiku", reasoning_effort=""), {"reasoning": {"summary": "auto"}}),
    ("/v1beta/models/g-haiku:generateContent", gemini(""), {"generationConfig": {"temperature": 0.5}}),
    ("/v1beta/models/g-haiku:generateContent", gemini(None), {"generationConfig": {"temperature": 0.5}}),
])
async def test_a_model_without_thinking_loses_every_thinking_key(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                 path: str, body: dict[str, Any],
                                                                 expected: dict[str, Any]) -> None:
    client = await gateway(CONFIG.format(root=fake_llm.root))
    resp = await client.post(path, json=body)
    assert resp.status == 200, await resp.text()
    [sent] = fake_llm.requests
    kept = {k: v for k, v in sent.body.items() if k in ("reasoning_effort", "reasoning", "generationConfig")}
    assert kept == expected


@pytest.mark.parametrize(("path", "body", "thinking", "max_tokens"), [
    # Neither clamped to 128000 nor kept below max_tokens, as the catalogue entry would have it.
    ("/v1/chat/completions", chat("claude-sonnet-4-5-20250929(200000)"),
     {"type": "enabled", "budget_tokens": 200000}, 32000),
    # Not refused as out of [1024,128000], and no model default max_tokens written.
    ("/v1/messages", {"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "hi"}],
                      "thinking": {"type": "enabled", "budget_tokens": 500}},
     {"type": "enabled", "budget_tokens": 500}, None),
    # Auto stays auto: no midpoint budget.
    ("/v1/chat/completions", chat("claude-sonnet-4-5-20250929(auto)"), {"type": "enabled"}, 32000),
    # A Claude adaptive setting is no setting the legacy reads: it goes up as sent.
    ("/v1/messages", claude("claude-sonnet-4-5-20250929", thinking={"type": "adaptive"}), {"type": "adaptive"}, 64),
])
async def test_a_built_in_name_listed_as_itself_is_user_defined(gateway: MakeGateway, fake_llm: FakeLLM, path: str,
                                                                body: dict[str, Any], thinking: dict[str, Any],
                                                                max_tokens: int | None) -> None:
    client = await gateway(CONFIG.format(root=fake_llm.root))
    resp = await client.post(path, json=body)
    assert resp.status == 200, await resp.text()
    [sent] = fake_llm.requests
    assert sent.path == "/v1/messages"
    assert (sent.body["thinking"], sent.body.get("max_tokens")) == (thinking, max_tokens)
