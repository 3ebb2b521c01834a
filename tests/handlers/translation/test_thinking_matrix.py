"""Every vector of the legacy thinking matrix (test/thinking_conversion_test.go, reference A4.3).

Each case goes the legacy test's way: the client body through the real pair translator (iFlow is
translated as OpenAI), then ``apply_thinking`` for the upstream with the test's registry
fixtures; a Claude body gets ``max_tokens`` 200000 first, as the legacy harness sets it.

Case ids are the legacy ones: ``s<N>`` from ``TestThinkingE2EMatrix_Suffix``, ``b<N>`` from
``TestThinkingE2EMatrix_Body``. The client bodies are the legacy's: a one-line "hi" conversation
plus the thinking field written in the fifth column (``name=value``, empty for none).
"""

from __future__ import annotations

from typing import Any

import pytest

from handlers.inference.pair_table import all_pairs
from handlers.inference.translate import TranslateInput
from handlers.translation.model import Format
from handlers.translation.thinking import ModelInfo, ThinkingError, ThinkingSupport, apply_thinking, parse_suffix

_ALL_LEVELS = ("none", "auto", "minimal", "low", "medium", "high", "xhigh")

# getTestModels(): the registry the legacy matrix runs against.
REGISTRY: dict[str, ModelInfo] = {
    "level-model": ModelInfo("level-model", ThinkingSupport(levels=("minimal", "low", "medium", "high"))),
    "level-subset-model": ModelInfo("level-subset-model", ThinkingSupport(levels=("low", "high"))),
    "gemini-budget-model": ModelInfo("gemini-budget-model", ThinkingSupport(min=128, max=20000, dynamic_allowed=True)),
    "gemini-mixed-model": ModelInfo(
        "gemini-mixed-model", ThinkingSupport(min=128, max=32768, dynamic_allowed=True, levels=("low", "high"))
    ),
    "claude-budget-model": ModelInfo("claude-budget-model", ThinkingSupport(min=1024, max=128000, zero_allowed=True)),
    "antigravity-budget-model": ModelInfo(
        "antigravity-budget-model", ThinkingSupport(min=128, max=20000, zero_allowed=True, dynamic_allowed=True)
    ),
    "no-thinking-model": ModelInfo("no-thinking-model"),
    "user-defined-model": ModelInfo("user-defined-model", user_defined=True),
    "glm-test": ModelInfo("glm-test", ThinkingSupport(levels=_ALL_LEVELS)),
    "minimax-test": ModelInfo("minimax-test", ThinkingSupport(levels=_ALL_LEVELS)),
}

# Where an upstream body keeps its thinking setting: the legacy's "no thinking field" check.
_THINKING_PATHS: dict[str, tuple[str, ...]] = {
    "gemini": ("generationConfig.thinkingConfig",),
    "gemini-cli": ("request.generationConfig.thinkingConfig",),
    "antigravity": ("request.generationConfig.thinkingConfig",),
    "claude": ("thinking",),
    "openai": ("reasoning_effort",),
    "codex": ("reasoning.effort", "reasoning"),
    "iflow": ("chat_template_kwargs.enable_thinking", "reasoning_split"),
}

_MISSING = object()
ERROR = "ERROR"
Expected = tuple[str, Any] | tuple[str, Any, bool] | str | None

