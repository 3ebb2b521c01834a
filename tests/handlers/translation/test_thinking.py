"""Thinking suffixes, level<->budget tables and per-model validation (reference A2.9, A4.3, goldens 31-37)."""

from __future__ import annotations

import pytest

from handlers.translation.model import Format, ThinkingConfig, ThinkingMode
from handlers.translation.thinking import (
    ThinkingError,
    ThinkingSupport,
    budget_to_level,
    clamp_level,
    config_from_suffix,
    level_to_budget,
    parse_suffix,
    validate_config,
)

NONE = ThinkingConfig(ThinkingMode.NONE)
AUTO = ThinkingConfig(ThinkingMode.AUTO, budget=-1)


def budget(n: int) -> ThinkingConfig:
    return ThinkingConfig(ThinkingMode.BUDGET, budget=n)


def level(name: str) -> ThinkingConfig:
    return ThinkingConfig(ThinkingMode.LEVEL, level=name)


# Registry fixtures of test/thinking_conversion_test.go (reference A4.3).
LEVEL_MODEL = ThinkingSupport(levels=("minimal", "low", "medium", "high"))
LEVEL_SUBSET = ThinkingSupport(levels=("low", "high"))
GEMINI_BUDGET = ThinkingSupport(min=128, max=20000, dynamic_allowed=True)
GEMINI_MIXED = ThinkingSupport(min=128, max=32768, dynamic_allowed=True, levels=("low", "high"))
CLAUDE_BUDGET = ThinkingSupport(min=1024, max=128000, zero_allowed=True)
ANTIGRAVITY_BUDGET = ThinkingSupport(min=128, max=20000, zero_allowed=True, dynamic_allowed=True)


@pytest.mark.parametrize(
    ("model", "base", "suffix"),
    [
        ("m(8192)", "m", "8192"),
        ("claude-sonnet-4-5(16384)", "claude-sonnet-4-5", "16384"),
        ("a(b)(c)", "a(b)", "c"),  # golden 31: the LAST "(" starts the suffix
        ("plain", "plain", None),
        ("open(paren", "open(paren", None),  # no trailing ")" -> no suffix
        ("m()", "m", ""),
    ],
)
def test_parse_suffix(model: str, base: str, suffix: str | None) -> None:
    result = parse_suffix(model)
    assert (result.model, result.suffix) == (base, suffix)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8192", budget(8192)),  # golden 31
        ("08192", budget(8192)),  # leading zeros accepted
        ("0", NONE),
        ("-1", AUTO),
        ("auto", AUTO),
        ("AUTO", AUTO),
        ("none", NONE),
        ("HIGH", level("high")),
        ("xhigh", level("xhigh")),
        ("minimal", level("minimal")),
        ("ultra", None),
        ("-5", None),
        ("", None),
        ("1.5", None),
    ],
)
def test_config_from_suffix(raw: str, expected: ThinkingConfig | None) -> None:
    # A2.9 suffix table, golden 31
    assert config_from_suffix(raw) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("none", 0), ("auto", -1), ("minimal", 512), ("low", 1024), ("medium", 8192), ("high", 24576), ("xhigh", 32768)],
)
def test_level_to_budget_table(name: str, value: int) -> None:
    # A2.9 level <-> budget table (golden 32); lookup is case-insensitive.
    assert level_to_budget(name) == value
    assert level_to_budget(name.upper()) == value


def test_level_to_budget_unknown() -> None:
    # A2.9: unknown level has no budget
    assert level_to_budget("ultra") is None


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (-2, None),
        (-1, "auto"),
        (0, "none"),
        (1, "minimal"),
        (512, "minimal"),
        (513, "low"),
        (1024, "low"),
        (1025, "medium"),
        (8192, "medium"),
        (8193, "high"),
        (24576, "high"),
        (24577, "xhigh"),
        (10**6, "xhigh"),
    ],
)
def test_budget_to_level_thresholds(value: int, name: str | None) -> None:
    assert budget_to_level(value) == name  # golden 32


