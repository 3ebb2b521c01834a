"""Management access control, step for step as CLIProxyAPI v6.7.15's management middleware.

Order of checks (each failure is the exact legacy answer):
  availability (no secret anywhere -> Gin 404) -> remote IP ban -> remote allowed? ->
  key present? -> local runtime password -> MANAGEMENT_PASSWORD -> bcrypt secret-key.

One deliberate difference: Gin trusts X-Forwarded-For / X-Real-IP from any peer, so any client
could claim to be 127.0.0.1. Here those headers count only when the socket peer is listed in
``server.trusted_proxies`` of the flag table.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bcrypt
import structlog
from aiohttp import web

from ..appkeys import CONFIG_STORE, FLAG_STORE, RUNTIME
from ..goduration import format_whole_seconds
from ..gostrings import go_trim
from ..native import Handler
from .responses import error_response, gin_not_found, with_cpa_headers

if TYPE_CHECKING:
    from ..config.models import Config

log = structlog.get_logger("quotio_gateway.management.auth")

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60
CLEANUP_INTERVAL_SECONDS = 60 * 60
MAX_IDLE_SECONDS = 2 * 60 * 60
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})
# Go's bcrypt keys Blowfish with at most 72 bytes of the password; Python's bcrypt refuses longer.
BCRYPT_MAX_BYTES = 72
_VERIFIED_CACHE_SIZE = 32


def _raw(text: str) -> bytes:
    # aiohttp decodes header bytes as UTF-8 with surrogateescape; this gives back what was sent.
    return text.encode("utf-8", "surrogateescape")


def go_duration(seconds: float) -> str:
    """``time.Duration.Round(time.Second).String()`` for non-negative durations."""
    return format_whole_seconds(int(seconds + 0.5))


# ---------------------------------------------------------------------------------------------
# Client address


@functools.lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for entry in trusted:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            log.warning("ignoring invalid trusted proxy entry", entry=entry)
    return tuple(nets)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical(text: str) -> str:
    # Go prints IPv4-mapped IPv6 peers in dotted form; so does this.
    address = _parse_ip(text)
    return str(address) if address is not None else text


def _forwarded_client(value: str, is_trusted: Callable[[str], bool]) -> str | None:
    """Gin's header walk: rightmost address that is not a trusted proxy (or the leftmost one)."""
    items = value.split(",")
    for index in range(len(items) - 1, -1, -1):
        candidate = items[index].strip()
        if _parse_ip(candidate) is None:
            return None
        if index == 0 or not is_trusted(candidate):
            return candidate
    return None


def client_ip(request: web.Request, trusted: list[str]) -> str:
    """The address management access is decided on.

    The socket peer, unless the peer is a trusted proxy, in which case X-Forwarded-For and then
    X-Real-IP are read the way Gin reads them.
    """
    peer = _canonical(request.remote or "")
    nets = _networks(tuple(trusted))
    if not nets:
        return peer

    def is_trusted(text: str) -> bool:
        address = _parse_ip(text)
        return address is not None and any(address in net for net in nets)

    if not is_trusted(peer):
        return peer
    for header in ("X-Forwarded-For", "X-Real-IP"):
        value = request.headers.get(header, "")
        if value:
            found = _forwarded_client(value, is_trusted)
            if found is not None:
                return found
    return peer


def _trusted_proxies(app: web.Application) -> list[str]:
    store = app.get(FLAG_STORE)
    if store is None:
        return []
    return list(store.current.table.server.trusted_proxies)


# ---------------------------------------------------------------------------------------------
# Failure tracking


@dataclass
class _Attempts:
    count: int = 0
    blocked_until: float = 0.0
    last_activity: float = 0.0


