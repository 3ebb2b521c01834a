"""Per-app inference state: executors, the upstream HTTP client, rotation state, credentials.

One ``InferenceRuntime`` lives on the app (``INFERENCE`` key). It owns nothing a request needs
I/O for: credentials come from the config snapshot (API keys) and from an optional OAuth
credential source that keeps its own in-memory table, so a lookup on the request path is a dict
read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import structlog
from aiohttp import web

from handlers.models.availability import STANDING, first_available
from handlers.models.registry import OAUTH, LiveModelRegistry, ModelRegistry, registry_for
from handlers.providers import EXECUTORS, Executor, OpenAICompatExecutor, Timeouts, UpstreamClient
from handlers.providers.base import APIKeyCredential, credentials_from_config
from handlers.providers.claude_api import ClaudeAPIExecutor, CloakSettings, cloak_settings_for
from handlers.rotation import LegacySelector, RetrySettings, RotationState
from handlers.translation import codex_instructions
from handlers.translation.model import Format
from handlers.usage.routes import USAGE
from handlers.usage.statistics import RequestStatistics
from quotio_gateway.config.models import Config
from quotio_gateway.config.store import ConfigStore
from quotio_gateway.gostrings import go_trim

from .pair_table import PairLookup, default_pairs

log = structlog.get_logger("handlers.inference")

# Upstream protocol of each API-key executor; OAuth executors carry a ``format`` attribute.
_API_KEY_FORMATS: dict[str, Format] = {
    "gemini": Format.GEMINI,
    "vertex": Format.GEMINI,
    "claude": Format.CLAUDE,
    "codex": Format.CODEX,
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """What rotation picks from: the registry id, its priority and the executor's credential."""

    id: str
    priority: int
    provider: str
    credential: Any


class CredentialSource(Protocol):
    """Credentials that do not come from config.yaml (auth-dir logins).

    ``usable(id)`` answers from memory: the credential when it may serve now (enabled, not blocked
    by a failed refresh), else None. ``executor_for`` gives the executor that serves one;
    ``refresh_now(id)`` refreshes after an upstream 401 and says whether a retry is worth it.
    """

    def usable(self, credential_id: str) -> Any | None: ...

    async def refresh_now(self, credential_id: str) -> bool: ...

    def executor_for(self, credential: Any, client: UpstreamClient) -> Executor: ...


def upstream_format(executor: Executor) -> Format:
    declared = getattr(executor, "format", None)
    if isinstance(declared, Format):
        return declared
    return _API_KEY_FORMATS.get(executor.name, Format.OPENAI)


_TIMEOUT_KEYS = {"connect": "connect", "first-byte": "first_byte", "idle": "idle"}


def upstream_timeouts(section: Any, base: Timeouts) -> Timeouts:
    """``gateway: {upstream-timeouts: {connect, first-byte, idle}}`` (seconds) over ``base``.

    A missing, non-numeric or non-positive value keeps the base value: a typo must not turn a
    timeout off or make every call fail at once.
    """
    if not isinstance(section, dict):
        return base
    values: dict[str, float] = {}
    for key, field_name in _TIMEOUT_KEYS.items():
        raw = section.get(key)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            if raw is not None:
                log.warning("ignoring upstream timeout", key=key, value=str(raw))
            continue
        values[field_name] = float(raw)
    return replace(base, **values) if values else base