def test_clamp_level_prefers_lower_on_tie() -> None:
    assert clamp_level("medium", ("low", "high")) == "low"  # golden 36
    assert clamp_level("xhigh", ("low", "high")) == "high"
    assert clamp_level("minimal", ("low", "high")) == "low"
    assert clamp_level("weird", ("low",)) == "weird"


def test_claude_budget_model_auto_without_dynamic_takes_mid_range() -> None:
    # golden 33: (1024 + 128000) / 2
    assert validate_config(AUTO, CLAUDE_BUDGET, Format.OPENAI, Format.CLAUDE, from_suffix=True) == budget(64512)


@pytest.mark.parametrize(
    ("config", "expected"),
    [(level("medium"), budget(8192)), (level("xhigh"), budget(32768)), (NONE, NONE)],
)
def test_claude_budget_model_levels(config: ThinkingConfig, expected: ThinkingConfig) -> None:
    # A4.3 openai->claude claude-budget-model(medium/xhigh/none)
    assert validate_config(config, CLAUDE_BUDGET, Format.OPENAI, Format.CLAUDE, from_suffix=True) == expected


def test_claude_budget_clamped_from_suffix_but_refused_from_body() -> None:
    # A4.3 claude->claude claude-budget-model(200000): suffix clamps, body is strict.
    assert validate_config(budget(200000), CLAUDE_BUDGET, Format.CLAUDE, Format.CLAUDE, from_suffix=True) == budget(
        128000
    )
    with pytest.raises(ThinkingError, match=r"^budget 200000 out of range \[1024,128000\]$"):
        validate_config(budget(200000), CLAUDE_BUDGET, Format.CLAUDE, Format.CLAUDE, from_suffix=False)
    # gemini->claude is another family: body budgets clamp instead of failing.
    assert validate_config(budget(200000), CLAUDE_BUDGET, Format.GEMINI, Format.CLAUDE, from_suffix=False) == budget(
        128000
    )


def test_gemini_budget_model_none_becomes_minimum() -> None:
    # golden 34: zero not allowed -> budget 128 (applier then writes includeThoughts=false)
    assert validate_config(NONE, GEMINI_BUDGET, Format.OPENAI, Format.GEMINI, from_suffix=True) == ThinkingConfig(
        ThinkingMode.NONE, budget=128
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [(level("medium"), budget(8192)), (level("xhigh"), budget(20000)), (AUTO, AUTO)],
)
def test_gemini_budget_model_from_openai(config: ThinkingConfig, expected: ThinkingConfig) -> None:
    # A4.3 openai->gemini gemini-budget-model(medium/xhigh/auto)
    assert validate_config(config, GEMINI_BUDGET, Format.OPENAI, Format.GEMINI, from_suffix=True) == expected


def test_gemini_same_family_body_budget_is_strict() -> None:
    # golden 35 / A4.3: body thinkingBudget 64000 gemini->gemini errors, suffix clamps to 20000.
    with pytest.raises(ThinkingError, match=r"out of range \[128,20000\]"):
        validate_config(budget(64000), GEMINI_BUDGET, Format.GEMINI, Format.GEMINI, from_suffix=False)
    assert validate_config(budget(64000), GEMINI_BUDGET, Format.GEMINI, Format.GEMINI, from_suffix=True) == budget(
        20000
    )
    # gemini-cli -> antigravity counts as the same family.
    with pytest.raises(ThinkingError):
        validate_config(budget(64000), ANTIGRAVITY_BUDGET, Format.GEMINI_CLI, Format.ANTIGRAVITY, from_suffix=False)


def test_antigravity_none_keeps_zero_when_allowed() -> None:
    # A4.3 gemini->antigravity antigravity-budget-model(none)
    assert validate_config(NONE, ANTIGRAVITY_BUDGET, Format.GEMINI, Format.ANTIGRAVITY, from_suffix=True) == NONE


def test_level_subset_model_budget_maps_to_nearest_lower_level() -> None:
    # golden 36: 8192 -> medium -> equidistant between low/high -> low
    assert validate_config(budget(8192), LEVEL_SUBSET, Format.GEMINI, Format.OPENAI, from_suffix=True) == level("low")
    # A4.3 claude->gemini level-subset-model(1) -> low
    assert validate_config(budget(1), LEVEL_SUBSET, Format.CLAUDE, Format.GEMINI, from_suffix=True) == level("low")