# (id, client format, upstream, model, thinking field in the client body, expectation)
# expectation: ERROR (the request fails), None (no thinking field upstream), or (path, value[,
# includeThoughts]); a bare thinkingBudget/thinkingLevel path is under the target's thinkingConfig.
CASES: list[tuple[str, str, str, str, str, Expected]] = [
    ("s1", "openai", "codex", "level-model", "", ("reasoning.effort", "medium")),
    ("s2", "openai", "codex", "level-model(medium)", "", ("reasoning.effort", "medium")),
    ("s3", "openai", "codex", "level-model(xhigh)", "", "ERROR"),
    ("s4", "openai", "codex", "level-model(none)", "", ("reasoning.effort", "minimal")),
    ("s5", "openai", "codex", "level-model(auto)", "", ("reasoning.effort", "medium")),
    ("s6", "gemini", "codex", "level-model", "", ("reasoning.effort", "medium")),
    ("s7", "gemini", "codex", "level-model(8192)", "", ("reasoning.effort", "medium")),
    ("s8", "gemini", "codex", "level-model(64000)", "", ("reasoning.effort", "high")),
    ("s9", "gemini", "codex", "level-model(0)", "", ("reasoning.effort", "minimal")),
    ("s10", "gemini", "codex", "level-model(-1)", "", ("reasoning.effort", "medium")),
    ("s11", "claude", "openai", "level-model", "", None),
    ("s12", "claude", "openai", "level-model(8192)", "", ("reasoning_effort", "medium")),
    ("s13", "claude", "openai", "level-model(64000)", "", ("reasoning_effort", "high")),
    ("s14", "claude", "openai", "level-model(0)", "", ("reasoning_effort", "minimal")),
    ("s15", "claude", "openai", "level-model(-1)", "", ("reasoning_effort", "medium")),
    ("s16", "gemini", "openai", "level-subset-model(8192)", "", ("reasoning_effort", "low")),
    ("s17", "claude", "gemini", "level-subset-model(1)", "", ("thinkingLevel", "low", True)),
    ("s18", "openai", "gemini", "gemini-budget-model", "", None),
    ("s19", "openai", "gemini", "gemini-budget-model(medium)", "", ("thinkingBudget", 8192, True)),
    ("s20", "openai", "gemini", "gemini-budget-model(xhigh)", "", ("thinkingBudget", 20000, True)),
    ("s21", "openai", "gemini", "gemini-budget-model(none)", "", ("thinkingBudget", 128, False)),
    ("s22", "openai", "gemini", "gemini-budget-model(auto)", "", ("thinkingBudget", -1, True)),
    ("s23", "claude", "gemini", "gemini-budget-model", "", None),
    ("s24", "claude", "gemini", "gemini-budget-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s25", "claude", "gemini", "gemini-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s26", "claude", "gemini", "gemini-budget-model(0)", "", ("thinkingBudget", 128, False)),
    ("s27", "claude", "gemini", "gemini-budget-model(-1)", "", ("thinkingBudget", -1, True)),
    ("s28", "openai", "gemini", "gemini-mixed-model", "", None),
    ("s29", "openai", "gemini", "gemini-mixed-model(high)", "", ("thinkingLevel", "high", True)),
    ("s30", "openai", "gemini", "gemini-mixed-model(xhigh)", "", "ERROR"),
    ("s31", "openai", "gemini", "gemini-mixed-model(none)", "", ("thinkingLevel", "low", False)),
    ("s32", "openai", "gemini", "gemini-mixed-model(auto)", "", ("thinkingBudget", -1, True)),
    ("s33", "claude", "gemini", "gemini-mixed-model", "", None),
    ("s34", "claude", "gemini", "gemini-mixed-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s35", "claude", "gemini", "gemini-mixed-model(64000)", "", ("thinkingBudget", 32768, True)),
    ("s36", "claude", "gemini", "gemini-mixed-model(0)", "", ("thinkingLevel", "low", False)),
    ("s37", "claude", "gemini", "gemini-mixed-model(-1)", "", ("thinkingBudget", -1, True)),
    ("s38", "openai", "claude", "claude-budget-model", "", None),
    ("s39", "openai", "claude", "claude-budget-model(medium)", "", ("thinking.budget_tokens", 8192)),
    ("s40", "openai", "claude", "claude-budget-model(xhigh)", "", ("thinking.budget_tokens", 32768)),
    ("s41", "openai", "claude", "claude-budget-model(none)", "", ("thinking.type", "disabled")),
    ("s42", "openai", "claude", "claude-budget-model(auto)", "", ("thinking.budget_tokens", 64512)),
    ("s43", "gemini", "claude", "claude-budget-model", "", None),
    ("s44", "gemini", "claude", "claude-budget-model(8192)", "", ("thinking.budget_tokens", 8192)),
    ("s45", "gemini", "claude", "claude-budget-model(200000)", "", ("thinking.budget_tokens", 128000)),
    ("s46", "gemini", "claude", "claude-budget-model(0)", "", ("thinking.type", "disabled")),
    ("s47", "gemini", "claude", "claude-budget-model(-1)", "", ("thinking.budget_tokens", 64512)),
    ("s48", "gemini", "antigravity", "antigravity-budget-model", "", None),
    ("s49", "gemini", "antigravity", "antigravity-budget-model(medium)", "", ("thinkingBudget", 8192, True)),
    ("s50", "gemini", "antigravity", "antigravity-budget-model(xhigh)", "", ("thinkingBudget", 20000, True)),
    ("s51", "gemini", "antigravity", "antigravity-budget-model(none)", "", ("thinkingBudget", 0, False)),
    ("s52", "gemini", "antigravity", "antigravity-budget-model(auto)", "", ("thinkingBudget", -1, True)),
    ("s53", "claude", "antigravity", "antigravity-budget-model", "", None),
    ("s54", "claude", "antigravity", "antigravity-budget-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s55", "claude", "antigravity", "antigravity-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s56", "claude", "antigravity", "antigravity-budget-model(0)", "", ("thinkingBudget", 0, False)),
    ("s57", "claude", "antigravity", "antigravity-budget-model(-1)", "", ("thinkingBudget", -1, True)),
    ("s58", "gemini", "openai", "no-thinking-model", "", None),
    ("s59", "gemini", "openai", "no-thinking-model(8192)", "", None),
    ("s60", "gemini", "openai", "no-thinking-model(0)", "", None),
    ("s61", "gemini", "openai", "no-thinking-model(-1)", "", None),
    ("s62", "claude", "openai", "no-thinking-model", "", None),
    ("s63", "claude", "openai", "no-thinking-model(8192)", "", None),
    ("s64", "claude", "openai", "no-thinking-model(0)", "", None),
    ("s65", "claude", "openai", "no-thinking-model(-1)", "", None),
    ("s66", "gemini", "openai", "user-defined-model", "", None),
    ("s67", "gemini", "openai", "user-defined-model(8192)", "", ("reasoning_effort", "medium")),
    ("s68", "gemini", "openai", "user-defined-model(64000)", "", ("reasoning_effort", "xhigh")),
    ("s69", "gemini", "openai", "user-defined-model(0)", "", ("reasoning_effort", "none")),
    ("s70", "gemini", "openai", "user-defined-model(-1)", "", ("reasoning_effort", "auto")),
    ("s71", "claude", "codex", "user-defined-model", "", ("reasoning.effort", "medium")),
    ("s72", "claude", "codex", "user-defined-model(8192)", "", ("reasoning.effort", "medium")),
    ("s73", "claude", "codex", "user-defined-model(64000)", "", ("reasoning.effort", "xhigh")),
    ("s74", "claude", "codex", "user-defined-model(0)", "", ("reasoning.effort", "none")),
    ("s75", "claude", "codex", "user-defined-model(-1)", "", ("reasoning.effort", "auto")),
    ("s76", "openai", "gemini", "user-defined-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s77", "openai", "claude", "user-defined-model(8192)", "", ("thinking.budget_tokens", 8192)),
    ("s78", "openai-response", "gemini", "user-defined-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s79", "openai-response", "claude", "user-defined-model(8192)", "", ("thinking.budget_tokens", 8192)),
    ("s80", "openai", "openai", "level-model(high)", "", ("reasoning_effort", "high")),
    ("s81", "openai", "openai", "level-model(xhigh)", "", "ERROR"),
    ("s82", "openai-response", "codex", "level-model(high)", "", ("reasoning.effort", "high")),
    ("s83", "openai-response", "codex", "level-model(xhigh)", "", "ERROR"),
    ("s84", "gemini", "gemini", "gemini-budget-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s85", "gemini", "gemini", "gemini-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s86", "claude", "claude", "claude-budget-model(8192)", "", ("thinking.budget_tokens", 8192)),
    ("s87", "claude", "claude", "claude-budget-model(200000)", "", ("thinking.budget_tokens", 128000)),
    ("s88", "gemini-cli", "antigravity", "antigravity-budget-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s89", "gemini-cli", "antigravity", "antigravity-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s90", "openai", "iflow", "glm-test", "", None),
    ("s91", "openai", "iflow", "glm-test(medium)", "", ("chat_template_kwargs.enable_thinking", True)),
    ("s92", "openai", "iflow", "glm-test(auto)", "", ("chat_template_kwargs.enable_thinking", True)),
    ("s93", "openai", "iflow", "glm-test(none)", "", ("chat_template_kwargs.enable_thinking", False)),
    ("s94", "claude", "iflow", "glm-test", "", None),
    ("s95", "claude", "iflow", "glm-test(8192)", "", ("chat_template_kwargs.enable_thinking", True)),
    ("s96", "claude", "iflow", "glm-test(-1)", "", ("chat_template_kwargs.enable_thinking", True)),
    ("s97", "claude", "iflow", "glm-test(0)", "", ("chat_template_kwargs.enable_thinking", False)),
    ("s98", "openai", "iflow", "minimax-test", "", None),
    ("s99", "openai", "iflow", "minimax-test(medium)", "", ("reasoning_split", True)),
    ("s100", "openai", "iflow", "minimax-test(auto)", "", ("reasoning_split", True)),
    ("s101", "openai", "iflow", "minimax-test(none)", "", ("reasoning_split", False)),
    ("s102", "gemini", "iflow", "minimax-test", "", None),
    ("s103", "gemini", "iflow", "minimax-test(8192)", "", ("reasoning_split", True)),
    ("s104", "gemini", "iflow", "minimax-test(-1)", "", ("reasoning_split", True)),
    ("s105", "gemini", "iflow", "minimax-test(0)", "", ("reasoning_split", False)),
    ("s106", "gemini", "antigravity", "gemini-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s107", "gemini", "gemini-cli", "gemini-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s108", "gemini-cli", "antigravity", "gemini-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s109", "gemini-cli", "gemini", "gemini-budget-model(64000)", "", ("thinkingBudget", 20000, True)),
    ("s110", "gemini", "antigravity", "gemini-budget-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("s111", "gemini-cli", "antigravity", "gemini-budget-model(8192)", "", ("thinkingBudget", 8192, True)),
    ("b1", "openai", "codex", "level-model", "", ("reasoning.effort", "medium")),
    ("b2", "openai", "codex", "level-model", "reasoning_effort=medium", ("reasoning.effort", "medium")),
    ("b3", "openai", "codex", "level-model", "reasoning_effort=xhigh", "ERROR"),
    ("b4", "openai", "codex", "level-model", "reasoning_effort=none", ("reasoning.effort", "minimal")),
    ("b5", "openai", "codex", "level-model", "reasoning_effort=auto", ("reasoning.effort", "medium")),
    ("b6", "gemini", "codex", "level-model", "", ("reasoning.effort", "medium")),
    ("b7", "gemini", "codex", "level-model", "thinkingBudget=8192", ("reasoning.effort", "medium")),
    ("b8", "gemini", "codex", "level-model", "thinkingBudget=64000", ("reasoning.effort", "high")),
    ("b9", "gemini", "codex", "level-model", "thinkingBudget=0", ("reasoning.effort", "minimal")),
    ("b10", "gemini", "codex", "level-model", "thinkingBudget=-1", ("reasoning.effort", "medium")),
    ("b11", "claude", "openai", "level-model", "", None),
    ("b12", "claude", "openai", "level-model", "budget_tokens=8192", ("reasoning_effort", "medium")),
    ("b13", "claude", "openai", "level-model", "budget_tokens=64000", ("reasoning_effort", "high")),
    ("b14", "claude", "openai", "level-model", "budget_tokens=0", ("reasoning_effort", "minimal")),
    ("b15", "claude", "openai", "level-model", "budget_tokens=-1", ("reasoning_effort", "medium")),
    ("b16", "gemini", "openai", "level-subset-model", "thinkingBudget=8192", ("reasoning_effort", "low")),
    ("b17", "claude", "gemini", "level-subset-model", "budget_tokens=1", ("thinkingLevel", "low", True)),
    ("b18", "openai", "gemini", "gemini-budget-model", "", None),
    ("b19", "openai", "gemini", "gemini-budget-model", "reasoning_effort=medium", ("thinkingBudget", 8192, True)),
    ("b20", "openai", "gemini", "gemini-budget-model", "reasoning_effort=xhigh", ("thinkingBudget", 20000, True)),
    ("b21", "openai", "gemini", "gemini-budget-model", "reasoning_effort=none", ("thinkingBudget", 128, False)),
    ("b22", "openai", "gemini", "gemini-budget-model", "reasoning_effort=auto", ("thinkingBudget", -1, True)),
    ("b23", "claude", "gemini", "gemini-budget-model", "", None),
    ("b24", "claude", "gemini", "gemini-budget-model", "budget_tokens=8192", ("thinkingBudget", 8192, True)),
    ("b25", "claude", "gemini", "gemini-budget-model", "budget_tokens=64000", ("thinkingBudget", 20000, True)),
    ("b26", "claude", "gemini", "gemini-budget-model", "budget_tokens=0", ("thinkingBudget", 128, False)),
    ("b27", "claude", "gemini", "gemini-budget-model", "budget_tokens=-1", ("thinkingBudget", -1, True)),
    ("b28", "openai", "gemini", "gemini-mixed-model", "", None),
    ("b29", "openai", "gemini", "gemini-mixed-model", "reasoning_effort=high", ("thinkingLevel", "high", True)),
    ("b30", "openai", "gemini", "gemini-mixed-model", "reasoning_effort=xhigh", "ERROR"),
    ("b31", "openai", "gemini", "gemini-mixed-model", "reasoning_effort=none", ("thinkingLevel", "low", False)),
    ("b32", "openai", "gemini", "gemini-mixed-model", "reasoning_effort=auto", ("thinkingBudget", -1, True)),
    ("b33", "claude", "gemini", "gemini-mixed-model", "", None),
    ("b34", "claude", "gemini", "gemini-mixed-model", "budget_tokens=8192", ("thinkingBudget", 8192, True)),
    ("b35", "claude", "gemini", "gemini-mixed-model", "budget_tokens=64000", ("thinkingBudget", 32768, True)),
    ("b36", "claude", "gemini", "gemini-mixed-model", "budget_tokens=0", ("thinkingLevel", "low", False)),
    ("b37", "claude", "gemini", "gemini-mixed-model", "budget_tokens=-1", ("thinkingBudget", -1, True)),
    ("b38", "openai", "claude", "claude-budget-model", "", None),
    ("b39", "openai", "claude", "claude-budget-model", "reasoning_effort=medium", ("thinking.budget_tokens", 8192)),
    ("b40", "openai", "claude", "claude-budget-model", "reasoning_effort=xhigh", ("thinking.budget_tokens", 32768)),
    ("b41", "openai", "claude", "claude-budget-model", "reasoning_effort=none", ("thinking.type", "disabled")),
    ("b42", "openai", "claude", "claude-budget-model", "reasoning_effort=auto", ("thinking.budget_tokens", 64512)),
    ("b43", "gemini", "claude", "claude-budget-model", "", None),
    ("b44", "gemini", "claude", "claude-budget-model", "thinkingBudget=8192", ("thinking.budget_tokens", 8192)),
    ("b45", "gemini", "claude", "claude-budget-model", "thinkingBudget=200000", ("thinking.budget_tokens", 128000)),
    ("b46", "gemini", "claude", "claude-budget-model", "thinkingBudget=0", ("thinking.type", "disabled")),
    ("b47", "gemini", "claude", "claude-budget-model", "thinkingBudget=-1", ("thinking.budget_tokens", 64512)),
    ("b48", "gemini", "antigravity", "antigravity-budget-model", "", None),
    ("b49", "gemini", "antigravity", "antigravity-budget-model", "thinkingLevel=medium",
     ("thinkingBudget", 8192, True)),
    ("b50", "gemini", "antigravity", "antigravity-budget-model", "thinkingLevel=xhigh",
     ("thinkingBudget", 20000, True)),
    ("b51", "gemini", "antigravity", "antigravity-budget-model", "thinkingLevel=none", ("thinkingBudget", 0, False)),
    ("b52", "gemini", "antigravity", "antigravity-budget-model", "thinkingBudget=-1", ("thinkingBudget", -1, True)),
    ("b53", "claude", "antigravity", "antigravity-budget-model", "", None),
    ("b54", "claude", "antigravity", "antigravity-budget-model", "budget_tokens=8192", ("thinkingBudget", 8192, True)),
    ("b55", "claude", "antigravity", "antigravity-budget-model", "budget_tokens=64000",
     ("thinkingBudget", 20000, True)),
    ("b56", "claude", "antigravity", "antigravity-budget-model", "budget_tokens=0", ("thinkingBudget", 0, False)),
    ("b57", "claude", "antigravity", "antigravity-budget-model", "budget_tokens=-1", ("thinkingBudget", -1, True)),
    ("b58", "gemini", "openai", "no-thinking-model", "", None),
    ("b59", "gemini", "openai", "no-thinking-model", "thinkingBudget=8192", None),
    ("b60", "gemini", "openai", "no-thinking-model", "thinkingBudget=0", None),
    ("b61", "gemini", "openai", "no-thinking-model", "thinkingBudget=-1", None),
    ("b62", "claude", "openai", "no-thinking-model", "", None),
    ("b63", "claude", "openai", "no-thinking-model", "budget_tokens=8192", None),
    ("b64", "claude", "openai", "no-thinking-model", "budget_tokens=0", None),
    ("b65", "claude", "openai", "no-thinking-model", "budget_tokens=-1", None),
    ("b66", "gemini", "openai", "user-defined-model", "", None),
    ("b67", "gemini", "openai", "user-defined-model", "thinkingBudget=8192", ("reasoning_effort", "medium")),
    ("b68", "gemini", "openai", "user-defined-model", "thinkingBudget=64000", ("reasoning_effort", "xhigh")),
    ("b69", "gemini", "openai", "user-defined-model", "thinkingBudget=0", ("reasoning_effort", "none")),
    ("b70", "gemini", "openai", "user-defined-model", "thinkingBudget=-1", ("reasoning_effort", "auto")),
    ("b71", "claude", "codex", "user-defined-model", "", ("reasoning.effort", "medium")),
    ("b72", "claude", "codex", "user-defined-model", "budget_tokens=8192", ("reasoning.effort", "medium")),
    ("b73", "claude", "codex", "user-defined-model", "budget_tokens=64000", ("reasoning.effort", "xhigh")),
    ("b74", "claude", "codex", "user-defined-model", "budget_tokens=0", ("reasoning.effort", "none")),
    ("b75", "claude", "codex", "user-defined-model", "budget_tokens=-1", ("reasoning.effort", "auto")),
    ("b76", "openai", "gemini", "user-defined-model", "reasoning_effort=medium", ("thinkingBudget", 8192, True)),
    ("b77", "openai", "claude", "user-defined-model", "reasoning_effort=medium", ("thinking.budget_tokens", 8192)),
    ("b78", "openai-response", "gemini", "user-defined-model", "reasoning.effort=medium",
     ("thinkingBudget", 8192, True)),
    ("b79", "openai-response", "claude", "user-defined-model", "reasoning.effort=medium",
     ("thinking.budget_tokens", 8192)),
    ("b80", "openai", "openai", "level-model", "reasoning_effort=high", ("reasoning_effort", "high")),
    ("b81", "openai", "openai", "level-model", "reasoning_effort=xhigh", "ERROR"),
    ("b82", "openai-response", "codex", "level-model", "reasoning.effort=high", ("reasoning.effort", "high")),
    ("b83", "openai-response", "codex", "level-model", "reasoning.effort=xhigh", "ERROR"),
    ("b84", "gemini", "gemini", "gemini-budget-model", "thinkingBudget=8192", ("thinkingBudget", 8192, True)),
    ("b85", "gemini", "gemini", "gemini-budget-model", "thinkingBudget=64000", "ERROR"),
    ("b86", "claude", "claude", "claude-budget-model", "budget_tokens=8192", ("thinking.budget_tokens", 8192)),
    ("b87", "claude", "claude", "claude-budget-model", "budget_tokens=200000", "ERROR"),
    ("b88", "gemini-cli", "antigravity", "antigravity-budget-model", "thinkingBudget=8192",
     ("thinkingBudget", 8192, True)),
    ("b89", "gemini-cli", "antigravity", "antigravity-budget-model", "thinkingBudget=64000", "ERROR"),
    ("b90", "openai", "iflow", "glm-test", "", None),
    ("b91", "openai", "iflow", "glm-test", "reasoning_effort=medium", ("chat_template_kwargs.enable_thinking", True)),
    ("b92", "openai", "iflow", "glm-test", "reasoning_effort=auto", ("chat_template_kwargs.enable_thinking", True)),
    ("b93", "openai", "iflow", "glm-test", "reasoning_effort=none", ("chat_template_kwargs.enable_thinking", False)),
    ("b94", "claude", "iflow", "glm-test", "", None),
    ("b95", "claude", "iflow", "glm-test", "budget_tokens=8192", ("chat_template_kwargs.enable_thinking", True)),
    ("b96", "claude", "iflow", "glm-test", "budget_tokens=-1", ("chat_template_kwargs.enable_thinking", True)),
    ("b97", "claude", "iflow", "glm-test", "budget_tokens=0", ("chat_template_kwargs.enable_thinking", False)),
    ("b98", "openai", "iflow", "minimax-test", "", None),
    ("b99", "openai", "iflow", "minimax-test", "reasoning_effort=medium", ("reasoning_split", True)),
    ("b100", "openai", "iflow", "minimax-test", "reasoning_effort=auto", ("reasoning_split", True)),
    ("b101", "openai", "iflow", "minimax-test", "reasoning_effort=none", ("reasoning_split", False)),
    ("b102", "gemini", "iflow", "minimax-test", "", None),
    ("b103", "gemini", "iflow", "minimax-test", "thinkingBudget=8192", ("reasoning_split", True)),
    ("b104", "gemini", "iflow", "minimax-test", "thinkingBudget=-1", ("reasoning_split", True)),
    ("b105", "gemini", "iflow", "minimax-test", "thinkingBudget=0", ("reasoning_split", False)),
    ("b106", "gemini", "antigravity", "gemini-budget-model", "thinkingBudget=64000", "ERROR"),
    ("b107", "gemini", "gemini-cli", "gemini-budget-model", "thinkingBudget=64000", "ERROR"),
    ("b108", "gemini-cli", "antigravity", "gemini-budget-model", "thinkingBudget=64000", "ERROR"),
    ("b109", "gemini-cli", "gemini", "gemini-budget-model", "thinkingBudget=64000", "ERROR"),
    ("b110", "gemini", "antigravity", "gemini-budget-model", "thinkingBudget=8192", ("thinkingBudget", 8192, True)),
    ("b111", "gemini-cli", "antigravity", "gemini-budget-model", "thinkingBudget=8192", ("thinkingBudget", 8192, True)),
]


def _get(body: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            return _MISSING
        body = body[key]
    return body


def _thinking_field(spec: str) -> dict[str, Any]:
    """The client body's thinking field from ``name=value``."""
    if not spec:
        return {}
    name, _, value = spec.partition("=")
    if name == "reasoning_effort":
        return {"reasoning_effort": value}
    if name == "reasoning.effort":
        return {"reasoning": {"effort": value}}
    if name == "budget_tokens":
        return {"thinking": {"type": "enabled", "budget_tokens": int(value)}}
    setting: Any = int(value) if name == "thinkingBudget" else value
    return {"generationConfig": {"thinkingConfig": {name: setting}}}


def _client_body(source: str, model: str, spec: str) -> dict[str, Any]:
    field = _thinking_field(spec)
    if source == "gemini-cli":
        return {"model": model, "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **field}}
    if source == "gemini":
        return {"model": model, "contents": [{"role": "user", "parts": [{"text": "hi"}]}], **field}
    key = "input" if source == "openai-response" else "messages"
    return {"model": model, key: [{"role": "user", "content": "hi"}], **field}


def _config_root(target: str) -> str:
    return "generationConfig.thinkingConfig" if target == "gemini" else "request.generationConfig.thinkingConfig"


@pytest.mark.parametrize(("source", "target", "model", "spec", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_legacy_thinking_matrix(source: str, target: str, model: str, spec: str, expected: Expected) -> None:
    base = parse_suffix(model).model
    translate_to = "openai" if target == "iflow" else target
    factory = all_pairs()[(Format(source), Format(translate_to))]
    body = factory(TranslateInput(body=_client_body(source, model, spec), model=base, client_model=base,
                                  stream=True)).upstream_body
    if target == "claude":
        body["max_tokens"] = 200000
    info = REGISTRY.get(base)
    if expected == ERROR:
        with pytest.raises(ThinkingError):
            apply_thinking(body, model, source, target, info)
        return
    out = apply_thinking(body, model, source, target, info)
    if expected is None:
        assert [path for path in _THINKING_PATHS[target] if _get(out, path) is not _MISSING] == []
        return
    assert isinstance(expected, tuple)
    path, value = expected[0], expected[1]
    if path in ("thinkingBudget", "thinkingLevel"):
        path = f"{_config_root(target)}.{path}"
    assert _get(out, path) == value
    if len(expected) == 3:
        assert _get(out, f"{_config_root(target)}.includeThoughts") is expected[2]
    if target == "iflow" and path == "chat_template_kwargs.enable_thinking" and value is True:
        assert _get(out, "chat_template_kwargs.clear_thinking") is False
