"""Read ``config.yaml`` the way CLIProxyAPI's ``LoadConfigOptional`` does (9b72ea9ef).

Order of work, as in Go: oauth-model-alias migration of the file, parse, legacy-key migration,
bcrypt-hash a plaintext management secret (written back into the file), then the sanitisers that
change what the server does. Errors come back as one ``ConfigError`` naming the file and either the
line (YAML syntax) or the dotted key (schema); values are never quoted in messages because the
file holds secrets.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bcrypt
import structlog
import yaml
from pydantic import ValidationError

from ..gostrings import go_equal_fold, go_lower, go_trim
from .models import (
    DEFAULT_AUTH_DIR,
    DEFAULT_PANEL_GITHUB_REPOSITORY,
    DEFAULT_PORT,
    YAML11_BOOLS,
    AmpModelMapping,
    CodexKey,
    Config,
    GeminiKey,
    OAuthModelAlias,
    OldBool,
    OpenAICompatibility,
    OpenAICompatibilityAPIKey,
    PayloadRule,
    VertexCompatKey,
    YamlFloat,
    YamlInt,
    default_antigravity_aliases,
    scalar_text,
)
from .writer import migrate_oauth_model_alias, save_config_preserving, update_nested_scalar

log = structlog.get_logger("quotio_gateway.config")

BCRYPT_COST = 10
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_CONFIG_API_KEY_PROVIDER = "config-api-key"


class ConfigError(Exception):
    """A config file that cannot be used; ``str()`` is safe to log and to return to a client.

    ``kind``: "yaml" (syntax, or a document that is not a mapping), "schema" (a value of the wrong
    type: yaml.Unmarshal fails on it in Go too) or "load" (unreadable file, secret hashing, ...).
    """

    def __init__(self, file: Path | str, key: str | None, reason: str, line: int | None = None,
                 *, kind: str = "load") -> None:
        self.file = str(file)
        self.key = key
        self.reason = reason
        self.line = line
        self.kind = kind
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key:
            return f"invalid config {self.file}: key '{self.key}': {self.reason}"
        if self.line is not None:
            return f"invalid config {self.file}: line {self.line}: {self.reason}"
        return f"invalid config {self.file}: {self.reason}"


# --- YAML scalars as yaml.v3 resolves them ---------------------------------------------------


_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_OLD_BOOL_RE = re.compile("^(?:" + "|".join(sorted(YAML11_BOOLS)) + ")$")
_INT_RE = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_STR_TAG = "tag:yaml.org,2002:str"


class _GoYamlLoader(yaml.SafeLoader):
    """SafeLoader with yaml.v3's scalar rules: no timestamps, no base-60, 0o octal, duplicate keys
    rejected."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'mapping key "{key}" already defined at line {seen[key] + 1}',
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:  # type: ignore[override]
        raw = str(self.construct_scalar(node))
        text = raw.replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        try:
            if digits[:2] in ("0x", "0o", "0b"):
                value = sign * int(digits, 0)
            elif len(digits) > 1 and digits.startswith("0"):
                value = sign * int(digits, 8)  # yaml.v3 still reads YAML 1.1 octal (0777)
            else:
                value = sign * int(digits)
        except ValueError:
            # Only an explicit ``!!int`` tag gets here with text that is no integer.
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot decode !!int `{raw}` as an integer", node.start_mark) from None
        return YamlInt(value, raw)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:  # type: ignore[override]
        raw = str(self.construct_scalar(node))
        return YamlFloat(super().construct_yaml_float(node), raw)

    def construct_old_bool(self, node: yaml.ScalarNode) -> OldBool:
        return OldBool(self.construct_scalar(node))


_GoYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int",
                           "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_RE, list("tTfF"))
