"""Payload rules and the thinking step: their order per upstream, as each legacy executor runs them."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.providers.gemini_api import CANVAS_PROMPT, white_png_base64
from tests.fakes.llm_upstream import FakeLLM
from tests.handlers.inference.test_faults import (
    CLAUDE_MODEL,
    CODEX_MODEL,
    COMPAT_MODEL,
    GEMINI_MODEL,
    MakeGateway,
    chat,
    upstreams_config,
)


def payload(kind: str, effort: str) -> str:
    return (f"payload:\n  {kind}:\n    - models:\n        - name: upstream-model\n          protocol: openai\n"
            f"      params:\n        reasoning_effort: {effort}\n")


@pytest.mark.parametrize(("kind", "effort"), [("override", "low"), ("default", "minimal")])
@pytest.mark.parametrize(("suffix", "sent"), [("(high)", "high"), ("(8192)", "medium"), ("(none)", "none"), ("", None)])
async def test_on_openai_compatible_upstreams_the_thinking_suffix_wins_over_payload_rules(
        gateway: MakeGateway, fake_llm: FakeLLM, kind: str, effort: str, suffix: str, sent: str | None) -> None:
    """The OpenAI-compatible executor is the one legacy executor that applies payload rules before
    thinking (openai_compat_executor.go:93-95), so a suffix still decides; without one, the rule's
    value goes out."""
    client = await gateway(upstreams_config(fake_llm.root, payload(kind, effort)))
    resp = await client.post("/v1/chat/completions", json=chat(COMPAT_MODEL + suffix))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = fake_llm.requests[-1].body
    assert body["model"] == "upstream-model"
    assert body["reasoning_effort"] == (sent or effort)


def override(params: str) -> str:
    return f"payload:\n  override:\n    - models:\n        - name: \"*\"\n      params:\n{params}"


@pytest.mark.parametrize(("model", "kept"), [
    # Claude, OpenAI-compatible (and the OpenAI chat OAuth executors) write the model before the
    # rules and never again (claude_executor.go:106-117, openai_compat_executor.go:91-101).
    (CLAUDE_MODEL, False), (COMPAT_MODEL, False),
    # Gemini and Codex write it again after the rules (gemini_executor.go:129-130, codex_executor.go:104-105).
    (GEMINI_MODEL, True), (CODEX_MODEL, True),
])
async def test_a_rule_setting_the_model_holds_where_the_legacy_lets_it(
        gateway: MakeGateway, fake_llm: FakeLLM, model: str, kept: bool) -> None:
    client = await gateway(upstreams_config(fake_llm.root, override("        model: hacked\n")))
    resp = await client.post("/v1/chat/completions", json=chat(model))
    assert resp.status == 200, await resp.text()
    sent = fake_llm.requests[-1]
    upstream_model = sent.body.get("model") if isinstance(sent.body, dict) else None
    if model == GEMINI_MODEL:
        upstream_model = sent.path.split("/models/", 1)[1].split(":", 1)[0]
    assert (upstream_model != "hacked") is kept


async def test_claude_rules_run_after_cloaking(gateway: MakeGateway, fake_llm: FakeLLM) -> None:
    """claude_executor.go:113-117: cloaking (Claude Code system line, fake user id) comes before the
    payload rules, so a rule's system prompt and user id are what goes out."""
    rules = override("        system: plain\n        metadata.user_id: rule-user\n")
    client = await gateway(upstreams_config(fake_llm.root, rules))
    resp = await client.post("/v1/chat/completions", json=chat(CLAUDE_MODEL))
    assert resp.status == 200, await resp.text()
    body = fake_llm.requests[-1].body
    assert body["system"] == "plain"
    assert body["metadata"] == {"user_id": "rule-user"}
    assert body["model"] == CLAUDE_MODEL


IMAGE_MODEL = "gemini-2.5-flash-image-preview"


def image_config(root: str, params: str) -> str:
    # The image preview model is only in AI Studio's catalogue: a key names it through an alias.
    return (f"gemini-api-key:\n  - api-key: sk-gemini\n    base-url: {root}\n"
            f"    models:\n      - name: {IMAGE_MODEL}\n        alias: drawer\n"
            f"payload:\n  override:\n    - models:\n        - name: {IMAGE_MODEL}\n          protocol: gemini\n"
            f"      params:\n{params}")


@pytest.mark.parametrize(("client_config", "params", "sent_config", "canvas"), [
    # The client asked for no ratio: no canvas, and the rule's ratio goes out as written.
    ({}, '        "generationConfig.imageConfig.aspectRatio": "16:9"\n',
     {"imageConfig": {"aspectRatio": "16:9"}}, False),
    # The client's ratio draws the canvas first; the rule's modalities then replace the fix's.
    ({"imageConfig": {"aspectRatio": "16:9"}}, '        "generationConfig.responseModalities": ["TEXT"]\n',
     {"responseModalities": ["TEXT"]}, True),
])
async def test_the_gemini_canvas_fix_comes_before_the_payload_rules(
        gateway: MakeGateway, fake_llm: FakeLLM, client_config: dict[str, Any], params: str,
        sent_config: dict[str, Any], canvas: bool) -> None:
    """gemini_executor.go:128-129: fixGeminiImageAspectRatio runs after the thinking step and
    before applyPayloadConfigWithRoot, so it sees the client's ``imageConfig`` only, and a rule
    has the last word on what the fix wrote."""
    client = await gateway(image_config(fake_llm.root, params))
    contents = [{"role": "user", "parts": [{"text": "a cat"}]}]
    resp = await client.post("/v1beta/models/drawer:generateContent",
                             json={"contents": contents, "generationConfig": client_config})
    assert resp.status == 200, await resp.text()
    sent = fake_llm.requests[-1]
    assert sent.path == f"/v1beta/models/{IMAGE_MODEL}:generateContent"
    parts = sent.body["contents"][0]["parts"]
    if canvas:
        assert [part.get("text") for part in parts] == [CANVAS_PROMPT, None, "a cat"]
        assert parts[1] == {"inlineData": {"mime_type": "image/png", "data": white_png_base64("16:9")}}
    else:
        assert parts == [{"text": "a cat"}]
    assert sent.body["generationConfig"] == sent_config
    assert sent.body["model"] == IMAGE_MODEL
