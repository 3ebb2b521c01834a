"""The model registry: which client-visible model IDs exist and which providers serve them.

Rebuilt from the config the way CLIProxyAPI registers credentials (``sdk/cliproxy/service.go``
``registerModelsForAuth`` over the auths the config synthesizer makes):

* every ``gemini-api-key``/``claude-api-key``/``codex-api-key``/``vertex-api-key`` entry is one
  credential with the provider's static catalogue, or exactly its ``models:`` list (alias as ID);
* each ``openai-compatibility`` provider gives one credential per ``api-key-entries`` item (one
  if there are none) exposing its ``models`` (alias, else name) under provider key = lower name;
* per-key ``excluded-models`` (API keys) or ``oauth-excluded-models[provider]`` (OAuth records)
  drop IDs by wildcard, ``oauth-model-alias`` renames/forks OAuth models, then ``prefix`` adds
  ``<prefix>/<id>`` and, unless ``force-model-prefix``, keeps the bare ID.

OAuth credentials from ``auth-dir`` arrive later as ``CredentialRecord`` values. A registry is an
immutable snapshot; ``LiveModelRegistry`` swaps in a new one on every config change.
"""

from __future__ import annotations

import functools
import hashlib
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol, TypeVar

import structlog

from quotio_gateway.config.models import Config, ModelAlias, OAuthModelAlias, ProviderKey
from quotio_gateway.config.store import ConfigStore
from quotio_gateway.gostrings import go_equal_fold, go_lower, go_trim

from .catalog import CLAUDE, CODEX, GEMINI, STATIC_MODELS, VERTEX, ModelInfo, lookup_static

log = structlog.get_logger("handlers.models")

APIKEY = "apikey"
OAUTH = "oauth"
OPENAI_COMPAT = "openai-compatibility"


# --- thinking suffix ------------------------------------------------------------------------


class SuffixResult(NamedTuple):
    name: str
    suffix: str | None  # text between the parentheses; None when there is no suffix


# Called several times per request with the same few model names (resolve, the upstream model,
# the executor's base model): kept, bounded, since a client may send any name.
@functools.lru_cache(maxsize=1024)
def split_thinking_suffix(model: str) -> SuffixResult:
    """``thinking.ParseSuffix``: ``gpt-5(high)`` -> ("gpt-5", "high"); the last ``(`` counts and
    the name must end with ``)``. The content is not validated here."""
    open_at = model.rfind("(")
    if open_at == -1 or not model.endswith(")"):
        return SuffixResult(model, None)
    return SuffixResult(model[:open_at], model[open_at + 1:-1])


# --- wildcards ------------------------------------------------------------------------------


def match_wildcard(pattern: str, value: str) -> bool:
    """Exclusion matching (``matchWildcard``): ``*`` splits the pattern into a required prefix,
    suffix and in-order middle segments. Callers lower-case both sides."""
    if not pattern:
        return False
    if "*" not in pattern:
        return pattern == value
    parts = pattern.split("*")
    head, tail = parts[0], parts[-1]
    if head:
        if not value.startswith(head):
            return False
        value = value[len(head):]
    if tail:
        if not value.endswith(tail):
            return False
        value = value[:len(value) - len(tail)]
    for segment in parts[1:-1]:
        if not segment:
            continue
        at = value.find(segment)
        if at < 0:
            return False
        value = value[at + len(segment):]
    return True


def apply_excluded(models: Sequence[ModelInfo], excluded: Iterable[str]) -> list[ModelInfo]:
    patterns = [go_trim(p).lower() for p in excluded if go_trim(p)]
    if not patterns:
        return list(models)
    return [m for m in models
            if not any(match_wildcard(p, go_trim(m.id).lower()) for p in patterns)]


