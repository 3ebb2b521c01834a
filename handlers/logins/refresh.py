"""Keeps OAuth credentials fresh: ahead of expiry in the background, on use, and once after a 401.

    manager = RefreshManager(store, refresh_context(session, lambda: config_store.current),
                             metrics=RefreshMetrics(app_registry))
    manager.load((await store.load_all()).credentials.values())
    watcher = store.watch(manager.on_auth_change)  # file store: outside edits and new logins
    manager.start()                                # background loop, every 5 s as the legacy conductor
    cred = manager.get(name)                       # request path: memory only, no I/O
    usable = manager.usable(candidates)            # leaves out credentials whose refresh failed for good
    cred = await manager.ensure_fresh(name)        # refreshes first only if expired (or inside the skew)
    cred = await manager.on_unauthorized(name, used_token)   # after an upstream 401: None = give up
    await manager.stop()

Rules (sdk/cliproxy/auth/conductor.go at 9b72ea9ef, ``shouldRefresh`` and ``refreshAuth``):

- Due: ``refresh_interval_seconds``/``refresh_interval`` in the file wins; otherwise the provider's
  lead (``REFRESH_LEADS``) before expiry; without an expiry, the lead since the last refresh.
- **Single flight**: one refresh per credential at a time; concurrent callers share its result.
- **Two processes**: a refresh re-reads the credential first (another gateway or CLIProxyAPI may
  have refreshed it already: then we adopt theirs) and saves with ``if_revision``. Losing that race
  (``StoreConflict``) means the other process wrote first; we re-read and adopt its token.
- **Failures** touch nothing stored. They are recorded with exponential backoff (5 min doubling to
  1 h; the legacy retries every 5 min), counted in metrics and logged without secrets. A credential
  whose refresh failed is *blocked* (selection skips it) once its token is expired, or at once when
  the failure is permanent (the refresh token was refused). A new revision of the file (a new
  login, an edit by the Quotio app) clears the failure.
- **401**: ``on_unauthorized`` refreshes once per token. If the token it produced is refused again,
  it gives up: the credential is blocked until its backoff passes or the file changes. After the
  backoff, a 401 on that token refreshes again (once per backoff period).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog

from handlers.auth.credential import Credential, CredentialError, with_default_proxy
from handlers.auth.stores import StoreConflict, StoreError, TokenStore
from handlers.auth.stores.file_store import AuthChange
from handlers.credentials.views import is_disabled
from handlers.logins.device_http import TokenEndpointError
from handlers.logins.device_poll import as_str
from handlers.logins.refresh_metrics import RefreshMetrics
from handlers.logins.refresh_providers import ON_USE_SKEW, REFRESH_LEADS, REFRESHERS, RefreshContext, Refresher
from handlers.logins.vertex_import import ServiceAccountError

log = structlog.get_logger("handlers.logins.refresh")

CHECK_INTERVAL = 5.0
FAILURE_BACKOFF = 300.0
MAX_FAILURE_BACKOFF = 3600.0
# After a refused refresh token, how long to wait before looking whether another writer used it.
CONFLICT_RECHECK = 0.5
# Providers whose usable token lives in memory, not in the file.
MEMORY_TOKEN_PROVIDERS = frozenset({"github-copilot", "vertex"})
INTERVAL_KEYS = ("refresh_interval_seconds", "refreshIntervalSeconds", "refresh_interval", "refreshInterval")

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

C = TypeVar("C")


class RefreshFailed(RuntimeError):
    """A refresh that did not produce a usable credential; nothing stored was changed."""

    def __init__(self, file_name: str, message: str, *, permanent: bool = False) -> None:
        super().__init__(f"{file_name}: {message}")
        self.file_name = file_name
        self.permanent = permanent


class CredentialGone(LookupError):
    """The credential was deleted from the store (or never known)."""


@dataclass
class FailureState:
    count: int
    next_attempt: float
    permanent: bool
    message: str
    # The stored revision the failure is about; any other revision clears it.
    revision: str | None


def interval_seconds(value: Any) -> float:
    """``refresh_interval*`` values: numbers are seconds; strings are Go durations or seconds."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else 0.0
    if not isinstance(value, str) or not value.strip():
        return 0.0
    text = value.strip()
    if _GO_DURATION.sub("", text) == "" and _GO_DURATION.search(text):
        total = sum(float(num) * _GO_UNITS[unit] for num, unit in _GO_DURATION.findall(text))
        return total if total > 0 else 0.0
    try:
        seconds = float(text)
    except ValueError:
        return 0.0
    return seconds if seconds > 0 else 0.0


