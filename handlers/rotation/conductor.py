"""The failover loop: try credentials one after another, then wait for a cooldown and go again.

Facts: CLIProxyAPI v6.7.15 ``sdk/cliproxy/auth/conductor.go`` (``Execute``, ``executeMixedOnce``,
``shouldRetryAfterError``, ``closestCooldownWait``); reference B5, B6, B8.

One *pass* asks the selector for a credential not yet tried in this pass, runs the attempt, records
the outcome in ``RotationState`` and, on failure, moves on to the next credential without sleeping.
A pass ends at the first success, or when the selector has nothing left: then the last upstream
error of the pass is the answer, or, if nothing was tried, the selector's own error
(``model_cooldown`` / ``auth_unavailable`` / ``auth_not_found``).

Up to ``request-retry`` more passes follow a failed one, each only when some candidate's cooldown
ends within ``max-retry-interval`` seconds; the loop sleeps exactly until then. There is no other
backoff between passes.

One deliberate difference from the legacy, which rotates on every error: an error whose scope is
"request" (400, 413, 422, ...) is the request's own fault, so it is answered at once and never
replayed on another credential or in another pass.

Only failures *before the first byte* rotate. For a stream, the attempt returns once the upstream
answered 2xx; pass ``defer_success=True`` and report the stream's end with ``mark_result`` (a
mid-stream error marks the credential once and goes to the client, B8).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog

from handlers.providers.base import UpstreamError
from quotio_gateway.config.models import Config

from .errors import AuthNotFoundError, RotationError
from .selector import C, Selector
from .state import RotationState

log = structlog.get_logger("handlers.rotation")

T = TypeVar("T")
Attempt = Callable[[C], Awaitable[T]]
Sleep = Callable[[float], Awaitable[None]]
# The credentials that may serve, as they are at the moment of asking.
Pool = Callable[[], Sequence[C]]


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """The config keys the loop obeys. ``honour_retry_after_header`` is off for legacy parity
    (v6.7.15 ignores an upstream ``Retry-After`` header and only uses Google body hints)."""

    request_retry: int = 0
    max_retry_interval: float = 0.0  # seconds; <= 0 never waits for a cooldown
    disable_cooling: bool = False
    honour_retry_after_header: bool = False

    @classmethod
    def from_config(cls, cfg: Config) -> RetrySettings:
        return cls(request_retry=int(cfg.request_retry), max_retry_interval=float(cfg.max_retry_interval),
                   disable_cooling=bool(cfg.disable_cooling))

    @property
    def passes(self) -> int:
        return max(1, self.request_retry + 1)


@dataclass(frozen=True, slots=True)
class Served(Generic[C, T]):
    """A successful attempt: its value, the credential that served, and every credential id tried
    on the way (across passes, in order, the serving one last)."""

    value: T
    credential: C
    tried: tuple[str, ...]
    passes: int


def mark_result(state: RotationState, credential_id: str, model: str, error: UpstreamError | None,
                settings: RetrySettings) -> None:
    """Record one attempt's outcome. Stream callers use it when the stream ends."""
    if error is None:
        state.mark_success(credential_id, model)
        return
    retry_after = error.retry_after
    if retry_after is None and settings.honour_retry_after_header:
        retry_after = error.retry_after_header
    # The auth's status message is the executor error's text, which for an upstream error with an
    # empty body is "status N" (statusErr.Error, openai_compat_executor.go:379-384; MarkResult,
    # conductor.go:1327-1332), not an empty string.
    state.mark_failure(credential_id, model, error.status, reason=error.reason, retry_after=retry_after,
                       disable_cooling=settings.disable_cooling, message=error.message)


# The least top-up sleep after a cooldown wait that ended early: a timer shorter than the loop's
# resolution may fire at once.
_CLOCK_SLACK = 0.001

# The reason word recorded when the client went away mid-attempt (the legacy's error text is
# "context canceled"; only the word is kept, like every other failure).
CLIENT_GONE = "canceled"


def mark_client_gone(state: RotationState, credential_id: str, model: str, settings: RetrySettings) -> None:
    """Record a client hang-up against the credential serving it, as the legacy does.

    There, the cancelled request context makes the upstream call or body read fail with a plain
    error, and the conductor marks it like any failure without an HTTP status (conductor.go:597-610
    and 694-706 before the first byte, 708-720 mid-stream; MarkResult's default branch, conductor.go:1376-1377):
    the state turns unavailable with no cooldown, so the credential stays pickable, while quota
    marks, backoff level and any suspension are kept rather than cleared as a success would.
    """
    state.mark_failure(credential_id, model, None, reason=CLIENT_GONE, disable_cooling=settings.disable_cooling,
                       message="context canceled")


def _abandon_pass(model: str, candidates: Pool[C], selector: Selector, state: RotationState,
                  settings: RetrySettings, tried: set[str], tried_log: list[str],
                  on_abandon: Callable[[C], None] | None = None) -> None:
    """The rest of a pass whose client has gone. The legacy loop does not look at the context
    between picks (conductor.go:568-614, 666-707; pickNextMixed and Pick ignore it), so every
    remaining pickable credential is picked in turn (moving the round-robin cursor) and its call
    fails at once on the dead context, each marked like the first. No upstream call is made here;
    only the picks and marks are reproduced, and ``on_abandon`` is told of each pick (the caller
    records what that failed call leaves behind, its usage record). No further pass follows: the
    cooldown wait returns at once on a cancelled context (conductor.go:1239-1250)."""
    while True:
        try:
            credential = _pick_next(model, candidates, selector, state, tried, tried_log)
        except RotationError:
            return
        mark_client_gone(state, credential.id, model, settings)
        if on_abandon is not None:
            on_abandon(credential)