# --- credentials ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """An OAuth/file credential to register (auth-dir support plugs in here).

    ``excluded=None`` means the global ``oauth-excluded-models[provider]`` list applies;
    ``models=None`` means the provider's static catalogue (antigravity passes its fetched list).
    """

    provider: str
    prefix: str = ""
    excluded: tuple[str, ...] | None = None
    models: tuple[ModelInfo, ...] | None = None
    id: str = ""


CredentialInput = CredentialRecord | tuple[str, str, Sequence[str] | None]


@dataclass(frozen=True, slots=True)
class Credential:
    """One registered client: what it serves and how to name the model upstream."""

    id: str
    provider: str  # registry provider key
    kind: str  # APIKEY or OAUTH
    prefix: str
    models: tuple[ModelInfo, ...]  # registered IDs, duplicates kept (they count twice, as in Go)
    alias_models: tuple[ModelAlias, ...] = ()  # config ``models:`` used to find the upstream name
    alias_channel: str = ""  # ``oauth-model-alias`` channel, "" for API keys
    # The API key's lookup table built from ``alias_models`` (``api_key_alias_table``), tried
    # before the scan of the list itself, as the legacy's conductor does.
    alias_table: Mapping[str, str] = field(default_factory=dict)


def oauth_alias_channel(provider: str, kind: str) -> str:
    """``OAuthModelAliasChannel``: which ``oauth-model-alias`` section applies to a credential."""
    provider = go_trim(provider).lower()
    if provider in ("vertex", "claude", "codex"):
        return "" if kind == APIKEY else provider
    if provider in ("gemini-cli", "aistudio", "antigravity", "qwen", "iflow"):
        return provider
    return ""


def apply_oauth_aliases(aliases: Sequence[OAuthModelAlias], models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """Listing side of ``oauth-model-alias``: rename a model to its alias(es); ``fork`` keeps the
    original as well. IDs are de-duplicated case-insensitively."""
    forward: dict[str, list[tuple[str, bool]]] = {}
    for entry in aliases:
        name, alias = go_trim(entry.name), go_trim(entry.alias)
        if name and alias and name.lower() != alias.lower():
            forward.setdefault(name.lower(), []).append((alias, entry.fork))
    if not forward:
        return list(models)
    out: list[ModelInfo] = []
    seen: set[str] = set()

    def keep(model: ModelInfo, key: str) -> None:
        if key not in seen:
            seen.add(key)
            out.append(model)

    for model in models:
        model_id = go_trim(model.id)
        if not model_id:
            continue
        key = model_id.lower()
        entries = forward.get(key)
        if not entries:
            keep(model, key)
            continue
        forked = any(fork for _, fork in entries)
        if forked:
            keep(model, key)
        added = False
        for alias, _ in entries:
            if alias.lower() == key or alias.lower() in seen:
                continue
            seen.add(alias.lower())
            out.append(replace(model, id=alias, name=_rename(model.name, model_id, alias)))
            added = True
        if not forked and not added:
            keep(model, key)
    return out


def _rename(name: str, old: str, new: str) -> str:
    """``rewriteModelInfoName``: carry an alias into the Gemini-style ``name`` field."""
    trimmed = go_trim(name)
    if not trimmed or old.lower() == new.lower():
        return name
    if trimmed.lower() == old.lower():
        return new
    if trimmed.endswith("/" + old):
        return trimmed[:len(trimmed) - len(old)] + new
    return name


def apply_prefix(models: Sequence[ModelInfo], prefix: str, force: bool) -> list[ModelInfo]:
    """``applyModelPrefixes``: add ``<prefix>/<id>``; keep the bare ID unless forced (or the
    prefix equals the ID). Only de-duplicates when a prefix is set, like Go."""
    prefix = go_trim(prefix)
    if not prefix:
        return list(models)
    out: list[ModelInfo] = []
    seen: set[str] = set()

    def add(model: ModelInfo) -> None:
        model_id = go_trim(model.id)
        if model_id and model_id not in seen:
            seen.add(model_id)
            out.append(model)

    for model in models:
        base = go_trim(model.id)
        if not base:
            continue
        if not force or prefix == base:
            add(model)
        add(replace(model, id=f"{prefix}/{base}"))
    return out


def config_models(entries: Sequence[ModelAlias], owned_by: str, model_type: str, created: int) -> list[ModelInfo]:
    """``buildConfigModels``: an API key's own ``models:`` list, alias as the client ID."""
    out: list[ModelInfo] = []
    seen: set[str] = set()
    for entry in entries:
        name, alias = go_trim(entry.name), go_trim(entry.alias)
        alias = alias or name
        if not alias or alias.lower() in seen:
            continue
        seen.add(alias.lower())
        upstream = lookup_static(name) if name else None
        out.append(ModelInfo(id=alias, created=created, owned_by=owned_by, type=model_type,
                             display_name=name or alias, user_defined=True,
                             thinking=upstream.thinking if upstream is not None else None))
    return out


