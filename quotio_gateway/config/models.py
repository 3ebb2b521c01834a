"""Pydantic mirror of CLIProxyAPI v6.7.15's ``config.yaml`` (``internal/config``, commit 9b72ea9ef).

Fields are declared in the Go struct order because both the YAML writer and the JSON renderer of
``GET /v0/management/config`` emit keys in that order. Python names are the YAML keys in
snake_case; the YAML spelling is the alias.

Go distinguishes a nil slice or map from an empty one (``null`` versus ``[]`` in JSON). Here every
list and map field holds a real list or dict, and "nil" means the field is not in
``model_fields_set``: absent or ``null`` in the source leaves it out, anything assigned (attribute
assignment, ``model_copy(update=...)``, an explicit ``[]`` in the YAML) puts it in.

Scalars decode the way yaml.v3 decodes into typed Go fields: ``null`` is the zero value, a number
or bool into a string field is taken as text, a string into an int or bool field is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

DEFAULT_PANEL_GITHUB_REPOSITORY = "https://github.com/router-for-me/Cli-Proxy-API-Management-Center"
DEFAULT_AUTH_DIR = "~/.cli-proxy-api"
DEFAULT_PORT = 8317

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


# YAML 1.1's other boolean spellings, which yaml.v3 still sets a bool field from (the loader
# marks them, the writer quotes them, a bool field reads them).
YAML11_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
YAML11_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})
YAML11_BOOLS = YAML11_TRUE | YAML11_FALSE


class OldBool(str):
    """A plain ``yes``/``no``/``on``/``off`` scalar. yaml.v3 reads it as a bool only into a bool
    field and as text everywhere else, so the loader keeps the text and marks it."""

    __slots__ = ()

    @property
    def truth(self) -> bool:
        return self in YAML11_TRUE


class YamlInt(int):
    """An int scalar that remembers how the file spelled it: yaml.v3 hands a string field the
    source text, so ``api-key: 0123`` must stay "0123", not become "83"."""

    text: str

    def __new__(cls, value: int, text: str) -> YamlInt:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (int(self), self.text))


class YamlFloat(float):
    """A float scalar with its source text (see ``YamlInt``)."""

    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (float(self), self.text))


def scalar_text(value: Any) -> str:
    """The text yaml.v3 stores into a Go string field for a scalar of any type."""
    if value is None:
        return ""
    if isinstance(value, YamlInt | YamlFloat):
        return value.text
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise PydanticCustomError("string_type", "Input should be a valid string")


def plain_yaml(value: Any) -> Any:
    """Loader scalar types back to plain Python ones, for free-form values (params, extras)."""
    if isinstance(value, dict):
        return {plain_yaml(k): plain_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_yaml(v) for v in value]
    if isinstance(value, YamlInt):
        return int(value)
    if isinstance(value, YamlFloat):
        return float(value)
    if isinstance(value, OldBool):
        return str(value)
    return value


def _go_str(value: Any) -> str:
    return scalar_text(value)


def _go_int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        value = int(value)  # yaml.v3 converts a float with Go's int64(): truncation
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise PydanticCustomError("int_overflow", "Input should be a valid 64-bit integer")
    return int(value)


def _go_bool(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, OldBool):
        return value.truth
    if isinstance(value, str):
        # A quoted scalar too: yaml.v3 sets a typed bool from these YAML 1.1 spellings whatever
        # the quoting, for compatibility with that spec (decode.go, reflect.Bool); "true" in
        # quotes stays an error there.
        if value in YAML11_TRUE:
            return True
        if value in YAML11_FALSE:
            return False
    raise PydanticCustomError("bool_type", "Input should be a valid boolean")


GoStr = Annotated[str, BeforeValidator(_go_str)]
GoInt = Annotated[int, BeforeValidator(_go_int)]
GoBool = Annotated[bool, BeforeValidator(_go_bool)]
YamlAny = Annotated[Any, BeforeValidator(plain_yaml)]


class GoModel(BaseModel):
    """Base for every config struct: YAML aliases, extras kept, Go null semantics."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", serialize_by_alias=True)

    # Go tag facts, keyed by YAML/JSON name (the two names are always the same in this package).
    go_yaml_omitempty: ClassVar[frozenset[str]] = frozenset()
    go_json_omitempty: ClassVar[frozenset[str]] = frozenset()
    go_json_skip: ClassVar[frozenset[str]] = frozenset()
    go_pointer_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _null_is_zero(cls, data: Any) -> Any:
        # A null struct is the zero struct; a null field keeps its zero value and stays "unset"
        # so a nil slice can still be told apart from an explicit empty one.
        if data is None:
            return {}
        if isinstance(data, dict):
            known = _known_keys(cls)
            return {k: v if k in known else plain_yaml(v)
                    for k, v in data.items() if not (v is None and k in known)}
        return data

    def is_nil(self, name: str) -> bool:
        """True when a list/map field would be a nil slice/map in the Go struct."""
        value = getattr(self, name)
        return name not in self.model_fields_set and not value


