"""Reasoning/thinking normalisation (reference A2.9): suffixes, level<->budget, per-model limits.

Three layers, all pure:

* ``parse_suffix`` / ``config_from_suffix``: the ``model(value)`` form clients use to ask for a
  thinking setting through the model name.
* ``level_to_budget`` / ``budget_to_level``: the fixed tables shared by every translator.
* ``validate_config``: fits a requested ``ThinkingConfig`` to what a model supports
  (``ThinkingSupport``), converting between level- and budget-based upstreams, clamping, or
  refusing with ``ThinkingError`` exactly where the legacy server refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from handlers.models.catalog import lookup_static
from handlers.translation.gjson_values import bool_of, int_of
from handlers.translation.model import Format, ThinkingConfig, ThinkingMode
from quotio_gateway.gostrings import go_lower, go_quote, go_trim

LEVEL_TO_BUDGET: dict[str, int] = {
    "none": 0,
    "auto": -1,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}

# Upper bounds (inclusive) of each level when a budget is turned back into a level.
_BUDGET_THRESHOLDS: tuple[tuple[int, str], ...] = (
    (512, "minimal"),
    (1024, "low"),
    (8192, "medium"),
    (24576, "high"),
)

STANDARD_LEVELS: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh")

_BUDGET_FORMATS = frozenset({Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY, Format.CLAUDE})
_LEVEL_FORMATS = frozenset({Format.OPENAI, Format.OPENAI_RESPONSE, Format.CODEX})
_GEMINI_FAMILY = frozenset({Format.GEMINI, Format.GEMINI_CLI, Format.ANTIGRAVITY})

# Go's strconv.Atoi grammar: optional sign, ASCII digits only.
_INTEGER = re.compile(r"[+-]?[0-9]+")


class ThinkingError(ValueError):
    """The requested thinking setting cannot be honoured for this model (request fails)."""


def level_to_budget(level: str) -> int | None:
    """Budget for a level name (case-insensitive); None for an unknown word."""
    return LEVEL_TO_BUDGET.get(level.lower())


def budget_to_level(budget: int) -> str | None:
    """Level for a budget; None for budgets below -1, which the legacy table rejects."""
    if budget < -1:
        return None
    if budget == -1:
        return "auto"
    if budget == 0:
        return "none"
    for upper, level in _BUDGET_THRESHOLDS:
        if budget <= upper:
            return level
    return "xhigh"


@dataclass(slots=True, frozen=True)
class SuffixResult:
    model: str
    suffix: str | None


def parse_suffix(model: str) -> SuffixResult:
    """Split ``name(value)`` at the last ``(``; only a trailing ``)`` makes it a suffix."""
    open_at = model.rfind("(")
    if open_at == -1 or not model.endswith(")"):
        return SuffixResult(model, None)
    return SuffixResult(model[:open_at], model[open_at + 1 : -1])


def config_from_suffix(raw: str) -> ThinkingConfig | None:
    """Thinking config a raw suffix asks for; None when the suffix means nothing (passthrough)."""
    if not raw:
        return None
    lowered = raw.lower()
    if lowered == "none":
        return ThinkingConfig(ThinkingMode.NONE, budget=0)
    if lowered in ("auto", "-1"):
        return ThinkingConfig(ThinkingMode.AUTO, budget=-1)
    if lowered in STANDARD_LEVELS:
        return ThinkingConfig(ThinkingMode.LEVEL, level=lowered)
    if _INTEGER.fullmatch(raw):
        value = int(raw)
        if value < 0:
            return None
        if value == 0:
            return ThinkingConfig(ThinkingMode.NONE, budget=0)
        return ThinkingConfig(ThinkingMode.BUDGET, budget=value)
    return None


@dataclass(slots=True, frozen=True)
class ThinkingSupport:
    """A model's thinking capability as the legacy model registry describes it."""

    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: tuple[str, ...] = ()


