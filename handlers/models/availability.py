"""Which registered models the model lists show right now (``GetAvailableModels``).

CLIProxyAPI v6.7.15 keeps, per model, the clients ``MarkResult`` suspended (conductor.go:1336-1401:
401 ``unauthorized``, 402/403 ``payment_required``, 404 ``not_found``, 429 ``quota``) and the
clients that hit a 429 in the last five minutes (model_registry.go:594-603). A model leaves the
lists once no client is left that is neither: ``effective = count - quota429 - otherSuspended``,
listed when ``effective > 0`` or when the only missing clients are quota-cooling
(model_registry.go:704-751). So a quota problem never hides a model, while a key that answered
401/403/404 hides the models nobody else serves, until a request on it succeeds again.

The native side keeps that standing in the rotation state (``handlers/rotation/state.py``), keyed
like the legacy by credential id and the model string the request resolved to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from .catalog import ModelInfo
from .registry import ModelRegistry

if TYPE_CHECKING:
    # Only for the annotation: the rotation package imports this package's listing module.
    from handlers.rotation.state import ModelState

# Where the app keeps the rotation state the lists read (set by the inference runtime).
STANDING: web.AppKey[Standing] = web.AppKey("model_standing")
QUOTA_WINDOW_SECONDS = 5 * 60.0  # ``quotaExpiredDuration``
_QUOTA_REASON = "quota"


class Standing(Protocol):
    """What the listing reads from the rotation state."""

    def recorded(self) -> bool: ...

    def get(self, credential_id: str, model: str) -> ModelState | None: ...

    def now(self) -> float: ...


def is_listed(count: int, quota_recent: int, other_suspended: int, quota_suspended: int) -> bool:
    """The legacy's inclusion rule, with its own counters."""
    effective = max(0, count - quota_recent - other_suspended)
    if effective > 0:
        return True
    return count > 0 and (quota_recent > 0 or quota_suspended > 0) and other_suspended == 0


def _counters(registry: ModelRegistry, standing: Standing, model: str, now: float) -> tuple[int, int, int, int]:
    """(registrations, clients in the quota window, suspended for another reason, suspended for quota)."""
    clients = registry.clients(model)
    quota_recent = other = quota_suspended = 0
    for credential_id in dict.fromkeys(clients):
        state = standing.get(credential_id, model)
        if state is None:
            continue
        if state.quota_at is not None and now - state.quota_at < QUOTA_WINDOW_SECONDS:
            quota_recent += 1
        if state.suspend_reason == _QUOTA_REASON:
            quota_suspended += 1
        elif state.suspend_reason:
            other += 1
    return len(clients), quota_recent, other, quota_suspended


def listed_models(registry: ModelRegistry, standing: Standing | None) -> list[ModelInfo]:
    """``registry.available()`` minus the models whose every client is suspended for a reason
    other than quota (all of them, without rotation state)."""
    models = registry.available()
    if standing is None or not standing.recorded():
        return models
    now = standing.now()
    return [info for info in models if is_listed(*_counters(registry, standing, info.id, now))]


def first_available(registry: ModelRegistry, standing: Standing | None) -> str | None:
    """What ``auto`` becomes (``GetFirstAvailableModel``): of the listed models, newest ``created``
    first, the first that still has a client neither quota-cooling nor suspended for any reason
    (``GetModelCount``). Ties keep registry order (Go's sort is not stable, so any order is its)."""
    if standing is None or not standing.recorded():
        return registry.first_available()
    now = standing.now()
    best: ModelInfo | None = None
    for info in registry.available():
        # A usable client left means the model is listed too (``effective`` is then above zero).
        count, quota_recent, other, quota_suspended = _counters(registry, standing, info.id, now)
        if count - quota_recent - other - quota_suspended > 0 and (best is None or info.created > best.created):
            best = info
    return best.id if best is not None else None
