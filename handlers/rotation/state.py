"""Per credential × model health: what the legacy ``MarkResult`` records and what blocks a pick.

Facts: CLIProxyAPI v6.7.15 ``sdk/cliproxy/auth/conductor.go`` (``MarkResult``,
``nextQuotaCooldown``) and ``selector.go`` (``isAuthBlockedForModel``); reference B6.

The model key is the route model exactly as the caller resolved it, thinking suffix included
(``gemini-2.5-pro(8192)`` cools separately from ``gemini-2.5-pro``), because that is the string
the legacy conductor keys its state by.

Upstream error bodies are not kept (the legacy stores them as the credential's last error):
some providers echo part of the key they rejected, and secrets never go into state. The status
and reason word are enough to explain a cooldown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Clock = Callable[[], float]
BlockReason = Literal["none", "cooldown", "other"]

ACTIVE = "active"
ERROR = "error"

QUOTA_BACKOFF_BASE = 1.0  # seconds; doubles per consecutive 429 without a hint
QUOTA_BACKOFF_MAX = 30 * 60.0
AUTH_COOLDOWN = 30 * 60.0  # 401, 402, 403
NOT_FOUND_COOLDOWN = 12 * 3600.0  # 404
TRANSIENT_COOLDOWN = 60.0  # 408, 500, 502, 503, 504
_TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
_SUSPEND_REASONS = {401: "unauthorized", 402: "payment_required", 403: "payment_required", 404: "not_found",
                    429: "quota"}


def next_quota_cooldown(level: int, *, disabled: bool = False) -> tuple[float, int]:
    """``nextQuotaCooldown``: (cooldown seconds, next level). 1 s × 2^level until the 30 min cap,
    where the level stops climbing; ``disable-cooling`` gives no cooldown and keeps the level."""
    level = max(0, level)
    if disabled:
        return 0.0, level
    cooldown = QUOTA_BACKOFF_BASE * (1 << min(level, 62))
    if cooldown >= QUOTA_BACKOFF_MAX:
        return QUOTA_BACKOFF_MAX, level
    return cooldown, level + 1


@dataclass(slots=True)
class QuotaState:
    exceeded: bool = False
    reason: str = ""
    next_recover_at: float | None = None  # None is Go's zero time
    backoff_level: int = 0


@dataclass(slots=True)
class ModelState:
    """One credential's standing for one model. ``next_retry_after`` None means no cooldown even
    when ``unavailable`` is set (the legacy zero time: such a credential is still picked)."""

    unavailable: bool = False
    status: str = ACTIVE
    next_retry_after: float | None = None
    quota: QuotaState = field(default_factory=QuotaState)
    last_status: int | None = None
    last_reason: str = ""
    # The reason the legacy model registry holds for this suspension: the first one handed to
    # SuspendClientModel since the last success ("" when nothing is suspended).
    suspend_reason: str = ""
    updated_at: float = 0.0
    # When the last 429 came (the registry's QuotaExceededClients entry; None: none since a success).
    quota_at: float | None = None


class Block(NamedTuple):
    """Why a credential cannot serve a model right now, and until when (``None``: not blocked)."""

    reason: BlockReason
    until: float | None

    @property
    def blocked(self) -> bool:
        return self.reason != "none"


NOT_BLOCKED = Block("none", None)


class RotationState:
    """The mutable table of ``ModelState`` values. All methods are synchronous, so a single
    event loop needs no lock. ``clock`` is wall-clock seconds (tests pass a fake)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._states: dict[tuple[str, str], ModelState] = {}
        # The auth's StatusMessage: the last failure's error text, kept while any model of the
        # credential still holds a failure (MarkResult, hasModelError).
        self._messages: dict[str, str] = {}
        # Models whose last result was a success. The legacy keeps their reset ModelState, and one
        # such model keeps the whole auth available (updateAggregatedAvailability); here the
        # state itself is dropped, so only the name is remembered.
        self._served: dict[str, set[str]] = {}
        # The auth's Unavailable flag: credentials every model of which was out of use at their
        # last MarkResult. Like the legacy's, it is only recomputed by the next result.
        self._unavailable: set[str] = set()

    def now(self) -> float:
        return self.clock()

    def recorded(self) -> bool:
        """Whether any credential has a failure on record (none: every credential is in good standing)."""
        return bool(self._states)

    def credential_ids(self) -> set[str]:
        """The credentials with anything on record: a failure, or a model that has succeeded."""
        return {credential for credential, _ in self._states} | {c for c, models in self._served.items() if models}

    def models_of(self, credential_id: str) -> list[str]:
        """The models this credential has a state for."""
        return [model for credential, model in self._states if credential == credential_id]

    def get(self, credential_id: str, model: str) -> ModelState | None:
        """The recorded state, or None for a credential that is in good standing. Read-only."""
        return self._states.get((credential_id, model))

    def block(self, credential_id: str, model: str, now: float | None = None) -> Block:
        """``isAuthBlockedForModel`` for one model: blocked while ``next_retry_after`` lies ahead.
        The reported end is the quota recovery time while that is still ahead (Go swaps it in even
        when it is the earlier of the two), else ``next_retry_after``. Quota marks make it a
        cooldown; any other cause (401, 404, 5xx) blocks as "other", which never yields
        ``model_cooldown``."""
        state = self._states.get((credential_id, model))
        if state is None or not state.unavailable or state.next_retry_after is None:
            return NOT_BLOCKED
        now = self.clock() if now is None else now
        if state.next_retry_after <= now:
            return NOT_BLOCKED
        until = state.next_retry_after
        recover = state.quota.next_recover_at
        if recover is not None and recover > now:
            until = recover
        return Block("cooldown" if state.quota.exceeded else "other", max(until, now))

    def forget(self, credential_ids: Iterable[str]) -> int:
        """Drop every model's state of these credentials; returns how many states went.

        For a credential registered again (its file changed, or came back after a removal): the
        legacy then swaps in a freshly parsed auth with no model states (service.go:271-293,
        conductor.go:418-434) and ``RegisterClient`` clears the registry's suspension and quota
        marks for the client (model_registry.go:364-369), so cooldowns, quota windows, backoff
        levels and suspensions all start over. Round-robin cursors are per model and stay.
        """
        gone = set(credential_ids)
        if not gone:
            return 0
        for credential_id in gone:
            # A fresh auth has no reset model states either.
            self._served.pop(credential_id, None)
        if not self._states:
            return 0
        keys = [key for key in self._states if key[0] in gone]
        for key in keys:
            del self._states[key]
        for credential_id in gone:
            self._messages.pop(credential_id, None)
        self._unavailable -= gone
        return len(keys)

    def message_of(self, credential_id: str) -> str:
        """The error text of the credential's last failure while it still has one on record."""
        return self._messages.get(credential_id, "")

    def unavailable(self, credential_id: str) -> bool:
        """The auth-level ``Unavailable`` flag as the legacy's last ``MarkResult`` on this
        credential left it (``updateAggregatedAvailability``, conductor.go:1435-1482): true when,
        at that moment, no model had succeeded since its last failure and every failed one was
        cooling or had failed without a cooldown. Later expiry of a cooldown does not clear it;
        the credential's next result does."""
        return credential_id in self._unavailable

    def mark_success(self, credential_id: str, model: str) -> None:
        """A served request wipes the state: cooldown, quota and backoff level all reset. A reset
        state blocks nothing, so it is dropped rather than kept (the table only grows on errors)."""
        self._served.setdefault(credential_id, set()).add(model)
        self._unavailable.discard(credential_id)
        if self._states.pop((credential_id, model), None) is not None and credential_id in self._messages \
                and not any(key[0] == credential_id for key in self._states):
            del self._messages[credential_id]

    def _aggregate(self, credential_id: str, now: float) -> None:
        """``updateAggregatedAvailability`` after a failure. A state counts as out of use while it
        is unavailable with no retry time or one still ahead; an expired one counts as usable."""
        if self._served.get(credential_id):
            self._unavailable.discard(credential_id)
            return
        for (credential, _), state in self._states.items():
            if credential == credential_id and not (
                    state.unavailable and (state.next_retry_after is None or state.next_retry_after > now)):
                self._unavailable.discard(credential_id)
                return
        self._unavailable.add(credential_id)

    def mark_failure(self, credential_id: str, model: str, status: int | None, *, reason: str = "",
                     retry_after: float | None = None, disable_cooling: bool = False,
                     message: str | None = None) -> ModelState:
        """``MarkResult`` for a failed attempt (the B6 table).

        401/402/403 cool for 30 min, 404 for 12 h, 408/500/502/503/504 for 1 min. 429 marks the
        quota exceeded and cools for ``retry_after`` when given, else for the exponential backoff
        (which then climbs a level). Anything else (400, 422, no status at all) marks the state
        unavailable without a cooldown, which leaves the credential pickable. ``status`` None is a
        failure with no HTTP answer behind it.
        """
        now = self.clock()
        state = self._states.setdefault((credential_id, model), ModelState())
        state.unavailable = True
        state.status = ERROR
        state.updated_at = now
        state.last_status = status
        state.last_reason = reason
        if message is not None:
            self._messages[credential_id] = message
        if status in (401, 402, 403):
            state.next_retry_after = now + AUTH_COOLDOWN
        elif status == 404:
            state.next_retry_after = now + NOT_FOUND_COOLDOWN
        elif status == 429:
            level = state.quota.backoff_level
            if retry_after is not None:
                until: float | None = now + max(0.0, retry_after)
            else:
                cooldown, level = next_quota_cooldown(level, disabled=disable_cooling)
                until = now + cooldown if cooldown > 0 else None
            state.next_retry_after = until
            state.quota = QuotaState(exceeded=True, reason="quota", next_recover_at=until, backoff_level=level)
            state.quota_at = now
        elif status in _TRANSIENT_STATUSES:
            state.next_retry_after = now + TRANSIENT_COOLDOWN
        else:
            state.next_retry_after = None
        if status in _SUSPEND_REASONS and not state.suspend_reason:
            # SuspendClientModel keeps the first reason until a success resumes the client
            # (model_registry.go:638), and the model lists read it: a key suspended for quota that
            # then answers 401 still leaves its models listed, and the other way round hides them.
            state.suspend_reason = _SUSPEND_REASONS[status]
        served = self._served.get(credential_id)
        if served:
            served.discard(model)
        self._aggregate(credential_id, now)
        return state