@functools.cache
def _known_keys(cls: type[BaseModel]) -> frozenset[str]:
    keys: set[str] = set()
    for name, info in cls.model_fields.items():
        keys.add(name)
        if info.alias:
            keys.add(info.alias)
    return frozenset(keys)


# --- small shared entries -------------------------------------------------------------------


class ModelAlias(GoModel):
    """``{name, alias}`` pair used by gemini/claude/codex/vertex/openai-compatibility ``models``."""

    name: GoStr = ""
    alias: GoStr = ""


class TLSConfig(GoModel):
    enable: GoBool = False
    cert: GoStr = ""
    key: GoStr = ""


class RemoteManagement(GoModel):
    allow_remote: GoBool = Field(False, alias="allow-remote")
    secret_key: GoStr = Field("", alias="secret-key")
    disable_control_panel: GoBool = Field(False, alias="disable-control-panel")
    panel_github_repository: GoStr = Field(DEFAULT_PANEL_GITHUB_REPOSITORY, alias="panel-github-repository")


class QuotaExceeded(GoModel):
    switch_project: GoBool = Field(False, alias="switch-project")
    switch_preview_model: GoBool = Field(False, alias="switch-preview-model")


ROUND_ROBIN = "round-robin"
FILL_FIRST = "fill-first"


class RoutingConfig(GoModel):
    go_yaml_omitempty = frozenset({"strategy"})
    go_json_omitempty = frozenset({"strategy"})

    strategy: GoStr = ""

    @property
    def effective_strategy(self) -> str:
        """The selector the Go builder picks: anything but a fill-first spelling is round-robin.

        The raw value is left as written because ``GET /config`` and ``GET /routing/strategy``
        echo it back unchanged.
        """
        if self.strategy.strip().lower() in ("fill-first", "fillfirst", "ff"):
            return FILL_FIRST
        return ROUND_ROBIN


class StreamingConfig(GoModel):
    go_yaml_omitempty = frozenset({"keepalive-seconds", "bootstrap-retries"})
    go_json_omitempty = go_yaml_omitempty

    keepalive_seconds: GoInt = Field(0, alias="keepalive-seconds")
    bootstrap_retries: GoInt = Field(0, alias="bootstrap-retries")


class AccessProvider(GoModel):
    go_yaml_omitempty = frozenset({"sdk", "api-keys", "config"})
    go_json_omitempty = go_yaml_omitempty

    name: GoStr = ""
    type: GoStr = ""
    sdk: GoStr = ""
    api_keys: list[GoStr] = Field(default_factory=list, alias="api-keys")
    config: dict[GoStr, YamlAny] = Field(default_factory=dict)


class AccessConfig(GoModel):
    go_yaml_omitempty = frozenset({"providers"})
    go_json_omitempty = go_yaml_omitempty

    providers: list[AccessProvider] = Field(default_factory=list)