_GoYamlLoader.add_implicit_resolver("!oldbool", _OLD_BOOL_RE, list("yYnNoO"))
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT_RE, list("-+0123456789"))
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+.0123456789"))
_GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _GoYamlLoader.construct_yaml_int)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _GoYamlLoader.construct_yaml_float)
_GoYamlLoader.add_constructor("!oldbool", _GoYamlLoader.construct_old_bool)


def parse_yaml(data: bytes | str, file: Path | str) -> Any:
    """Parse one YAML document with yaml.v3 scalar rules; syntax errors name the line."""
    try:
        return yaml.load(data, Loader=_GoYamlLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(file, None, f"yaml: {reason}", line=line, kind="yaml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, f"yaml: {exc}", kind="yaml") from None


# --- validation errors --------------------------------------------------------------------------


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":  # pydantic's marker for an invalid dict key
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _schema_error(file: Path | str, exc: ValidationError) -> ConfigError:
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    return ConfigError(file, _dotted(loc) or "(root)", first["msg"], kind="schema")


# --- public entry points ------------------------------------------------------------------------


def default_config() -> Config:
    """The config used when there is no file: port 8317, all interfaces, the usual auth dir."""
    cfg = Config(port=DEFAULT_PORT, host="", auth_dir=DEFAULT_AUTH_DIR)
    cfg.oauth_model_alias = {"antigravity": default_antigravity_aliases()}
    return cfg


def load_config(path: Path) -> Config:
    """Load, migrate, hash the management secret (persisted) and normalise ``path``."""
    path = Path(path)
    try:
        migrate_oauth_model_alias(path)
    except Exception as exc:  # Go only warns; a real problem with the file surfaces below
        log.warning("oauth-model-alias migration failed", file=str(path), error=type(exc).__name__)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"failed to read config file: {exc.strerror or exc}") from None
    return parse_config(data, path, persist=True)


def parse_config(data: bytes | str, path: Path, *, persist: bool) -> Config:
    """Turn file content into a normalised Config; with ``persist`` apply Go's file write-backs."""
    raw = parse_yaml(data, path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        kind = "sequence" if isinstance(raw, list) else "scalar"
        raise ConfigError(path, None, f"yaml: cannot unmarshal a {kind} into the config mapping", kind="yaml")
    try:
        cfg = Config.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise _schema_error(path, exc) from None

    migrated = _migrate_legacy(cfg, raw)
    if migrated:
        _drop_legacy_extras(cfg)

    secret = cfg.remote_management.secret_key
    if secret and not looks_like_bcrypt(secret):
        try:
            hashed = hash_secret(secret)
        except ValueError as exc:
            raise ConfigError(path, "remote-management.secret-key",
                              f"failed to hash remote management key: {exc}") from None
        cfg.remote_management.secret_key = hashed
        if persist:
            try:
                update_nested_scalar(path, ["remote-management", "secret-key"], hashed)
            except (OSError, ValueError):
                pass  # Go ignores this error too: the in-memory config is already hashed

    normalize_config(cfg)

    if migrated and persist:
        try:
            save_config_preserving(path, cfg)
        except (OSError, ValueError) as exc:
            raise ConfigError(path, None, f"failed to persist migrated legacy config: {exc}") from None
    return cfg


def resolve_auth_dir(auth_dir: str) -> str:
    """``util.ResolveAuthDir``: a leading ``~`` (one, without ``~user`` forms) becomes the home
    directory, then ``filepath.Clean``. The legacy keeps this form in memory from start-up on, so
    every config it saves carries it."""
    if not auth_dir:
        return ""
    if auth_dir.startswith("~"):
        home = os.environ.get("HOME") or os.path.expanduser("~")
        remainder = auth_dir[1:].lstrip("/\\").replace("\\", "/")
        return _go_clean(os.path.join(home, remainder) if remainder else home)
    return _go_clean(auth_dir)


def _go_clean(path: str) -> str:
    # posixpath keeps a leading "//" (POSIX allows it a meaning); Go's Clean does not.
    cleaned = os.path.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def looks_like_bcrypt(value: str) -> bool:
    return len(value) > 4 and value[:4] in _BCRYPT_PREFIXES


def hash_secret(secret: str) -> str:
    raw = secret.encode()
    if len(raw) > 72:
        raise ValueError("bcrypt: password length exceeds 72 bytes")
    # "2a" is what Go's x/crypto/bcrypt writes; both sides verify either prefix.
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=BCRYPT_COST, prefix=b"2a")).decode()