class ManagementGuard:
    """Per-IP failed-attempt counters and bans for remote clients, plus startup-time secrets.

    ``MANAGEMENT_PASSWORD`` is read once, when the guard is built, as legacy reads it once at
    startup. ``clock`` is monotonic seconds; tests pass their own.
    """

    def __init__(self, *, env_secret: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if env_secret is None:
            env_secret = os.environ.get("MANAGEMENT_PASSWORD", "")
        self.env_secret = go_trim(env_secret)  # strings.TrimSpace (handler.go reads it once)
        self.clock = clock
        # Whether the legacy would have its management routes mounted: once a secret has existed
        # since start-up they stay, and a later removal is answered by its availability middleware
        # (an empty 404), not by Gin's "404 page not found" (server.go:465-470, 627-635, 944-963).
        self.mounted = bool(self.env_secret)
        self._attempts: dict[str, _Attempts] = {}
        self._last_cleanup = clock()
        # Keyed digests of keys that already passed bcrypt against a given hash: Quotio probes every
        # few seconds and a cost-10 bcrypt costs tens of milliseconds of CPU each time.
        self._cache_key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, None] = OrderedDict()

    @property
    def allow_remote_override(self) -> bool:
        return self.env_secret != ""

    def ban_remaining(self, ip: str) -> float | None:
        """Seconds left on a ban, or None; an expired ban is cleared here, as legacy does."""
        self._maybe_cleanup()
        entry = self._attempts.get(ip)
        if entry is None or entry.blocked_until == 0.0:
            return None
        now = self.clock()
        if now < entry.blocked_until:
            return entry.blocked_until - now
        entry.blocked_until = 0.0
        entry.count = 0
        return None

    def record_failure(self, ip: str) -> None:
        entry = self._attempts.setdefault(ip, _Attempts())
        entry.count += 1
        entry.last_activity = self.clock()
        if entry.count >= MAX_FAILURES:
            entry.blocked_until = entry.last_activity + BAN_SECONDS
            entry.count = 0

    def record_success(self, ip: str) -> None:
        entry = self._attempts.get(ip)
        if entry is not None:
            entry.count = 0
            entry.blocked_until = 0.0

    def failures(self, ip: str) -> int:
        entry = self._attempts.get(ip)
        return entry.count if entry is not None else 0

    def tracked(self) -> Iterable[str]:
        return tuple(self._attempts)

    def _maybe_cleanup(self) -> None:
        now = self.clock()
        if now - self._last_cleanup < CLEANUP_INTERVAL_SECONDS:
            return
        self._last_cleanup = now
        for ip, entry in list(self._attempts.items()):
            if entry.blocked_until and now < entry.blocked_until:
                continue
            if now - entry.last_activity > MAX_IDLE_SECONDS:
                del self._attempts[ip]

    def _cache_id(self, secret_hash: str, provided: str) -> bytes:
        return hmac.new(self._cache_key, _raw(secret_hash) + b"\0" + _raw(provided), "sha256").digest()

    async def bcrypt_matches(self, secret_hash: str, provided: str) -> bool:
        if not secret_hash:
            return False
        cache_id = self._cache_id(secret_hash, provided)
        if cache_id in self._verified:
            self._verified.move_to_end(cache_id)
            return True
        ok = await asyncio.to_thread(_bcrypt_check, secret_hash, provided)
        if ok:
            self._verified[cache_id] = None
            while len(self._verified) > _VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return ok


def _bcrypt_check(secret_hash: str, provided: str) -> bool:
    try:
        return bcrypt.checkpw(_raw(provided)[:BCRYPT_MAX_BYTES], _raw(secret_hash))
    except ValueError:
        # Not a bcrypt hash at all: Go's CompareHashAndPassword fails the same way.
        return False


MANAGEMENT_GUARD = web.AppKey("management_guard", ManagementGuard)
_fallback_guards: weakref.WeakKeyDictionary[web.Application, ManagementGuard] = weakref.WeakKeyDictionary()


def setup_management_guard(app: web.Application, guard: ManagementGuard | None = None) -> ManagementGuard:
    """Install the guard in app state (call from the app factory, before the app starts)."""
    guard = guard if guard is not None else ManagementGuard()
    app[MANAGEMENT_GUARD] = guard
    store = app.get(CONFIG_STORE)
    if store is not None:
        guard.mounted = guard.mounted or store.current.remote_management.secret_key != ""

        def follow(_old: Config, new: Config) -> None:
            guard.mounted = guard.mounted or new.remote_management.secret_key != ""

        store.subscribe(follow)
    return guard