def test_unsupported_level_is_an_error() -> None:
    # golden 37: level-model(xhigh) openai->codex
    with pytest.raises(ThinkingError, match=r'^level "xhigh" not supported, valid levels: minimal, low, medium, high$'):
        validate_config(level("xhigh"), LEVEL_MODEL, Format.OPENAI, Format.CODEX, from_suffix=True)
    with pytest.raises(ThinkingError, match="not supported"):
        validate_config(level("xhigh"), GEMINI_MIXED, Format.OPENAI, Format.GEMINI, from_suffix=True)


@pytest.mark.parametrize(
    ("requested", "shown"),
    [('hi"gh', '"hi\\"gh"'), ("A\\B", '"a\\\\b"'), ("x\ny", '"x\\ny"'), ("Ultra", '"ultra"')],
)
def test_unsupported_level_is_quoted_as_go_does(requested: str, shown: str) -> None:
    # validate.go:115 formats the lowered level with %q: quotes, backslashes and control
    # characters from a client's body come back escaped.
    message = f"level {shown} not supported, valid levels: minimal, low, medium, high"
    with pytest.raises(ThinkingError) as caught:
        validate_config(level(requested), LEVEL_MODEL, Format.OPENAI, Format.OPENAI, from_suffix=False)
    assert str(caught.value) == message


def test_budget_source_level_target_clamps_unsupported_level() -> None:
    # A4.3 gemini->codex level-model(64000): xhigh is clamped to high instead of failing.
    assert validate_config(budget(64000), LEVEL_MODEL, Format.GEMINI, Format.CODEX, from_suffix=True) == level("high")


def test_level_model_auto_without_dynamic_is_medium() -> None:
    # A4.3 openai->codex level-model(auto) -> medium
    assert validate_config(AUTO, LEVEL_MODEL, Format.OPENAI, Format.CODEX, from_suffix=True) == level("medium")


def test_mixed_model_cases() -> None:
    # A4.3 openai->gemini gemini-mixed-model(high)/(auto); claude->gemini (8192)/(64000)/(0)
    assert validate_config(level("high"), GEMINI_MIXED, Format.OPENAI, Format.GEMINI, from_suffix=True) == level("high")
    assert validate_config(AUTO, GEMINI_MIXED, Format.OPENAI, Format.GEMINI, from_suffix=True) == AUTO
    assert validate_config(budget(8192), GEMINI_MIXED, Format.CLAUDE, Format.GEMINI, from_suffix=True) == budget(8192)
    assert validate_config(budget(64000), GEMINI_MIXED, Format.CLAUDE, Format.GEMINI, from_suffix=True) == budget(32768)
    # (0) -> None with the minimum budget and the lowest supported level
    assert validate_config(budget(0), GEMINI_MIXED, Format.CLAUDE, Format.GEMINI, from_suffix=True) == ThinkingConfig(
        ThinkingMode.NONE, budget=128, level="low"
    )


def test_model_without_thinking() -> None:
    # A2.9 ValidateConfig: model without thinking support
    with pytest.raises(ThinkingError, match="thinking not supported"):
        validate_config(budget(8192), None, Format.OPENAI, Format.OPENAI, from_suffix=True)
    assert validate_config(NONE, None, Format.OPENAI, Format.OPENAI, from_suffix=True) == NONE


def test_unknown_level_on_budget_model_is_an_error() -> None:
    # A2.9 ValidateConfig: unknown level
    with pytest.raises(ThinkingError, match=r"^unknown level: ultra$"):
        validate_config(level("ultra"), GEMINI_BUDGET, Format.OPENAI, Format.GEMINI, from_suffix=False)


# --- apply_thinking end to end: translate, then apply (A4.3 matrix; harness of
# test/thinking_conversion_test.go: Claude bodies get max_tokens 200000 before applying) ---------

from typing import Any  # noqa: E402