# --- credential lists -----------------------------------------------------------------------


class ProviderKey(GoModel):
    """The fields gemini-, claude- and codex-api-key entries share, in Go's struct order."""

    api_key: GoStr = Field("", alias="api-key")
    priority: GoInt = 0
    prefix: GoStr = ""
    base_url: GoStr = Field("", alias="base-url")
    proxy_url: GoStr = Field("", alias="proxy-url")
    models: list[ModelAlias] = Field(default_factory=list)
    headers: dict[GoStr, GoStr] = Field(default_factory=dict)
    excluded_models: list[GoStr] = Field(default_factory=list, alias="excluded-models")


class GeminiKey(ProviderKey):
    go_yaml_omitempty = frozenset(
        {"priority", "prefix", "base-url", "proxy-url", "models", "headers", "excluded-models"})
    go_json_omitempty = go_yaml_omitempty


class CloakConfig(GoModel):
    go_yaml_omitempty = frozenset({"mode", "strict-mode", "sensitive-words"})
    go_json_omitempty = go_yaml_omitempty

    mode: GoStr = ""
    strict_mode: GoBool = Field(False, alias="strict-mode")
    sensitive_words: list[GoStr] = Field(default_factory=list, alias="sensitive-words")


class ClaudeKey(ProviderKey):
    # base-url, proxy-url and models carry no omitempty in Go: they render as "" / null / [].
    go_yaml_omitempty = frozenset({"priority", "prefix", "headers", "excluded-models", "cloak"})
    go_json_omitempty = go_yaml_omitempty
    go_pointer_fields = frozenset({"cloak"})

    cloak: CloakConfig | None = None


class CodexKey(ProviderKey):
    go_yaml_omitempty = frozenset({"priority", "prefix", "headers", "excluded-models"})
    go_json_omitempty = go_yaml_omitempty


class VertexCompatKey(GoModel):
    go_yaml_omitempty = frozenset({"priority", "prefix", "base-url", "proxy-url", "headers", "models"})
    go_json_omitempty = go_yaml_omitempty

    api_key: GoStr = Field("", alias="api-key")
    priority: GoInt = 0
    prefix: GoStr = ""
    base_url: GoStr = Field("", alias="base-url")
    proxy_url: GoStr = Field("", alias="proxy-url")
    headers: dict[GoStr, GoStr] = Field(default_factory=dict)
    models: list[ModelAlias] = Field(default_factory=list)


class OpenAICompatibilityAPIKey(GoModel):
    go_yaml_omitempty = frozenset({"proxy-url"})
    go_json_omitempty = go_yaml_omitempty

    api_key: GoStr = Field("", alias="api-key")
    proxy_url: GoStr = Field("", alias="proxy-url")


class OpenAICompatibility(GoModel):
    go_yaml_omitempty = frozenset({"priority", "prefix", "api-key-entries", "headers"})
    go_json_omitempty = go_yaml_omitempty

    name: GoStr = ""
    priority: GoInt = 0
    prefix: GoStr = ""
    base_url: GoStr = Field("", alias="base-url")
    api_key_entries: list[OpenAICompatibilityAPIKey] = Field(default_factory=list, alias="api-key-entries")
    models: list[ModelAlias] = Field(default_factory=list)
    headers: dict[GoStr, GoStr] = Field(default_factory=dict)


# --- amp, oauth maps, payload ---------------------------------------------------------------


class AmpUpstreamAPIKeyEntry(GoModel):
    upstream_api_key: GoStr = Field("", alias="upstream-api-key")
    api_keys: list[GoStr] = Field(default_factory=list, alias="api-keys")


class AmpModelMapping(GoModel):
    go_yaml_omitempty = frozenset({"regex"})
    go_json_omitempty = go_yaml_omitempty

    from_: GoStr = Field("", alias="from")
    to: GoStr = ""
    regex: GoBool = False