# --- building -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """A credential before model expansion, with a fingerprint of what it registers."""

    id: str
    provider: str
    kind: str
    prefix: str
    fingerprint: str
    expand: Callable[[int], list[ModelInfo]]  # created timestamp -> registered models
    alias_models: tuple[ModelAlias, ...] = ()


def credential_digest(*parts: object) -> str:
    # Fingerprints are hashed so that no API key is ever kept or logged in clear.
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


# A fingerprint changes exactly when the legacy would register the credential again: when the auth
# the synthesizer makes differs (dispatcher.go:117-121 ``authEqual``), or when the reload forces
# every auth (config_reload.go:130). Its ``created`` restarts then and only then.


def _pairs_digest(models: Sequence[ModelAlias]) -> list[str]:
    """``models_hash`` (diff/model_hash.go): the set of lower-cased ``name|alias`` pairs, blind to
    order, case and repeats."""
    return sorted({f"{go_lower(go_trim(m.name))}|{go_lower(go_trim(m.alias))}"
                   for m in models if go_trim(m.name) or go_trim(m.alias)})


def _excluded_digest(excluded: Iterable[str]) -> list[str]:
    """``excluded_models_hash`` (synthesizer/helpers.go:56-94): the set of lower-cased patterns."""
    return sorted({go_lower(go_trim(p)) for p in excluded if go_trim(p)})


def _attributes_digest(headers: Mapping[str, str], priority: int, proxy_url: str) -> tuple[object, ...]:
    """The rest of a config auth: ``header:*`` and ``priority`` attributes and its proxy."""
    shown = sorted((go_trim(k), go_trim(v)) for k, v in headers.items() if go_trim(k) and go_trim(v))
    return shown, priority, go_trim(proxy_url)


def _forced_refresh_digest(cfg: Config) -> tuple[object, ...]:
    """What refreshes every auth at once: ``force-model-prefix`` and the whole ``oauth-model-alias``."""
    aliases = sorted((channel, [(a.name, a.alias, a.fork) for a in entries])
                     for channel, entries in cfg.oauth_model_alias.items())
    return cfg.force_model_prefix, aliases


class StableIds:
    """``StableIDGenerator``, one per reading of the config: ``kind:`` and the first 12 hex digits
    of sha256(kind, then NUL and each trimmed part), with ``-N`` on the Nth repeat of the same ID.

    The legacy's IDs, so the same credentials sort alike (fill-first drains the same key first,
    round-robin takes them in the same order), and two entries with the same key and base URL stay
    two credentials, each with its own prefix and headers. No key is kept in clear."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def next(self, kind: str, *parts: str) -> str:
        digest = hashlib.sha256(kind.encode())
        for part in parts:
            digest.update(b"\0" + go_trim(part).encode())
        ident = f"{kind}:{digest.hexdigest()[:12]}"
        repeat = self._seen.get(ident, 0)
        self._seen[ident] = repeat + 1
        return f"{ident}-{repeat}" if repeat else ident


# Where one config credential sits: (section, entry index, key index within the entry).
ConfigSlot = tuple[str, int, int]


def config_credential_ids(cfg: Config) -> dict[ConfigSlot, str]:
    """The synthesizer's walk over the key sections (gemini, claude, codex, openai-compatibility,
    vertex): the ID of every credential they register. The registry and the executors' credential
    list both take their IDs from here, so they always agree."""
    ids = StableIds()
    out: dict[ConfigSlot, str] = {}
    for section, entries in (("gemini", cfg.gemini_api_key), ("claude", cfg.claude_api_key),
                             ("codex", cfg.codex_api_key)):
        for i, entry in enumerate(entries):
            if key := go_trim(entry.api_key):
                out[(section, i, 0)] = ids.next(f"{section}:apikey", key, go_trim(entry.base_url))
    for i, compat in enumerate(cfg.openai_compatibility):
        kind = f"openai-compatibility:{go_trim(compat.name).lower() or OPENAI_COMPAT}"
        base = go_trim(compat.base_url)
        if not compat.api_key_entries:
            # An entry without keys still registers one key-less credential, named by its base.
            out[("compat", i, 0)] = ids.next(kind, base)
        for j, item in enumerate(compat.api_key_entries):
            out[("compat", i, j)] = ids.next(kind, go_trim(item.api_key), base, go_trim(item.proxy_url))
    for i, vertex in enumerate(cfg.vertex_api_key):
        out[("vertex", i, 0)] = ids.next("vertex:apikey", go_trim(vertex.api_key), go_trim(vertex.base_url),
                                         go_trim(vertex.proxy_url))
    return out


class _KeyEntry(Protocol):
    api_key: str
    base_url: str
    models: list[ModelAlias]


E = TypeVar("E", bound=_KeyEntry)


def _config_entry(entries: Sequence[E], key: str, base: str, *, exact_pair: bool,
                                any_base: bool) -> E | None:
    """The config entry a key credential takes its ``models:`` (and exclusions) from: the first one
    whose key and base match, case-insensitively, so an entry repeating an earlier entry's key and
    base is read through that earlier one. ``exact_pair``: with both a key and a base, both must
    match; otherwise an entry without a base matches any. ``any_base``: at last, any entry with the
    key. The legacy's resolvers differ in these two points: the listing side's per section
    (service.go:865-988), the routing side's one for all (conductor.go:966-1003)."""
    for entry in entries:
        entry_key, entry_base = go_trim(entry.api_key), go_trim(entry.base_url)
        if exact_pair and key and base:
            if go_equal_fold(entry_key, key) and go_equal_fold(entry_base, base):
                return entry
            continue
        if key and go_equal_fold(entry_key, key) and (not entry_base or go_equal_fold(entry_base, base)):
            return entry
        if not key and base and go_equal_fold(entry_base, base):
            return entry
    if any_base and key:
        return next((e for e in entries if go_equal_fold(go_trim(e.api_key), key)), None)
    return None