from handlers.translation import claude, gemini, openai_chat  # noqa: E402
from handlers.translation.thinking import ModelInfo, apply_thinking, extract_config, strip_config  # noqa: E402

REGISTRY = {
    "level-model": ModelInfo("level-model", LEVEL_MODEL),
    "level-subset-model": ModelInfo("level-subset-model", LEVEL_SUBSET),
    "gemini-budget-model": ModelInfo("gemini-budget-model", GEMINI_BUDGET),
    "gemini-mixed-model": ModelInfo("gemini-mixed-model", GEMINI_MIXED),
    "claude-budget-model": ModelInfo("claude-budget-model", CLAUDE_BUDGET),
    "antigravity-budget-model": ModelInfo("antigravity-budget-model", ANTIGRAVITY_BUDGET),
    "no-thinking-model": ModelInfo("no-thinking-model"),
    "user-defined-model": ModelInfo("user-defined-model", user_defined=True),
}

THINKING_PATH = {
    "openai": "reasoning_effort",
    "claude": "thinking",
    "gemini": "generationConfig.thinkingConfig",
}


def translate(source: str, target: str, model: str, extra: dict[str, Any]) -> dict[str, Any]:
    base = parse_suffix(model).model
    if source == "gemini":
        body = {"model": model, "contents": [{"role": "user", "parts": [{"text": "hi"}]}], **extra}
        req = gemini.parse_request(body)
    else:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
        req = claude.parse_request(body) if source == "claude" else openai_chat.parse_request(body)
    if target == "claude":
        out = claude.render_request(req, base, stream=True, user_id="u")
        out["max_tokens"] = 200000
        return out
    if target == "gemini":
        return gemini.render_request(req, base)
    return openai_chat.render_request(req, base, stream=True)


