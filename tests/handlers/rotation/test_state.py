from __future__ import annotations

import pytest

from handlers.rotation.state import Block, RotationState, next_quota_cooldown

T0 = 1_700_000_000.0
MODEL = "gpt-5"


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> RotationState:
    return RotationState(clock)


# status, blocked for (seconds or None), block reason while blocked, suspend reason
TRANSITIONS = [
    (401, 1800.0, "other", "unauthorized"),
    (402, 1800.0, "other", "payment_required"),
    (403, 1800.0, "other", "payment_required"),
    (404, 43200.0, "other", "not_found"),
    (429, 1.0, "cooldown", "quota"),
    (408, 60.0, "other", ""),
    (500, 60.0, "other", ""),
    (502, 60.0, "other", ""),
    (503, 60.0, "other", ""),
    (504, 60.0, "other", ""),
    (400, None, "none", ""),
    (422, None, "none", ""),
    (501, None, "none", ""),  # 5xx outside the legacy table: no cooldown
    (None, None, "none", ""),  # transport failure without an HTTP answer
]


@pytest.mark.parametrize(("status", "cooldown", "reason", "suspend"), TRANSITIONS)
def test_mark_failure_transition(state: RotationState, clock: Clock, status: int | None,
                                 cooldown: float | None, reason: str, suspend: str) -> None:
    marked = state.mark_failure("k1", MODEL, status, reason="why")
    assert marked.unavailable is True
    assert marked.status == "error"
    assert marked.last_status == status
    assert marked.last_reason == "why"
    assert marked.suspend_reason == suspend
    assert marked.updated_at == T0
    if cooldown is None:
        assert marked.next_retry_after is None
        assert state.block("k1", MODEL) == Block("none", None)
        return
    assert marked.next_retry_after == T0 + cooldown
    assert state.block("k1", MODEL) == Block(reason, T0 + cooldown)
    clock.t = T0 + cooldown - 0.001
    assert state.block("k1", MODEL).blocked
    clock.t = T0 + cooldown  # the cooldown is over at exactly its end
    assert not state.block("k1", MODEL).blocked


def test_state_is_per_credential_and_model(state: RotationState) -> None:
    state.mark_failure("k1", MODEL, 401)
    assert state.block("k1", MODEL).blocked
    assert not state.block("k2", MODEL).blocked
    assert not state.block("k1", "other-model").blocked
    # The thinking suffix is part of the key, as in the legacy conductor.
    assert not state.block("k1", MODEL + "(high)").blocked


def test_quota_backoff_sequence_then_cap(state: RotationState, clock: Clock) -> None:
    expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800, 1800, 1800]
    seen, levels = [], []
    for _ in expected:
        marked = state.mark_failure("k1", MODEL, 429)
        assert marked.next_retry_after is not None
        seen.append(marked.next_retry_after - clock.t)
        levels.append(marked.quota.backoff_level)
        clock.t = marked.next_retry_after
    assert seen == expected
    assert levels == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 11, 11]


def test_quota_state_fields(state: RotationState) -> None:
    marked = state.mark_failure("k1", MODEL, 429)
    assert (marked.quota.exceeded, marked.quota.reason, marked.quota.next_recover_at) == (True, "quota", T0 + 1)


def test_retry_after_hint_sets_cooldown_and_keeps_level(state: RotationState, clock: Clock) -> None:
    state.mark_failure("k1", MODEL, 429)
    state.mark_failure("k1", MODEL, 429)
    marked = state.mark_failure("k1", MODEL, 429, retry_after=39.0)
    assert marked.next_retry_after == T0 + 39
    assert marked.quota.next_recover_at == T0 + 39
    assert marked.quota.backoff_level == 2
    assert state.block("k1", MODEL) == Block("cooldown", T0 + 39)


