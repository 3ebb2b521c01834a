"""Static catalogues: v6.7.15's own against model_definitions.go field by field, the fork-only ones
(GitHub Copilot, Kiro), and what they register."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handlers.models import catalog
from handlers.models.catalog import GITHUB_COPILOT, KIRO, STATIC_MODELS, ModelInfo, Thinking, lookup_static
from handlers.models.registry import CredentialRecord, build_registry
from quotio_gateway.config import Config

COPILOT_IDS = [
    "gpt-4.1", "gpt-5", "gpt-5-mini", "gpt-5-codex", "gpt-5.1", "gpt-5.1-codex", "gpt-5.1-codex-mini",
    "claude-haiku-4.5", "claude-opus-4.1", "claude-opus-4.5", "claude-sonnet-4", "claude-sonnet-4.5",
    "gemini-2.5-pro", "gemini-3-pro", "grok-code-fast-1", "raptor-mini",
]
KIRO_IDS = [
    "kiro-claude-opus-4-5", "kiro-claude-sonnet-4-5", "kiro-claude-sonnet-4", "kiro-claude-haiku-4-5",
    "kiro-claude-opus-4-5-agentic", "kiro-claude-sonnet-4-5-agentic", "kiro-claude-sonnet-4-agentic",
    "kiro-claude-haiku-4-5-agentic",
]


def test_copilot_catalogue_is_the_forks_list_in_order() -> None:
    assert STATIC_MODELS["github-copilot"] is GITHUB_COPILOT
    assert [m.id for m in GITHUB_COPILOT] == COPILOT_IDS
    assert {(m.owned_by, m.type, m.created, m.object) for m in GITHUB_COPILOT} == \
        {("github-copilot", "github-copilot", 1732752000, "model")}
    assert all(m.thinking is None for m in GITHUB_COPILOT)
    by_id = {m.id: m for m in GITHUB_COPILOT}
    assert by_id["gpt-5.1-codex-mini"] == ModelInfo(
        id="gpt-5.1-codex-mini", created=1732752000, owned_by="github-copilot", type="github-copilot",
        display_name="GPT-5.1 Codex Mini", description="OpenAI GPT-5.1 Codex Mini via GitHub Copilot",
        context_length=128000, max_completion_tokens=16384)
    assert (by_id["claude-opus-4.1"].description, by_id["claude-opus-4.1"].max_completion_tokens) == \
        ("Anthropic Claude Opus 4.1 via GitHub Copilot", 32000)
    assert (by_id["gemini-3-pro"].context_length, by_id["gemini-3-pro"].max_completion_tokens) == (1048576, 65536)
    assert by_id["grok-code-fast-1"].description == "xAI Grok Code Fast 1 via GitHub Copilot"
    assert by_id["raptor-mini"].description == "Raptor Mini via GitHub Copilot"


def test_kiro_catalogue_is_the_forks_list_in_order() -> None:
    assert STATIC_MODELS["kiro"] is KIRO
    assert [m.id for m in KIRO] == KIRO_IDS
    budget = Thinking(min=1024, max=32000, zero_allowed=True, dynamic_allowed=True)
    assert all((m.owned_by, m.type, m.created, m.context_length, m.max_completion_tokens, m.thinking)
               == ("aws", "kiro", 1732752000, 200000, 64000, budget) for m in KIRO)
    by_id = {m.id: m for m in KIRO}
    assert (by_id["kiro-claude-haiku-4-5"].display_name, by_id["kiro-claude-haiku-4-5"].description) == \
        ("Kiro Claude Haiku 4.5", "Claude Haiku 4.5 via Kiro (0.4x credit)")
    assert (by_id["kiro-claude-opus-4-5-agentic"].display_name, by_id["kiro-claude-opus-4-5-agentic"].description) \
        == ("Kiro Claude Opus 4.5 (Agentic)", "Claude Opus 4.5 optimized for coding agents (chunked writes)")


def test_copilot_and_kiro_credentials_register_their_models() -> None:
    records = [CredentialRecord(provider="github-copilot", id="github-copilot-octocat.json"),
               CredentialRecord(provider="kiro", id="kiro-aws-dev.json")]
    registry = build_registry(Config(), records)
    available = [m.id for m in registry.available()]
    assert set(available) == set(COPILOT_IDS) | set(KIRO_IDS)
    assert registry.providers("claude-sonnet-4.5") == ["github-copilot"]
    assert registry.providers("kiro-claude-sonnet-4-5") == ["kiro"]
    assert registry.upstream_model("kiro-aws-dev.json", "kiro-claude-sonnet-4-5") == "kiro-claude-sonnet-4-5"


def test_fork_lists_stay_out_of_the_v6_lookup() -> None:
    # v6.7.15's static lookup walks only its own catalogues.
    assert lookup_static("raptor-mini") is None
    assert lookup_static("kiro-claude-sonnet-4-5") is None
    assert lookup_static("gpt-4.1") is None


def test_static_lookup_takes_the_first_list_in_legacy_order() -> None:
    # LookupStaticModelInfo walks Claude, Gemini, Vertex, Gemini CLI, AI Studio, Codex, Qwen, iFlow
    # and returns the first entry with the ID; an ID in several lists gets the earliest one.
    order = (catalog.CLAUDE, catalog.GEMINI, catalog.VERTEX, catalog.GEMINI_CLI, catalog.AISTUDIO,
             catalog.CODEX, catalog.QWEN, catalog.IFLOW)
    seen: set[str] = set()
    for models in order:
        for model in models:
            if model.id not in seen:
                seen.add(model.id)
                assert lookup_static(model.id) is model
    shared = [m.id for m in catalog.GEMINI if any(v.id == m.id for v in catalog.VERTEX)]
    assert shared and all(lookup_static(i) in catalog.GEMINI for i in shared)


def test_static_lookup_falls_back_to_an_antigravity_override() -> None:
    model_id, (thinking, max_tokens) = next(
        (k, v) for k, v in catalog.ANTIGRAVITY_OVERRIDES.items()
        if not any(m.id == k for models in catalog.STATIC_MODELS.values() for m in models))
    found = lookup_static(model_id)
    assert found == ModelInfo(id=model_id, object="", thinking=thinking, max_completion_tokens=max_tokens)
    assert lookup_static("") is None and lookup_static("no-such-model") is None


# --- v6.7.15's own catalogues against model_definitions.go ----------------------------------

# The Go catalogue at 9b72ea9ef as JSON (Go field names, zero values left out), generated from
# the Go source, never edited by hand.
_GO_DEFINITIONS = json.loads((Path(__file__).parent / "fixtures" / "model_definitions_9b72ea9ef.json").read_text())
_GO_FIELDS = {"ID": "id", "Object": "object", "Created": "created", "OwnedBy": "owned_by", "Type": "type",
              "DisplayName": "display_name", "Name": "name", "Version": "version", "Description": "description",
              "InputTokenLimit": "input_token_limit", "OutputTokenLimit": "output_token_limit",
              "SupportedGenerationMethods": "supported_generation_methods", "ContextLength": "context_length",
              "MaxCompletionTokens": "max_completion_tokens", "SupportedParameters": "supported_parameters"}
# Which list each provider key registers (sdk/cliproxy/service.go:711-769).
_GO_LIST_OF = {"gemini": "GetGeminiModels", "vertex": "GetGeminiVertexModels", "gemini-cli": "GetGeminiCLIModels",
               "aistudio": "GetAIStudioModels", "claude": "GetClaudeModels", "codex": "GetOpenAIModels",
               "qwen": "GetQwenModels", "iflow": "GetIFlowModels"}


def _go_thinking(raw: dict[str, Any] | None) -> Thinking | None:
    if raw is None:
        return None
    return Thinking(min=raw.get("Min", 0), max=raw.get("Max", 0), zero_allowed=raw.get("ZeroAllowed", False),
                    dynamic_allowed=raw.get("DynamicAllowed", False), levels=tuple(raw.get("Levels", ())))


def _go_model(raw: dict[str, Any]) -> ModelInfo:
    fields = {ours: raw[go] for go, ours in _GO_FIELDS.items() if go in raw}
    for name in ("supported_generation_methods", "supported_parameters"):
        fields[name] = tuple(fields.get(name, ()))
    return ModelInfo(object=fields.pop("object", ""), thinking=_go_thinking(raw.get("Thinking")), **fields)


@pytest.mark.parametrize("provider", list(_GO_LIST_OF))
def test_catalogue_equals_model_definitions_field_by_field(provider: str) -> None:
    expected = [_go_model(raw) for raw in _GO_DEFINITIONS["catalogues"][_GO_LIST_OF[provider]]]
    assert list(STATIC_MODELS[provider]) == expected


def test_antigravity_overrides_equal_model_definitions() -> None:
    expected = {model_id: (_go_thinking(raw.get("Thinking")), raw.get("MaxCompletionTokens", 0))
                for model_id, raw in _GO_DEFINITIONS["antigravity"].items()}
    assert catalog.ANTIGRAVITY_OVERRIDES == expected


def test_static_lookup_walks_the_lists_in_model_definitions_order() -> None:
    by_list = {go: STATIC_MODELS[provider] for provider, go in _GO_LIST_OF.items()}
    assert [by_list[go] for go in _GO_DEFINITIONS["lookup_order"]] == list(catalog._LOOKUP_ORDER)