def lookup(body: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            return None
        body = body[key]
    return body


BUDGET = "generationConfig.thinkingConfig.thinkingBudget"
LEVEL = "generationConfig.thinkingConfig.thinkingLevel"


def claude_budget(n: int) -> dict[str, Any]:
    return {"thinking": {"type": "enabled", "budget_tokens": n}}


def gemini_budget(n: int) -> dict[str, Any]:
    return {"generationConfig": {"thinkingConfig": {"thinkingBudget": n}}}


# (source, target, model, extra body, expected path or None for "no thinking field", value or ERROR)
ERROR = object()
MATRIX: list[tuple[str, str, str, dict[str, Any], str | None, Any]] = [
    # suffix forms
    ("claude", "openai", "level-model", {}, None, None),
    ("claude", "openai", "level-model(8192)", {}, "reasoning_effort", "medium"),
    ("claude", "openai", "level-model(64000)", {}, "reasoning_effort", "high"),
    ("claude", "openai", "level-model(0)", {}, "reasoning_effort", "minimal"),
    ("claude", "openai", "level-model(-1)", {}, "reasoning_effort", "medium"),
    ("claude", "gemini", "level-subset-model(1)", {}, LEVEL, "low"),
    ("openai", "gemini", "gemini-budget-model", {}, None, None),
    ("openai", "gemini", "gemini-budget-model(medium)", {}, BUDGET, 8192),
    ("openai", "gemini", "gemini-budget-model(xhigh)", {}, BUDGET, 20000),
    ("openai", "gemini", "gemini-budget-model(none)", {}, BUDGET, 128),
    ("openai", "gemini", "gemini-budget-model(auto)", {}, BUDGET, -1),
    ("claude", "gemini", "gemini-budget-model(8192)", {}, BUDGET, 8192),
    ("claude", "gemini", "gemini-budget-model(64000)", {}, BUDGET, 20000),
    ("claude", "gemini", "gemini-budget-model(0)", {}, BUDGET, 128),
    ("claude", "gemini", "gemini-budget-model(-1)", {}, BUDGET, -1),
    ("openai", "gemini", "gemini-mixed-model(high)", {}, LEVEL, "high"),
    ("openai", "gemini", "gemini-mixed-model(xhigh)", {}, None, ERROR),
    ("openai", "gemini", "gemini-mixed-model(none)", {}, LEVEL, "low"),
    ("openai", "gemini", "gemini-mixed-model(auto)", {}, BUDGET, -1),
    ("claude", "gemini", "gemini-mixed-model(8192)", {}, BUDGET, 8192),
    ("claude", "gemini", "gemini-mixed-model(64000)", {}, BUDGET, 32768),
    ("claude", "gemini", "gemini-mixed-model(0)", {}, LEVEL, "low"),
    ("claude", "gemini", "gemini-mixed-model(-1)", {}, BUDGET, -1),
    ("openai", "claude", "claude-budget-model", {}, None, None),
    ("openai", "claude", "claude-budget-model(medium)", {}, "thinking.budget_tokens", 8192),
    ("openai", "claude", "claude-budget-model(xhigh)", {}, "thinking.budget_tokens", 32768),
    ("openai", "claude", "claude-budget-model(none)", {}, "thinking.type", "disabled"),
    ("openai", "claude", "claude-budget-model(auto)", {}, "thinking.budget_tokens", 64512),  # golden 33
    ("gemini", "claude", "claude-budget-model(8192)", {}, "thinking.budget_tokens", 8192),
    ("gemini", "claude", "claude-budget-model(200000)", {}, "thinking.budget_tokens", 128000),
    ("gemini", "claude", "claude-budget-model(0)", {}, "thinking.type", "disabled"),
    ("gemini", "claude", "claude-budget-model(-1)", {}, "thinking.budget_tokens", 64512),
    ("claude", "openai", "no-thinking-model(8192)", {}, None, None),
    ("claude", "openai", "no-thinking-model(-1)", {}, None, None),
    ("openai", "gemini", "user-defined-model(8192)", {}, BUDGET, 8192),
    ("openai", "claude", "user-defined-model(8192)", {}, "thinking.budget_tokens", 8192),
    # body forms
    ("claude", "openai", "level-model", claude_budget(8192), "reasoning_effort", "medium"),
    ("claude", "openai", "level-model", claude_budget(64000), "reasoning_effort", "high"),
    ("claude", "openai", "level-model", claude_budget(0), "reasoning_effort", "minimal"),
    ("claude", "openai", "level-model", claude_budget(-1), "reasoning_effort", "medium"),
    ("claude", "gemini", "level-subset-model", claude_budget(1), LEVEL, "low"),
    ("openai", "gemini", "gemini-budget-model", {"reasoning_effort": "medium"}, BUDGET, 8192),
    ("openai", "gemini", "gemini-budget-model", {"reasoning_effort": "xhigh"}, BUDGET, 20000),
    ("openai", "gemini", "gemini-budget-model", {"reasoning_effort": "none"}, BUDGET, 128),
    ("openai", "gemini", "gemini-budget-model", {"reasoning_effort": "auto"}, BUDGET, -1),
    ("claude", "gemini", "gemini-budget-model", claude_budget(64000), BUDGET, 20000),
    ("claude", "gemini", "gemini-budget-model", claude_budget(0), BUDGET, 128),
    ("openai", "gemini", "gemini-mixed-model", {"reasoning_effort": "xhigh"}, None, ERROR),
    ("openai", "gemini", "gemini-mixed-model", {"reasoning_effort": "none"}, LEVEL, "low"),
    ("claude", "gemini", "gemini-mixed-model", claude_budget(0), LEVEL, "low"),
    ("openai", "claude", "claude-budget-model", {"reasoning_effort": "xhigh"}, "thinking.budget_tokens", 32768),
    ("openai", "claude", "claude-budget-model", {"reasoning_effort": "none"}, "thinking.type", "disabled"),
    ("openai", "claude", "claude-budget-model", {"reasoning_effort": "auto"}, "thinking.budget_tokens", 64512),
    ("gemini", "claude", "claude-budget-model", gemini_budget(200000), "thinking.budget_tokens", 128000),
    ("gemini", "claude", "claude-budget-model", gemini_budget(-1), "thinking.budget_tokens", 64512),
    ("claude", "openai", "no-thinking-model", claude_budget(8192), None, None),
    ("openai", "gemini", "user-defined-model", {"reasoning_effort": "medium"}, BUDGET, 8192),
    ("openai", "claude", "user-defined-model", {"reasoning_effort": "medium"}, "thinking.budget_tokens", 8192),
]


@pytest.mark.parametrize(("source", "target", "model", "extra", "path", "value"), MATRIX)
def test_translate_then_apply_matrix(
    source: str, target: str, model: str, extra: dict[str, Any], path: str | None, value: Any
) -> None:
    body = translate(source, target, model, extra)
    info = REGISTRY.get(parse_suffix(model).model)
    if value is ERROR:
        with pytest.raises(ThinkingError):
            apply_thinking(body, model, source, target, info)
        return
    out = apply_thinking(body, model, source, target, info)
    if path is None:
        assert lookup(out, THINKING_PATH[target]) is None
    else:
        assert lookup(out, path) == value


def test_apply_claude_lowers_budget_below_max_tokens() -> None:
    # A2.9 claude applier: budget_tokens must stay below max_tokens (model default written back)
    info = ModelInfo("claude-budget-model", CLAUDE_BUDGET, max_completion_tokens=16000)
    body: dict[str, Any] = {"model": "m"}
    assert apply_thinking(body, "m(30000)", "openai", "claude", info) == {
        "model": "m",
        "thinking": {"type": "enabled", "budget_tokens": 15999},
        "max_tokens": 16000,
    }
    small = {"max_tokens": 1000}
    # lowering to 999 would fall under the 1024 minimum: the budget is left as it was
    assert apply_thinking(small, "m(4096)", "openai", "claude", info)["thinking"] == {
        "type": "enabled",
        "budget_tokens": 4096,
    }


def test_numbers_in_the_body_are_read_as_gjson_int() -> None:
    # extractClaudeConfig / effectiveMaxTokens read with gjson Int(), which parses numeric strings:
    # a budget of "8192" is 8192 (it used to read as 0, turning thinking off), a max_tokens of
    # "16000" caps the budget like 16000 would.
    info = ModelInfo("claude-budget-model", CLAUDE_BUDGET, max_completion_tokens=64000)
    body: dict[str, Any] = {"max_tokens": "16000", "thinking": {"type": "enabled", "budget_tokens": "8192"}}
    assert apply_thinking(body, "claude-budget-model", "claude", "claude", info) == {
        "max_tokens": "16000", "thinking": {"type": "enabled", "budget_tokens": 8192},
    }
    capped = {"max_tokens": "16000"}
    assert apply_thinking(capped, "claude-budget-model(30000)", "openai", "claude", info) == {
        "max_tokens": "16000", "thinking": {"type": "enabled", "budget_tokens": 15999},
    }


def test_unregistered_name_falls_back_to_the_static_catalogue() -> None:
    # An API key's models: alias registers only the alias, so the upstream name reaches
    # apply_thinking without a registry entry; the legacy LookupModelInfo then reads the static
    # catalogue. Gemini CLI's includeThoughts (no budget) on claude-sonnet-4-5 thus becomes the
    # mid budget (1024+128000)/2 = 64512, lowered below the translator's max_tokens 32000.
    model = "claude-sonnet-4-5-20250929"
    body = gemini.parse_request({"contents": [], "generationConfig": {"thinkingConfig": {"includeThoughts": True}}})
    out = apply_thinking(claude.render_request(body, model, stream=True, user_id="u"), model, "gemini", "claude", None)
    assert (out["thinking"], out["max_tokens"]) == ({"type": "enabled", "budget_tokens": 31999}, 32000)
    # A suffix is stripped before the catalogue lookup; the model's 64000 limit is written back.
    assert apply_thinking({}, f"{model}(auto)", "openai", "claude", None) == {
        "thinking": {"type": "enabled", "budget_tokens": 63999},
        "max_tokens": 64000,
    }
    # A name the catalogue does not know either keeps the pass-through rules (no budget invented).
    assert apply_thinking({"thinking": {"type": "enabled"}}, "claude-unknown", "gemini", "claude", None) == {
        "thinking": {"type": "enabled"}
    }
    # A registry entry, even a user-defined one for a catalogue name, is used as it is.
    own = ModelInfo(model, CLAUDE_BUDGET, user_defined=True)
    assert apply_thinking({"thinking": {"type": "enabled"}}, model, "gemini", "claude", own) == {
        "thinking": {"type": "enabled"}
    }


def test_apply_gemini_cli_and_antigravity_paths() -> None:
    # A2.9: gemini-cli / antigravity write under request.generationConfig.thinkingConfig
    body: dict[str, Any] = {"request": {"generationConfig": {"thinkingConfig": {"include_thoughts": True}}}}
    info = REGISTRY["antigravity-budget-model"]
    out = apply_thinking(body, "antigravity-budget-model(none)", "gemini", "antigravity", info)
    assert out["request"]["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0, "includeThoughts": False}
    cli = apply_thinking({}, "gemini-budget-model(500)", "gemini", "gemini-cli", REGISTRY["gemini-budget-model"])
    assert cli == {
        "request": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 500, "includeThoughts": True}}}
    }