def _level_supported(level: str, levels: tuple[str, ...]) -> bool:
    return any(level.lower() == s.strip().lower() for s in levels)


def clamp_level(level: str, levels: tuple[str, ...]) -> str:
    """Nearest supported standard level; on a tie the lower one wins."""
    if not levels or _level_supported(level, levels):
        return level
    if level.lower() not in STANDARD_LEVELS:
        return level
    pos = STANDARD_LEVELS.index(level.lower())
    best_idx, best_dist = -1, len(STANDARD_LEVELS) + 1
    for candidate in levels:
        name = candidate.strip().lower()
        if name not in STANDARD_LEVELS:
            continue
        idx = STANDARD_LEVELS.index(name)
        dist = abs(pos - idx)
        if dist < best_dist or (dist == best_dist and idx < best_idx):
            best_idx, best_dist = idx, dist
    return STANDARD_LEVELS[best_idx] if best_idx >= 0 else level


def clamp_budget(value: int, support: ThinkingSupport) -> int:
    if value == -1:
        return value
    if value == 0 and not support.zero_allowed:
        return support.min
    if support.min == 0 and support.max == 0:
        return value
    if value < support.min:
        return 0 if value == 0 and support.zero_allowed else support.min
    return min(value, support.max)


def _auto_to_mid_range(support: ThinkingSupport) -> ThinkingConfig:
    if support.levels and support.min == 0 and support.max == 0:
        return ThinkingConfig(ThinkingMode.LEVEL, level="medium")
    mid = (support.min + support.max) // 2
    if mid <= 0 and support.zero_allowed:
        return ThinkingConfig(ThinkingMode.NONE, budget=0)
    if mid <= 0:
        return ThinkingConfig(ThinkingMode.BUDGET, budget=support.min)
    return ThinkingConfig(ThinkingMode.BUDGET, budget=mid)


def validate_config(
    config: ThinkingConfig,
    support: ThinkingSupport | None,
    source: str | None,
    target: str,
    *,
    from_suffix: bool,
) -> ThinkingConfig:
    """Fit ``config`` to a registered model; raise ``ThinkingError`` where the legacy server does.

    ``source``/``target`` are format names (``Format`` values, or "iflow" for that upstream).
    ``support`` None means the model is registered without thinking. Unregistered (user-defined)
    models skip validation entirely; callers do not call this for them.
    """
    if support is None:
        if config.mode is not ThinkingMode.NONE:
            raise ThinkingError("thinking not supported for this model")
        return config

    allow_clamp_unsupported = source in _BUDGET_FORMATS and target in _LEVEL_FORMATS
    strict_budget = (
        not from_suffix
        and source is not None
        and (source == target or (source in _GEMINI_FAMILY and target in _GEMINI_FAMILY))
    )
    budget_from_level = False
    mode, budget, level = config.mode, config.budget, config.level
    has_budget = support.min > 0 or support.max > 0
    has_levels = bool(support.levels)

    if has_budget and not has_levels and mode is ThinkingMode.LEVEL and level.lower() != "auto":
        converted = level_to_budget(level)
        if converted is None:
            raise ThinkingError(f"unknown level: {level}")
        mode, budget, level, budget_from_level = ThinkingMode.BUDGET, converted, "", True
    elif has_levels and not has_budget and mode is ThinkingMode.BUDGET:
        as_level = budget_to_level(budget)
        if as_level is None:
            raise ThinkingError(f"budget {budget} cannot be converted to a valid level")
        mode, budget, level = ThinkingMode.LEVEL, 0, clamp_level(as_level, support.levels)

    if mode is ThinkingMode.LEVEL and level.lower() == "none":
        mode, budget, level = ThinkingMode.NONE, 0, ""
    if mode is ThinkingMode.LEVEL and level.lower() == "auto":
        mode, budget, level = ThinkingMode.AUTO, -1, ""
    if mode is ThinkingMode.BUDGET and budget == 0:
        mode, level = ThinkingMode.NONE, ""

    if has_levels and mode is ThinkingMode.LEVEL and not _level_supported(level, support.levels):
        if allow_clamp_unsupported:
            level = clamp_level(level, support.levels)
        if not _level_supported(level, support.levels):
            valid = ", ".join(go_lower(go_trim(s)) for s in support.levels)
            # %q in the legacy message: a quote or control character in the client's level is escaped.
            raise ThinkingError(f"level {go_quote(go_lower(level))} not supported, valid levels: {valid}")

    if strict_budget and mode is ThinkingMode.BUDGET and not budget_from_level and has_budget:
        if budget < support.min or budget > support.max or (budget == 0 and not support.zero_allowed):
            raise ThinkingError(f"budget {budget} out of range [{support.min},{support.max}]")

    if mode is ThinkingMode.AUTO and not support.dynamic_allowed:
        fitted = _auto_to_mid_range(support)
        mode, budget, level = fitted.mode, fitted.budget, fitted.level

    if mode is ThinkingMode.NONE and target == Format.CLAUDE:
        return ThinkingConfig(ThinkingMode.NONE, budget=0)
    if mode in (ThinkingMode.BUDGET, ThinkingMode.AUTO, ThinkingMode.NONE):
        budget = clamp_budget(budget, support)
    if mode is ThinkingMode.NONE and budget > 0 and support.levels:
        level = support.levels[0]
    return ThinkingConfig(mode, budget=budget, level=level)


