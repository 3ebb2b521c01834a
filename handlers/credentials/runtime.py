"""The credential runtime: every auth-dir credential, in memory, ready for selection.

``CredentialRuntime`` loads all credentials from the configured ``TokenStore`` once, keeps an id ->
``OAuthCredential`` map (the request path does no I/O to find or describe a credential), feeds
``CredentialRecord`` values to the live model registry, and follows outside changes: with the
file store an ``AuthDirWatcher`` reports every file the Quotio app (or CLIProxyAPI) writes,
replaces or deletes, and the runtime swaps that file's views and rebuilds the registry. Files
that are corrupt, empty or of an unknown ``type`` are skipped with a warning (the store logs it)
and the others still load; a file that turns bad later keeps its last good copy live. Files
with ``disabled: true`` stay known (``get``) but are never candidates and register no models.

Usage::

    runtime = CredentialRuntime(store_from_env(os.environ, cfg.auth_dir), client,
                                registry=live_registry, config=cfg, refresher=refresh_service)
    await runtime.start()
    creds = runtime.candidates(registry.resolve(model)[0], model)     # selection input
    executor = runtime.executor_for(cred)                             # shared, pooled
    async with await executor.stream(cred, upstream_request) as stream: ...
    await runtime.stop()
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from handlers.auth.credential import Credential, configured_proxy
from handlers.auth.stores import LoadResult, TokenStore, store_from_env
from handlers.auth.stores.file_store import AuthChange, AuthDirWatcher, FileTokenStore
from handlers.logins.endpoints import KiroEndpoints, default_endpoints, endpoints_for
from handlers.models.catalog import ModelInfo
from handlers.models.registry import CredentialRecord, LiveModelRegistry, split_thinking_suffix
from handlers.providers.http import UpstreamClient
from handlers.providers.oauth_antigravity import AntigravityExecutor
from handlers.providers.oauth_base import OAuthCredential, OAuthExecutor, TokenSource
from handlers.providers.oauth_claude import ClaudeOAuthExecutor
from handlers.providers.oauth_codex import CodexOAuthExecutor
from handlers.providers.oauth_gemini_cli import GeminiCLIExecutor
from handlers.providers.oauth_kiro import KiroExecutor
from handlers.providers.oauth_openai_chat import CopilotExecutor, IFlowExecutor, QwenExecutor
from handlers.providers.oauth_vertex import VertexServiceAccountExecutor

from .antigravity_models import AntigravityModelFeed
from .tokens import ExchangedToken, FileToken, Refresher, TokenCache, file_token, is_due, utc_now
from .views import build_views

log = structlog.get_logger("handlers.credentials")

# Seconds to gather outside changes before one model-registry rebuild.
REGISTRY_DEBOUNCE = 0.05

EXECUTOR_CLASSES: dict[str, type[OAuthExecutor]] = {
    "gemini-cli": GeminiCLIExecutor,
    "antigravity": AntigravityExecutor,
    "claude": ClaudeOAuthExecutor,
    "codex": CodexOAuthExecutor,
    "qwen": QwenExecutor,
    "iflow": IFlowExecutor,
    "github-copilot": CopilotExecutor,
    "kiro": KiroExecutor,
    "vertex": VertexServiceAccountExecutor,
}


def configured_base_urls(config: Any) -> Callable[[str], str]:
    """Inference base URLs the operator set under ``gateway.provider-endpoints`` ("" otherwise).

    ``config`` is a loaded Config, the ``gateway`` mapping, ``None``, or a zero-argument callable
    returning one of those (e.g. ``lambda: config_store.current``), read each time views are built.
    Only explicit overrides are returned: the executors keep their own defaults, which for
    Antigravity and Kiro are lists of fallbacks rather than one URL.
    """
    cache: dict[tuple[str, int], str] = {}

    def lookup(provider: str) -> str:
        current = config() if callable(config) else config
        key = (provider, id(current))
        if key not in cache:
            if len(cache) > 64:
                cache.clear()  # old config snapshots
            try:
                chosen = endpoints_for(provider, current).inference_base_url
                default = default_endpoints(provider).inference_base_url
            except KeyError:
                chosen = default = ""
            cache[key] = chosen if chosen != default else ""
        return cache[key]

    return lookup


def configured_fallback_urls(config: Any) -> Callable[[str], tuple[str, ...]]:
    """The ``inference-fallback-urls`` the operator set beside an inference base override
    (Antigravity), or Kiro's ``amazonq-url`` when set; read per call from ``config`` as
    ``configured_base_urls`` does."""

    def lookup(provider: str) -> tuple[str, ...]:
        current = config() if callable(config) else config
        try:
            endpoints = endpoints_for(provider, current)
        except KeyError:
            return ()
        if isinstance(endpoints, KiroEndpoints):
            # Kiro's second endpoint (Amazon Q) has its own key; only an explicit override counts,
            # so the executor keeps deriving it from a base override when none is given.
            default = default_endpoints(provider)
            unchanged = isinstance(default, KiroEndpoints) and default.amazonq_url == endpoints.amazonq_url
            return () if unchanged else (endpoints.amazonq_url,)
        return tuple(getattr(endpoints, "inference_fallback_urls", ()))

    return lookup


def _file_of(credential_id: str) -> str:
    # Virtual Gemini credentials are "<file>::<project>"; file names never contain "::".
    return credential_id.split("::", 1)[0]


def _view_id(view: OAuthCredential) -> str:
    return view.id


# Providers whose tokens the legacy refreshes in memory only: the Gemini CLI executor's oauth2 token
# source puts the new token into the request's copy of the auth or the multi-project file's shared
# credential (gemini_cli_executor.go:561-638, geminicli/state.go), its Refresh does nothing
# (gemini_cli_executor.go:557-559) and the background refresher skips it (sdk/auth/gemini.go:26-28).
# The file never changes there, so a refresh never registers it again; the gateway writes the token
# back, and that own write must not wipe the projects' cooldowns either.
_IN_MEMORY_REFRESH = frozenset({"gemini-cli"})


def _content_changed(before: Credential | None, after: Credential | None) -> bool:
    """Whether the legacy would register this file again: it appeared, went, or its JSON differs."""
    if before is None or after is None:
        return before is not after
    return before.metadata != after.metadata


def _registered(views: list[OAuthCredential]) -> list[tuple[str, str, str, bool]]:
    return [(v.id, v.provider, v.prefix, v.disabled) for v in views]


class CredentialRuntime:
    """See the module docstring. ``start`` starts the store and ``stop`` closes it: the runtime
    owns the store it is given (a refresh manager may share the same object).

    Optional hooks, all in-memory on the request path: ``refresher`` (``async (Credential) ->
    Credential``, used when a token is due on use), ``unauthorized`` (``async (file, used_token)
    -> Credential | None``, used by ``refresh_now``), ``blocked`` (``(file) -> bool``, leaves
    credentials out of ``candidates``), ``listeners`` (get every watcher change after the runtime).
    ``RefreshManager.as_refresher()``, ``.on_unauthorized``, ``.is_blocked`` and
    ``.on_auth_change`` from ``handlers.logins.refresh`` fit them.

    ``antigravity_models=True`` (with a registry) fetches each Antigravity credential's model list
    from the upstream in the background (``antigravity_models.py``); off by default so that
    callers without a reachable upstream make no extra calls.
    """

    def __init__(self, store: TokenStore, client: UpstreamClient, *,
                 registry: LiveModelRegistry | None = None,
                 config: Any = None,
                 base_url: Callable[[str], str] | None = None,
                 refresher: Refresher | None = None,
                 unauthorized: Callable[[str, str], Awaitable[Credential | None]] | None = None,
                 blocked: Callable[[str], bool] | None = None,
                 listeners: Iterable[Callable[[AuthChange], Awaitable[None]]] = (),
                 copilot_tokens: TokenCache | None = None,
                 vertex_tokens: TokenCache | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 watch_interval: float = 0.25,
                 antigravity_models: bool = False) -> None:
        self.store = store
        self.client = client
        self._registry = registry
        self._config = config
        self._base_url = base_url or configured_base_urls(config)
        self._fallback_urls = configured_fallback_urls(config)
        self._refresher = refresher
        self._unauthorized = unauthorized
        self._blocked = blocked
        self._listeners = tuple(listeners)
        self._copilot = copilot_tokens
        self._vertex = vertex_tokens
        self._clock = clock
        self._watch_interval = watch_interval
        self._watcher: AuthDirWatcher | None = None
        self._files: dict[str, Credential] = {}
        self._views_by_file: dict[str, list[OAuthCredential]] = {}
        self._by_id: dict[str, OAuthCredential] = {}
        self._by_provider: dict[str, list[OAuthCredential]] = {}
        self._executors: dict[tuple[str, int], OAuthExecutor] = {}
        self._registry_pending: asyncio.TimerHandle | None = None
        self._refreshing: dict[str, asyncio.Task[Credential | None]] = {}
        self._background: set[asyncio.Task[Credential | None]] = set()
        # The watcher's copy of each file as last looked at: only a copy it has not shown us
        # before is news (see file_credential).
        self._live_seen: dict[str, Credential] = {}
        self.skipped: dict[str, str] = {}  # file name -> reason code of the last full load
        # Told the view ids of a file that registered again (see ``follow_reregistration``).
        self._reregistered: list[Callable[[Iterable[str]], object]] = []
        # Antigravity has no static catalogue: with a registry to feed, its list is fetched live.
        self._models = (AntigravityModelFeed(client, self._schedule_registry)
                        if antigravity_models and registry is not None else None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], auth_dir: Path | str, client: UpstreamClient,
                 **options: Any) -> CredentialRuntime:
        """The runtime over the store CLIProxyAPI would pick for this environment."""
        return cls(store_from_env(environ, auth_dir), client, **options)

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> LoadResult:
        started = time.perf_counter()
        await self.store.start()
        if isinstance(self.store, FileTokenStore):
            self._watcher = self.store.watch(self._on_change, interval=self._watch_interval)
            result = await self._watcher.start()
        else:
            result = await self.store.load_all()
        self._load(result)
        if self._registry is not None:
            self._registry.set_credentials(self.records)
        self._track_models(self._views_by_file)
        log.info("credentials loaded", store=self.store.kind, credentials=len(self._files),
                 servable=len(self._by_id), skipped=len(result.skipped),
                 seconds=round(time.perf_counter() - started, 3))
        return result

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._models is not None:
            await self._models.close()
        if self._registry_pending is not None:
            self._registry_pending.cancel()
            self._registry_pending = None
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        await self.store.close()

    async def reload(self) -> LoadResult:
        """Read everything again (stores without a watcher; a manual rescan)."""
        result = await self.store.load_all()
        self._load(result)
        self._registry_changed()
        self._track_models(self._views_by_file)
        return result

    def _load(self, result: LoadResult) -> None:
        before_files, before_views = self._files, self._views_by_file
        self._files = dict(result.credentials)
        self._live_seen = dict(result.credentials)
        self.skipped = {name: err.reason for name, err in result.skipped.items()}
        self._views_by_file = {name: self._views(cred) for name, cred in self._files.items()}
        self._reindex()
        if self._reregistered:
            for name in before_files.keys() | self._files.keys():
                if _content_changed(before_files.get(name), self._files.get(name)):
                    self._announce(before_views.get(name, []) + self._views_by_file.get(name, []), name)

    # --- re-registration --------------------------------------------------------------------

    def follow_reregistration(self, listener: Callable[[Iterable[str]], object]) -> None:
        """Call ``listener`` with the view ids of every file that registers again: one whose
        content changed (an outside edit, a login, a refreshed token written back, except a Gemini
        CLI token refreshed here: see ``_IN_MEMORY_REFRESH``), one that came back after a removal,
        and one removed (it may only come back as new). Adding the same listener twice keeps one.

        The legacy watcher turns each such change into a fresh auth that replaces the old one
        with no per-model state (watcher/dispatcher.go:117-127, service.go:271-293,
        conductor.go:418-434), and re-registers the client's models, clearing their suspension
        and quota marks (model_registry.go:364-369, 551-553); a file whose bytes changed but whose
        JSON did not is no change there (dispatcher.go:120, 234-250), nor here.
        """
        if listener not in self._reregistered:
            self._reregistered.append(listener)

    def _announce(self, views: Iterable[OAuthCredential], file_name: str) -> None:
        ids = list(dict.fromkeys([file_name, *(view.id for view in views)]))
        for listener in self._reregistered:
            try:
                listener(ids)
            except Exception:
                log.exception("re-registration listener failed", file=file_name)

    # --- changes ----------------------------------------------------------------------------

    async def _on_change(self, change: AuthChange) -> None:
        if change.kind == "upsert" and change.credential is not None:
            self._live_seen[change.file_name] = change.credential
            self.apply(change.credential)
        elif change.kind == "remove":
            self._live_seen.pop(change.file_name, None)
            self.forget(change.file_name)
        # "invalid": the watcher keeps the last good copy; so do we.
        for listener in self._listeners:
            # One watcher for everyone (e.g. the refresh manager): a listener's failure is its own.
            try:
                await listener(change)
            except Exception:
                log.exception("auth change listener failed", file=change.file_name)

    def apply(self, credential: Credential, *, own_refresh: bool = False) -> None:
        """Take a new copy of one file (outside edit, refresh, login); no I/O. ``own_refresh``: the
        copy is this runtime's own token refresh, which re-registers the file only for providers
        the legacy refreshes by rewriting it (not ``_IN_MEMORY_REFRESH``)."""
        previous = self._files.get(credential.file_name)
        old_views = self._views_by_file.get(credential.file_name, [])
        self._files[credential.file_name] = credential
        self.skipped.pop(credential.file_name, None)
        views = self._views(credential)
        if self._replace_views(credential.file_name, views):
            self._schedule_registry()
        self._track_models({credential.file_name: views})
        if own_refresh and credential.provider in _IN_MEMORY_REFRESH:
            return
        if self._reregistered and _content_changed(previous, credential):
            self._announce([*old_views, *views], credential.file_name)

    def forget(self, file_name: str) -> None:
        if self._models is not None:
            self._models.forget(file_name)
        if self._files.pop(file_name, None) is None:
            return
        old_views = self._views_by_file.get(file_name, [])
        if self._replace_views(file_name, []):
            self._schedule_registry()
        if self._reregistered:
            self._announce(old_views, file_name)

    def _track_models(self, views_by_file: Mapping[str, list[OAuthCredential]]) -> None:
        if self._models is None:
            return
        for name, views in views_by_file.items():
            self._models.track(name, views)

    def _views(self, credential: Credential) -> list[OAuthCredential]:
        return build_views(credential, self._token_source, base_url=self._base_url,
                           fallback_urls=self._fallback_urls)

    def _reindex(self) -> None:
        by_id: dict[str, OAuthCredential] = {}
        by_provider: dict[str, list[OAuthCredential]] = {}
        for name in sorted(self._views_by_file):
            for view in self._views_by_file[name]:
                by_id[view.id] = view
                if not view.disabled:
                    by_provider.setdefault(view.provider, []).append(view)
        for views in by_provider.values():
            views.sort(key=_view_id)
        self._by_id, self._by_provider = by_id, by_provider

    def rebuild_views(self) -> None:
        """Views carry the inference base URLs the config named when they were built; a change
        of ``gateway.provider-endpoints`` builds every file's views again."""
        changed = False
        for name, credential in list(self._files.items()):
            changed = self._replace_views(name, self._views(credential)) or changed
        if changed:
            self._schedule_registry()

    def _replace_views(self, file_name: str, views: list[OAuthCredential]) -> bool:
        """Swap one file's views in the indexes (a few list operations, not a rebuild: a burst
        of outside edits must not cost O(files) each). True when what the model registry
        registers for the file changed (a token change alone does not)."""
        old = self._views_by_file.pop(file_name, [])
        for view in old:
            self._by_id.pop(view.id, None)
            bucket = self._by_provider.get(view.provider)
            if bucket is not None and not view.disabled:
                at = bisect.bisect_left(bucket, view.id, key=_view_id)
                if at < len(bucket) and bucket[at].id == view.id:
                    del bucket[at]
        if views:
            self._views_by_file[file_name] = views
        for view in views:
            self._by_id[view.id] = view
            if not view.disabled:
                bisect.insort(self._by_provider.setdefault(view.provider, []), view, key=_view_id)
        return _registered(old) != _registered(views)

    def _schedule_registry(self) -> None:
        """Rebuild the model registry shortly, once for a whole burst of changes (the Quotio app
        can rewrite every file at once; one rebuild costs tens of milliseconds at 1,000)."""
        if self._registry is None or self._registry_pending is not None:
            return
        self._registry_pending = asyncio.get_running_loop().call_later(REGISTRY_DEBOUNCE, self._registry_now)

    def _registry_now(self) -> None:
        self._registry_pending = None
        if self._registry is not None:
            self._registry.refresh()

    def _registry_changed(self) -> None:
        if self._registry_pending is not None:
            self._registry_pending.cancel()
        self._registry_now()

    # --- tokens -----------------------------------------------------------------------------

    def _token_source(self, credential: Credential) -> TokenSource:
        name = credential.file_name
        if credential.provider == "github-copilot":
            return ExchangedToken(self, name, self._copilot_cache, b"failed to get copilot api token")
        if credential.provider == "vertex":
            return ExchangedToken(self, name, self._vertex_cache, b"vertex: failed to mint access token",
                                  internal_error=True)
        return FileToken(self, name)

    def _copilot_cache(self) -> TokenCache | None:
        if self._copilot is None:
            from handlers.logins.device_copilot import CopilotTokenCache
            from handlers.logins.endpoints import endpoints_for

            session, _ = self.client.session_for("")
            self._copilot = CopilotTokenCache(session, endpoints_for("github-copilot", self._current_config()))
        return self._copilot

    def _vertex_cache(self) -> TokenCache | None:
        if self._vertex is None:
            from handlers.logins.endpoints import endpoints_for
            from handlers.logins.vertex_import import VertexTokenMinter

            session, _ = self.client.session_for("")
            self._vertex = VertexTokenMinter(session, endpoints_for("vertex", self._current_config()))
        return self._vertex

    def _current_config(self) -> Any:
        return self._config() if callable(self._config) else self._config

    def default_proxy(self) -> str:
        return configured_proxy(self._current_config())

    def file_credential(self, file_name: str) -> Credential | None:
        """The current copy of a file. Saves made through the same store object (a refresh
        manager sharing it) reach the watcher without an outside-change event; they are picked
        up here, at the next use.

        Only a watcher copy not seen before counts as news. A different revision alone does not:
        after adopting another process's refresh (read from the store, so the watcher has not
        polled it yet) the watcher still holds the older copy, which must not replace ours."""
        mine = self._files.get(file_name)
        if self._watcher is not None and mine is not None:
            live = self._watcher.credentials.get(file_name)
            if live is not None and live is not self._live_seen.get(file_name):
                self._live_seen[file_name] = live
                if live is not mine and live.revision != mine.revision:
                    self.apply(live)
                    return live
        return mine

    def now(self) -> datetime:
        return self._clock()

    async def refresh_file(self, file_name: str) -> Credential | None:
        """Refresh one file through the refresher, once at a time per file: concurrent callers
        share the same attempt. ``None`` when there is no refresher or the file is gone; a
        refresher failure is logged and the current copy is returned (the upstream will tell
        whether the old token still works)."""
        current = self._files.get(file_name)
        if current is None or self._refresher is None:
            return current
        task = self._refreshing.get(file_name)
        if task is None:
            # A task, not an inline await: a caller that gives up (client gone) must not cancel
            # the refresh the other callers are waiting for.
            task = asyncio.create_task(self._refresh(current), name=f"refresh-on-use:{file_name}")
            self._refreshing[file_name] = task
            task.add_done_callback(lambda _: self._refreshing.pop(file_name, None))
        return await asyncio.shield(task)

    async def refresh_now(self, credential_id: str) -> bool:
        """After an upstream 401: get a new token now, whatever the recorded expiry says.

        File tokens go through the refresher (shared with any refresh already running);
        exchanged tokens (Copilot, Vertex) are bought again. True when a different token is now
        available, so the caller may retry once; False means give up on this credential.
        """
        view = self._by_id.get(credential_id)
        current = self._files.get(_file_of(credential_id))
        if view is None or current is None:
            return False
        if isinstance(view.tokens, ExchangedToken):
            cache = view.tokens.cache()
            if cache is None:
                return False
            try:
                await cache.get(current, force=True)
            except Exception as exc:
                log.warning("token exchange after 401 failed", credential=credential_id, error=type(exc).__name__)
                return False
            return True
        before = file_token(current)
        if self._unauthorized is not None:
            # The refresh manager's own rule: one refresh per refused token, then give up.
            retried = await self._unauthorized(current.file_name, before)
            if retried is None:
                return False
            self.apply(retried, own_refresh=True)
            return file_token(retried) not in ("", before)
        refreshed = await self.refresh_file(current.file_name)
        return refreshed is not None and file_token(refreshed) not in ("", before)

    async def _refresh(self, current: Credential) -> Credential | None:
        assert self._refresher is not None
        try:
            refreshed = await self._refresher(current)
        except Exception as exc:
            log.warning("refresh on use failed", file=current.file_name, provider=current.provider,
                        error=type(exc).__name__)
            return self._files.get(current.file_name)
        if self._files.get(current.file_name) is None:
            return None  # deleted while refreshing: do not bring it back
        self.apply(refreshed, own_refresh=True)
        return refreshed

    # --- queries (no I/O) -------------------------------------------------------------------

    def files(self) -> list[Credential]:
        """Every credential file held now (the management list reads these)."""
        return list(self._files.values())

    def get(self, credential_id: str) -> OAuthCredential | None:
        return self._by_id.get(credential_id)

    def usable(self, credential_id: str) -> OAuthCredential | None:
        """The view when it may serve now: known, enabled, and not blocked by a failed refresh."""
        view = self._by_id.get(credential_id)
        if view is None or view.disabled:
            return None
        if self._blocked is not None and self._blocked(_file_of(view.id)):
            return None
        return view

    def needs_refresh(self, credential_id: str) -> bool:
        """True when using this credential now would wait for a refresh (its token is due).

        The refresh is started in the background (shared with any caller that does wait), so
        selection can serve from another credential meanwhile and this one is ready again after.
        """
        view = self._by_id.get(credential_id)
        if view is None or self._refresher is None or not isinstance(view.tokens, FileToken):
            return False
        name = _file_of(credential_id)
        current = self._files.get(name)
        if current is None or not is_due(current, self.now()):
            return False
        if name not in self._refreshing:
            task = asyncio.get_running_loop().create_task(self.refresh_file(name), name=f"refresh-ahead:{name}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return True

    def credentials(self) -> list[OAuthCredential]:
        """Every view, disabled ones included, sorted by id."""
        return [self._by_id[key] for key in sorted(self._by_id)]

    def records(self) -> list[CredentialRecord]:
        """What the model registry registers: enabled views, in id order."""
        return [CredentialRecord(provider=view.provider, prefix=view.prefix, id=view.id,
                                 models=self._fetched_models(view))
                for view in self.credentials() if not view.disabled]

    def _fetched_models(self, view: OAuthCredential) -> tuple[ModelInfo, ...] | None:
        """Antigravity's live list (empty until it arrived); ``None`` = the static catalogue."""
        if self._models is None or view.provider != "antigravity":
            return None
        return self._models.models(_file_of(view.id)) or ()

    def candidates(self, provider_keys: Iterable[str], model: str) -> list[OAuthCredential]:
        """Enabled credentials of these providers that serve ``model`` (per the model registry,
        which applies exclusions, aliases and prefixes; without a registry, by provider only).
        Order is by provider key then id; selection decides among them."""
        registry = self._registry.current if self._registry is not None else None
        wanted = split_thinking_suffix(model).name
        out: list[OAuthCredential] = []
        for key in dict.fromkeys(p.strip().lower() for p in provider_keys):
            for view in self._by_provider.get(key, ()):
                if self._blocked is not None and self._blocked(_file_of(view.id)):
                    continue  # its refresh failed and its token is unusable
                if registry is None or registry.supports(view.id, wanted):
                    out.append(view)
        return out

    def executor_for(self, credential: OAuthCredential, client: UpstreamClient | None = None) -> OAuthExecutor:
        """The shared executor of the credential's provider (``KeyError`` for none).

        ``client`` lets a caller that owns the pooled sessions (the inference runtime's
        ``CredentialSource`` protocol) have its executors send through them; by default the
        runtime's own client is used. One executor per (provider, client).
        """
        pool = client or self.client
        key = (credential.provider, id(pool))
        executor = self._executors.get(key)
        if executor is None:
            executor = self._executors[key] = EXECUTOR_CLASSES[credential.provider](pool)
        return executor