def test_apply_antigravity_claude_model_limits() -> None:
    # A2.9: Claude on Antigravity keeps budget < max tokens and drops thinking under the minimum
    info = ModelInfo("claude-sonnet-4-5-thinking", CLAUDE_BUDGET, max_completion_tokens=8000)
    out = apply_thinking({}, "x(20000)", "claude", "antigravity", info)
    assert out == {
        "request": {
            "generationConfig": {
                "thinkingConfig": {"thinkingBudget": 7999, "includeThoughts": True},
                "maxOutputTokens": 8000,
            }
        }
    }
    tight = {"request": {"generationConfig": {"maxOutputTokens": 500, "thinkingConfig": {"thinkingBudget": 1}}}}
    assert apply_thinking(tight, "x(4096)", "claude", "antigravity", info) == {
        "request": {"generationConfig": {"maxOutputTokens": 500}}
    }


@pytest.mark.parametrize(
    ("model", "path", "value"),
    [
        ("glm-test(medium)", ("chat_template_kwargs", "enable_thinking"), True),
        ("glm-test(none)", ("chat_template_kwargs", "enable_thinking"), False),
        ("minimax-test(medium)", ("reasoning_split",), True),
        ("minimax-test(none)", ("reasoning_split",), False),
    ],
)
def test_apply_iflow(model: str, path: tuple[str, ...], value: bool) -> None:
    # A4.3 openai->iflow rows
    support = ThinkingSupport(levels=("none", "auto", "minimal", "low", "medium", "high", "xhigh"))
    info = ModelInfo(parse_suffix(model).model, support)
    out = apply_thinking({"model": "x"}, model, "openai", "iflow", info)
    node: Any = out
    for key in path:
        node = node[key]
    assert node is value
    if model == "glm-test(medium)":
        assert out["chat_template_kwargs"]["clear_thinking"] is False