# --- applying a thinking setting to an upstream body (A2.9 "Appliers") -----------------------

Path = tuple[str, ...]


@dataclass(slots=True, frozen=True)
class ModelInfo:
    """What the appliers need from the model registry. ``None`` where a model is unknown."""

    id: str
    thinking: ThinkingSupport | None = None
    max_completion_tokens: int = 0
    user_defined: bool = False


def _get(body: dict[str, Any], path: Path) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _set(body: dict[str, Any], path: Path, value: Any) -> None:
    node = body
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _delete(body: dict[str, Any], path: Path) -> None:
    parent = _get(body, path[:-1]) if len(path) > 1 else body
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


_MISSING = object()


def _thinking_root(provider: str) -> Path:
    if provider in ("gemini-cli", "antigravity"):
        return ("request", "generationConfig", "thinkingConfig")
    return ("generationConfig", "thinkingConfig")


def extract_config(body: dict[str, Any], provider: str) -> ThinkingConfig | None:
    """The thinking setting already present in an upstream body (A2.9 "Body extraction")."""
    if provider == "claude":
        kind = _get(body, ("thinking", "type"))
        if kind == "disabled":
            return ThinkingConfig(ThinkingMode.NONE)
        budget = _get(body, ("thinking", "budget_tokens"))
        if budget is not _MISSING:
            value = int_of(budget)
            return _budget_config(value)
        return ThinkingConfig(ThinkingMode.AUTO, budget=-1) if kind == "enabled" else None
    if provider in ("gemini", "gemini-cli", "antigravity"):
        root = _thinking_root(provider)
        level = _get(body, (*root, "thinkingLevel"))
        if level is not _MISSING:
            text = level if isinstance(level, str) else ""
            if text == "none":
                return ThinkingConfig(ThinkingMode.NONE)
            if text == "auto":
                return ThinkingConfig(ThinkingMode.AUTO, budget=-1)
            if text:
                return ThinkingConfig(ThinkingMode.LEVEL, level=text)
            # An empty or null level says nothing (read kindly where the legacy answers 400), so a
            # budget beside it still counts.
        budget = _get(body, (*root, "thinkingBudget"))
        return _budget_config(int_of(budget)) if budget is not _MISSING else None
    if provider == "iflow":
        for path in (("chat_template_kwargs", "enable_thinking"), ("reasoning_split",)):
            flag = _get(body, path)
            if flag is not _MISSING:
                # gjson Bool() (apply.go:469-484): "true", "1" and non-zero numbers are on too.
                on = bool_of(flag)
                return ThinkingConfig(ThinkingMode.BUDGET, budget=1) if on else ThinkingConfig(ThinkingMode.NONE)
        provider = "openai"
    if provider in ("openai", "codex"):
        effort = _get(body, ("reasoning_effort",) if provider == "openai" else ("reasoning", "effort"))
        if effort is _MISSING:
            return None
        text = effort if isinstance(effort, str) else ""
        if text == "none":
            return ThinkingConfig(ThinkingMode.NONE)
        return ThinkingConfig(ThinkingMode.LEVEL, level=text) if text else None
    return None