# --- normalisation (LoadConfigOptional's tail) --------------------------------------------------


def normalize_config(cfg: Config) -> None:
    """Apply Go's load-time sanitisers in place, keeping nil-versus-empty exactly as Go does."""
    rm = cfg.remote_management
    rm.panel_github_repository = rm.panel_github_repository.strip() or DEFAULT_PANEL_GITHUB_REPOSITORY
    if cfg.logs_max_total_size_mb < 0:
        cfg.logs_max_total_size_mb = 0
    _sync_inline_access_provider(cfg)
    _sanitize_gemini(cfg)
    _sanitize_vertex(cfg)
    _sanitize_codex(cfg)
    _sanitize_claude(cfg)
    _sanitize_openai_compat(cfg)
    cfg.oauth_excluded_models = normalize_oauth_excluded_models(cfg.oauth_excluded_models)
    _sanitize_oauth_model_alias(cfg)
    _sanitize_payload(cfg)


def normalize_model_prefix(prefix: str) -> str:
    trimmed = go_trim(prefix).strip("/")
    return "" if "/" in trimmed else trimmed


def normalize_headers(headers: dict[str, str]) -> dict[str, str]:
    clean = {}
    for k, v in headers.items():
        key, val = go_trim(k), go_trim(v)
        if key and val:
            clean[key] = val
    return clean


def normalize_excluded_models(models: list[str]) -> list[str]:
    out: list[str] = []
    for raw in models:
        item = go_lower(go_trim(raw))
        if item and item not in out:
            out.append(item)
    return out