# Per section: (exact_pair, any_base) of the listing side's resolver (service.go:865-988).
_LISTING_RESOLVER = {"gemini": (False, False), "claude": (True, True), "codex": (False, False),
                     "vertex": (False, True)}


class _Resolved(NamedTuple):
    """The lists a key credential is listed and routed with, from the entries the legacy resolves
    it to: ``listed``/``listed_excluded`` (the listing side), ``routed`` (the alias lookup)."""

    listed: Sequence[ModelAlias]
    listed_excluded: tuple[str, ...]
    routed: Sequence[ModelAlias]


def _resolved(section: str, entries: Sequence[E], entry: E) -> _Resolved:
    """The lists the listing and the routing read for ``entry``'s credential (Vertex entries have
    no exclusion list)."""
    key, base = go_trim(entry.api_key), go_trim(entry.base_url)
    exact_pair, any_base = _LISTING_RESOLVER[section]
    listing = _config_entry(entries, key, base, exact_pair=exact_pair, any_base=any_base)
    routing = _config_entry(entries, key, base, exact_pair=True, any_base=True)
    return _Resolved(listing.models if listing is not None else (),
                     tuple(getattr(listing, "excluded_models", ())),
                     routing.models if routing is not None else ())


def _api_key_sources(cfg: Config) -> list[_Source]:
    force = cfg.force_model_prefix
    refresh = _forced_refresh_digest(cfg)
    sources: list[_Source] = []
    ids = config_credential_ids(cfg)
    sections: tuple[tuple[str, Sequence[ProviderKey], tuple[ModelInfo, ...], str, str], ...] = (
        ("gemini", cfg.gemini_api_key, GEMINI, "google", "gemini"),
        ("claude", cfg.claude_api_key, CLAUDE, "anthropic", "claude"),
        ("codex", cfg.codex_api_key, CODEX, "openai", "openai"),
    )
    for provider, entries, catalogue, owner, mtype in sections:
        for i, entry in enumerate(entries):
            key = go_trim(entry.api_key)
            if not key:
                continue
            sources.append(_keyed_source(
                ids[(provider, i, 0)], provider, key, go_trim(entry.base_url), go_trim(entry.prefix), force,
                entry.models, catalogue, owner, mtype, tuple(entry.excluded_models), refresh,
                _attributes_digest(entry.headers, entry.priority, entry.proxy_url),
                _resolved(provider, entries, entry)))
    sources.extend(_compat_sources(cfg, ids, refresh))
    for i, vertex in enumerate(cfg.vertex_api_key):
        # Vertex keys carry no exclusion list; a key-less entry still registers (no alias lookup).
        sources.append(_keyed_source(
            ids[("vertex", i, 0)], "vertex", go_trim(vertex.api_key), go_trim(vertex.base_url),
            go_trim(vertex.prefix), force, vertex.models, VERTEX, "google", "vertex", (), refresh,
            _attributes_digest(vertex.headers, vertex.priority, vertex.proxy_url),
            _resolved("vertex", cfg.vertex_api_key, vertex)))
    return sources