def _pick_next(model: str, candidates: Pool[C], selector: Selector, state: RotationState,
               tried: set[str], tried_log: list[str]) -> C:
    """The pass's next credential among those not tried yet, recorded as tried; raises the
    selector's ``RotationError`` (``AuthNotFoundError`` when none is left)."""
    remaining = [c for c in candidates() if c.id not in tried]
    if not remaining:
        raise AuthNotFoundError()
    credential = selector.pick(model, remaining, state, state.now())
    tried.add(credential.id)
    tried_log.append(credential.id)
    return credential


def closest_cooldown_wait(model: str, candidates: Sequence[C], state: RotationState, now: float) -> float | None:
    """``closestCooldownWait``: seconds until the first blocked candidate recovers, whatever blocked
    it (quota or another cooldown); None when none is blocked."""
    waits = [block.until - now for c in candidates
             if (block := state.block(c.id, model, now)).blocked and block.until is not None]
    return min(waits) if waits else None


class _RequestFault(Exception):
    """Carries a request-scoped error out of a pass so the outer loop does not retry it."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(str(error))
        self.error = error


async def _one_pass(model: str, candidates: Pool[C], attempt: Attempt[C, T], settings: RetrySettings,
                    selector: Selector, state: RotationState, tried_log: list[str],
                    defer_success: bool, on_abandon: Callable[[C], None] | None = None) -> tuple[T, C]:
    tried: set[str] = set()
    last_error: UpstreamError | None = None
    while True:
        try:
            credential = _pick_next(model, candidates, selector, state, tried, tried_log)
        except RotationError as pick_error:
            if last_error is not None:
                raise last_error from None
            raise pick_error from None
        try:
            value = await attempt(credential)
        except asyncio.CancelledError:
            # The client hung up (aiohttp cancels its handler). Marks only, no awaits, so the
            # cancellation goes on at once.
            mark_client_gone(state, credential.id, model, settings)
            _abandon_pass(model, candidates, selector, state, settings, tried, tried_log, on_abandon)
            log.info("rotation.client_gone", credential=credential.id, model=model)
            raise
        except UpstreamError as error:
            # A stream folded for a non-stream client that ended before its terminal event (row
            # 4a) is tried on the next credential here, but for the credential it is what the
            # legacy saw: its Execute read the partial answer and reported a success. Codex's
            # early end keeps its 408, which the legacy's Execute returns and cools.
            folded_early_end = error.truncated and error.status is None
            mark_result(state, credential.id, model, None if folded_early_end else error, settings)
            log.info("rotation.attempt_failed", credential=credential.id, model=model,
                     status=error.status, scope=error.scope)
            if error.scope == "request":
                raise _RequestFault(error) from None
            last_error = error
            continue
        if not defer_success:
            state.mark_success(credential.id, model)
        return value, credential


async def run_with_failover(candidates: Sequence[C] | Pool[C], attempt: Attempt[C, T], *, model: str,
                            cfg: RetrySettings, selector: Selector, state: RotationState,
                            sleep: Sleep = asyncio.sleep, defer_success: bool = False,
                            on_abandon: Callable[[C], None] | None = None) -> Served[C, T]:
    """Serve ``model`` with one of ``candidates`` (the enabled credentials that list it).

    ``candidates`` may be a function giving them as they are now: it is asked before every pick
    and every cooldown wait, so that a config reload during the request counts from its next
    pick on (removed keys are no longer tried, added ones are), as the legacy's conductor reads
    its auths afresh each time (conductor.go:576, 1746-1783). The call in flight is not affected.

    ``attempt(credential)`` performs the upstream call and raises ``UpstreamError`` on failure.
    Cancellation (the client hung up) marks the credential in flight and every other one the
    legacy would still have picked in this pass with a status-less failure (``mark_client_gone``),
    then propagates; ``on_abandon`` (synchronous) is called for each of those other credentials.
    Any other exception propagates untouched and marks nothing.
    ``model`` is the resolved route model, thinking suffix kept, as the state and cursors key it.

    Raises the final ``UpstreamError`` (its status and body go to the client as they are) or a
    ``RotationError`` whose ``status``/``headers``/``body`` are the exact legacy answer.
    """
    pool: Pool[C] = candidates if callable(candidates) else lambda: candidates  # type: ignore[assignment,return-value]
    tried_log: list[str] = []
    passes = 1
    while True:
        try:
            value, credential = await _one_pass(model, pool, attempt, cfg, selector, state, tried_log,
                                                defer_success, on_abandon)
        except _RequestFault as fault:
            raise fault.error from None
        except (UpstreamError, RotationError) as error:
            if passes >= cfg.passes or cfg.max_retry_interval <= 0 or getattr(error, "status", None) == 200:
                raise
            wait = closest_cooldown_wait(model, pool(), state, state.now())
            if wait is None or wait > cfg.max_retry_interval:
                raise
            passes += 1
            log.info("rotation.waiting_for_cooldown", model=model, wait_seconds=round(wait, 3), next_pass=passes)
            until = state.now() + wait
            await sleep(wait)
            # The loop's timers and the state's wall clock are different clocks (uvloop rounds its
            # timers to milliseconds), so the sleep can end just before the cooldown does; the
            # legacy's timer and cooldowns share one. Wait out the rest, or the pass is wasted.
            while (rest := until - state.now()) > 0:
                await sleep(max(rest, _CLOCK_SLACK))
            continue
        return Served(value, credential, tuple(tried_log), passes)