def normalize_oauth_excluded_models(entries: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for provider, models in entries.items():
        key = go_lower(go_trim(provider))
        normalized = normalize_excluded_models(models)
        if key and normalized:
            out[key] = normalized
    return out


def _sync_inline_access_provider(cfg: Config) -> None:
    if not cfg.api_keys:
        for provider in cfg.auth.providers:
            if provider.type == _CONFIG_API_KEY_PROVIDER:
                if provider.api_keys:
                    cfg.api_keys = list(provider.api_keys)
                break
    cfg.auth = type(cfg.auth)()


def _sanitize_gemini(cfg: Config) -> None:
    if cfg.is_nil("gemini_api_key"):
        return
    seen: set[str] = set()
    out: list[GeminiKey] = []
    for entry in cfg.gemini_api_key:
        key = go_trim(entry.api_key)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(entry.model_copy(update={
            "api_key": key,
            "prefix": normalize_model_prefix(entry.prefix),
            "base_url": go_trim(entry.base_url),
            "proxy_url": go_trim(entry.proxy_url),
            "headers": normalize_headers(entry.headers),
            "excluded_models": normalize_excluded_models(entry.excluded_models),
        }))
    cfg.gemini_api_key = out


def _sanitize_vertex(cfg: Config) -> None:
    if cfg.is_nil("vertex_api_key"):
        return
    seen: set[str] = set()
    out: list[VertexCompatKey] = []
    for entry in cfg.vertex_api_key:
        key, base = go_trim(entry.api_key), go_trim(entry.base_url)
        if not key or not base or f"{key}|{base}" in seen:
            continue
        seen.add(f"{key}|{base}")
        models = [m.model_copy(update={"name": go_trim(m.name), "alias": go_trim(m.alias)})
                  for m in entry.models if go_trim(m.name) and go_trim(m.alias)]
        out.append(entry.model_copy(update={
            "api_key": key,
            "prefix": normalize_model_prefix(entry.prefix),
            "base_url": base,
            "proxy_url": go_trim(entry.proxy_url),
            "headers": normalize_headers(entry.headers),
            "models": models,
        }))
    cfg.vertex_api_key = out


def _sanitize_codex(cfg: Config) -> None:
    if not cfg.codex_api_key:
        return
    out: list[CodexKey] = []
    for entry in cfg.codex_api_key:
        base = go_trim(entry.base_url)
        if not base:
            continue
        out.append(entry.model_copy(update={
            "prefix": normalize_model_prefix(entry.prefix),
            "base_url": base,
            "headers": normalize_headers(entry.headers),
            "excluded_models": normalize_excluded_models(entry.excluded_models),
        }))
    cfg.codex_api_key = out


def _sanitize_claude(cfg: Config) -> None:
    if not cfg.claude_api_key:
        return
    cfg.claude_api_key = [
        entry.model_copy(update={
            "prefix": normalize_model_prefix(entry.prefix),
            "headers": normalize_headers(entry.headers),
            "excluded_models": normalize_excluded_models(entry.excluded_models),
        })
        for entry in cfg.claude_api_key
    ]


def _sanitize_openai_compat(cfg: Config) -> None:
    if not cfg.openai_compatibility:
        return
    out: list[OpenAICompatibility] = []
    for entry in cfg.openai_compatibility:
        base = go_trim(entry.base_url)
        if not base:
            continue
        out.append(entry.model_copy(update={
            "name": go_trim(entry.name),
            "prefix": normalize_model_prefix(entry.prefix),
            "base_url": base,
            "headers": normalize_headers(entry.headers),
        }))
    cfg.openai_compatibility = out


def _sanitize_oauth_model_alias(cfg: Config) -> None:
    if not cfg.oauth_model_alias:
        return
    cfg.oauth_model_alias = sanitize_oauth_model_alias(cfg.oauth_model_alias)


def sanitize_oauth_model_alias(
        entries: Mapping[str, list[OAuthModelAlias]]) -> dict[str, list[OAuthModelAlias]]:
    """``SanitizeOAuthModelAlias``: channels trimmed and lower-cased, entries trimmed, entries with
    a blank side or naming themselves dropped, the first of each alias (case-insensitive) kept."""
    out: dict[str, list[OAuthModelAlias]] = {}
    for raw_channel, aliases in entries.items():
        channel = go_lower(go_trim(raw_channel))
        if not channel or not aliases:
            continue
        seen: set[str] = set()
        clean: list[OAuthModelAlias] = []
        for entry in aliases:
            name, alias = go_trim(entry.name), go_trim(entry.alias)
            if not name or not alias or go_equal_fold(name, alias) or go_lower(alias) in seen:
                continue
            seen.add(go_lower(alias))
            clean.append(OAuthModelAlias(name=name, alias=alias, fork=entry.fork))
        if clean:
            out[channel] = clean
    return out


def _raw_json_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return True  # only string params are raw JSON fragments
    text = value.strip()
    if not text:
        return False
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # Go's json.Valid has no NaN/Infinity


def _sanitize_raw_rules(rules: list[PayloadRule]) -> list[PayloadRule]:
    return [r for r in rules if r.params and all(_raw_json_ok(v) for v in r.params.values())]


def _sanitize_payload(cfg: Config) -> None:
    if cfg.payload.default_raw:
        cfg.payload.default_raw = _sanitize_raw_rules(cfg.payload.default_raw)
    if cfg.payload.override_raw:
        cfg.payload.override_raw = _sanitize_raw_rules(cfg.payload.override_raw)


# --- legacy keys (migrated in memory, then persisted by the caller) -----------------------------


def _str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) or v is None for v in value):
        return None
    return [scalar_text(v) for v in value]


