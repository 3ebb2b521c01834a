"""Model names on the way upstream, over HTTP (reference B7, surface §4): the ``models:`` aliases of
Gemini, Claude, Codex and Vertex keys with thinking suffixes, a key prefix, and which names payload rules match."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    MakeGateway,
    chat,
    claude,
    error_body,
)

VERTEX = """vertex-api-key:
  - api-key: vk1
    base-url: {root}
    prefix: /team/
    models:
      - {{name: gemini-2.5-pro, alias: vpro}}
      - {{name: "gemini-2.5-flash(low)", alias: vflash}}
payload:
  override:
    - models: [{{name: "gemini-*", protocol: vertex}}]
      params: {{"generationConfig.topK": 1}}
    - models: [{{name: "gemini-2.5-*", protocol: GEMINI}}]
      params: {{"generationConfig.topK": 7}}
"""


async def test_vertex_key_aliases_prefix_and_suffixes(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(VERTEX.format(root=fake_llm.root))
    listed = [m["id"] for m in (await (await client.get("/v1/models")).json())["data"]]
    # The entry's models replace the catalogue; the prefix loses its slashes (config.go:774-784)
    # and every alias is listed bare and prefixed (service.go:1038-1078).
    assert sorted(listed) == ["team/vflash", "team/vpro", "vflash", "vpro"]
    cases = [
        # The request's suffix rides on the upstream name (conductor.go:201-239) ...
        ("team/vpro(8192)", False, "gemini-2.5-pro:generateContent", {"thinkingBudget": 8192}),
        ("vpro", True, "gemini-2.5-pro:streamGenerateContent", None),
        # ... unless the configured name has its own, which wins: "low" is a 1024 budget.
        ("vflash(high)", False, "gemini-2.5-flash:generateContent", {"thinkingBudget": 1024}),
    ]
    for model, stream, action, thinking in cases:
        resp = await client.post("/v1/chat/completions", json=chat(model, stream=stream))
        assert resp.status == 200, await resp.text()
        await resp.read()
        sent = fake_llm.requests[-1]
        assert (sent.path, sent.key) == (f"/v1/publishers/google/models/{action}", "vk1")
        # The Vertex executor's rules run under protocol "gemini" (gemini_vertex_executor.go:426,441).
        expected: dict[str, Any] = {"topK": 7}
        if thinking is not None:
            expected["thinkingConfig"] = {**thinking, "includeThoughts": True}
        assert sent.body["generationConfig"] == expected
    # The upstream name itself is not one of the key's models.
    resp = await client.post("/v1/chat/completions", json=chat("gemini-2.5-pro"))
    assert resp.status == 400
    assert await resp.read() == error_body("unknown provider for model gemini-2.5-pro")
    assert len(fake_llm.requests) == 3


API_KEY_ALIASES = """gemini-api-key:
  - api-key: g1
    base-url: {root}
    models:
      - {{name: gemini-2.5-pro, alias: g25p}}
      - {{name: "gemini-2.5-flash(low)", alias: gfl}}
claude-api-key:
  - api-key: c1
    base-url: {root}
    models:
      - {{name: claude-sonnet-4-5-20250929, alias: cs}}
codex-api-key:
  - api-key: x1
    base-url: {root}/v1
    models:
      - {{name: gpt-5, alias: g5}}
"""


@pytest.mark.parametrize(("model", "path", "sent"), [
    # applyAPIKeyModelAlias keeps the request's suffix on the upstream name (conductor.go:911-964) ...
    ("g25p(8192)", "/v1beta/models/gemini-2.5-pro:generateContent",
     {"generationConfig": {"thinkingConfig": {"thinkingBudget": 8192, "includeThoughts": True}}}),
    ("g25p", "/v1beta/models/gemini-2.5-pro:generateContent", {}),
    # ... unless the configured name carries its own, which wins: "low" is a 1024 budget.
    ("gfl(high)", "/v1beta/models/gemini-2.5-flash:generateContent",
     {"generationConfig": {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}}),
    ("gfl", "/v1beta/models/gemini-2.5-flash:generateContent",
     {"generationConfig": {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}}),
    ("cs(16384)", "/v1/messages",
     {"model": CLAUDE_MODEL, "thinking": {"type": "enabled", "budget_tokens": 16384}}),
    ("cs", "/v1/messages", {"model": CLAUDE_MODEL}),
    ("g5(high)", "/v1/responses", {"model": "gpt-5", "reasoning": {"effort": "high", "summary": "auto"}}),
])
async def test_api_key_aliases_carry_the_thinking_suffix_upstream(gateway: MakeGateway, fake_llm: FakeLLM,
                                                                  model: str, path: str, sent: dict[str, Any]) -> None:
    client = await gateway(API_KEY_ALIASES.format(root=fake_llm.root))
    resp = await client.post("/v1/chat/completions", json=chat(model, max_tokens=32000))
    assert resp.status == 200, await resp.text()
    [request] = fake_llm.requests
    assert request.path == path
    assert {key: request.body.get(key) for key in sent} == sent
    if "thinking" not in sent and path == "/v1/messages":
        assert "thinking" not in request.body
    if not sent:
        assert "generationConfig" not in request.body


async def test_a_keys_aliases_replace_its_upstream_names(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    client = await gateway(API_KEY_ALIASES.format(root=fake_llm.root))
    for model in ("gemini-2.5-pro", CLAUDE_MODEL, "gpt-5"):
        resp = await client.post("/v1/chat/completions", json=chat(model))
        assert resp.status == 400
        assert await resp.read() == error_body(f"unknown provider for model {model}")
    assert fake_llm.requests == []


RULES = """payload:
  default:
    - models: [{name: cs}]
      params: {top_p: 0.1}
    - models: [{name: "claude-sonnet-*", protocol: claude}]
      params: {temperature: 0.5, top_k: 3}
    - models: [{name: "claude-*"}]
      params: {top_k: 9}
  override:
    - models: [{name: "claude-*", protocol: gemini}]
      params: {max_tokens: 1}
    - models: [{name: "*"}]
      params: {max_tokens: 66}
    - models: [{name: "claude-sonnet-4-5-*"}]
      params: {max_tokens: 77}