class AmpCode(GoModel):
    go_yaml_omitempty = frozenset({"upstream-api-keys"})
    go_json_omitempty = go_yaml_omitempty

    upstream_url: GoStr = Field("", alias="upstream-url")
    upstream_api_key: GoStr = Field("", alias="upstream-api-key")
    upstream_api_keys: list[AmpUpstreamAPIKeyEntry] = Field(default_factory=list, alias="upstream-api-keys")
    restrict_management_to_localhost: GoBool = Field(False, alias="restrict-management-to-localhost")
    model_mappings: list[AmpModelMapping] = Field(default_factory=list, alias="model-mappings")
    force_model_mappings: GoBool = Field(False, alias="force-model-mappings")


class OAuthModelAlias(GoModel):
    go_yaml_omitempty = frozenset({"fork"})
    go_json_omitempty = go_yaml_omitempty

    name: GoStr = ""
    alias: GoStr = ""
    fork: GoBool = False


class PayloadModelRule(GoModel):
    name: GoStr = ""
    protocol: GoStr = ""


class PayloadRule(GoModel):
    models: list[PayloadModelRule] = Field(default_factory=list)
    params: dict[GoStr, YamlAny] = Field(default_factory=dict)


class PayloadConfig(GoModel):
    default: list[PayloadRule] = Field(default_factory=list)
    default_raw: list[PayloadRule] = Field(default_factory=list, alias="default-raw")
    override: list[PayloadRule] = Field(default_factory=list)
    override_raw: list[PayloadRule] = Field(default_factory=list, alias="override-raw")


# --- the whole file -------------------------------------------------------------------------