def test_success_resets_everything(state: RotationState) -> None:
    for _ in range(3):
        state.mark_failure("k1", MODEL, 429)
    state.mark_success("k1", MODEL)
    assert state.get("k1", MODEL) is None
    assert not state.block("k1", MODEL).blocked
    assert state.mark_failure("k1", MODEL, 429).next_retry_after == T0 + 1  # back to level 0


def test_disable_cooling_marks_quota_without_blocking(state: RotationState) -> None:
    marked = state.mark_failure("k1", MODEL, 429, disable_cooling=True)
    assert marked.quota.exceeded is True
    assert marked.quota.backoff_level == 0
    assert marked.next_retry_after is None
    assert marked.quota.next_recover_at is None
    assert not state.block("k1", MODEL).blocked


def test_disable_cooling_still_honours_a_hint(state: RotationState) -> None:
    state.mark_failure("k1", MODEL, 429, retry_after=5.0, disable_cooling=True)
    assert state.block("k1", MODEL) == Block("cooldown", T0 + 5)


def test_disable_cooling_does_not_touch_other_statuses(state: RotationState) -> None:
    state.mark_failure("k1", MODEL, 401, disable_cooling=True)
    assert state.block("k1", MODEL) == Block("other", T0 + 1800)


def test_block_lasts_until_the_later_quota_recovery(state: RotationState, clock: Clock) -> None:
    state.mark_failure("k1", MODEL, 429, retry_after=100.0)
    clock.t = T0 + 10
    state.mark_failure("k1", MODEL, 500)  # cools 1 min, the quota mark stays
    assert state.block("k1", MODEL) == Block("cooldown", T0 + 100)
    clock.t = T0 + 70  # the 500 cooldown is over, so the credential is free again
    assert not state.block("k1", MODEL).blocked


def test_credential_error_after_quota_still_counts_as_cooldown(state: RotationState, clock: Clock) -> None:
    state.mark_failure("k1", MODEL, 429, retry_after=10.0)
    state.mark_failure("k1", MODEL, 401)
    # Go reports a pending quota recovery time in place of the retry time, even when earlier.
    assert state.block("k1", MODEL) == Block("cooldown", T0 + 10)
    clock.t = T0 + 10
    assert state.block("k1", MODEL) == Block("cooldown", T0 + 1800)
    # The legacy registry keeps the first suspension reason (model_registry.go:638).
    assert state.get("k1", MODEL).suspend_reason == "quota"  # type: ignore[union-attr]


def test_first_suspend_reason_stays_until_a_success(state: RotationState, clock: Clock) -> None:
    state.mark_failure("k1", MODEL, 401)
    clock.t = T0 + 1801
    assert state.mark_failure("k1", MODEL, 429).suspend_reason == "unauthorized"
    assert state.mark_failure("k1", MODEL, 404).suspend_reason == "unauthorized"
    state.mark_success("k1", MODEL)
    assert state.mark_failure("k1", MODEL, 403).suspend_reason == "payment_required"


def test_bad_request_after_quota_clears_the_cooldown_but_keeps_the_level(state: RotationState, clock: Clock) -> None:
    state.mark_failure("k1", MODEL, 429)
    state.mark_failure("k1", MODEL, 429)
    clock.t = T0 + 5
    marked = state.mark_failure("k1", MODEL, 400)
    assert not state.block("k1", MODEL).blocked
    assert marked.quota.backoff_level == 2
    assert marked.suspend_reason == "quota"
    assert state.mark_failure("k1", MODEL, 429).next_retry_after == T0 + 5 + 4


@pytest.mark.parametrize(("level", "disabled", "result"), [
    (0, False, (1.0, 1)), (-4, False, (1.0, 1)), (10, False, (1024.0, 11)), (11, False, (1800.0, 11)),
    (400, False, (1800.0, 400)), (3, True, (0.0, 3)),
])
def test_next_quota_cooldown(level: int, disabled: bool, result: tuple[float, int]) -> None:
    assert next_quota_cooldown(level, disabled=disabled) == result