"""


async def test_payload_rules_match_the_upstream_name_not_an_api_key_alias(gateway: MakeGateway,
                                                                          fake_llm: FakeLLM) -> None:
    # payloadModelCandidates (payload_helpers.go:166-226) tries the executor's base model and its
    # oauth-model-alias names only: a key's ``models:`` alias is never a candidate. Defaults skip
    # what the client sent and the first matching rule wins; overrides: the last one wins.
    text = (f"claude-api-key:\n  - api-key: k1\n    base-url: {fake_llm.root}\n    cloak: {{mode: never}}\n"
            f"    models:\n      - {{name: {CLAUDE_MODEL}, alias: cs}}\n{RULES}")
    client = await gateway(text)
    resp = await client.post("/v1/messages", json=claude("cs", temperature=0.9))
    assert resp.status == 200, await resp.text()
    sent = fake_llm.requests[-1].body
    assert sent["model"] == CLAUDE_MODEL
    assert (sent["temperature"], sent["top_k"], sent["max_tokens"]) == (0.9, 3, 77)
    assert "top_p" not in sent


async def test_no_exclusion_list_applies_to_a_vertex_key(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    # Reference B7 names vertex among the keys with ``excluded-models``, but v6.7.15's VertexCompatKey
    # has no such field (vertex_compat.go:11-36), and an API key never takes the global OAuth list
    # (service.go:990-1001, 722-730): every Vertex model stays served and listed.
    text = (f"vertex-api-key:\n  - api-key: vk1\n    base-url: {fake_llm.root}\n    excluded-models: ['*']\n"
            f"oauth-excluded-models:\n  vertex: ['*']\n")
    client = await gateway(text)
    listed = [m["id"] for m in (await (await client.get("/v1/models")).json())["data"]]
    assert "gemini-2.5-pro" in listed
    resp = await client.post("/v1/chat/completions", json=chat("gemini-2.5-pro"))
    assert resp.status == 200, await resp.text()
    assert [r.path for r in fake_llm.requests] == ["/v1/publishers/google/models/gemini-2.5-pro:generateContent"]


THINKING_RULES = """payload:
  default:
    - models: [{name: "gemini-2.5-*", protocol: gemini}]
      params: {"generationConfig.thinkingConfig.thinkingBudget": 100}
  override:
    - models: [{name: "*"}]
      params: {"generationConfig.temperature": 0.3}
"""


@pytest.mark.parametrize(("path", "budget"), [
    # Nothing in the client's body: the default replaces the value the suffix made.
    ("/v1beta/models/gemini-2.5-flash(8192):generateContent", None),
    # The client's own budget keeps the default out ...
    ("/v1beta/models/gemini-2.5-flash:generateContent", 555),
    # ... also when the suffix, which wins over the body, set the value that goes out.
    ("/v1beta/models/gemini-2.5-flash(8192):generateContent", 555),
])
async def test_a_default_rule_yields_to_the_clients_body_not_to_the_thinking_suffix(
        gateway: MakeGateway, fake_llm: FakeLLM, path: str, budget: int | None) -> None:
    """The Gemini executor applies thinking, then the rules (gemini_executor.go:119-129); a
    default looks at the translated client body from before the thinking step, an override
    always sets (payload_helpers.go:16-124)."""
    client = await gateway(f"gemini-api-key:\n  - api-key: g1\n    base-url: {fake_llm.root}\n{THINKING_RULES}")
    config: dict[str, Any] = {"temperature": 0.9}
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget}
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": config}
    resp = await client.post(path, json=body)
    assert resp.status == 200, await resp.text()
    sent = fake_llm.requests[-1].body["generationConfig"]
    expected = 100 if budget is None else (8192 if "(8192)" in path else budget)
    assert (sent["thinkingConfig"]["thinkingBudget"], sent["temperature"]) == (expected, 0.3)