def _budget_config(value: int) -> ThinkingConfig | None:
    if value == 0:
        return ThinkingConfig(ThinkingMode.NONE)
    if value == -1:
        return ThinkingConfig(ThinkingMode.AUTO, budget=-1)
    return ThinkingConfig(ThinkingMode.BUDGET, budget=value)


_STRIP_PATHS: dict[str, tuple[Path, ...]] = {
    "claude": (("thinking",),),
    "gemini": (("generationConfig", "thinkingConfig"),),
    "gemini-cli": (("request", "generationConfig", "thinkingConfig"),),
    "antigravity": (("request", "generationConfig", "thinkingConfig"),),
    "openai": (("reasoning_effort",),),
    "codex": (("reasoning", "effort"),),
    "iflow": (
        ("chat_template_kwargs", "enable_thinking"),
        ("chat_template_kwargs", "clear_thinking"),
        ("reasoning_split",),
        ("reasoning_effort",),
    ),
}


def has_config(body: dict[str, Any], provider: str) -> bool:
    """Whether the legacy sees a thinking setting in ``body`` (``hasThinkingConfig`` after
    ``extractThinkingConfig``, apply.go:119-126, 308-336): an effort or level key counts whatever
    its value, so an empty, ``null`` or non-string one is there too, where ``extract_config``
    reads it as no setting."""
    if extract_config(body, provider) is not None:
        return True
    if provider in ("gemini", "gemini-cli", "antigravity"):
        root = _thinking_root(provider)
        return _get(body, (*root, "thinkingLevel")) is not _MISSING
    if provider in ("openai", "iflow"):
        return _get(body, ("reasoning_effort",)) is not _MISSING
    if provider == "codex":
        return _get(body, ("reasoning", "effort")) is not _MISSING
    return False


def strip_config(body: dict[str, Any], provider: str) -> dict[str, Any]:
    for path in _STRIP_PATHS.get(provider, ()):
        _delete(body, path)
    return body


def apply_thinking(
    body: dict[str, Any], model: str, source: str, provider: str, info: ModelInfo | None
) -> dict[str, Any]:
    """``ApplyThinking``: suffix (or body) setting -> validated -> written for ``provider``.

    ``provider`` is the upstream format (claude, gemini, gemini-cli, antigravity, openai, codex,
    iflow); ``info`` is the registry entry for the suffix-less model name, None when the
    registry has none. Mutates and returns ``body``; raises ``ThinkingError`` where the legacy
    request fails.
    """
    if provider not in _STRIP_PATHS:
        return body
    suffix = parse_suffix(model)
    if info is None:
        # The legacy lookup (LookupModelInfo) falls back to the static catalogue. An API key
        # with a ``models:`` alias registers only the alias, so the upstream name this sees is
        # otherwise unknown, and an auto request to Claude would go out as thinking
        # {type: enabled} without the budget_tokens Anthropic requires.
        # It trims the name first (model_registry.go:139): "model (high)" is the registered model.
        info = lookup_static(suffix.model.strip())  # type: ignore[assignment]  # same fields, catalogue type
    config = config_from_suffix(suffix.suffix) if suffix.suffix is not None else extract_config(body, provider)
    if info is None or info.user_defined:
        if config is None or provider == "iflow":
            return body
        if config.mode is ThinkingMode.LEVEL and provider in _BUDGET_FORMATS and source in _LEVEL_FORMATS:
            converted = level_to_budget(config.level)
            if converted is not None:
                config = ThinkingConfig(ThinkingMode.BUDGET, budget=converted)
        return _apply_compatible(body, config, provider, info, source)
    if info.thinking is None:
        return strip_config(body, provider) if has_config(body, provider) else body
    if config is None:
        return body
    validated = validate_config(
        config, info.thinking, source or provider, provider, from_suffix=suffix.suffix is not None
    )
    return _apply_registered(body, validated, provider, info)