def _keyed_source(ident: str, provider: str, key: str, base: str, prefix: str, force: bool,
                  models: Sequence[ModelAlias], catalogue: Sequence[ModelInfo], owner: str, mtype: str,
                  excluded: tuple[str, ...], refresh: tuple[object, ...], attributes: tuple[object, ...],
                  lists: _Resolved) -> _Source:
    """One key credential. ``models`` and ``excluded`` are its own entry's (they decide, like the
    legacy's auth comparison, whether it registers anew); ``lists`` come from the entries the
    legacy resolves it to (``_resolved``)."""
    own, shown = tuple(models), tuple(lists.listed)

    def expand(created: int) -> list[ModelInfo]:
        chosen = config_models(shown, owner, mtype, created) if shown else list(catalogue)
        return apply_prefix(apply_excluded(chosen, lists.listed_excluded), prefix, force)

    fingerprint = credential_digest(provider, key, base, prefix, refresh, attributes, _pairs_digest(own),
                                    _excluded_digest(excluded))
    return _Source(id=ident, provider=provider, kind=APIKEY, prefix=prefix, fingerprint=fingerprint, expand=expand,
                   alias_models=tuple(lists.routed) if key else ())


def _compat_sources(cfg: Config, ids: dict[ConfigSlot, str], refresh: tuple[object, ...]) -> list[_Source]:
    sources: list[_Source] = []
    for i, compat in enumerate(cfg.openai_compatibility):
        provider = go_trim(compat.name).lower() or OPENAI_COMPAT
        # Go looks the model list up by name, so two providers sharing a name share the first list.
        owner = next((c for c in cfg.openai_compatibility if c.name.lower() == compat.name.lower()), compat)
        prefix = go_trim(compat.prefix)
        base = go_trim(compat.base_url)
        keys = [go_trim(e.api_key) for e in compat.api_key_entries] or [""]
        proxies = [e.proxy_url for e in compat.api_key_entries] or [""]
        own = tuple(owner.models)

        def expand(created: int, own: tuple[ModelAlias, ...] = own, owned_by: str = owner.name,
                   prefix: str = prefix) -> list[ModelInfo]:
            # No de-duplication and no trimming here: Go registers compat IDs as written.
            models = [ModelInfo(id=m.alias or m.name, created=created, owned_by=owned_by, type=OPENAI_COMPAT,
                                display_name=m.alias or m.name, user_defined=True) for m in own]
            return apply_prefix(models, prefix, cfg.force_model_prefix)

        for j, key in enumerate(keys):
            fingerprint = credential_digest(provider, key, base, prefix, refresh, compat.name, owner.name,
                                            _attributes_digest(compat.headers, compat.priority, proxies[j]),
                                            _pairs_digest(own))
            sources.append(_Source(id=ids[("compat", i, j)], provider=provider, kind=APIKEY, prefix=prefix,
                                   fingerprint=fingerprint, expand=expand, alias_models=own if key else ()))
    return sources


def _record_sources(cfg: Config, records: Iterable[CredentialInput]) -> list[_Source]:
    sources: list[_Source] = []
    for index, raw in enumerate(records):
        record = raw if isinstance(raw, CredentialRecord) else CredentialRecord(
            raw[0], raw[1], None if raw[2] is None else tuple(raw[2]))
        provider = go_trim(record.provider).lower()
        prefix = go_trim(record.prefix)
        excluded = record.excluded if record.excluded is not None else tuple(
            cfg.oauth_excluded_models.get(provider, ()))
        channel = oauth_alias_channel(provider, OAUTH)
        aliases = tuple(cfg.oauth_model_alias.get(channel, ())) if channel else ()
        catalogue = record.models if record.models is not None else STATIC_MODELS.get(provider, ())

        def expand(created: int, catalogue: Sequence[ModelInfo] = catalogue, excluded: tuple[str, ...] = excluded,
                   aliases: tuple[OAuthModelAlias, ...] = aliases, prefix: str = prefix) -> list[ModelInfo]:
            models = apply_oauth_aliases(aliases, apply_excluded(catalogue, excluded))
            return apply_prefix(models, prefix, cfg.force_model_prefix)

        ident = record.id or f"{provider}:oauth:{index}"
        fingerprint = credential_digest(ident, provider, prefix, excluded, [(a.name, a.alias, a.fork) for a in aliases],
                              cfg.force_model_prefix, [m.id for m in catalogue])
        sources.append(_Source(id=ident, provider=provider, kind=OAUTH, prefix=prefix, fingerprint=fingerprint,
                               expand=expand))
    return sources


