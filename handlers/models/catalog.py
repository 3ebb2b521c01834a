"""Static model catalogues of CLIProxyAPI v6.7.15 (``internal/registry/model_definitions.go``).

These are the model lists a credential registers when its config entry has no ``models:`` list of
its own: one tuple per provider, in the order the legacy server defines them. ``created`` values
are the legacy constants, so ``/v1/models`` shows the same timestamps. Antigravity lists come from
the upstream at runtime; only its static thinking overrides live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Thinking:
    """Reasoning budget/level support of one model (provider-native units)."""

    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One registry entry; field names follow the legacy JSON keys in snake_case."""

    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""
    type: str = ""
    display_name: str = ""
    name: str = ""
    version: str = ""
    description: str = ""
    input_token_limit: int = 0
    output_token_limit: int = 0
    supported_generation_methods: tuple[str, ...] = ()
    context_length: int = 0
    max_completion_tokens: int = 0
    supported_parameters: tuple[str, ...] = ()
    thinking: Thinking | None = None
    # Defined by a config ``models:`` list: thinking settings pass through unvalidated.
    user_defined: bool = field(default=False, compare=False)


_m = ModelInfo

_GEMINI_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")

_CLAUDE_BUDGET = Thinking(min=1024, max=128000)
_CLAUDE_BUDGET_ZERO = Thinking(min=1024, max=128000, zero_allowed=True)
_GEMINI_PRO_BUDGET = Thinking(min=128, max=32768, dynamic_allowed=True)
_GEMINI_FLASH_BUDGET = Thinking(max=24576, zero_allowed=True, dynamic_allowed=True)
_GEMINI_FLASH_512_BUDGET = Thinking(min=512, max=24576, zero_allowed=True, dynamic_allowed=True)
_GEMINI3_PRO_THINKING = Thinking(min=128, max=32768, dynamic_allowed=True, levels=("low", "high"))
_GEMINI3_FLASH_THINKING = Thinking(min=128, max=32768, dynamic_allowed=True,
                                   levels=("minimal", "low", "medium", "high"))
_LEVELS_MINIMAL_TO_HIGH = Thinking(levels=("minimal", "low", "medium", "high"))
_LEVELS_LOW_TO_HIGH = Thinking(levels=("low", "medium", "high"))
_LEVELS_NONE_TO_HIGH = Thinking(levels=("none", "low", "medium", "high"))
_LEVELS_LOW_TO_XHIGH = Thinking(levels=("low", "medium", "high", "xhigh"))
_LEVELS_NONE_TO_XHIGH = Thinking(levels=("none", "low", "medium", "high", "xhigh"))
_IFLOW_LEVELS = Thinking(levels=("none", "auto", "minimal", "low", "medium", "high", "xhigh"))

CLAUDE: tuple[ModelInfo, ...] = (
    _m(id="claude-haiku-4-5-20251001", created=1759276800, owned_by="anthropic", type="claude",
       display_name="Claude 4.5 Haiku", context_length=200000, max_completion_tokens=64000),
    _m(id="claude-sonnet-4-5-20250929", created=1759104000, owned_by="anthropic", type="claude",
       display_name="Claude 4.5 Sonnet", context_length=200000, max_completion_tokens=64000,
       thinking=_CLAUDE_BUDGET_ZERO),
    _m(id="claude-opus-4-5-20251101", created=1761955200, owned_by="anthropic", type="claude",
       display_name="Claude 4.5 Opus",
       description="Premium model combining maximum intelligence with practical performance", context_length=200000,
       max_completion_tokens=64000, thinking=_CLAUDE_BUDGET_ZERO),
    _m(id="claude-opus-4-1-20250805", created=1722945600, owned_by="anthropic", type="claude",
       display_name="Claude 4.1 Opus", context_length=200000, max_completion_tokens=32000,
       thinking=_CLAUDE_BUDGET),
    _m(id="claude-opus-4-20250514", created=1715644800, owned_by="anthropic", type="claude",
       display_name="Claude 4 Opus", context_length=200000, max_completion_tokens=32000,
       thinking=_CLAUDE_BUDGET),
    _m(id="claude-sonnet-4-20250514", created=1715644800, owned_by="anthropic", type="claude",
       display_name="Claude 4 Sonnet", context_length=200000, max_completion_tokens=64000,
       thinking=_CLAUDE_BUDGET),
    _m(id="claude-3-7-sonnet-20250219", created=1708300800, owned_by="anthropic", type="claude",
       display_name="Claude 3.7 Sonnet", context_length=128000, max_completion_tokens=8192,
       thinking=_CLAUDE_BUDGET),
    _m(id="claude-3-5-haiku-20241022", created=1729555200, owned_by="anthropic", type="claude",
       display_name="Claude 3.5 Haiku", context_length=128000, max_completion_tokens=8192),
)