def token_of(credential: Credential) -> str:
    """The token an executor sends upstream for this credential (iFlow sends its API key)."""
    meta = credential.metadata
    if credential.provider == "iflow" and (api_key := as_str(meta.get("api_key"))):
        return api_key
    token = as_str(meta.get("access_token")) or as_str(meta.get("accessToken"))
    nested = meta.get("token")
    if not token and isinstance(nested, dict):
        token = as_str(nested.get("access_token"))
    return token


class RefreshManager:
    def __init__(self, store: TokenStore, context: RefreshContext, *, metrics: RefreshMetrics | None = None,
                 clock: Callable[[], float] = time.time, leads: dict[str, float | None] | None = None,
                 on_use_skew: dict[str, float] | None = None, refreshers: dict[str, Refresher] | None = None,
                 failure_backoff: float = FAILURE_BACKOFF, max_failure_backoff: float = MAX_FAILURE_BACKOFF,
                 check_interval: float = CHECK_INTERVAL, concurrency: int = 4,
                 conflict_recheck: float = CONFLICT_RECHECK) -> None:
        self.store = store
        self.context = context
        self.metrics = metrics
        self.clock = clock
        self.leads = REFRESH_LEADS if leads is None else leads
        self.on_use_skew = ON_USE_SKEW if on_use_skew is None else on_use_skew
        self.refreshers = REFRESHERS if refreshers is None else refreshers
        self.failure_backoff = failure_backoff
        self.max_failure_backoff = max_failure_backoff
        self.check_interval = check_interval
        self.conflict_recheck = conflict_recheck
        self._credentials: dict[str, Credential] = {}
        self._failures: dict[str, FailureState] = {}
        self._in_flight: dict[str, asyncio.Task[Credential]] = {}
        self._last_success: dict[str, float] = {}
        # Token produced by a refresh that a 401 triggered, and when; a 401 on it again within
        # the failure backoff means give up (see on_unauthorized).
        self._after_unauthorized: dict[str, tuple[str, float]] = {}
        # Refreshed credentials the store could not take; saved before the provider is asked again.
        self._unsaved: dict[str, Credential] = {}
        self._semaphore = asyncio.Semaphore(concurrency)
        self._loop_task: asyncio.Task[None] | None = None

    # ---- the in-memory table (request path: no I/O) -------------------------------------------

    def load(self, credentials: Iterable[Credential]) -> None:
        self._credentials = {c.file_name: c for c in credentials}
        self._publish()

    def upsert(self, credential: Credential) -> None:
        """A credential (re)loaded from the store; a new revision clears its recorded failure."""
        name = credential.file_name
        self._credentials[name] = credential
        failure = self._failures.get(name)
        if failure is not None and failure.revision != credential.revision:
            self._failures.pop(name, None)
            self._after_unauthorized.pop(name, None)
        self._publish()

    def remove(self, file_name: str) -> None:
        for table in (self._credentials, self._failures, self._last_success, self._after_unauthorized, self._unsaved):
            table.pop(file_name, None)
        self._publish()

    async def on_auth_change(self, change: AuthChange) -> None:
        """Follow the auth-dir watcher (``store.watch(manager.on_auth_change)``): outside edits,
        new logins and deletions reach the table; an ``invalid`` file keeps its last good copy."""
        if change.kind == "upsert" and change.credential is not None:
            self.upsert(change.credential)
        elif change.kind == "remove":
            self.remove(change.file_name)

    def get(self, file_name: str) -> Credential | None:
        return self._credentials.get(file_name)

    def failure(self, file_name: str) -> FailureState | None:
        return self._failures.get(file_name)

    def is_blocked(self, file_name: str, now: float | None = None) -> bool:
        """True when selection must skip the credential: its refresh failed and its token is unusable."""
        failure = self._failures.get(file_name)
        credential = self._credentials.get(file_name)
        if failure is None or credential is None:
            return False
        if failure.permanent:
            return True
        moment = self.clock() if now is None else now
        if file_name in self._after_unauthorized or credential.provider in MEMORY_TOKEN_PROVIDERS:
            return moment < failure.next_attempt
        return credential.expiry is not None and credential.expiry.timestamp() <= moment

    def usable(self, candidates: Sequence[C], name_of: Callable[[C], str]) -> list[C]:
        """The candidates selection may pick; ``name_of`` gives each one's credential file name."""
        now = self.clock()
        return [c for c in candidates if not self.is_blocked(name_of(c), now)]

    # ---- when to refresh --------------------------------------------------------------------

    def _last_refresh(self, credential: Credential) -> float | None:
        stamps = [self._last_success.get(credential.file_name)]
        if credential.last_refresh is not None:
            stamps.append(credential.last_refresh.timestamp())
        known = [s for s in stamps if s is not None]
        return max(known) if known else None

    def is_due(self, credential: Credential, now: float | None = None) -> bool:
        """The legacy conductor's ``shouldRefresh``."""
        moment = self.clock() if now is None else now
        expiry = credential.expiry.timestamp() if credential.expiry is not None else None
        last = self._last_refresh(credential)
        interval = next((s for key in INTERVAL_KEYS if (s := interval_seconds(credential.metadata.get(key))) > 0), 0.0)
        if interval > 0:
            if expiry is not None and expiry - moment <= interval:
                return True
            return last is None or moment - last >= interval
        lead = self.leads.get(credential.provider)
        if lead is None:
            return False
        if lead <= 0:
            return expiry is not None and moment > expiry
        if expiry is not None:
            refreshed = self._last_success.get(credential.file_name)
            if refreshed is not None and expiry - refreshed <= lead:
                # The provider hands out tokens shorter-lived than the lead: the legacy would refresh
                # on every pass; wait for half the token's life instead.
                return moment >= refreshed + (expiry - refreshed) / 2
            return expiry - moment <= lead
        return last is None or moment - last >= lead

    def _token_in_use(self, credential: Credential) -> str:
        """What executors send for this credential now: the file's token, or the in-memory one."""
        if credential.provider == "github-copilot":
            return self.context.copilot.current(credential.file_name) if self.context.copilot else ""
        if credential.provider == "vertex":
            return self.context.vertex.current(credential.file_name) if self.context.vertex else ""
        return token_of(credential)

    def _needs_on_use(self, credential: Credential, now: float) -> bool:
        if credential.provider in MEMORY_TOKEN_PROVIDERS or credential.expiry is None:
            return False
        return credential.expiry.timestamp() - now <= self.on_use_skew.get(credential.provider, 0.0)

    def _backing_off(self, file_name: str, now: float) -> bool:
        failure = self._failures.get(file_name)
        return failure is not None and (failure.permanent or now < failure.next_attempt)

    # ---- refreshing ---------------------------------------------------------------------------

    async def refresh(self, file_name: str, *, reason: str = "manual", used_token: str = "") -> Credential:
        """Refresh now (joining a refresh already running); raises RefreshFailed / CredentialGone."""
        task = self._in_flight.get(file_name)
        if task is None:
            task = asyncio.create_task(self._guarded_refresh(file_name, reason, used_token))
            self._in_flight[file_name] = task
            task.add_done_callback(self._finished)
        # Shielded: one caller giving up (a client disconnect) must not cancel the shared refresh.
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Task[Credential]) -> None:
        for name, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[name]
        # Mark the outcome as seen: a caller that stopped waiting must not leave a stray warning.
        if not task.cancelled():
            task.exception()

    async def ensure_fresh(self, file_name: str) -> Credential:
        """The credential to use now; refreshed first when it is expired or inside its on-use skew."""
        credential = self._credentials.get(file_name)
        if credential is None:
            raise CredentialGone(file_name)
        now = self.clock()
        if not self._needs_on_use(credential, now) or self._backing_off(file_name, now):
            return credential
        return await self.refresh(file_name, reason="on_use")

    def as_refresher(self) -> Callable[[Credential], Awaitable[Credential]]:
        """An ``async (credential) -> credential`` refresher for callers that hold their own copy
        (the credential runtime): refreshes unless the stored copy already carries a newer token."""

        async def refresh_credential(credential: Credential) -> Credential:
            if credential.file_name not in self._credentials:
                self.upsert(credential)
            return await self.refresh(credential.file_name, reason="runtime", used_token=token_of(credential))

        return refresh_credential

    async def on_unauthorized(self, file_name: str, used_token: str = "") -> Credential | None:
        """After an upstream 401: a credential to retry with once, or None to give up cleanly."""
        credential = self._credentials.get(file_name)
        if credential is None:
            return None
        marker = self._after_unauthorized.get(file_name)
        # Refused again soon after the refresh a 401 caused: another refresh would not help. Only
        # soon after: once the backoff has passed, a token refused again (it may have served for
        # hours) is refreshed once more, or the credential would stay unusable until its next
        # scheduled refresh. At most one 401-driven refresh per backoff period, never a storm.
        if used_token and marker is not None and used_token == marker[0] \
                and self.clock() - marker[1] < self.failure_backoff:
            self._record_failure(credential, "the refreshed token was refused again (HTTP 401)", permanent=False,
                                 reason="unauthorized")
            log.warning("credential refused right after its refresh; giving up", provider=credential.provider,
                        file=file_name)
            return None
        if self._backing_off(file_name, self.clock()):
            return None
        try:
            return await self.refresh(file_name, reason="unauthorized", used_token=used_token)
        except (RefreshFailed, CredentialGone):
            return None

    async def _guarded_refresh(self, file_name: str, reason: str, used_token: str) -> Credential:
        provider = self._credentials[file_name].provider if file_name in self._credentials else "unknown"
        started = time.perf_counter()
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            async with self._semaphore:
                return await self._refresh_now(file_name, reason, used_token)
        finally:
            if self.metrics is not None:
                self.metrics.in_flight.dec()
                self.metrics.duration.labels(provider=provider).observe(time.perf_counter() - started)

    async def _read(self, file_name: str, reason: str) -> Credential:
        try:
            current = await self.store.get(file_name)
        except (CredentialError, StoreError) as exc:
            # A half-written or hand-broken file, or a store that is down: keep our last good copy,
            # change nothing, try again after the backoff.
            message = (f"stored credential unreadable ({exc.reason})" if isinstance(exc, CredentialError)
                       else f"store unavailable: {exc}")
            if (known := self._credentials.get(file_name)) is not None:
                self._record_failure(known, message, permanent=False, reason=reason)
            raise RefreshFailed(file_name, message) from None
        if current is None:
            self.remove(file_name)
            raise CredentialGone(file_name)
        return current

    def _already_fresh(self, current: Credential, reason: str, used_token: str, now: float) -> bool:
        """Someone else (another process, a new login) refreshed since we decided to."""
        if reason == "due":
            return not self.is_due(current, now)
        if reason == "on_use":
            return not self._needs_on_use(current, now)
        if reason in ("unauthorized", "runtime"):
            latest = self._token_in_use(current)
            return bool(used_token and latest) and latest != used_token and not self._needs_on_use(current, now)
        # An explicit (manual) refresh always asks the provider.
        return False

    async def _refresh_now(self, file_name: str, reason: str, used_token: str) -> Credential:
        current = await self._read(file_name, reason)
        now = self.clock()
        provider = current.provider
        if self._already_fresh(current, reason, used_token, now):
            self._adopt(current, reason, "adopted")
            return current
        pending = self._unsaved.get(file_name)
        if pending is not None and pending.revision == current.revision:
            # Our last refresh worked but could not be stored: store it before asking the provider
            # again, which may have rotated the refresh token the file still holds.
            return await self._store(pending, reason, now)
        refresher = self.refreshers.get(provider)
        if refresher is None:
            raise RefreshFailed(file_name, f"no refresher for provider {provider}", permanent=True)
        try:
            updates = await refresher(self.context, with_default_proxy(current, self.context.default_proxy()),
                                      datetime.fromtimestamp(now, tz=UTC))
        except TokenEndpointError as exc:
            if exc.permanent and (winner := await self._refreshed_meanwhile(current, reason)) is not None:
                # Providers that rotate refresh tokens refuse the old one once another process
                # used it; that process's fresh token is already stored.
                return winner
            self._record_failure(current, str(exc), permanent=exc.permanent, reason=reason)
            raise RefreshFailed(file_name, str(exc), permanent=exc.permanent) from None
        except ServiceAccountError as exc:
            self._record_failure(current, str(exc), permanent=True, reason=reason)
            raise RefreshFailed(file_name, str(exc), permanent=True) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a provider answer we did not foresee must not kill the loop
            message = f"unexpected {type(exc).__name__}"
            self._record_failure(current, message, permanent=False, reason=reason)
            raise RefreshFailed(file_name, message) from None
        if not updates:
            self._succeed(current, reason, now)
            return current
        return await self._store(current.with_metadata(**updates), reason, now)

    async def _refreshed_meanwhile(self, read: Credential, reason: str) -> Credential | None:
        latest: Credential | None = None
        # Look twice: the process that used the refresh token first may still be writing its result.
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(self.conflict_recheck)
            try:
                latest = await self.store.get(read.file_name)
            except (CredentialError, StoreError):
                return None
            if latest is not None and latest.revision != read.revision and token_of(latest) != token_of(read):
                break
        else:
            return None
        if latest is None:
            return None
        self._adopt(latest, reason, "conflict")
        log.info("refresh token already used by another writer; adopted the stored copy",
                 provider=read.provider, file=read.file_name)
        return latest

    async def _store(self, refreshed: Credential, reason: str, now: float) -> Credential:
        name = refreshed.file_name
        try:
            saved = await self.store.save(refreshed, if_revision=refreshed.revision)
        except StoreConflict:
            # Another writer won between our read and our write: theirs is the newer credential.
            self._unsaved.pop(name, None)
            winner = await self._read(name, reason)
            self._adopt(winner, reason, "conflict")
            log.info("credential refreshed elsewhere first; adopted the stored copy", provider=refreshed.provider,
                     file=name)
            return winner
        except StoreError as exc:
            # Use the new token in memory; save it before the next refresh call (see _refresh_now).
            self._unsaved[name] = refreshed
            self._credentials[name] = refreshed
            self._record_failure(refreshed, f"refreshed but not stored: {exc}", permanent=False, reason=reason)
            raise RefreshFailed(name, f"refreshed but not stored: {exc}") from None
        self._unsaved.pop(name, None)
        self._succeed(saved, reason, now)
        return saved

    def _succeed(self, credential: Credential, reason: str, now: float) -> None:
        name = credential.file_name
        self._credentials[name] = credential
        self._failures.pop(name, None)
        self._last_success[name] = now
        if reason == "unauthorized":
            self._after_unauthorized[name] = (self._token_in_use(credential), now)
        else:
            self._after_unauthorized.pop(name, None)
        if self.metrics is not None:
            self.metrics.refreshes.labels(provider=credential.provider, reason=reason, result="success").inc()
        log.info("credential refreshed", provider=credential.provider, file=name, reason=reason,
                 expires=credential.expiry.isoformat() if credential.expiry else None)
        self._publish()

    def _adopt(self, credential: Credential, reason: str, result: str) -> None:
        name = credential.file_name
        self._credentials[name] = credential
        self._failures.pop(name, None)
        if self.metrics is not None:
            self.metrics.refreshes.labels(provider=credential.provider, reason=reason, result=result).inc()
        self._publish()

    def _record_failure(self, credential: Credential, message: str, *, permanent: bool, reason: str) -> None:
        name = credential.file_name
        previous = self._failures.get(name)
        count = (previous.count if previous else 0) + 1
        delay = min(self.failure_backoff * 2 ** (count - 1), self.max_failure_backoff)
        self._failures[name] = FailureState(count=count, next_attempt=self.clock() + delay, permanent=permanent,
                                            message=message, revision=credential.revision)
        if self.metrics is not None:
            self.metrics.refreshes.labels(provider=credential.provider, reason=reason, result="failure").inc()
        log.warning("credential refresh failed", provider=credential.provider, file=name, reason=reason,
                    failures=count, retry_in=None if permanent else round(delay), permanent=permanent,
                    error=message)
        self._publish()

    def _publish(self) -> None:
        if self.metrics is None:
            return
        now = self.clock()
        blocked: dict[str, int] = {}
        failing: dict[str, int] = {}
        for name, failure in self._failures.items():
            credential = self._credentials.get(name)
            if credential is None:
                continue
            failing[credential.provider] = failing.get(credential.provider, 0) + 1
            if failure.permanent or self.is_blocked(name, now):
                blocked[credential.provider] = blocked.get(credential.provider, 0) + 1
        self.metrics.set_states(blocked, failing)

    # ---- background loop ----------------------------------------------------------------------

    def due_names(self, now: float | None = None) -> list[str]:
        moment = self.clock() if now is None else now
        # A disabled credential serves nothing, and the legacy's shouldRefresh skips it: refreshing
        # it would only spend (and, for rotating refresh tokens, replace) its grant.
        return sorted(name for name, cred in self._credentials.items()
                      if name not in self._in_flight and not is_disabled(cred.metadata)
                      and not self._backing_off(name, moment) and self.is_due(cred, moment))

    async def run_due(self) -> list[str]:
        """One pass of the loop: refresh every due credential; returns the names that succeeded."""
        names = self.due_names()
        results = await asyncio.gather(*(self.refresh(name, reason="due") for name in names),
                                       return_exceptions=True)
        done: list[str] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, Credential):
                done.append(name)
        self._publish()
        return done

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop outlives any single bad pass
                log.error("refresh pass failed", error=type(exc).__name__)
            await asyncio.sleep(self.check_interval)

    def start(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._loop(), name="credential-refresh")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._in_flight.values()) if t is not None]
        self._loop_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