@dataclass(slots=True)
class _Registration:
    info: ModelInfo
    count: int = 0
    providers: dict[str, int] = field(default_factory=dict)
    info_by_provider: dict[str, ModelInfo] = field(default_factory=dict)
    # One entry per registration (a credential listing the ID twice is there twice, as ``count``).
    clients: list[str] = field(default_factory=list)


class UnknownModelError(LookupError):
    """No registered provider serves the requested model (the legacy 400 answer)."""

    def __init__(self, requested: str) -> None:
        super().__init__(f"unknown provider for model {requested}")
        self.requested = requested


class ModelRegistry:
    """An immutable registry snapshot. Lookups are exact on the model ID, as in Go."""

    def __init__(self, config: Config, credentials: Sequence[Credential],
                 created: dict[str, tuple[str, int]]) -> None:
        self.config = config
        self.credentials = tuple(credentials)
        self._by_id = {c.id: c for c in self.credentials}
        # Kept so a rebuild can give unchanged credentials their old ``created`` time.
        self._created = created
        self._models: dict[str, _Registration] = {}
        for cred in self.credentials:
            for model in cred.models:
                if not model.id:
                    continue
                reg = self._models.get(model.id)
                if reg is None:
                    reg = self._models[model.id] = _Registration(model)
                reg.count += 1
                reg.clients.append(cred.id)
                reg.info = model  # the last registration's metadata is the one shown
                if cred.provider:
                    reg.providers[cred.provider] = reg.providers.get(cred.provider, 0) + 1
                    reg.info_by_provider[cred.provider] = model

    # --- queries ----------------------------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        """Per credential ID, a digest of what it registers (prefix, models, exclusions, aliases)."""
        return {ident: fingerprint for ident, (fingerprint, _) in self._created.items()}

    def providers(self, model: str) -> list[str]:
        """``GetModelProviders``: providers serving this exact ID, most clients first, then name."""
        reg = self._models.get(model)
        if reg is None:
            return []
        ranked = sorted(((-n, name) for name, n in reg.providers.items() if n > 0))
        return [name for _, name in ranked]

    lookup = providers

    def available(self) -> list[ModelInfo]:
        """Every registered model's metadata, in first-registration order (Go's is a map walk)."""
        return [reg.info for reg in self._models.values()]

    def clients(self, model: str) -> tuple[str, ...]:
        """The credential ids registered for this exact ID, once per registration."""
        reg = self._models.get(model)
        return tuple(reg.clients) if reg is not None else ()

    def get(self, model: str, provider: str = "") -> ModelInfo | None:
        reg = self._models.get(model)
        if reg is None:
            return None
        if provider and reg.providers.get(provider, 0) > 0 and provider in reg.info_by_provider:
            return reg.info_by_provider[provider]
        return reg.info

    def first_available(self) -> str | None:
        """What ``auto`` becomes: the newest ``created`` model (ties keep registry order)."""
        best: ModelInfo | None = None
        for info in self.available():
            if best is None or info.created > best.created:
                best = info
        return best.id if best is not None else None

    def resolve(self, requested: str,
                pick_auto: Callable[[ModelRegistry], str | None] | None = None) -> tuple[list[str], str]:
        """``getRequestDetails``: providers and the model string to pass on (suffix kept).
        ``pick_auto`` chooses what ``auto`` becomes when credential standing is known
        (``availability.first_available``); without it, the newest registered model.

        Raises ``UnknownModelError`` (message ``unknown provider for model <requested>``).
        """
        initial = split_thinking_suffix(requested)
        resolved = requested
        if initial.name == "auto":
            base = (pick_auto(self) if pick_auto is not None else self.first_available()) or "auto"
            resolved = base if initial.suffix is None else f"{base}({initial.suffix})"
        base = go_trim(split_thinking_suffix(resolved).name)
        found = self.providers(base) if base else []
        if not found and base != resolved and resolved:
            found = self.providers(resolved)
        if not found:
            raise UnknownModelError(requested)
        return found, resolved

    def credential(self, credential_id: str) -> Credential | None:
        return self._by_id.get(credential_id)

    def supports(self, credential_id: str, model: str) -> bool:
        """``ClientSupportsModel``: case-insensitive match against the credential's IDs."""
        cred = self._by_id.get(go_trim(credential_id))
        wanted = go_trim(model).lower()
        if cred is None or not wanted:
            return False
        return any(go_trim(m.id).lower() == wanted for m in cred.models)

    def upstream_model(self, credential_id: str, requested: str) -> str:
        """The model name a credential sends upstream: its prefix stripped, then the OAuth alias
        table, then the API key's ``models:`` list (the request's thinking suffix survives unless
        the configured name carries its own)."""
        cred = self._by_id.get(credential_id)
        if cred is None or not requested:
            return requested
        model = requested
        if cred.prefix and model.startswith(cred.prefix + "/"):
            model = model[len(cred.prefix) + 1:]
        if cred.alias_channel:
            model = self._oauth_upstream(cred.alias_channel, model) or model
        if cred.kind == APIKEY:
            # ``applyAPIKeyModelAlias`` trims the name for every API key, listed models or not.
            model = go_trim(model)
            if cred.alias_models:
                model = (_api_key_table_upstream(model, cred.alias_table)
                         or _api_key_upstream(model, cred.alias_models) or model)
        return model

    def _oauth_upstream(self, channel: str, requested: str) -> str:
        reverse: dict[str, str] = {}
        for entry in self.config.oauth_model_alias.get(channel, ()):
            name, alias = go_trim(entry.name), go_trim(entry.alias)
            if name and alias and name.lower() != alias.lower():
                reverse.setdefault(alias.lower(), name)
        parsed = split_thinking_suffix(requested)
        candidates = [parsed.name] if parsed.name == requested else [parsed.name, requested]
        for candidate in candidates:
            key = go_trim(candidate).lower()
            original = go_trim(reverse.get(key, "")) if key else ""
            if not original:
                continue
            if original.lower() == parsed.name.lower():
                return ""
            return _with_suffix(original, parsed)
        return ""


