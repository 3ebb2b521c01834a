from __future__ import annotations

from dataclasses import dataclass

import pytest

from handlers.rotation.errors import AuthNotFoundError, AuthUnavailableError, ModelCooldownError
from handlers.rotation.selector import LegacySelector, available
from handlers.rotation.state import RotationState
from quotio_gateway.config.models import FILL_FIRST, ROUND_ROBIN

T0 = 1_700_000_000.0
MODEL = "claude-sonnet-4"


@dataclass(frozen=True)
class Cred:
    id: str
    priority: int = 0


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


def picks(selector: LegacySelector, creds: list[Cred], state: RotationState, n: int, model: str = MODEL) -> list[str]:
    return [selector.pick(model, creds, state, state.now()).id for _ in range(n)]


def test_round_robin_walks_ids_in_sorted_order(state: RotationState) -> None:
    creds = [Cred("c"), Cred("a"), Cred("b")]
    assert picks(LegacySelector(ROUND_ROBIN), creds, state, 5) == ["a", "b", "c", "a", "b"]


def test_round_robin_cursor_is_per_model(state: RotationState) -> None:
    selector = LegacySelector(ROUND_ROBIN)
    creds = [Cred("a"), Cred("b")]
    assert picks(selector, creds, state, 1) == ["a"]
    assert picks(selector, creds, state, 1, model="other") == ["a"]
    assert picks(selector, creds, state, 1) == ["b"]
    assert picks(selector, creds, state, 1, model=MODEL + "(high)") == ["a"]


def test_round_robin_cursor_indexes_the_shrunken_list(state: RotationState) -> None:
    selector = LegacySelector(ROUND_ROBIN)
    creds = [Cred("a"), Cred("b"), Cred("c")]
    assert picks(selector, creds, state, 1) == ["a"]  # cursor now 1
    state.mark_failure("b", MODEL, 401)
    # available = [a, c]; cursor 1 -> c, cursor 2 -> a, cursor 3 -> c
    assert picks(selector, creds, state, 3) == ["c", "a", "c"]


def test_round_robin_cursor_wraps(state: RotationState) -> None:
    selector = LegacySelector(ROUND_ROBIN)
    creds = [Cred("a"), Cred("b"), Cred("c")]
    selector._cursors["mixed:" + MODEL] = 2_147_483_640
    assert picks(selector, creds, state, 2) == ["a", "b"]


def test_fill_first_drains_the_first_until_it_cools(state: RotationState, clock: Clock) -> None:
    selector = LegacySelector(FILL_FIRST)
    creds = [Cred("b"), Cred("a")]
    assert picks(selector, creds, state, 3) == ["a", "a", "a"]
    state.mark_failure("a", MODEL, 429)
    assert picks(selector, creds, state, 2) == ["b", "b"]
    clock.t = T0 + 1
    assert picks(selector, creds, state, 1) == ["a"]


def test_a_strategy_change_starts_the_cursors_over(state: RotationState) -> None:
    # The legacy installs a new selector when the strategy changes (service.go:536-545).
    selector = LegacySelector(ROUND_ROBIN)
    creds = [Cred("a"), Cred("b"), Cred("c")]
    assert picks(selector, creds, state, 2) == ["a", "b"]
    selector.set_strategy(ROUND_ROBIN)  # the same strategy: nothing changes
    assert picks(selector, creds, state, 1) == ["c"]
    selector.set_strategy(FILL_FIRST)
    assert picks(selector, creds, state, 2) == ["a", "a"]
    selector.set_strategy(ROUND_ROBIN)
    assert picks(selector, creds, state, 2) == ["a", "b"]


def test_highest_priority_bucket_wins(state: RotationState) -> None:
    creds = [Cred("a", 0), Cred("z", 5), Cred("y", 5), Cred("b", -1)]
    assert picks(LegacySelector(ROUND_ROBIN), creds, state, 3) == ["y", "z", "y"]
    state.mark_failure("y", MODEL, 500)
    state.mark_failure("z", MODEL, 429)
    assert picks(LegacySelector(FILL_FIRST), creds, state, 1) == ["a"]
    state.mark_failure("a", MODEL, 404)
    assert picks(LegacySelector(FILL_FIRST), creds, state, 1) == ["b"]