def test_apply_codex_and_openai_none_rules() -> None:
    # A4.3 openai->codex level-model(none) -> minimal; no suffix keeps the translator's effort
    assert apply_thinking({}, "level-model(none)", "openai", "codex", REGISTRY["level-model"]) == {
        "reasoning": {"effort": "minimal"}
    }
    body = {"reasoning": {"effort": "medium"}}
    assert apply_thinking(body, "level-model", "openai", "codex", REGISTRY["level-model"]) == {
        "reasoning": {"effort": "medium"}
    }
    with pytest.raises(ThinkingError):
        apply_thinking({}, "level-model(xhigh)", "openai", "codex", REGISTRY["level-model"])
    # user-defined models take the value as is (level from a budget via the thresholds)
    assert apply_thinking({}, "user-defined-model(64000)", "gemini", "openai", None) == {"reasoning_effort": "xhigh"}
    assert apply_thinking({}, "user-defined-model(0)", "gemini", "openai", None) == {"reasoning_effort": "none"}


def test_unknown_suffix_and_unknown_provider_pass_through() -> None:
    body = {"reasoning_effort": "high"}
    assert apply_thinking(body, "level-model(ultra)", "openai", "openai", REGISTRY["level-model"]) == body
    assert apply_thinking({"x": 1}, "m(8192)", "openai", "qwen", None) == {"x": 1}