def _with_suffix(resolved: str, request: SuffixResult) -> str:
    # A suffix written in the config wins over the one in the request.
    if split_thinking_suffix(resolved).suffix is not None:
        return resolved
    if request.suffix:
        return f"{resolved}({request.suffix})"
    return resolved


def api_key_alias_table(models: Sequence[ModelAlias]) -> dict[str, str]:
    """``compileAPIKeyModelAliasForModels`` (conductor.go:317-360): for each entry with both an
    alias and a name, the alias's base name (lower case) -> the configured name, the first entry
    keeping a key; the name's own base name points at it too unless taken. So a listed variant
    ``gpt-5(high)`` under any alias also answers for plain ``gpt-5``, with the config's suffix."""
    table: dict[str, str] = {}
    for entry in models:
        alias, name = go_trim(entry.alias), go_trim(entry.name)
        if not alias or not name:
            continue
        alias_key = split_thinking_suffix(alias).name.lower() or alias.lower()
        if alias_key in table:
            continue
        table[alias_key] = name
        base = split_thinking_suffix(name).name
        name_key = base.lower() or name.lower()
        table.setdefault(name_key, name)
        if base != name and (base_key := go_trim(base).lower()):
            table.setdefault(base_key, name)
    return table


def _api_key_table_upstream(requested: str, table: Mapping[str, str]) -> str:
    """``lookupAPIKeyUpstreamModel`` (conductor.go:201-239): the table entry for the request's base
    name, with the request's suffix unless the configured name has its own; "" when none."""
    if not requested or not table:
        return ""
    parsed = split_thinking_suffix(requested)
    resolved = go_trim(table.get(parsed.name.lower() or requested.lower(), ""))
    return _with_suffix(resolved, parsed) if resolved else ""