def _effort_for_none(config: ThinkingConfig, support: ThinkingSupport) -> str:
    if config.budget == 0 and (support.zero_allowed or _level_supported("none", support.levels)):
        return "none"
    if config.level:
        return config.level
    return support.levels[0] if support.levels else ""


def _apply_registered(body: dict[str, Any], config: ThinkingConfig, provider: str, info: ModelInfo) -> dict[str, Any]:
    support = info.thinking
    assert support is not None
    mode = config.mode
    if provider == "claude":
        if mode is ThinkingMode.NONE or (mode is ThinkingMode.BUDGET and config.budget == 0):
            _set(body, ("thinking", "type"), "disabled")
            _delete(body, ("thinking", "budget_tokens"))
        elif mode is ThinkingMode.BUDGET:
            _set(body, ("thinking", "type"), "enabled")
            _set(body, ("thinking", "budget_tokens"), config.budget)
            _fit_claude_budget(body, config.budget, info)
        return body
    if provider in ("openai", "codex"):
        path: Path = ("reasoning_effort",) if provider == "openai" else ("reasoning", "effort")
        if mode is ThinkingMode.LEVEL:
            _set(body, path, config.level)
        elif mode is ThinkingMode.NONE:
            effort = _effort_for_none(config, support)
            if effort:
                _set(body, path, effort)
        return body
    if provider == "iflow":
        enabled = _as_boolean(config)
        if info.id.lower().startswith("glm"):
            _set(body, ("chat_template_kwargs", "enable_thinking"), enabled)
            if enabled:
                _set(body, ("chat_template_kwargs", "clear_thinking"), False)
        elif info.id.lower().startswith("minimax"):
            _set(body, ("reasoning_split",), enabled)
        return body
    # gemini family
    if provider == "gemini":
        level_format = mode is ThinkingMode.LEVEL or (mode is ThinkingMode.NONE and bool(support.levels))
    else:
        level_format = mode not in (ThinkingMode.AUTO, ThinkingMode.BUDGET) and bool(support.levels)
    if level_format:
        return _gemini_level(body, config, provider)
    return _gemini_budget(body, config, provider, info)


def _apply_compatible(
    body: dict[str, Any], config: ThinkingConfig, provider: str, info: ModelInfo | None, source: str
) -> dict[str, Any]:
    """User-defined or unregistered models: write the setting without registry limits."""
    mode = config.mode
    if provider == "claude":
        if mode is ThinkingMode.NONE:
            _set(body, ("thinking", "type"), "disabled")
            _delete(body, ("thinking", "budget_tokens"))
        elif mode is ThinkingMode.AUTO:
            _set(body, ("thinking", "type"), "enabled")
            _delete(body, ("thinking", "budget_tokens"))
        elif mode is ThinkingMode.BUDGET and config.budget < -1 and source.startswith("gemini"):
            # A Gemini client's budget below -1: a registered model clamps it to its minimum, an
            # unregistered one would send Claude a negative budget it refuses (compatibility row 13).
            _delete(body, ("thinking",))
        elif mode is ThinkingMode.BUDGET:
            _set(body, ("thinking", "type"), "enabled")
            _set(body, ("thinking", "budget_tokens"), config.budget)
        return body
    if provider in ("openai", "codex"):
        path: Path = ("reasoning_effort",) if provider == "openai" else ("reasoning", "effort")
        effort: str | None
        if mode is ThinkingMode.LEVEL:
            effort = config.level or None
        elif mode is ThinkingMode.NONE:
            effort = config.level or "none"
        elif mode is ThinkingMode.AUTO:
            effort = "auto"
        else:
            effort = budget_to_level(config.budget)
        if effort:
            _set(body, path, effort)
        return body
    if mode is ThinkingMode.AUTO:
        return _gemini_budget(body, config, provider, info)
    if mode is ThinkingMode.LEVEL or (mode is ThinkingMode.NONE and config.level):
        return _gemini_level(body, config, provider)
    return _gemini_budget(body, config, provider, info)