def test_unblocked_failure_keeps_credential_pickable(state: RotationState) -> None:
    state.mark_failure("a", MODEL, 400)
    state.mark_failure("b", MODEL, None)
    assert available(MODEL, [Cred("a"), Cred("b")], state, T0) == [Cred("a"), Cred("b")]


def test_all_cooling_gives_model_cooldown_from_earliest(state: RotationState) -> None:
    state.mark_failure("a", MODEL, 429, retry_after=90.0)
    state.mark_failure("b", MODEL, 429, retry_after=30.0)
    with pytest.raises(ModelCooldownError) as caught:
        LegacySelector().pick(MODEL, [Cred("a"), Cred("b")], state, T0 + 0.5)
    error = caught.value
    assert (error.model, error.provider, error.reset_seconds) == (MODEL, "", 30)
    assert error.headers["Retry-After"] == "30"
    assert error.body.endswith(b'"reset_seconds":30,"reset_time":"30s"}}')  # 29.5 s rounds up


def test_blocked_for_other_reasons_gives_auth_unavailable(state: RotationState) -> None:
    state.mark_failure("a", MODEL, 429)
    state.mark_failure("b", MODEL, 401)
    with pytest.raises(AuthUnavailableError):
        LegacySelector().pick(MODEL, [Cred("a"), Cred("b")], state, T0)
    state.mark_failure("c", MODEL, 503)
    with pytest.raises(AuthUnavailableError):
        LegacySelector().pick(MODEL, [Cred("c")], state, T0)


def test_no_candidates_gives_auth_not_found(state: RotationState) -> None:
    with pytest.raises(AuthNotFoundError):
        LegacySelector().pick(MODEL, [], state, T0)


def test_named_provider_appears_in_cooldown_body(state: RotationState) -> None:
    state.mark_failure("a", MODEL, 429)
    with pytest.raises(ModelCooldownError) as caught:
        available(MODEL, [Cred("a")], state, T0, provider="codex")
    assert caught.value.provider == "codex"
    assert b'"provider":"codex"' in caught.value.body


def test_a_failed_pick_leaves_the_cursor_where_it_was(state: RotationState, clock: Clock) -> None:
    # selector.go:184-187: getAvailableAuths fails before the cursor is read or moved, so a
    # request answered model_cooldown or auth_unavailable does not shift later round-robin picks.
    selector = LegacySelector(ROUND_ROBIN)
    creds = [Cred("a"), Cred("b"), Cred("c")]
    assert picks(selector, creds, state, 1) == ["a"]
    for cred in creds:
        state.mark_failure(cred.id, MODEL, 429)
    for _ in range(3):
        with pytest.raises(ModelCooldownError):
            selector.pick(MODEL, creds, state, state.now())
    state.mark_failure("d", MODEL, 401)
    state.mark_failure("e", MODEL, 500)
    with pytest.raises(AuthUnavailableError):
        selector.pick(MODEL, [Cred("d"), Cred("e")], state, state.now())
    assert selector._cursors == {"mixed:" + MODEL: 1}
    clock.t = T0 + 1  # the quota cooldowns are over
    assert picks(selector, creds, state, 2) == ["b", "c"]


def test_the_cursor_is_shared_by_every_candidate_set_of_a_model(state: RotationState) -> None:
    # The key is "mixed:" + model whatever credentials the pick sees (selector.go:188): a request
    # whose candidates differ (another provider set, a narrower list) still moves the same cursor.
    selector = LegacySelector(ROUND_ROBIN)
    assert picks(selector, [Cred("a"), Cred("b")], state, 1) == ["a"]
    assert picks(selector, [Cred("x"), Cred("y"), Cred("z")], state, 1) == ["y"]
    assert picks(selector, [Cred("a"), Cred("b")], state, 1) == ["a"]
    assert selector._cursors == {"mixed:" + MODEL: 3}