def _api_key_upstream(requested: str, models: Sequence[ModelAlias]) -> str:
    """``resolveModelAliasFromConfigModels``: alias or name match, case-insensitive."""
    if not requested:
        return ""
    parsed = split_thinking_suffix(requested)
    candidates = [parsed.name] if parsed.name == requested else [parsed.name, requested]
    for entry in models:
        name, alias = go_trim(entry.name), go_trim(entry.alias)
        for candidate in candidates:
            if not candidate:
                continue
            if alias and alias.lower() == candidate.lower():
                return _with_suffix(name or candidate, parsed)
            if name and name.lower() == candidate.lower():
                return _with_suffix(name, parsed)
    return ""


def build_registry(config: Config, credentials: Iterable[CredentialInput] = (), *,
                   previous: ModelRegistry | None = None, now: int | None = None) -> ModelRegistry:
    """Register the config's API-key sections, then the given OAuth records, in that order.

    A credential whose definition did not change since ``previous`` keeps its ``created`` time,
    as Go only re-registers credentials that a reload touched.
    """
    stamp = int(time.time()) if now is None else now
    old = previous._created if previous is not None else {}
    sources = _api_key_sources(config) + _record_sources(config, credentials)
    taken: dict[str, int] = {}
    built: list[Credential] = []
    created: dict[str, tuple[str, int]] = {}
    for source in sources:
        ident = source.id
        # Identical entries get distinct IDs, like the synthesizer's counter.
        taken[ident] = taken.get(ident, 0) + 1
        if taken[ident] > 1:
            ident = f"{ident}#{taken[ident]}"
        fingerprint, when = old.get(ident, ("", stamp))
        if fingerprint != source.fingerprint:
            when = stamp
        created[ident] = (source.fingerprint, when)
        channel = oauth_alias_channel(source.provider, source.kind)
        built.append(Credential(id=ident, provider=source.provider, kind=source.kind, prefix=source.prefix,
                                models=tuple(source.expand(when)), alias_models=source.alias_models,
                                alias_channel=channel,
                                alias_table=api_key_alias_table(source.alias_models)
                                if source.kind == APIKEY else {}))
    return ModelRegistry(config, built, created)


# --- live -----------------------------------------------------------------------------------


class LiveModelRegistry:
    """The current snapshot for one ``ConfigStore``, rebuilt on every config change."""

    def __init__(self, store: ConfigStore,
                 credentials: Callable[[], Iterable[CredentialInput]] | None = None) -> None:
        self._credentials = credentials
        # Runtime-only credentials registered next to the auth-dir ones (the /v1/ws relay channels).
        self._extra: list[Callable[[], Iterable[CredentialInput]]] = []
        self._current = build_registry(store.current, self._records())
        store.subscribe(self._on_config)

    @property
    def current(self) -> ModelRegistry:
        return self._current

    def set_credentials(self, credentials: Callable[[], Iterable[CredentialInput]] | None) -> None:
        """Point at the OAuth credential source (auth-dir) and rebuild at once."""
        self._credentials = credentials
        self.refresh(self._current.config)

    def refresh(self, config: Config | None = None) -> None:
        cfg = config if config is not None else self._current.config
        self._current = build_registry(cfg, self._records(), previous=self._current)

    def add_source(self, records: Callable[[], Iterable[CredentialInput]]) -> None:
        """Register ``records()`` after the auth-dir credentials, now and on every rebuild."""
        self._extra.append(records)
        self.refresh()

    def _records(self) -> Iterable[CredentialInput]:
        own = list(self._credentials()) if self._credentials is not None else []
        for extra in self._extra:
            own.extend(extra())
        return own

    def _on_config(self, old: Config, new: Config) -> None:
        self.refresh(new)
        log.info("model registry rebuilt", models=len(self._current.available()),
                 credentials=len(self._current.credentials))


_LIVE: weakref.WeakKeyDictionary[ConfigStore, LiveModelRegistry] = weakref.WeakKeyDictionary()


def registry_for(store: ConfigStore) -> LiveModelRegistry:
    """The live registry bound to ``store``, created (and subscribed) on first use."""
    live = _LIVE.get(store)
    if live is None:
        live = _LIVE[store] = LiveModelRegistry(store)
    return live
