"""Loading config.yaml with the legacy binary's rules (LoadConfigOptional at v6.7.15): Go zero
defaults, strict types, bcrypt-hashing a plaintext management secret back into the file, folding
``auth.providers`` into ``api-keys`` and the per-list sanitising the management API relies on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bcrypt
from ruamel.yaml.error import YAMLError

from .legacy_alias_migration import migrate_oauth_model_alias
from .legacy_schema import CONFIG, GEMINI_KEY, Field, GoDecodeError, decode_struct, zero_struct
from .legacy_yamlsave import load_document, save_config_preserve_comments, save_nested_scalar

DEFAULT_PANEL_REPOSITORY = "https://github.com/router-for-me/Cli-Proxy-API-Management-Center"


class ConfigError(Exception):
    """The file cannot be used as a config; hot reload keeps the previous one."""


def looks_like_bcrypt(secret: str) -> bool:
    return len(secret) > 4 and secret[:4] in ("$2a$", "$2b$", "$2y$")


def hash_secret(secret: str) -> str:
    # Go's x/crypto/bcrypt writes the $2a$ prefix; the hash itself is the same algorithm.
    hashed = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=10)).decode()
    return "$2a$" + hashed[4:]


def normalize_prefix(prefix: str) -> str:
    trimmed = prefix.strip().strip("/")
    return "" if not trimmed or "/" in trimmed else trimmed


def normalize_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if not headers:
        return None
    clean = {k.strip(): v.strip() for k, v in headers.items() if k.strip() and v.strip()}
    return clean or None


def normalize_excluded_models(models: list[str] | None) -> list[str] | None:
    if not models:
        return None
    out: list[str] = []
    for raw in models:
        item = raw.strip().lower()
        if item and item not in out:
            out.append(item)
    return out or None


def normalize_oauth_excluded(entries: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    if not entries:
        return None
    out: dict[str, list[str]] = {}
    for provider, models in entries.items():
        key = provider.strip().lower()
        normalized = normalize_excluded_models(models)
        if key and normalized:
            out[key] = normalized
    return out or None


def _trim_models(models: list[dict[str, Any]] | None, need_both: bool) -> list[dict[str, Any]] | None:
    if not models:
        return models
    out = []
    for m in models:
        name, alias = m["name"].strip(), m["alias"].strip()
        if (need_both and (not name or not alias)) or (not name and not alias):
            continue
        out.append({"name": name, "alias": alias})
    return out


def normalize_claude_key(entry: dict[str, Any]) -> None:
    for key in ("api-key", "base-url", "proxy-url"):
        entry[key] = entry[key].strip()
    entry["headers"] = normalize_headers(entry["headers"])
    entry["excluded-models"] = normalize_excluded_models(entry["excluded-models"])
    entry["models"] = _trim_models(entry["models"], need_both=False)


def normalize_codex_key(entry: dict[str, Any]) -> None:
    normalize_claude_key(entry)
    entry["prefix"] = entry["prefix"].strip()


def normalize_vertex_key(entry: dict[str, Any]) -> None:
    for key in ("api-key", "prefix", "base-url", "proxy-url"):
        entry[key] = entry[key].strip()
    entry["headers"] = normalize_headers(entry["headers"])
    entry["models"] = _trim_models(entry["models"], need_both=True)


def normalize_compat_entry(entry: dict[str, Any]) -> None:
    entry["base-url"] = entry["base-url"].strip()
    entry["headers"] = normalize_headers(entry["headers"])
    for key_entry in entry["api-key-entries"] or []:
        key_entry["api-key"] = key_entry["api-key"].strip()


def sanitize_gemini(cfg: dict[str, Any]) -> None:
    seen: set[str] = set()
    out = []
    for entry in cfg["gemini-api-key"] or []:
        entry["api-key"] = entry["api-key"].strip()
        if not entry["api-key"]:
            continue
        entry["prefix"] = normalize_prefix(entry["prefix"])
        entry["base-url"] = entry["base-url"].strip()
        entry["proxy-url"] = entry["proxy-url"].strip()
        entry["headers"] = normalize_headers(entry["headers"])
        entry["excluded-models"] = normalize_excluded_models(entry["excluded-models"])
        if entry["api-key"] in seen:
            continue
        seen.add(entry["api-key"])
        out.append(entry)
    # Go re-slices the existing slice, so a nil list stays nil and an emptied one stays empty.
    cfg["gemini-api-key"] = out if cfg["gemini-api-key"] is not None else None


def sanitize_vertex(cfg: dict[str, Any]) -> None:
    seen: set[str] = set()
    out = []
    for entry in cfg["vertex-api-key"] or []:
        entry["api-key"] = entry["api-key"].strip()
        if not entry["api-key"]:
            continue
        entry["prefix"] = normalize_prefix(entry["prefix"])
        entry["base-url"] = entry["base-url"].strip()
        if not entry["base-url"]:
            continue
        entry["proxy-url"] = entry["proxy-url"].strip()
        entry["headers"] = normalize_headers(entry["headers"])
        entry["models"] = [
            {"name": m["name"].strip(), "alias": m["alias"].strip()}
            for m in entry["models"] or []
            if m["name"].strip() and m["alias"].strip()
        ]
        unique = entry["api-key"] + "|" + entry["base-url"]
        if unique in seen:
            continue
        seen.add(unique)
        out.append(entry)
    cfg["vertex-api-key"] = out if cfg["vertex-api-key"] is not None else None


def sanitize_codex(cfg: dict[str, Any]) -> None:
    if not cfg["codex-api-key"]:
        return
    out = []
    for entry in cfg["codex-api-key"]:
        entry["prefix"] = normalize_prefix(entry["prefix"])
        entry["base-url"] = entry["base-url"].strip()
        entry["headers"] = normalize_headers(entry["headers"])
        entry["excluded-models"] = normalize_excluded_models(entry["excluded-models"])
        if entry["base-url"]:
            out.append(entry)
    cfg["codex-api-key"] = out


def sanitize_claude(cfg: dict[str, Any]) -> None:
    for entry in cfg["claude-api-key"] or []:
        entry["prefix"] = normalize_prefix(entry["prefix"])
        entry["headers"] = normalize_headers(entry["headers"])
        entry["excluded-models"] = normalize_excluded_models(entry["excluded-models"])


def sanitize_openai_compat(cfg: dict[str, Any]) -> None:
    if not cfg["openai-compatibility"]:
        return
    out = []
    for entry in cfg["openai-compatibility"]:
        entry["name"] = entry["name"].strip()
        entry["prefix"] = normalize_prefix(entry["prefix"])
        entry["base-url"] = entry["base-url"].strip()
        entry["headers"] = normalize_headers(entry["headers"])
        if entry["base-url"]:
            out.append(entry)
    cfg["openai-compatibility"] = out


def sanitize_oauth_model_alias(cfg: dict[str, Any]) -> None:
    aliases = cfg["oauth-model-alias"]
    if not aliases:
        return
    out: dict[str, list[dict[str, Any]]] = {}
    for raw_channel, entries in aliases.items():
        channel = raw_channel.strip().lower()
        if not channel or not entries:
            continue
        seen: set[str] = set()
        clean = []
        for e in entries:
            name, alias = e["name"].strip(), e["alias"].strip()
            if not name or not alias or name.lower() == alias.lower() or alias.lower() in seen:
                continue
            seen.add(alias.lower())
            clean.append({"name": name, "alias": alias, "fork": e["fork"]})
        if clean:
            out[channel] = clean
    cfg["oauth-model-alias"] = out


def _sanitize_raw_rules(rules: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not rules:
        return rules
    out = []
    for rule in rules:
        if not rule["params"]:
            continue
        valid = True
        for value in rule["params"].values():
            if isinstance(value, str):
                try:
                    json.loads(value.strip() or "!")
                except ValueError:
                    valid = False
                    break
        if valid:
            out.append(rule)
    return out


def parse_config_text(text: str) -> dict[str, Any]:
    """Decode YAML text into a full config value (no file side effects, no hashing)."""
    return _parse(text)[0]


def _parse(text: str) -> tuple[dict[str, Any], Any]:
    try:
        raw = load_document(text)
    except YAMLError as exc:
        raise ConfigError(f"failed to parse config file: {exc}") from exc
    cfg = zero_struct(CONFIG)
    cfg["remote-management"]["panel-github-repository"] = DEFAULT_PANEL_REPOSITORY
    if raw is None:
        return cfg, raw
    if not isinstance(raw, dict):
        raise ConfigError("failed to parse config file: root is not a mapping")
    try:
        decoded = decode_struct(CONFIG, raw, is_json=False)
    except GoDecodeError as exc:
        raise ConfigError(f"failed to parse config file: {exc}") from exc
    if "panel-github-repository" not in (raw.get("remote-management") or {}):
        decoded["remote-management"]["panel-github-repository"] = DEFAULT_PANEL_REPOSITORY
    return decoded, raw


_LEGACY_SCHEMA = (
    Field("generative-language-api-key", "strlist"),
    Field(
        "openai-compatibility", "list", (Field("name", "str"), Field("base-url", "str"), Field("api-keys", "strlist"))
    ),
    Field("amp-upstream-url", "str"),
    Field("amp-upstream-api-key", "str"),
    Field("amp-restrict-management-to-localhost", "bool"),
    Field("amp-model-mappings", "list", (Field("from", "str"), Field("to", "str"), Field("regex", "bool"))),
)


def migrate_legacy_keys(cfg: dict[str, Any], raw: Any) -> bool:
    """Fold pre-v6.7 keys into their current homes; True when the file must be rewritten."""
    if not isinstance(raw, dict):
        return False
    try:
        legacy = decode_struct(_LEGACY_SCHEMA, raw, is_json=False)
    except GoDecodeError:
        return False
    restrict_given = raw.get("amp-restrict-management-to-localhost") is not None
    changed = False
    gemini = cfg["gemini-api-key"] or []
    seen = {e["api-key"].strip() for e in gemini if e["api-key"].strip()}
    for key in (k.strip() for k in legacy["generative-language-api-key"] or []):
        if key and key not in seen:
            gemini.append({**zero_struct(GEMINI_KEY), "api-key": key})
            seen.add(key)
            changed = True
    if gemini:
        cfg["gemini-api-key"] = gemini
    if cfg["openai-compatibility"]:
        for old in legacy["openai-compatibility"] or []:
            target = _compat_target(cfg["openai-compatibility"], old["name"], old["base-url"])
            if target is None or not old["api-keys"]:
                continue
            entries = target["api-key-entries"] or []
            existing = {e["api-key"].strip() for e in entries if e["api-key"].strip()}
            for key in (k.strip() for k in old["api-keys"]):
                if key and key not in existing:
                    entries.append({"api-key": key, "proxy-url": ""})
                    existing.add(key)
                    changed = True
            target["api-key-entries"] = entries or target["api-key-entries"]
    amp = cfg["ampcode"]
    for new_key, old_key in (("upstream-url", "amp-upstream-url"), ("upstream-api-key", "amp-upstream-api-key")):
        if not amp[new_key] and legacy[old_key].strip():
            amp[new_key] = legacy[old_key].strip()
            changed = True
    if restrict_given:
        amp["restrict-management-to-localhost"] = legacy["amp-restrict-management-to-localhost"]
        changed = True
    if not amp["model-mappings"] and legacy["amp-model-mappings"]:
        amp["model-mappings"] = list(legacy["amp-model-mappings"])
        changed = True
    return changed


def _compat_target(entries: list[dict[str, Any]], name: str, base: str) -> dict[str, Any] | None:
    name_key, base_key = name.strip().lower(), base.strip().lower()

    def find(pred: Any) -> dict[str, Any] | None:
        return next((e for e in entries if pred(e)), None)

    if name_key and base_key:
        hit = find(lambda e: e["name"].strip().lower() == name_key and e["base-url"].strip().lower() == base_key)
        if hit:
            return hit
    if base_key:
        hit = find(lambda e: e["base-url"].strip().lower() == base_key)
        if hit:
            return hit
    return find(lambda e: e["name"].strip().lower() == name_key) if name_key else None


def finish_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The normalisation LoadConfigOptional applies after decoding."""
    rm = cfg["remote-management"]
    rm["panel-github-repository"] = rm["panel-github-repository"].strip() or DEFAULT_PANEL_REPOSITORY
    cfg["logs-max-total-size-mb"] = max(cfg["logs-max-total-size-mb"], 0)
    if not cfg["api-keys"]:
        for provider in cfg["auth"]["providers"] or []:
            if provider["type"] == "config-api-key":
                if provider["api-keys"]:
                    cfg["api-keys"] = list(provider["api-keys"])
                break
    cfg["auth"]["providers"] = None
    sanitize_gemini(cfg)
    sanitize_vertex(cfg)
    sanitize_codex(cfg)
    sanitize_claude(cfg)
    sanitize_openai_compat(cfg)
    cfg["oauth-excluded-models"] = normalize_oauth_excluded(cfg["oauth-excluded-models"])
    sanitize_oauth_model_alias(cfg)
    payload = cfg["payload"]
    payload["default-raw"] = _sanitize_raw_rules(payload["default-raw"])
    payload["override-raw"] = _sanitize_raw_rules(payload["override-raw"])
    return cfg


def load_config(path: str | Path) -> dict[str, Any]:
    """LoadConfig: alias migration, read, decode, hash a plaintext secret into the file, sanitise."""
    path = Path(path)
    migrate_oauth_model_alias(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"failed to read config file: {exc}") from exc
    cfg, raw = _parse(text)
    legacy_pending = migrate_legacy_keys(cfg, raw)
    secret = cfg["remote-management"]["secret-key"]
    if secret and not looks_like_bcrypt(secret):
        try:
            hashed = hash_secret(secret)
        except ValueError as exc:
            raise ConfigError("failed to hash remote management key: bcrypt: password length exceeds 72 bytes") from exc
        cfg["remote-management"]["secret-key"] = hashed
        # Go ignores a failure to write the hash back; so do we.
        try:
            save_nested_scalar(path, ["remote-management", "secret-key"], hashed)
        except (OSError, YAMLError):
            pass
    finish_config(cfg)
    if legacy_pending:
        try:
            save_config_preserve_comments(path, cfg)
        except (OSError, YAMLError, ValueError) as exc:
            raise ConfigError(f"failed to persist migrated legacy config: {exc}") from exc
    return cfg
