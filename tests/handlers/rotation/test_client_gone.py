"""A client hang-up during an attempt, and a credential registered again (``RotationState.forget``).

Legacy facts (CLIProxyAPI v6.7.15 at 9b72ea9ef): the cancelled context makes each executor call
fail with a status-less error that ``MarkResult`` records (conductor.go:597-610, 694-706;
default branch 1376-1377); the pick loop never checks the context, so the rest of the pass is picked and marked
the same way (conductor.go:666-707). A re-registered auth comes back with no model states
(service.go:271-293, conductor.go:418-434).
"""

from __future__ import annotations

import asyncio

import pytest

from handlers.providers.base import classify
from handlers.rotation import CLIENT_GONE, RetrySettings, mark_client_gone, run_with_failover
from handlers.rotation.selector import LegacySelector
from handlers.rotation.state import ERROR, NOT_BLOCKED, RotationState
from quotio_gateway.config.models import FILL_FIRST, ROUND_ROBIN
from tests.handlers.rotation.test_conductor import T0, Clock, Cred

MODEL = "gpt-5"


class HangUp:
    """An attempt that records who it was called for, then sees its task cancelled."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, cred: Cred) -> str:
        self.calls.append(cred.id)
        raise asyncio.CancelledError


class Served:
    async def __call__(self, cred: Cred) -> str:
        return cred.id


async def run(state: RotationState, selector: LegacySelector, creds: list[Cred], attempt: object,
              settings: RetrySettings | None = None) -> str:
    served = await run_with_failover(creds, attempt, model=MODEL, cfg=settings or RetrySettings(),  # type: ignore[arg-type]
                                     selector=selector, state=state, sleep=Clock().sleep)
    return served.credential.id


def assert_client_gone(state: RotationState, cred_id: str) -> None:
    got = state.get(cred_id, MODEL)
    assert got is not None
    assert (got.unavailable, got.status, got.last_status, got.last_reason, got.next_retry_after) == \
        (True, ERROR, None, CLIENT_GONE, None)
    assert state.block(cred_id, MODEL) == NOT_BLOCKED


async def test_hang_up_marks_the_credential_in_flight_and_the_rest_of_the_pass() -> None:
    state = RotationState(Clock())
    selector = LegacySelector(ROUND_ROBIN)
    creds = [Cred("a"), Cred("b"), Cred("c")]
    attempt = HangUp()
    with pytest.raises(asyncio.CancelledError):
        await run(state, selector, creds, attempt)
    # Only one upstream call was made; the other two were picked and marked without one.
    assert attempt.calls == ["a"]
    for cred_id in ("a", "b", "c"):
        assert_client_gone(state, cred_id)
    # Three picks moved the cursor three times: the next request starts at "a" again, where a
    # single pick would have left it at "b". A status-less mark blocks nothing.
    assert await run(state, selector, creds, Served()) == "a"


async def test_hang_up_skips_blocked_credentials_and_keeps_their_state() -> None:
    clock = Clock()
    state = RotationState(clock)
    selector = LegacySelector(FILL_FIRST)
    creds = [Cred("a"), Cred("b"), Cred("c")]
    state.mark_failure("b", MODEL, 401, reason="credential")
    with pytest.raises(asyncio.CancelledError):
        await run(state, selector, creds, HangUp())
    assert_client_gone(state, "a")
    assert_client_gone(state, "c")
    cooled = state.get("b", MODEL)
    assert cooled is not None and cooled.last_status == 401 and cooled.suspend_reason == "unauthorized"
    assert cooled.next_retry_after == T0 + 30 * 60


async def test_hang_up_keeps_quota_marks_and_suspension_a_success_would_clear() -> None:
    clock = Clock()
    state = RotationState(clock)
    state.mark_failure("a", MODEL, 429, reason="quota")
    state.mark_failure("a", MODEL, 429, reason="quota")  # backoff level 2, cooling 2 s
    clock.t += 10  # the cooldown is over: "a" is pickable again
    before = state.get("a", MODEL)
    assert before is not None
    quota, quota_at = before.quota, before.quota_at
    mark_client_gone(state, "a", MODEL, RetrySettings())
    after = state.get("a", MODEL)
    assert after is not None
    assert (after.quota.exceeded, after.quota.backoff_level, after.quota.next_recover_at) == \
        (True, 2, quota.next_recover_at)
    assert (after.suspend_reason, after.quota_at, after.last_status, after.next_retry_after) == \
        ("quota", quota_at, None, None)


async def test_hang_up_while_waiting_for_a_cooldown_marks_nothing() -> None:
    # The legacy wait returns at once on a cancelled context and marks nothing (conductor.go:1239-1250).
    state = RotationState(Clock())
    selector = LegacySelector(ROUND_ROBIN)
    state.mark_failure("a", MODEL, 500, reason="transient")  # blocked for 60 s
    before = state.get("a", MODEL)
    assert before is not None
    snapshot = (before.status, before.last_status, before.next_retry_after)

    async def sleep(seconds: float) -> None:
        raise asyncio.CancelledError

    async def failing(cred: Cred) -> str:
        raise classify(500, b"{}")

    with pytest.raises(asyncio.CancelledError):
        await run_with_failover([Cred("a")], failing, model=MODEL,
                                cfg=RetrySettings(request_retry=1, max_retry_interval=120), selector=selector,
                                state=state, sleep=sleep)
    after = state.get("a", MODEL)
    assert after is not None and (after.status, after.last_status, after.next_retry_after) == snapshot


def test_forget_drops_every_model_of_the_given_credentials_only() -> None:
    clock = Clock()
    state = RotationState(clock)
    state.mark_failure("a", "gpt-5", 429, reason="quota")
    state.mark_failure("a", "gpt-5(high)", 404, reason="credential")
    state.mark_failure("a::p2", "gpt-5", 401, reason="credential")
    state.mark_failure("b", "gpt-5", 403, reason="credential")
    assert state.forget(["a", "a::p2", "zzz"]) == 3
    assert state.get("a", "gpt-5") is None and state.get("a", "gpt-5(high)") is None
    assert state.get("a::p2", "gpt-5") is None
    assert state.block("a", "gpt-5") == NOT_BLOCKED
    kept = state.get("b", "gpt-5")
    assert kept is not None and kept.suspend_reason == "payment_required"
    assert state.forget([]) == 0
    assert state.forget(["b"]) == 1 and not state.recorded()