def guard_for(app: web.Application) -> ManagementGuard:
    guard = app.get(MANAGEMENT_GUARD)
    if guard is None:
        # An app built without setup_management_guard still gets one guard for its lifetime.
        guard = _fallback_guards.get(app)
        if guard is None:
            guard = _fallback_guards[app] = ManagementGuard()
    return guard


# ---------------------------------------------------------------------------------------------
# The check


def provided_key(request: web.Request) -> str:
    """``Authorization: Bearer <k>`` (scheme case-insensitive), any other Authorization value
    verbatim, else ``X-Management-Key``. Never trimmed, never from the query string."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, sep, rest = authorization.partition(" ")
        key = rest if sep and scheme.lower() == "bearer" else authorization
        if key:
            return key
    return request.headers.get("X-Management-Key", "")


def management_key_id(request: web.Request) -> str:
    """A short, non-reversible id of the key a request used, for audit logs ("" when none)."""
    key = provided_key(request)
    if not key:
        return ""
    return hashlib.sha256(_raw(key)).hexdigest()[:12]


def management_enabled(request: web.Request) -> bool:
    """Legacy only serves /v0/management when a secret-key or MANAGEMENT_PASSWORD exists."""
    secret = request.app[CONFIG_STORE].current.remote_management.secret_key
    return secret != "" or guard_for(request.app).env_secret != ""


async def check_management_access(request: web.Request) -> web.Response | None:
    """``None`` when the request may proceed; otherwise the exact legacy refusal."""
    if not management_enabled(request):
        return web.Response(status=404) if guard_for(request.app).mounted else gin_not_found()
    denial = await _check(request)
    return with_cpa_headers(denial) if denial is not None else None


async def _check(request: web.Request) -> web.Response | None:
    app = request.app
    guard = guard_for(app)
    store = app[CONFIG_STORE]
    remote_management = store.current.remote_management
    secret_hash = remote_management.secret_key
    allow_remote = remote_management.allow_remote or guard.allow_remote_override
    if store.emptied_by_management:
        # After an empty PUT /config.yaml the legacy handler reads an empty config: no key, no
        # remote access (handler.go:145-152), until the file holds a config again.
        secret_hash, allow_remote = "", guard.allow_remote_override

    ip = client_ip(request, _trusted_proxies(app))
    local = ip in LOCAL_ADDRESSES
    if not local:
        remaining = guard.ban_remaining(ip)
        if remaining is not None:
            return error_response(
                403, f"IP banned due to too many failed attempts. Try again in {go_duration(remaining)}")
        if not allow_remote:
            return error_response(403, "remote management disabled")
    if not secret_hash and not guard.env_secret:
        return error_response(403, "remote management key not set")

    key = provided_key(request)
    if not key:
        if not local:
            guard.record_failure(ip)
        return error_response(401, "missing management key")

    if local:
        local_password = request.app[RUNTIME].local_password if RUNTIME in app else None
        if local_password and hmac.compare_digest(_raw(key), _raw(local_password)):
            return None

    if guard.env_secret and hmac.compare_digest(_raw(key), _raw(guard.env_secret)):
        if not local:
            guard.record_success(ip)
        return None

    if not await guard.bcrypt_matches(secret_hash, key):
        if not local:
            guard.record_failure(ip)
            log.info("management key rejected", client_ip=ip, failures=guard.failures(ip))
        return error_response(401, "invalid management key")

    if not local:
        guard.record_success(ip)
    return None


def guarded(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Handler:
    """Wrap a management handler: access check first, build headers on whatever it answers."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        denial = await check_management_access(request)
        if denial is not None:
            return denial
        return with_cpa_headers(await handler(request))

    return wrapper
