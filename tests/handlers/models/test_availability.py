"""Which models the lists show while credentials are suspended (``GetAvailableModels``, legacy
model_registry.go:704-751 fed by conductor.go ``MarkResult``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.models.availability import QUOTA_WINDOW_SECONDS, first_available, is_listed, listed_models
from handlers.models.registry import ModelRegistry, UnknownModelError, build_registry
from handlers.rotation.state import RotationState
from quotio_gateway.config.loader import parse_config

MODEL = "claude-sonnet-4-5-20250929"
OTHER = "claude-opus-4-1-20250805"


def registry(keys: int) -> ModelRegistry:
    text = "claude-api-key:\n" + "".join(f"  - api-key: k{i}\n    base-url: https://up{i}\n" for i in range(keys))
    return build_registry(parse_config(text, Path("config.yaml"), persist=False))


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def listed(reg: ModelRegistry, state: RotationState | None) -> set[str]:
    return {m.id for m in listed_models(reg, state)}


def test_without_rotation_state_every_registered_model_is_listed() -> None:
    reg = registry(1)
    assert listed(reg, None) == {m.id for m in reg.available()}
    assert MODEL in listed(reg, RotationState())


@pytest.mark.parametrize("status", [401, 402, 403, 404])
def test_a_lone_credential_suspended_for_its_key_hides_that_model_only(status: int) -> None:
    reg = registry(1)
    state = RotationState(Clock())
    [key] = reg.clients(MODEL)
    state.mark_failure(key, MODEL, status)
    assert listed(reg, state) == {m.id for m in reg.available()} - {MODEL}
    # A later success (after the cooldown) resumes it.
    state.mark_success(key, MODEL)
    assert MODEL in listed(reg, state)


@pytest.mark.parametrize("status", [429, 400, 408, 500, 503, None])
def test_quota_and_transient_failures_keep_the_model_listed(status: int | None) -> None:
    reg = registry(1)
    state = RotationState(Clock())
    [key] = reg.clients(MODEL)
    state.mark_failure(key, MODEL, status)
    assert MODEL in listed(reg, state)


def test_one_suspended_credential_of_two_keeps_the_model_until_both_are() -> None:
    reg = registry(2)
    state = RotationState(Clock())
    first, second = reg.clients(MODEL)
    state.mark_failure(first, MODEL, 401)
    assert MODEL in listed(reg, state)
    state.mark_failure(second, MODEL, 404)
    assert MODEL not in listed(reg, state) and OTHER in listed(reg, state)


def test_a_recent_429_beside_a_suspended_key_hides_the_model_and_an_old_one_does_not() -> None:
    """``count - quota429 - otherSuspended``: 2 - 1 - 1 leaves nobody; once the 429 is five minutes
    old it no longer counts against the model."""
    clock = Clock()
    reg = registry(2)
    state = RotationState(clock)
    first, second = reg.clients(MODEL)
    state.mark_failure(first, MODEL, 429)
    state.mark_failure(second, MODEL, 401)
    assert MODEL not in listed(reg, state)
    clock.t += QUOTA_WINDOW_SECONDS
    assert MODEL in listed(reg, state)


def test_a_suffixed_request_suspends_nothing_in_the_list() -> None:
    """The legacy suspends the registry entry named by the request; ``model(8192)`` has none."""
    reg = registry(1)
    state = RotationState(Clock())
    [key] = reg.clients(MODEL)
    state.mark_failure(key, f"{MODEL}(8192)", 401)
    assert MODEL in listed(reg, state)


@pytest.mark.parametrize(("counts", "shown"), [
    ((1, 0, 0, 0), True),
    ((1, 1, 0, 1), True),  # only quota-cooling
    ((1, 0, 1, 0), False),
    ((2, 0, 1, 0), True),
    ((2, 1, 1, 1), False),
    ((3, 1, 1, 1), True),
    ((0, 0, 0, 0), False),
])
def test_inclusion_rule(counts: tuple[int, int, int, int], shown: bool) -> None:
    assert is_listed(*counts) is shown


def test_auto_is_the_newest_model_a_usable_credential_still_serves() -> None:
    """``GetFirstAvailableModel``: newest ``created`` first, skipping models whose clients are all
    quota-cooling or suspended (``GetModelCount``), even when the list still shows them."""
    clock = Clock()
    reg = registry(1)
    state = RotationState(clock)
    newest = reg.first_available()
    assert first_available(reg, state) == newest == first_available(reg, None)
    [key] = reg.clients(newest)
    state.mark_failure(key, newest, 429)
    # Still listed (a quota problem never hides a model), but not what auto picks.
    assert newest in listed(reg, state)
    runner_up = max((m for m in reg.available() if m.id != newest), key=lambda m: m.created).id
    assert first_available(reg, state) == runner_up
    assert reg.resolve("auto", lambda r: first_available(r, state)) == (["claude"], runner_up)
    assert reg.resolve("auto(high)", lambda r: first_available(r, state))[1] == f"{runner_up}(high)"
    clock.t += QUOTA_WINDOW_SECONDS
    state.mark_success(key, newest)
    assert first_available(reg, state) == newest


def test_auto_with_every_model_unusable_stays_unknown() -> None:
    reg = registry(1)
    state = RotationState(Clock())
    [key] = reg.clients(MODEL)
    for info in reg.available():
        state.mark_failure(key, info.id, 401)
    assert first_available(reg, state) is None
    with pytest.raises(UnknownModelError, match="unknown provider for model auto"):
        reg.resolve("auto", lambda r: first_available(r, state))


def test_the_quota_window_counts_from_the_429_not_from_a_later_failure() -> None:
    """``QuotaExceededClients`` holds the time of the 429 (model_registry.go:594-603); a 401 four
    minutes later must not restart the five minutes."""
    clock = Clock()
    reg = registry(2)
    state = RotationState(clock)
    first, second = reg.clients(MODEL)
    state.mark_failure(first, MODEL, 429)
    clock.t += 240
    state.mark_failure(first, MODEL, 500)
    state.mark_failure(second, MODEL, 401)
    assert MODEL not in listed(reg, state)  # 2 clients - 1 in the quota window - 1 suspended
    clock.t += 61  # five minutes after the 429, one after the 500
    assert MODEL in listed(reg, state)