def test_extract_and_strip() -> None:
    # A2.9 "Body extraction per target format" and StripThinkingConfig paths
    assert extract_config({"thinking": {"type": "enabled"}}, "claude") == AUTO
    assert extract_config({"thinking": {"budget_tokens": 0}}, "claude") == NONE
    assert extract_config({"generationConfig": {"thinkingConfig": {"thinkingLevel": "auto"}}}, "gemini") == AUTO
    assert extract_config(
        {"request": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 64}}}}, "gemini-cli"
    ) == budget(64)
    assert extract_config({"reasoning": {"effort": "none"}}, "codex") == NONE
    assert extract_config({"reasoning_split": True}, "iflow") == budget(1)
    # gjson Bool() (apply.go:469-484): a true-looking string or a non-zero number is on too.
    assert extract_config({"reasoning_split": 1}, "iflow") == budget(1)
    assert extract_config({"chat_template_kwargs": {"enable_thinking": "true"}}, "iflow") == budget(1)
    assert extract_config({"chat_template_kwargs": {"enable_thinking": "no"}}, "iflow") == NONE
    assert extract_config({"reasoning_effort": "low"}, "iflow") == level("low")
    assert extract_config({}, "openai") is None
    body = {"chat_template_kwargs": {"enable_thinking": True, "clear_thinking": False, "x": 1}, "reasoning_split": True}
    assert strip_config(body, "iflow") == {"chat_template_kwargs": {"x": 1}}


def test_an_empty_or_null_gemini_level_leaves_the_budget_beside_it_in_force() -> None:
    # The legacy answers 400 for such a level (compatibility.md, "read more kindly"); read as no
    # level, the budget next to it is the setting, and the applied config carries no null key.
    for root, provider in ((("generationConfig",), "gemini"), (("request", "generationConfig"), "gemini-cli")):
        for empty in (None, ""):
            body: dict[str, Any] = {"thinkingConfig": {"thinkingLevel": empty, "thinkingBudget": 2000}}
            for key in reversed(root):
                body = {key: body}
            assert extract_config(body, provider) == budget(2000)
    body = {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": None, "thinkingBudget": 2000}}}
    out = apply_thinking(body, "gemini-budget-model", "gemini", "gemini", REGISTRY["gemini-budget-model"])
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2000, "includeThoughts": True}
    assert extract_config({"generationConfig": {"thinkingConfig": {"thinkingLevel": None}}}, "gemini") is None


def test_a_space_before_the_suffix_still_finds_the_registered_model() -> None:
    # LookupModelInfo trims the name (model_registry.go:139): the model's own limits apply, so an
    # auto request to Claude gets a budget, not a bare {type: enabled}.
    body = {"model": "claude-sonnet-4-5-20250929 ", "max_tokens": 32000, "messages": []}
    out = apply_thinking(body, "claude-sonnet-4-5-20250929 (auto)", "claude", "claude", None)
    assert out["thinking"]["type"] == "enabled" and "budget_tokens" in out["thinking"]


def test_a_gemini_budget_below_minus_one_on_claude() -> None:
    """Compatibility row 13: the translator carries the budget as the legacy does; a registered
    model then clamps it to its minimum, an unregistered one sends no thinking (Claude refuses a
    negative budget), while a Claude client's own negative budget is left as it came."""
    assert claude.thinking_field(ThinkingConfig(ThinkingMode.BUDGET, budget=-5)) == {
        "type": "enabled", "budget_tokens": -5}

    def body() -> dict[str, Any]:
        return {"model": "m", "max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": -5},
                "messages": []}

    registered = apply_thinking(body(), "claude-sonnet-4-5-20250929", "gemini", "claude", None)
    assert registered["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert "thinking" not in apply_thinking(body(), "custom-claude", "gemini", "claude", None)
    assert apply_thinking(body(), "custom-claude", "claude", "claude", None)["thinking"]["budget_tokens"] == -5