GEMINI: tuple[ModelInfo, ...] = (
    _m(id="gemini-2.5-pro", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Pro",
       name="models/gemini-2.5-pro", version="2.5", description="Stable release (June 17th, 2025) of Gemini 2.5 Pro",
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-2.5-flash", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Flash",
       name="models/gemini-2.5-flash", version="001",
       description=("Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 "
         "million tokens, released in June of 2025."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-2.5-flash-lite", created=1753142400, owned_by="google", type="gemini",
       display_name="Gemini 2.5 Flash Lite", name="models/gemini-2.5-flash-lite", version="2.5",
       description="Our smallest and most cost effective model, built for at scale usage.", input_token_limit=1048576,
       output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-3-pro-preview", created=1737158400, owned_by="google", type="gemini",
       display_name="Gemini 3 Pro Preview", name="models/gemini-3-pro-preview", version="3.0",
       description="Gemini 3 Pro Preview", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI3_PRO_THINKING),
    _m(id="gemini-3-flash-preview", created=1765929600, owned_by="google", type="gemini",
       display_name="Gemini 3 Flash Preview", name="models/gemini-3-flash-preview", version="3.0",
       description="Gemini 3 Flash Preview", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI3_FLASH_THINKING),
    _m(id="gemini-3-pro-image-preview", created=1737158400, owned_by="google", type="gemini",
       display_name="Gemini 3 Pro Image Preview", name="models/gemini-3-pro-image-preview", version="3.0",
       description="Gemini 3 Pro Image Preview", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI3_PRO_THINKING),
)

VERTEX: tuple[ModelInfo, ...] = (
    _m(id="gemini-2.5-pro", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Pro",
       name="models/gemini-2.5-pro", version="2.5", description="Stable release (June 17th, 2025) of Gemini 2.5 Pro",
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-2.5-flash", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Flash",
       name="models/gemini-2.5-flash", version="001",
       description=("Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 "
         "million tokens, released in June of 2025."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-2.5-flash-lite", created=1753142400, owned_by="google", type="gemini",
       display_name="Gemini 2.5 Flash Lite", name="models/gemini-2.5-flash-lite", version="2.5",
       description="Our smallest and most cost effective model, built for at scale usage.", input_token_limit=1048576,
       output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-3-pro-preview", created=1737158400, owned_by="google", type="gemini",
       display_name="Gemini 3 Pro Preview", name="models/gemini-3-pro-preview", version="3.0",
       description="Gemini 3 Pro Preview", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI3_PRO_THINKING),
    _m(id="gemini-3-flash-preview", created=1765929600, owned_by="google", type="gemini",
       display_name="Gemini 3 Flash Preview", name="models/gemini-3-flash-preview", version="3.0",
       description=("Our most intelligent model built for speed, combining frontier intelligence with superior "
         "search and grounding."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI3_FLASH_THINKING),
    _m(id="gemini-3-pro-image-preview", created=1737158400, owned_by="google", type="gemini",
       display_name="Gemini 3 Pro Image Preview", name="models/gemini-3-pro-image-preview", version="3.0",
       description="Gemini 3 Pro Image Preview", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI3_PRO_THINKING),
    _m(id="imagen-4.0-generate-001", created=1750000000, owned_by="google", type="gemini",
       display_name="Imagen 4.0 Generate", name="models/imagen-4.0-generate-001", version="4.0",
       description="Imagen 4.0 image generation model", supported_generation_methods=("predict",)),
    _m(id="imagen-4.0-ultra-generate-001", created=1750000000, owned_by="google", type="gemini",
       display_name="Imagen 4.0 Ultra Generate", name="models/imagen-4.0-ultra-generate-001", version="4.0",
       description="Imagen 4.0 Ultra high-quality image generation model", supported_generation_methods=("predict",)),
    _m(id="imagen-3.0-generate-002", created=1740000000, owned_by="google", type="gemini",
       display_name="Imagen 3.0 Generate", name="models/imagen-3.0-generate-002", version="3.0",
       description="Imagen 3.0 image generation model", supported_generation_methods=("predict",)),
    _m(id="imagen-3.0-fast-generate-001", created=1740000000, owned_by="google", type="gemini",
       display_name="Imagen 3.0 Fast Generate", name="models/imagen-3.0-fast-generate-001", version="3.0",
       description="Imagen 3.0 fast image generation model", supported_generation_methods=("predict",)),
    _m(id="imagen-4.0-fast-generate-001", created=1750000000, owned_by="google", type="gemini",
       display_name="Imagen 4.0 Fast Generate", name="models/imagen-4.0-fast-generate-001", version="4.0",
       description="Imagen 4.0 fast image generation model", supported_generation_methods=("predict",)),
)

GEMINI_CLI: tuple[ModelInfo, ...] = (
    _m(id="gemini-2.5-pro", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Pro",
       name="models/gemini-2.5-pro", version="2.5", description="Stable release (June 17th, 2025) of Gemini 2.5 Pro",
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-2.5-flash", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Flash",
       name="models/gemini-2.5-flash", version="001",
       description=("Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 "
         "million tokens, released in June of 2025."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-2.5-flash-lite", created=1753142400, owned_by="google", type="gemini",
       display_name="Gemini 2.5 Flash Lite", name="models/gemini-2.5-flash-lite", version="2.5",
       description="Our smallest and most cost effective model, built for at scale usage.", input_token_limit=1048576,
       output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-3-pro-preview", created=1737158400, owned_by="google", type="gemini",
       display_name="Gemini 3 Pro Preview", name="models/gemini-3-pro-preview", version="3.0",
       description=("Our most intelligent model with SOTA reasoning and multimodal understanding, and powerful "
         "agentic and vibe coding capabilities"),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI3_PRO_THINKING),
    _m(id="gemini-3-flash-preview", created=1765929600, owned_by="google", type="gemini",
       display_name="Gemini 3 Flash Preview", name="models/gemini-3-flash-preview", version="3.0",
       description=("Our most intelligent model built for speed, combining frontier intelligence with superior "
         "search and grounding."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI3_FLASH_THINKING),
)

AISTUDIO: tuple[ModelInfo, ...] = (
    _m(id="gemini-2.5-pro", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Pro",
       name="models/gemini-2.5-pro", version="2.5", description="Stable release (June 17th, 2025) of Gemini 2.5 Pro",
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-2.5-flash", created=1750118400, owned_by="google", type="gemini", display_name="Gemini 2.5 Flash",
       name="models/gemini-2.5-flash", version="001",
       description=("Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 "
         "million tokens, released in June of 2025."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-2.5-flash-lite", created=1753142400, owned_by="google", type="gemini",
       display_name="Gemini 2.5 Flash Lite", name="models/gemini-2.5-flash-lite", version="2.5",
       description="Our smallest and most cost effective model, built for at scale usage.", input_token_limit=1048576,
       output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-3-pro-preview", created=1737158400, owned_by="google", type="gemini",
       display_name="Gemini 3 Pro Preview", name="models/gemini-3-pro-preview", version="3.0",
       description="Gemini 3 Pro Preview", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-3-flash-preview", created=1765929600, owned_by="google", type="gemini",
       display_name="Gemini 3 Flash Preview", name="models/gemini-3-flash-preview", version="3.0",
       description=("Our most intelligent model built for speed, combining frontier intelligence with superior "
         "search and grounding."),
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-pro-latest", created=1750118400, owned_by="google", type="gemini", display_name="Gemini Pro Latest",
       name="models/gemini-pro-latest", version="2.5", description="Latest release of Gemini Pro",
       input_token_limit=1048576, output_token_limit=65536, supported_generation_methods=_GEMINI_METHODS,
       thinking=_GEMINI_PRO_BUDGET),
    _m(id="gemini-flash-latest", created=1750118400, owned_by="google", type="gemini",
       display_name="Gemini Flash Latest", name="models/gemini-flash-latest", version="2.5",
       description="Latest release of Gemini Flash", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_FLASH_BUDGET),
    _m(id="gemini-flash-lite-latest", created=1753142400, owned_by="google", type="gemini",
       display_name="Gemini Flash-Lite Latest", name="models/gemini-flash-lite-latest", version="2.5",
       description="Latest release of Gemini Flash-Lite", input_token_limit=1048576, output_token_limit=65536,
       supported_generation_methods=_GEMINI_METHODS, thinking=_GEMINI_FLASH_512_BUDGET),
    _m(id="gemini-2.5-flash-image-preview", created=1756166400, owned_by="google", type="gemini",
       display_name="Gemini 2.5 Flash Image Preview", name="models/gemini-2.5-flash-image-preview", version="2.5",
       description="State-of-the-art image generation and editing model.", input_token_limit=1048576,
       output_token_limit=8192, supported_generation_methods=_GEMINI_METHODS),
    _m(id="gemini-2.5-flash-image", created=1759363200, owned_by="google", type="gemini",
       display_name="Gemini 2.5 Flash Image", name="models/gemini-2.5-flash-image", version="2.5",
       description="State-of-the-art image generation and editing model.", input_token_limit=1048576,
       output_token_limit=8192, supported_generation_methods=_GEMINI_METHODS),
)

CODEX: tuple[ModelInfo, ...] = (
    _m(id="gpt-5", created=1754524800, owned_by="openai", type="openai", display_name="GPT 5",
       version="gpt-5-2025-08-07",
       description="Stable version of GPT 5, The best model for coding and agentic tasks across domains.",
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_MINIMAL_TO_HIGH),
    _m(id="gpt-5-codex", created=1757894400, owned_by="openai", type="openai", display_name="GPT 5 Codex",
       version="gpt-5-2025-09-15",
       description="Stable version of GPT 5 Codex, The best model for coding and agentic tasks across domains.",
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_LOW_TO_HIGH),
    _m(id="gpt-5-codex-mini", created=1762473600, owned_by="openai", type="openai", display_name="GPT 5 Codex Mini",
       version="gpt-5-2025-11-07",
       description="Stable version of GPT 5 Codex Mini: cheaper, faster, but less capable version of GPT 5 Codex.",
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_LOW_TO_HIGH),
    _m(id="gpt-5.1", created=1762905600, owned_by="openai", type="openai", display_name="GPT 5",
       version="gpt-5.1-2025-11-12",
       description="Stable version of GPT 5, The best model for coding and agentic tasks across domains.",
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_NONE_TO_HIGH),
    _m(id="gpt-5.1-codex", created=1762905600, owned_by="openai", type="openai", display_name="GPT 5.1 Codex",
       version="gpt-5.1-2025-11-12",
       description="Stable version of GPT 5.1 Codex, The best model for coding and agentic tasks across domains.",
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_LOW_TO_HIGH),
    _m(id="gpt-5.1-codex-mini", created=1762905600, owned_by="openai", type="openai",
       display_name="GPT 5.1 Codex Mini", version="gpt-5.1-2025-11-12",
       description=("Stable version of GPT 5.1 Codex Mini: cheaper, faster, but less capable version of GPT 5.1 "
         "Codex."),
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_LOW_TO_HIGH),
    _m(id="gpt-5.1-codex-max", created=1763424000, owned_by="openai", type="openai", display_name="GPT 5.1 Codex Max",
       version="gpt-5.1-max", description="Stable version of GPT 5.1 Codex Max", context_length=400000,
       max_completion_tokens=128000, supported_parameters=("tools",), thinking=_LEVELS_LOW_TO_XHIGH),
    _m(id="gpt-5.2", created=1765440000, owned_by="openai", type="openai", display_name="GPT 5.2", version="gpt-5.2",
       description="Stable version of GPT 5.2", context_length=400000, max_completion_tokens=128000,
       supported_parameters=("tools",), thinking=_LEVELS_NONE_TO_XHIGH),
    _m(id="gpt-5.2-codex", created=1765440000, owned_by="openai", type="openai", display_name="GPT 5.2 Codex",
       version="gpt-5.2",
       description="Stable version of GPT 5.2 Codex, The best model for coding and agentic tasks across domains.",
       context_length=400000, max_completion_tokens=128000, supported_parameters=("tools",),
       thinking=_LEVELS_LOW_TO_XHIGH),
)

QWEN: tuple[ModelInfo, ...] = (
    _m(id="qwen3-coder-plus", created=1753228800, owned_by="qwen", type="qwen", display_name="Qwen3 Coder Plus",
       version="3.0", description="Advanced code generation and understanding model", context_length=32768,
       max_completion_tokens=8192, supported_parameters=("temperature", "top_p", "max_tokens", "stream", "stop")),
    _m(id="qwen3-coder-flash", created=1753228800, owned_by="qwen", type="qwen", display_name="Qwen3 Coder Flash",
       version="3.0", description="Fast code generation model", context_length=8192, max_completion_tokens=2048,
       supported_parameters=("temperature", "top_p", "max_tokens", "stream", "stop")),
    _m(id="vision-model", created=1758672000, owned_by="qwen", type="qwen", display_name="Qwen3 Vision Model",
       version="3.0", description="Vision model model", context_length=32768, max_completion_tokens=2048,
       supported_parameters=("temperature", "top_p", "max_tokens", "stream", "stop")),
)

IFLOW: tuple[ModelInfo, ...] = (
    _m(id="tstars2.0", created=1746489600, owned_by="iflow", type="iflow", display_name="TStars-2.0",
       description="iFlow TStars-2.0 multimodal assistant"),
    _m(id="qwen3-coder-plus", created=1753228800, owned_by="iflow", type="iflow", display_name="Qwen3-Coder-Plus",
       description="Qwen3 Coder Plus code generation"),
    _m(id="qwen3-max", created=1758672000, owned_by="iflow", type="iflow", display_name="Qwen3-Max",
       description="Qwen3 flagship model"),
    _m(id="qwen3-vl-plus", created=1758672000, owned_by="iflow", type="iflow", display_name="Qwen3-VL-Plus",
       description="Qwen3 multimodal vision-language"),
    _m(id="qwen3-max-preview", created=1757030400, owned_by="iflow", type="iflow", display_name="Qwen3-Max-Preview",
       description="Qwen3 Max preview build"),
    _m(id="kimi-k2-0905", created=1757030400, owned_by="iflow", type="iflow", display_name="Kimi-K2-Instruct-0905",
       description="Moonshot Kimi K2 instruct 0905"),
    _m(id="glm-4.6", created=1759190400, owned_by="iflow", type="iflow", display_name="GLM-4.6",
       description="Zhipu GLM 4.6 general model", thinking=_IFLOW_LEVELS),
    _m(id="glm-4.7", created=1766448000, owned_by="iflow", type="iflow", display_name="GLM-4.7",
       description="Zhipu GLM 4.7 general model", thinking=_IFLOW_LEVELS),
    _m(id="kimi-k2", created=1752192000, owned_by="iflow", type="iflow", display_name="Kimi-K2",
       description="Moonshot Kimi K2 general model"),
    _m(id="kimi-k2-thinking", created=1762387200, owned_by="iflow", type="iflow", display_name="Kimi-K2-Thinking",
       description="Moonshot Kimi K2 thinking model"),
    _m(id="deepseek-v3.2-chat", created=1764576000, owned_by="iflow", type="iflow", display_name="DeepSeek-V3.2",
       description="DeepSeek V3.2 Chat"),
    _m(id="deepseek-v3.2-reasoner", created=1764576000, owned_by="iflow", type="iflow", display_name="DeepSeek-V3.2",
       description="DeepSeek V3.2 Reasoner"),
    _m(id="deepseek-v3.2", created=1759104000, owned_by="iflow", type="iflow", display_name="DeepSeek-V3.2-Exp",
       description="DeepSeek V3.2 experimental"),
    _m(id="deepseek-v3.1", created=1756339200, owned_by="iflow", type="iflow", display_name="DeepSeek-V3.1-Terminus",
       description="DeepSeek V3.1 Terminus"),
    _m(id="deepseek-r1", created=1737331200, owned_by="iflow", type="iflow", display_name="DeepSeek-R1",
       description="DeepSeek reasoning model R1"),
    _m(id="deepseek-v3", created=1734307200, owned_by="iflow", type="iflow", display_name="DeepSeek-V3-671B",
       description="DeepSeek V3 671B"),
    _m(id="qwen3-32b", created=1747094400, owned_by="iflow", type="iflow", display_name="Qwen3-32B",
       description="Qwen3 32B"),
    _m(id="qwen3-235b-a22b-thinking-2507", created=1753401600, owned_by="iflow", type="iflow",
       display_name="Qwen3-235B-A22B-Thinking", description="Qwen3 235B A22B Thinking (2507)"),
    _m(id="qwen3-235b-a22b-instruct", created=1753401600, owned_by="iflow", type="iflow",
       display_name="Qwen3-235B-A22B-Instruct", description="Qwen3 235B A22B Instruct"),
    _m(id="qwen3-235b", created=1753401600, owned_by="iflow", type="iflow", display_name="Qwen3-235B-A22B",
       description="Qwen3 235B A22B"),
    _m(id="minimax-m2", created=1758672000, owned_by="iflow", type="iflow", display_name="MiniMax-M2",
       description="MiniMax M2", thinking=_IFLOW_LEVELS),
    _m(id="minimax-m2.1", created=1766448000, owned_by="iflow", type="iflow", display_name="MiniMax-M2.1",
       description="MiniMax M2.1", thinking=_IFLOW_LEVELS),
    _m(id="iflow-rome-30ba3b", created=1736899200, owned_by="iflow", type="iflow", display_name="iFlow-ROME",
       description="iFlow Rome 30BA3B model"),
)

# GitHub Copilot and Kiro exist only in the CLIProxyAPIPlus fork (``GetGitHubCopilotModels`` and
# ``GetKiroModels``); the fork registers these for every credential of the two types.
_COPILOT_CREATED = 1732752000


def _copilot(model_id: str, display: str, vendor: str, context: int, max_out: int) -> ModelInfo:
    # Every Copilot entry shares owner, type and timestamp; only the name and limits differ.
    return _m(id=model_id, created=_COPILOT_CREATED, owned_by="github-copilot", type="github-copilot",
              display_name=display, description=f"{vendor} {display} via GitHub Copilot",
              context_length=context, max_completion_tokens=max_out)


GITHUB_COPILOT: tuple[ModelInfo, ...] = (
    _copilot("gpt-4.1", "GPT-4.1", "OpenAI", 128000, 16384),
    _copilot("gpt-5", "GPT-5", "OpenAI", 200000, 32768),
    _copilot("gpt-5-mini", "GPT-5 Mini", "OpenAI", 128000, 16384),
    _copilot("gpt-5-codex", "GPT-5 Codex", "OpenAI", 200000, 32768),
    _copilot("gpt-5.1", "GPT-5.1", "OpenAI", 200000, 32768),
    _copilot("gpt-5.1-codex", "GPT-5.1 Codex", "OpenAI", 200000, 32768),
    _copilot("gpt-5.1-codex-mini", "GPT-5.1 Codex Mini", "OpenAI", 128000, 16384),
    _copilot("claude-haiku-4.5", "Claude Haiku 4.5", "Anthropic", 200000, 64000),
    _copilot("claude-opus-4.1", "Claude Opus 4.1", "Anthropic", 200000, 32000),
    _copilot("claude-opus-4.5", "Claude Opus 4.5", "Anthropic", 200000, 64000),
    _copilot("claude-sonnet-4", "Claude Sonnet 4", "Anthropic", 200000, 64000),
    _copilot("claude-sonnet-4.5", "Claude Sonnet 4.5", "Anthropic", 200000, 64000),
    _copilot("gemini-2.5-pro", "Gemini 2.5 Pro", "Google", 1048576, 65536),
    _copilot("gemini-3-pro", "Gemini 3 Pro", "Google", 1048576, 65536),
    _copilot("grok-code-fast-1", "Grok Code Fast 1", "xAI", 128000, 16384),
    # The fork names no vendor for this one, so its description is just the model name.
    _m(id="raptor-mini", created=_COPILOT_CREATED, owned_by="github-copilot", type="github-copilot",
       display_name="Raptor Mini", description="Raptor Mini via GitHub Copilot", context_length=128000,
       max_completion_tokens=16384),
)

_KIRO_THINKING = Thinking(min=1024, max=32000, zero_allowed=True, dynamic_allowed=True)


def _kiro(model_id: str, display: str, description: str) -> ModelInfo:
    # All Kiro entries share owner, limits and the thinking budget; the names carry the difference.
    return _m(id=model_id, created=1732752000, owned_by="aws", type="kiro", display_name=display,
              description=description, context_length=200000, max_completion_tokens=64000,
              thinking=_KIRO_THINKING)


# Base models first, then the "agentic" variants tuned for coding agents (chunked writes). The
# fork's Amazon Q list is defined but never registered, so it is not here either.
KIRO: tuple[ModelInfo, ...] = (
    _kiro("kiro-claude-opus-4-5", "Kiro Claude Opus 4.5", "Claude Opus 4.5 via Kiro (2.2x credit)"),
    _kiro("kiro-claude-sonnet-4-5", "Kiro Claude Sonnet 4.5", "Claude Sonnet 4.5 via Kiro (1.3x credit)"),
    _kiro("kiro-claude-sonnet-4", "Kiro Claude Sonnet 4", "Claude Sonnet 4 via Kiro (1.3x credit)"),
    _kiro("kiro-claude-haiku-4-5", "Kiro Claude Haiku 4.5", "Claude Haiku 4.5 via Kiro (0.4x credit)"),
    _kiro("kiro-claude-opus-4-5-agentic", "Kiro Claude Opus 4.5 (Agentic)",
          "Claude Opus 4.5 optimized for coding agents (chunked writes)"),
    _kiro("kiro-claude-sonnet-4-5-agentic", "Kiro Claude Sonnet 4.5 (Agentic)",
          "Claude Sonnet 4.5 optimized for coding agents (chunked writes)"),
    _kiro("kiro-claude-sonnet-4-agentic", "Kiro Claude Sonnet 4 (Agentic)",
          "Claude Sonnet 4 optimized for coding agents (chunked writes)"),
    _kiro("kiro-claude-haiku-4-5-agentic", "Kiro Claude Haiku 4.5 (Agentic)",
          "Claude Haiku 4.5 optimized for coding agents (chunked writes)"),
)

# Antigravity fetches its model list live; these per-model overrides are all that is static.
ANTIGRAVITY_OVERRIDES: dict[str, tuple[Thinking | None, int]] = {
    "gemini-2.5-flash": (_GEMINI_FLASH_BUDGET, 0),
    "gemini-2.5-flash-lite": (_GEMINI_FLASH_BUDGET, 0),
    "rev19-uic3-1p": (_GEMINI_PRO_BUDGET, 0),
    "gemini-3-pro-high": (_GEMINI3_PRO_THINKING, 0),
    "gemini-3-pro-image": (_GEMINI3_PRO_THINKING, 0),
    "gemini-3-flash": (_GEMINI3_FLASH_THINKING, 0),
    "claude-sonnet-4-5-thinking": (Thinking(min=1024, max=128000, zero_allowed=True, dynamic_allowed=True), 64000),
    "claude-opus-4-5-thinking": (Thinking(min=1024, max=128000, zero_allowed=True, dynamic_allowed=True), 64000),
    "claude-sonnet-4-5": (None, 64000),
    "gpt-oss-120b-medium": (None, 0),
    "tab_flash_lite_preview": (None, 0),
}

# Catalogue per registry provider key. ``antigravity`` has none: its list is fetched upstream.
STATIC_MODELS: dict[str, tuple[ModelInfo, ...]] = {
    "gemini": GEMINI,
    "vertex": VERTEX,
    "gemini-cli": GEMINI_CLI,
    "aistudio": AISTUDIO,
    "claude": CLAUDE,
    "codex": CODEX,
    "qwen": QWEN,
    "iflow": IFLOW,
    "github-copilot": GITHUB_COPILOT,
    "kiro": KIRO,
}

# The legacy lookup walks the lists in this order and returns the first hit. The fork-only Copilot
# and Kiro lists are not part of it: v6.7.15 has no lookup entry for them.
_LOOKUP_ORDER = (CLAUDE, GEMINI, VERTEX, GEMINI_CLI, AISTUDIO, CODEX, QWEN, IFLOW)


def _first_entries() -> dict[str, ModelInfo]:
    first: dict[str, ModelInfo] = {}
    for models in _LOOKUP_ORDER:
        for model in models:
            first.setdefault(model.id, model)
    for model_id, (thinking, max_tokens) in ANTIGRAVITY_OVERRIDES.items():
        first.setdefault(model_id, ModelInfo(id=model_id, object="", thinking=thinking,
                                             max_completion_tokens=max_tokens))
    return first


# Every request looks its model up here (thinking limits), and a model that is in no list (an
# alias of an API key, say) walked all of them: a few µs per request. The lists are tuples of
# frozen entries, so the first hit per ID is fixed at import.
_FIRST_ENTRY = _first_entries()


def lookup_static(model_id: str) -> ModelInfo | None:
    """``LookupStaticModelInfo``: the first catalogue entry with this exact ID, else an
    antigravity override as a bare entry."""
    return _FIRST_ENTRY.get(model_id) if model_id else None