def test_status_message_follows_the_last_failure_until_every_model_succeeds() -> None:
    state = RotationState(clock=lambda: 1000.0)
    assert state.message_of("a") == ""
    state.mark_failure("a", "m1", 429, message='{"error":{"message":"slow down"}}')
    state.mark_failure("a", "m2", 500, message="boom")
    assert state.message_of("a") == "boom"
    state.mark_failure("a", "m2", 500)  # no text given: the last one stays
    assert state.message_of("a") == "boom"
    state.mark_success("a", "m2")
    assert state.message_of("a") == "boom"  # m1 still holds a failure (hasModelError)
    state.mark_success("a", "m1")
    assert state.message_of("a") == ""
    state.mark_failure("a", "m1", 401, message="expired")
    assert state.forget(["a"]) == 1
    assert state.message_of("a") == ""


def test_success_resets_only_its_own_model(state: RotationState, clock: Clock) -> None:
    # MarkResult's success branch resets ModelStates[result.Model] alone (conductor.go:1305-1317):
    # the same credential stays cooling, and keeps its backoff level, for every other model.
    for _ in range(2):
        state.mark_failure("k1", MODEL, 429)
        state.mark_failure("k1", "other", 429)
    state.mark_failure("k1", "third", 401)
    state.mark_success("k1", MODEL)
    assert state.get("k1", MODEL) is None
    assert state.block("k1", "other") == Block("cooldown", T0 + 2)
    assert state.block("k1", "third") == Block("other", T0 + 1800)
    clock.t = T0 + 2
    assert state.mark_failure("k1", "other", 429).next_retry_after == T0 + 2 + 4
    assert state.mark_failure("k1", MODEL, 429).next_retry_after == T0 + 2 + 1


def test_unavailable_is_the_aggregate_as_of_the_last_result(state: RotationState, clock: Clock) -> None:
    # updateAggregatedAvailability (conductor.go:1435-1482) runs on every MarkResult: the auth is
    # unavailable when every model state is unavailable with no retry time or one still ahead.
    assert state.unavailable("k1") is False
    state.mark_failure("k1", MODEL, 503)
    assert state.unavailable("k1") is True
    clock.t = T0 + 120  # the cooldown is over, but nothing recomputed the flag
    assert not state.block("k1", MODEL).blocked
    assert state.unavailable("k1") is True
    state.mark_failure("k1", "other", 400)  # no retry time: out of use; the expired 503 is not
    assert state.unavailable("k1") is False
    state.mark_failure("k1", MODEL, 500)
    assert state.unavailable("k1") is True
    state.mark_success("k1", "other")
    assert state.unavailable("k1") is False


def test_one_model_that_succeeded_keeps_the_credential_available(state: RotationState) -> None:
    # The legacy keeps a succeeded model's reset state, which is never unavailable.
    state.mark_success("k1", "served")
    state.mark_failure("k1", MODEL, 401)
    assert state.unavailable("k1") is False
    state.mark_failure("k1", "served", 429)  # its last result is a failure now
    assert state.unavailable("k1") is True


def test_a_retry_time_that_is_already_due_leaves_the_credential_available(state: RotationState) -> None:
    # A zero hint sets NextRetryAfter to now, which is not after now: usable at once.
    state.mark_failure("k1", MODEL, 429, retry_after=0.0)
    assert state.unavailable("k1") is False


def test_registration_again_starts_the_aggregate_over(state: RotationState) -> None:
    state.mark_success("k1", "served")
    assert state.credential_ids() == {"k1"}
    assert state.forget(["k1"]) == 0
    assert state.credential_ids() == set()
    state.mark_failure("k1", MODEL, 401)  # a fresh auth: no reset state keeps it available
    assert state.unavailable("k1") is True
    assert state.forget(["k1"]) == 1
    assert state.unavailable("k1") is False