class InferenceRuntime:
    def __init__(self, store: ConfigStore, *, pairs: PairLookup | None = None,
                 client: UpstreamClient | None = None, oauth: CredentialSource | None = None,
                 timeouts: Timeouts | None = None) -> None:
        self.store = store
        self.registry: LiveModelRegistry = registry_for(store)
        self.pairs: PairLookup = pairs or default_pairs()
        # Timeouts given here are the base; ``gateway: upstream-timeouts`` in config.yaml overrides
        # them field by field on every config snapshot (the legacy has no such setting).
        self._base_timeouts = timeouts or (client.timeouts if client is not None else Timeouts())
        self.client = client or UpstreamClient(self._base_timeouts)
        self.oauth = oauth
        # The /v1/ws relay channels (``aistudio``), set by handlers.wsrelay.wiring.
        self.relay: CredentialSource | None = None
        self.selector = LegacySelector(store.current.routing.effective_strategy)
        self.state = RotationState()
        # Every upstream call's record for /v0/management/usage, kept while the setting is on.
        self.usage = RequestStatistics(enabled=lambda: bool(store.current.usage_statistics_enabled))
        self._executors: dict[str, Executor] = {}
        self._keyed: tuple[Config | None, dict[str, APIKeyCredential]] = (None, {})
        self._synced: Config | None = None
        # Per credential ID, what it was registered with at the last config applied.
        self._registered: dict[str, tuple[APIKeyCredential, str]] | None = None
        self._retry = RetrySettings.from_config(store.current)
        self._cloaks: tuple[Config | None, dict[tuple[str, str], CloakSettings]] = (None, {})
        self._entries: tuple[ModelRegistry | None, dict[tuple[tuple[str, ...], str], list[Any]]] = (None, {})
        # Every config applied as it arrives (after the registry, which subscribed first), not only
        # the one the next request sees: a key removed and added back between two requests was
        # re-registered, as the legacy's watcher deletes and adds it.
        store.subscribe(self._on_config)

    def _on_config(self, old: Config, new: Config) -> None:
        self.retry_settings()

    @property
    def config(self) -> Config:
        return self.store.current

    def retry_settings(self) -> RetrySettings:
        cfg = self.config
        if cfg is not self._synced:
            self._apply_config(cfg)
        return self._retry

    def _cloak(self, credential: APIKeyCredential) -> CloakSettings:
        """A Claude key's ``cloak`` settings, looked up once per config snapshot and key."""
        cfg = self.config
        if cfg is not self._cloaks[0]:
            self._cloaks = (cfg, {})
        key = (credential.api_key, credential.base_url)
        found = self._cloaks[1].get(key)
        if found is None:
            found = self._cloaks[1][key] = cloak_settings_for(cfg, credential.api_key, credential.base_url)
        return found

    def _apply_config(self, cfg: Config) -> None:
        """Settings that live outside the config snapshot, refreshed when a new one arrives."""
        previous, self._synced = self._synced, cfg
        self._forget_reregistered(previous, cfg)
        self._retry = RetrySettings.from_config(cfg)
        self.selector.set_strategy(cfg.routing.effective_strategy)
        gateway = cfg.gateway or {}
        prompts = gateway.get("codex-instructions-dir")
        enabled = bool(cfg.codex_instructions_enabled)
        try:
            rule = (codex_instructions.load_catalogue(Path(str(prompts)).expanduser(), enabled=enabled)
                    if enabled and prompts else codex_instructions.CodexInstructions(enabled=enabled))
        except OSError as exc:
            log.warning("codex instructions folder unreadable; using none", path=str(prompts), error=str(exc))
            rule = codex_instructions.CodexInstructions(enabled=enabled)
        codex_instructions.configure(rule)
        self.client.timeouts = upstream_timeouts(gateway.get("upstream-timeouts"), self._base_timeouts)
        self.client.default_proxy = go_trim(cfg.proxy_url)

    def _forget_reregistered(self, previous: Config | None, cfg: Config) -> None:
        """A reload re-registers the credentials it changed, and the legacy swaps in a fresh auth
        with no model states for each (watcher dispatcher.go:120, service.go:271-293,
        conductor.go:428): cooldowns, quota marks and backoff levels start over.

        * ``force-model-prefix`` or ``oauth-model-alias`` changed: every credential
          (config_reload.go:130);
        * ``oauth-excluded-models`` changed for a provider: that provider's credential files
          (config_reload.go:109);
        * otherwise the API keys whose entry (key, base, its own proxy, headers, priority) or
          registration (prefix, models, exclusions) changed, and keys the previous config did not
          have (one removed and added back is a new auth there: dispatcher.go:118-127). Credential
          files that changed on disk are reset when they are registered again, not here.
        """
        signatures = self._signatures(cfg)
        before, self._registered = self._registered, signatures
        if previous is None or before is None:
            return
        if (previous.force_model_prefix != cfg.force_model_prefix
                or previous.oauth_model_alias != cfg.oauth_model_alias):
            changed = self.state.credential_ids()
        else:
            changed = {ident for ident, signature in signatures.items() if before.get(ident) != signature}
            old_excluded, new_excluded = previous.oauth_excluded_models, cfg.oauth_excluded_models
            providers = {p for p in {*old_excluded, *new_excluded} if old_excluded.get(p) != new_excluded.get(p)}
            if providers:
                changed |= {c.id for c in self.registry.current.credentials
                            if c.kind == OAUTH and c.provider in providers}
        if changed:
            gone = self.state.forget(changed)
            if gone:
                log.info("rotation.reset_on_reload", credentials=len(changed), states=gone)

    def _signatures(self, cfg: Config) -> dict[str, tuple[APIKeyCredential, str]]:
        """Per config API key: its executor input and what it registers."""
        registry = self.registry.current
        fingerprints = registry.fingerprints() if registry.config is cfg else {}
        # Each entry's own proxy only: the legacy's auths do not carry the global proxy-url
        # (synthesizer/config.go:120-127), so changing it re-registers no key.
        own = cfg.model_copy(update={"proxy_url": ""})
        return {c.id: (c, fingerprints.get(c.id, "")) for c in credentials_from_config(own)}

    def _api_keys(self, cfg: Config) -> dict[str, APIKeyCredential]:
        cached_cfg, creds = self._keyed
        if cached_cfg is not cfg:
            creds = {c.id: c for c in credentials_from_config(cfg)}
            self._keyed = (cfg, creds)
        return creds

    def pick_auto(self, registry: ModelRegistry) -> str | None:
        """What ``auto`` becomes now: the newest model a usable credential still serves."""
        return first_available(registry, self.state)

    def candidates(self, registry: ModelRegistry, providers: Sequence[str], model: str) -> list[Candidate]:
        """Enabled credentials of the given providers whose registry entry lists ``model``."""
        keyed = self._api_keys(registry.config)
        out: list[Candidate] = []
        for entry in self._serving(registry, providers, model):
            credential = keyed.get(entry.id)
            if credential is None and self.oauth is not None:
                credential = self.oauth.usable(entry.id)
            if credential is None and self.relay is not None:
                credential = self.relay.usable(entry.id)
            if credential is None or getattr(credential, "disabled", False):
                continue
            out.append(Candidate(entry.id, int(getattr(credential, "priority", 0) or 0), entry.provider,
                                 credential))
        return self._not_waiting_on_refresh(out)

    def _serving(self, registry: ModelRegistry, providers: Sequence[str], model: str) -> list[Any]:
        """The registry entries of ``providers`` that list ``model``. A snapshot never changes, so
        the scan (every credential, every model id) runs once per snapshot and model, not per request;
        whether each one may serve right now is still asked per request. Only models the registry
        resolved reach here, so the table is bounded by the snapshot's own model list."""
        cached_registry, table = self._entries
        if cached_registry is not registry:
            table = {}
            self._entries = (registry, table)
        key = (tuple(providers), model)
        entries = table.get(key)
        if entries is None:
            wanted = set(providers)
            entries = table[key] = [e for e in registry.credentials
                                    if e.provider in wanted and registry.supports(e.id, model)]
        return entries

    def _not_waiting_on_refresh(self, candidates: list[Candidate]) -> list[Candidate]:
        """A refresh never holds up a request another credential can serve: credentials whose
        token is due are left out while others remain (their refresh runs in the background);
        when none remain, all are kept and the request waits for the refresh."""
        due = getattr(self.oauth, "needs_refresh", None)
        if due is None:
            return candidates
        ready = [c for c in candidates if isinstance(c.credential, APIKeyCredential) or not due(c.id)]
        return ready or candidates

    def executor_for(self, candidate: Candidate) -> Executor:
        if isinstance(candidate.credential, APIKeyCredential):
            name = candidate.credential.provider if candidate.credential.provider in EXECUTORS else "openai-compat"
            executor = self._executors.get(name)
            if executor is None:
                cls = EXECUTORS.get(name, OpenAICompatExecutor)
                executor = self._executors[name] = cls(self.client)
                if isinstance(executor, ClaudeAPIExecutor):
                    # A key's ``cloak`` block, read from the config current at each call.
                    executor.cloak_resolver = self._cloak
            return executor
        if self.relay is not None and candidate.provider == "aistudio":
            return self.relay.executor_for(candidate.credential, self.client)
        if self.oauth is None:
            raise LookupError(f"no executor for credential {candidate.id}")
        return self.oauth.executor_for(candidate.credential, self.client)

    async def close(self) -> None:
        await self.client.close()


INFERENCE = web.AppKey("quotio_inference", InferenceRuntime)


def install(app: web.Application, store: ConfigStore, *,
            configure: Callable[[InferenceRuntime], None] | None = None) -> InferenceRuntime:
    """Create the runtime for ``app`` and close its HTTP client on cleanup."""
    runtime = InferenceRuntime(store)
    if configure is not None:
        configure(runtime)
    app[INFERENCE] = runtime
    app[STANDING] = runtime.state
    app[USAGE] = runtime.usage

    async def _close(_: web.Application) -> None:
        await runtime.close()

    app.on_cleanup.append(_close)
    return runtime