def _migrate_legacy(cfg: Config, raw: dict[str, Any]) -> bool:
    """Fold pre-v6 keys into their structured homes; True when the file should be rewritten."""
    legacy_gemini = _str_list(raw.get("generative-language-api-key"))
    if legacy_gemini is None:
        return False  # Go's legacy decode fails as a whole on a type mismatch
    changed = False
    seen = {k.api_key.strip() for k in cfg.gemini_api_key if k.api_key.strip()}
    added: list[GeminiKey] = []
    for item in legacy_gemini:
        key = item.strip()
        if key and key not in seen:
            added.append(GeminiKey(api_key=key))
            seen.add(key)
    if added:
        cfg.gemini_api_key = [*cfg.gemini_api_key, *added]
        changed = True

    compat_raw = raw.get("openai-compatibility")
    if isinstance(compat_raw, list) and cfg.openai_compatibility:
        for item in compat_raw:
            if not isinstance(item, dict):
                continue
            keys = _str_list(item.get("api-keys")) or []
            if keys and _merge_legacy_compat_keys(cfg, scalar_text(item.get("name") or ""),
                                                  scalar_text(item.get("base-url") or ""), keys):
                changed = True

    amp = cfg.ampcode
    if not amp.upstream_url and isinstance(raw.get("amp-upstream-url"), str) and raw["amp-upstream-url"].strip():
        amp.upstream_url = raw["amp-upstream-url"].strip()
        changed = True
    if (not amp.upstream_api_key and isinstance(raw.get("amp-upstream-api-key"), str)
            and raw["amp-upstream-api-key"].strip()):
        amp.upstream_api_key = raw["amp-upstream-api-key"].strip()
        changed = True
    restrict = raw.get("amp-restrict-management-to-localhost")
    if isinstance(restrict, bool | OldBool):
        amp.restrict_management_to_localhost = restrict.truth if isinstance(restrict, OldBool) else restrict
        changed = True
    mappings = raw.get("amp-model-mappings")
    if not amp.model_mappings and isinstance(mappings, list) and mappings:
        try:
            amp.model_mappings = [AmpModelMapping.model_validate(m, by_alias=True, by_name=False)
                                  for m in mappings]
            changed = True
        except ValidationError:
            pass
    return changed


def _drop_legacy_extras(cfg: Config) -> None:
    """The legacy keys are gone from the rewritten file, so they go from the extras too."""
    extra = cfg.__pydantic_extra__ or {}
    for key in ("generative-language-api-key", "amp-upstream-url", "amp-upstream-api-key",
                "amp-restrict-management-to-localhost", "amp-model-mappings"):
        extra.pop(key, None)
    for entry in cfg.openai_compatibility:
        (entry.__pydantic_extra__ or {}).pop("api-keys", None)


def _merge_legacy_compat_keys(cfg: Config, name: str, base: str, keys: list[str]) -> bool:
    name_key, base_key = name.strip().lower(), base.strip().lower()
    entries = cfg.openai_compatibility
    target: int | None = None
    candidates = []
    if name_key and base_key:
        candidates.append(lambda e: e.name.strip().lower() == name_key and e.base_url.strip().lower() == base_key)
    if base_key:
        candidates.append(lambda e: e.base_url.strip().lower() == base_key)
    if name_key:
        candidates.append(lambda e: e.name.strip().lower() == name_key)
    for match in candidates:
        target = next((i for i, e in enumerate(entries) if match(e)), None)
        if target is not None:
            break
    if target is None:
        return False
    entry = entries[target]
    existing = {e.api_key.strip() for e in entry.api_key_entries if e.api_key.strip()}
    new = list(entry.api_key_entries)
    for raw in keys:
        key = raw.strip()
        if key and key not in existing:
            new.append(OpenAICompatibilityAPIKey(api_key=key))
            existing.add(key)
    if len(new) == len(entry.api_key_entries):
        return False
    entries[target] = entry.model_copy(update={"api_key_entries": new})
    return True