class Config(GoModel):
    """One ``config.yaml``. Unknown top-level keys are kept as extras and never written by us."""

    go_yaml_omitempty = frozenset(
        {"auth", "nonstream-keepalive-interval", "oauth-excluded-models", "oauth-model-alias"})
    go_json_omitempty = frozenset(
        {"auth", "nonstream-keepalive-interval", "oauth-excluded-models", "oauth-model-alias"})
    go_json_skip = frozenset({"host", "port", "remote-management", "auth-dir"})

    # SDKConfig is inlined first in the Go struct.
    proxy_url: GoStr = Field("", alias="proxy-url")
    force_model_prefix: GoBool = Field(False, alias="force-model-prefix")
    request_log: GoBool = Field(False, alias="request-log")
    api_keys: list[GoStr] = Field(default_factory=list, alias="api-keys")
    auth: AccessConfig = Field(default_factory=AccessConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    nonstream_keepalive_interval: GoInt = Field(0, alias="nonstream-keepalive-interval")

    host: GoStr = ""
    port: GoInt = 0
    tls: TLSConfig = Field(default_factory=TLSConfig)
    remote_management: RemoteManagement = Field(default_factory=RemoteManagement, alias="remote-management")
    auth_dir: GoStr = Field("", alias="auth-dir")
    debug: GoBool = False
    commercial_mode: GoBool = Field(False, alias="commercial-mode")
    logging_to_file: GoBool = Field(False, alias="logging-to-file")
    logs_max_total_size_mb: GoInt = Field(0, alias="logs-max-total-size-mb")
    usage_statistics_enabled: GoBool = Field(False, alias="usage-statistics-enabled")
    disable_cooling: GoBool = Field(False, alias="disable-cooling")
    request_retry: GoInt = Field(0, alias="request-retry")
    max_retry_interval: GoInt = Field(0, alias="max-retry-interval")
    quota_exceeded: QuotaExceeded = Field(default_factory=QuotaExceeded, alias="quota-exceeded")
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    ws_auth: GoBool = Field(False, alias="ws-auth")
    codex_instructions_enabled: GoBool = Field(False, alias="codex-instructions-enabled")
    gemini_api_key: list[GeminiKey] = Field(default_factory=list, alias="gemini-api-key")
    codex_api_key: list[CodexKey] = Field(default_factory=list, alias="codex-api-key")
    claude_api_key: list[ClaudeKey] = Field(default_factory=list, alias="claude-api-key")
    openai_compatibility: list[OpenAICompatibility] = Field(default_factory=list, alias="openai-compatibility")
    vertex_api_key: list[VertexCompatKey] = Field(default_factory=list, alias="vertex-api-key")
    ampcode: AmpCode = Field(default_factory=AmpCode)
    oauth_excluded_models: dict[GoStr, list[GoStr]] = Field(default_factory=dict, alias="oauth-excluded-models")
    oauth_model_alias: dict[GoStr, list[OAuthModelAlias]] = Field(default_factory=dict, alias="oauth-model-alias")
    payload: PayloadConfig = Field(default_factory=PayloadConfig)

    # Our own section; the Go binary ignores unknown keys, so it can live in the same file.
    gateway: Annotated[dict[str, Any] | None, BeforeValidator(plain_yaml)] = None

    # Go-side fields only; ``gateway`` and extras are not part of the Go struct.
    go_extra_fields: ClassVar[frozenset[str]] = frozenset({"gateway"})


def default_antigravity_aliases() -> list[OAuthModelAlias]:
    """The antigravity aliases CLIProxyAPI writes into a config that has no alias section."""
    pairs = [
        ("rev19-uic3-1p", "gemini-2.5-computer-use-preview-10-2025"),
        ("gemini-3-pro-image", "gemini-3-pro-image-preview"),
        ("gemini-3-pro-high", "gemini-3-pro-preview"),
        ("gemini-3-flash", "gemini-3-flash-preview"),
        ("claude-sonnet-4-5", "gemini-claude-sonnet-4-5"),
        ("claude-sonnet-4-5-thinking", "gemini-claude-sonnet-4-5-thinking"),
        ("claude-opus-4-5-thinking", "gemini-claude-opus-4-5-thinking"),
    ]
    return [OAuthModelAlias(name=n, alias=a) for n, a in pairs]


_ANTIGRAVITY_RENAMES = {
    "gemini-2.5-computer-use-preview-10-2025": "rev19-uic3-1p",
    "gemini-3-pro-image-preview": "gemini-3-pro-image",
    "gemini-3-pro-preview": "gemini-3-pro-high",
    "gemini-3-flash-preview": "gemini-3-flash",
    "gemini-claude-sonnet-4-5": "claude-sonnet-4-5",
    "gemini-claude-sonnet-4-5-thinking": "claude-sonnet-4-5-thinking",
    "gemini-claude-opus-4-5-thinking": "claude-opus-4-5-thinking",
}


def convert_old_alias_mappings(old: Mapping[Any, Any]) -> dict[str, list[OAuthModelAlias]]:
    """``oauth-model-mappings`` entries as ``oauth-model-alias`` ones (MigrateOAuthModelAlias):
    antigravity names move to the real upstream IDs and missing default aliases are added."""
    out: dict[str, list[OAuthModelAlias]] = {}
    for raw_channel, entries in old.items():
        channel = str(raw_channel).strip().lower()
        if not channel or not isinstance(entries, list):
            continue
        parsed = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            fields = {str(k).strip().lower(): _text(v) for k, v in entry.items()}
            name, alias = fields.get("name", "").strip(), fields.get("alias", "").strip()
            if name and alias:
                if channel == "antigravity":
                    name = _ANTIGRAVITY_RENAMES.get(name, name)
                parsed.append(OAuthModelAlias(name=name, alias=alias,
                                              fork=fields.get("fork", "").strip().lower() == "true"))
        if parsed:
            out[channel] = parsed
    if "antigravity" in out:
        have = {a.name for a in out["antigravity"]}
        out["antigravity"] += [a for a in default_antigravity_aliases() if a.name not in have]
    return out


def _text(value: Any) -> str:
    if value is None or isinstance(value, Mapping | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