def _as_boolean(config: ThinkingConfig) -> bool:
    if config.mode is ThinkingMode.NONE:
        return False
    if config.mode is ThinkingMode.BUDGET:
        return config.budget > 0
    if config.mode is ThinkingMode.LEVEL:
        return config.level != "none"
    return True


def _gemini_level(body: dict[str, Any], config: ThinkingConfig, provider: str) -> dict[str, Any]:
    root = _thinking_root(provider)
    _delete(body, (*root, "thinkingBudget"))
    _delete(body, (*root, "include_thoughts"))
    if config.mode is ThinkingMode.NONE:
        _set(body, (*root, "includeThoughts"), False)
        if config.level:
            _set(body, (*root, "thinkingLevel"), config.level)
    elif config.mode is ThinkingMode.LEVEL:
        _set(body, (*root, "thinkingLevel"), config.level)
        _set(body, (*root, "includeThoughts"), True)
    return body


def _gemini_budget(
    body: dict[str, Any], config: ThinkingConfig, provider: str, info: ModelInfo | None
) -> dict[str, Any]:
    root = _thinking_root(provider)
    _delete(body, (*root, "thinkingLevel"))
    _delete(body, (*root, "include_thoughts"))
    budget = config.budget
    if config.mode is ThinkingMode.NONE:
        include = False
    elif config.mode is ThinkingMode.AUTO:
        include = True
    else:
        include = budget > 0
    if provider == "antigravity" and info is not None and "claude" in info.id.lower():
        # Claude served through Antigravity keeps Claude's limits: budget below max tokens, and no
        # thinking at all when that leaves less than the model's minimum.
        maximum, from_model = _effective_max(body, ("request", "generationConfig", "maxOutputTokens"), info)
        if maximum > 0 and budget >= maximum:
            budget = maximum - 1
        minimum = info.thinking.min if info.thinking is not None else 0
        if minimum > 0 and 0 <= budget < minimum:
            _delete(body, root)
            return body
        if from_model and maximum > 0:
            _set(body, ("request", "generationConfig", "maxOutputTokens"), maximum)
    _set(body, (*root, "thinkingBudget"), budget)
    _set(body, (*root, "includeThoughts"), include)
    return body


def _effective_max(body: dict[str, Any], path: Path, info: ModelInfo) -> tuple[int, bool]:
    current = _get(body, path)
    if current is not _MISSING and int_of(current) > 0:
        return int_of(current), False
    if info.max_completion_tokens > 0:
        return info.max_completion_tokens, True
    return 0, False


def _fit_claude_budget(body: dict[str, Any], budget: int, info: ModelInfo) -> None:
    """Claude needs ``max_tokens > budget_tokens``: lower the budget, unless that breaks the minimum."""
    if budget <= 0:
        return
    maximum, from_model = _effective_max(body, ("max_tokens",), info)
    if from_model and maximum > 0:
        _set(body, ("max_tokens",), maximum)
    adjusted = maximum - 1 if maximum > 0 and budget >= maximum else budget
    minimum = info.thinking.min if info.thinking is not None else 0
    if minimum > 0 and 0 < adjusted < minimum:
        return
    if adjusted != budget:
        _set(body, ("thinking", "budget_tokens"), adjusted)
