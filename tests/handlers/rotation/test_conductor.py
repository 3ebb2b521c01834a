from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import pytest

from handlers.providers.base import UpstreamError, classify, transport_error
from handlers.rotation.conductor import RetrySettings, Served, closest_cooldown_wait, mark_result, run_with_failover
from handlers.rotation.errors import AuthNotFoundError, AuthUnavailableError, ModelCooldownError
from handlers.rotation.selector import LegacySelector
from handlers.rotation.state import RotationState
from quotio_gateway.config.models import FILL_FIRST, ROUND_ROBIN, Config

T0 = 1_700_000_000.0
MODEL = "gpt-5"
OK = "ok"


@dataclass(frozen=True)
class Cred:
    id: str
    priority: int = 0


class Clock:
    def __init__(self) -> None:
        self.t = T0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def err(status: int, body: bytes = b'{"error":{"message":"upstream"}}', **kwargs: object) -> UpstreamError:
    return classify(status, body, **kwargs)  # type: ignore[arg-type]


@dataclass
class Script:
    """Per credential id, the outcomes of its successive attempts; the last one repeats."""

    outcomes: dict[str, list[object]]
    calls: list[str] = field(default_factory=list)

    async def __call__(self, cred: Cred) -> str:
        self.calls.append(cred.id)
        queue = self.outcomes.get(cred.id, [OK])
        outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return f"{outcome}:{cred.id}"


class Harness:
    def __init__(self, strategy: str = ROUND_ROBIN, **settings: object) -> None:
        self.clock = Clock()
        self.state = RotationState(self.clock)
        self.selector = LegacySelector(strategy)
        self.settings = RetrySettings(**settings)  # type: ignore[arg-type]

    async def run(self, creds: Sequence[Cred], script: Script, model: str = MODEL,
                  defer_success: bool = False) -> Served[Cred, str]:
        return await run_with_failover(creds, script, model=model, cfg=self.settings, selector=self.selector,
                                       state=self.state, sleep=self.clock.sleep, defer_success=defer_success)


KEYS = [Cred("a"), Cred("b"), Cred("c")]


async def test_429_then_success_on_next_key() -> None:
    h = Harness()
    script = Script({"a": [err(429)]})
    served = await h.run(KEYS, script)
    # The cursor advances on every pick, and the second pick indexes the untried [b, c]: as in Go,
    # failover skips ahead to c.
    assert (served.value, served.credential, served.tried, served.passes) == ("ok:c", Cred("c"), ("a", "c"), 1)
    assert h.state.block("a", MODEL).reason == "cooldown"
    assert h.state.get("c", MODEL) is None


async def test_401_on_one_key_then_success_and_key_stays_out() -> None:
    h = Harness(FILL_FIRST)
    script = Script({"a": [err(401)]})
    assert (await h.run(KEYS, script)).credential == Cred("b")
    assert (await h.run(KEYS, script)).credential == Cred("b")
    assert script.calls == ["a", "b", "b"]
    h.clock.t = T0 + 1800
    # The 30 min cooldown is over: a is tried first again (and fails again).
    assert (await h.run(KEYS, script)).tried == ("a", "b")


async def test_credential_problem_never_reaches_client_while_another_can_serve() -> None:
    h = Harness(FILL_FIRST)
    script = Script({"a": [err(401)], "b": [err(403)], "c": [OK]})
    served = await h.run(KEYS, script)
    assert served.value == "ok:c"
    assert served.tried == ("a", "b", "c")


async def test_transient_failures_rotate() -> None:
    h = Harness(FILL_FIRST)
    script = Script({"a": [transport_error("connection reset")], "b": [err(503)]})
    served = await h.run(KEYS, script)
    assert served.tried == ("a", "b", "c")
    assert not h.state.block("a", MODEL).blocked  # no status, no cooldown
    assert h.state.block("b", MODEL).until == T0 + 60


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_bad_request_is_never_retried(status: int) -> None:
    h = Harness(FILL_FIRST, request_retry=3, max_retry_interval=600)
    h.state.mark_failure("c", MODEL, 500)  # a cooldown within the window must not cause a new pass
    bad = err(status, b'{"error":{"message":"bad"}}')
    script = Script({"a": [bad]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS, script)
    assert caught.value is bad
    assert script.calls == ["a"]
    assert h.clock.slept == []


async def test_all_keys_cooling_gives_model_cooldown_answer() -> None:
    h = Harness()
    h.state.mark_failure("a", MODEL, 429, retry_after=90.0)
    h.state.mark_failure("b", MODEL, 429, retry_after=45.3)
    h.state.mark_failure("c", MODEL, 429, retry_after=120.0)
    script = Script({})
    with pytest.raises(ModelCooldownError) as caught:
        await h.run(KEYS, script)
    error = caught.value
    assert script.calls == []
    assert error.status == 429
    assert dict(error.headers) == {"Content-Type": "application/json", "Retry-After": "46"}
    assert orjson.loads(error.body) == {"error": {
        "code": "model_cooldown", "message": "All credentials for model gpt-5 are cooling down", "model": "gpt-5",
        "reset_seconds": 46, "reset_time": "45s"}}


async def test_all_keys_failing_in_a_pass_answers_with_the_last_upstream_error() -> None:
    h = Harness(FILL_FIRST)
    last = err(429, b'{"error":{"message":"c is out"}}')
    script = Script({"a": [err(429)], "b": [err(429)], "c": [last]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS, script)
    assert caught.value is last
    # The next request finds every key cooling and gets the local cooldown answer.
    with pytest.raises(ModelCooldownError) as cooled:
        await h.run(KEYS, script)
    assert cooled.value.reset_seconds == 1
    assert len(script.calls) == 3


async def test_already_cooling_key_does_not_hide_the_upstream_error() -> None:
    h = Harness(FILL_FIRST)
    h.state.mark_failure("a", MODEL, 429)
    failure = err(500, b"plain text")
    script = Script({"b": [failure]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS[:2], script)
    assert caught.value is failure


async def test_request_retry_waits_for_a_cooldown_within_the_window() -> None:
    h = Harness(request_retry=1, max_retry_interval=5)
    script = Script({"a": [err(429), OK], "b": [err(429), OK]})
    served = await h.run(KEYS[:2], script)
    assert h.clock.slept == [1.0]
    assert served.passes == 2
    # Cursor 0 picks a, cursor 1 picks b (the only untried), cursor 2 picks a in the new pass.
    assert served.tried == ("a", "b", "a")
    assert served.value == "ok:a"


async def test_a_cooldown_wait_that_ends_early_is_topped_up_before_the_next_pass() -> None:
    # The event loop's timer can fire a fraction of a millisecond before the state's wall clock
    # reaches the cooldown's end (uvloop rounds timers): the retry pass must not start before it.
    h = Harness(request_retry=1, max_retry_interval=5)

    async def early_sleep(seconds: float) -> None:
        h.clock.slept.append(seconds)
        h.clock.t += max(seconds - 0.0007, 0.0005)

    script = Script({"a": [err(429), OK]})
    served = await run_with_failover([KEYS[0]], script, model=MODEL, cfg=h.settings, selector=h.selector,
                                     state=h.state, sleep=early_sleep)
    assert served.passes == 2 and served.value == "ok:a"
    assert script.calls == ["a", "a"]
    assert h.clock.slept[0] == 1.0 and len(h.clock.slept) > 1
    assert all(extra == pytest.approx(0.001) for extra in h.clock.slept[1:])


async def test_request_retry_passes_use_growing_quota_cooldowns() -> None:
    h = Harness(FILL_FIRST, request_retry=2, max_retry_interval=10)
    script = Script({"a": [err(429)], "b": [err(429)]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS[:2], script)
    assert caught.value.status == 429
    assert h.clock.slept == [1.0, 2.0]
    assert script.calls == ["a", "b", "a", "b", "a", "b"]


@pytest.mark.parametrize(("status", "window", "waited"), [
    (500, 60, [60.0]),  # a cooldown ending exactly at the window still counts
    (500, 59, []),
    (401, 600, []),  # 30 min is beyond the window
    (401, 1800, [1800.0]),
    (400, 600, []),  # a request fault ends the loop at once
])
async def test_wait_only_when_a_cooldown_ends_within_max_retry_interval(status: int, window: int,
                                                                       waited: list[float]) -> None:
    h = Harness(request_retry=1, max_retry_interval=window)
    script = Script({"a": [err(status), OK]})
    if waited:
        served = await h.run(KEYS[:1], script)
        assert served.passes == 2
    else:
        with pytest.raises(UpstreamError):
            await h.run(KEYS[:1], script)
    assert h.clock.slept == waited


async def test_model_cooldown_pick_error_waits_too() -> None:
    h = Harness(request_retry=1, max_retry_interval=30)
    h.state.mark_failure("a", MODEL, 429, retry_after=20.0)
    served = await h.run(KEYS[:1], Script({}))
    assert h.clock.slept == [20.0]
    assert served.value == "ok:a"


async def test_no_waiting_without_max_retry_interval() -> None:
    h = Harness(request_retry=5, max_retry_interval=0)
    script = Script({"a": [err(429)]})
    with pytest.raises(UpstreamError):
        await h.run(KEYS[:1], script)
    assert h.clock.slept == []
    assert script.calls == ["a"]


async def test_no_second_pass_without_request_retry() -> None:
    h = Harness(request_retry=0, max_retry_interval=600)
    script = Script({"a": [err(429)]})
    with pytest.raises(UpstreamError):
        await h.run(KEYS[:1], script)
    assert h.clock.slept == []


async def test_round_robin_order_across_requests() -> None:
    h = Harness(ROUND_ROBIN)
    script = Script({})
    order = [(await h.run([Cred("c"), Cred("a"), Cred("b")], script)).credential.id for _ in range(4)]
    assert order == ["a", "b", "c", "a"]


async def test_fill_first_order_across_requests() -> None:
    h = Harness(FILL_FIRST)
    script = Script({"a": [OK, OK, err(429), OK]})
    order = [(await h.run(KEYS, script)).credential.id for _ in range(4)]
    assert order == ["a", "a", "b", "b"]
    h.clock.t += 1
    assert (await h.run(KEYS, script)).credential.id == "a"


async def test_priorities_fall_back_to_lower_bucket_in_the_same_pass() -> None:
    h = Harness(ROUND_ROBIN)
    creds = [Cred("low", 0), Cred("high2", 10), Cred("high1", 10)]
    script = Script({"high1": [err(429)], "high2": [err(402)]})
    served = await h.run(creds, script)
    assert served.tried == ("high1", "high2", "low")
    assert served.credential.id == "low"


async def test_disable_cooling_leaves_429_keys_pickable() -> None:
    h = Harness(FILL_FIRST, disable_cooling=True, request_retry=2, max_retry_interval=60)
    script = Script({"a": [err(429)]})
    with pytest.raises(UpstreamError):
        await h.run(KEYS[:1], script)
    with pytest.raises(UpstreamError):  # never model_cooldown: nothing is blocked
        await h.run(KEYS[:1], script)
    assert script.calls == ["a", "a"]
    assert h.clock.slept == []


async def test_no_candidates_is_auth_not_found() -> None:
    h = Harness()
    with pytest.raises(AuthNotFoundError) as caught:
        await h.run([], Script({}))
    assert caught.value.status == 500
    assert caught.value.body == (b'{"error":{"message":"auth_not_found: no auth available",'
                                 b'"type":"server_error","code":"internal_server_error"}}')


async def test_all_blocked_not_only_by_quota_is_auth_unavailable() -> None:
    h = Harness()
    h.state.mark_failure("a", MODEL, 401)
    h.state.mark_failure("b", MODEL, 429)
    with pytest.raises(AuthUnavailableError) as caught:
        await h.run(KEYS[:2], Script({}))
    assert caught.value.body == (b'{"error":{"message":"auth_unavailable: no auth available",'
                                 b'"type":"server_error","code":"internal_server_error"}}')


async def test_google_retry_hint_sets_the_cooldown() -> None:
    h = Harness()
    body = b'{"error":{"code":429,"message":"Your quota will reset after 39s."}}'
    script = Script({"a": [classify(429, body, google_hint=True)]})
    await h.run(KEYS[:2], script)
    assert h.state.block("a", MODEL).until == T0 + 39


async def test_retry_after_header_only_when_asked() -> None:
    for honour, until in ((False, T0 + 1), (True, T0 + 7)):
        h = Harness(honour_retry_after_header=honour)
        script = Script({"a": [classify(429, b"{}", {"Retry-After": "7"})]})
        await h.run(KEYS[:2], script)
        assert h.state.block("a", MODEL).until == until


async def test_defer_success_leaves_marking_to_the_stream_end() -> None:
    h = Harness(FILL_FIRST)
    h.state.mark_failure("a", MODEL, 400)
    served = await h.run(KEYS[:1], Script({}), defer_success=True)
    assert h.state.get("a", MODEL) is not None
    mark_result(h.state, served.credential.id, MODEL, err(502), h.settings)  # mid-stream failure
    assert h.state.block("a", MODEL).until == T0 + 60
    h.clock.t += 60
    mark_result(h.state, "a", MODEL, None, h.settings)
    assert h.state.get("a", MODEL) is None


async def test_cancellation_propagates_after_marking_the_pass_like_the_legacy() -> None:
    # A client hang-up is a status-less failure of every credential the legacy pass still picks
    # (tests/handlers/rotation/test_client_gone.py has the details); no further upstream call.
    h = Harness()
    script = Script({"a": [asyncio.CancelledError()]})
    with pytest.raises(asyncio.CancelledError):
        await h.run(KEYS, script)
    assert script.calls == ["a"]
    for key in KEYS:
        state = h.state.get(key.id, MODEL)
        assert state is not None and state.last_status is None and state.last_reason == "canceled"


async def test_thinking_suffix_models_rotate_separately() -> None:
    h = Harness(FILL_FIRST)
    await h.run(KEYS, Script({"a": [err(429)]}), model="gpt-5(high)")
    assert h.state.block("a", "gpt-5(high)").blocked
    assert (await h.run(KEYS, Script({}))).credential.id == "a"


def test_closest_cooldown_wait_counts_every_blocked_candidate() -> None:
    state = RotationState(lambda: T0)
    assert closest_cooldown_wait(MODEL, KEYS, state, T0) is None
    state.mark_failure("a", MODEL, 401)
    state.mark_failure("b", MODEL, 500)
    state.mark_failure("c", MODEL, 400)
    assert closest_cooldown_wait(MODEL, KEYS, state, T0 + 10) == 50


def test_settings_from_config() -> None:
    cfg = Config.model_validate({"request-retry": 3, "max-retry-interval": 30, "disable-cooling": True})
    settings = RetrySettings.from_config(cfg)
    assert settings == RetrySettings(request_retry=3, max_retry_interval=30.0, disable_cooling=True)
    assert settings.passes == 4
    assert RetrySettings(request_retry=-2).passes == 1


async def test_failures_without_a_cooldown_never_start_another_pass() -> None:
    # shouldRetryAfterError (conductor.go:1222-1237) waits only for a blocked credential: a pass
    # that failed on transport errors and statuses outside the cooldown table leaves nothing
    # blocked, so request-retry does not replay it, however large max-retry-interval is.
    h = Harness(FILL_FIRST, request_retry=3, max_retry_interval=600)
    last = err(501)
    script = Script({"a": [transport_error("connection reset")], "b": [last]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS[:2], script)
    assert caught.value is last
    assert script.calls == ["a", "b"]
    assert h.clock.slept == []


async def test_another_cooling_credential_replays_the_whole_pass() -> None:
    # The same failures with a third credential cooling within the window: the loop sleeps until
    # that one recovers and the new pass, with a fresh tried set, calls every credential again.
    h = Harness(FILL_FIRST, request_retry=1, max_retry_interval=600)
    h.state.mark_failure("c", MODEL, 503)
    script = Script({"a": [transport_error("connection reset")], "b": [err(501)], "c": [err(500)]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS, script)
    assert caught.value.status == 500
    assert h.clock.slept == [60.0]
    assert script.calls == ["a", "b", "a", "b", "c"]


async def test_an_error_with_status_200_is_never_retried() -> None:
    # conductor.go:1229: an error whose status is exactly 200 ends the request after its pass.
    h = Harness(FILL_FIRST, request_retry=2, max_retry_interval=600)
    h.state.mark_failure("b", MODEL, 500)
    odd = UpstreamError("transient", 200, b"stream error")
    script = Script({"a": [odd]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS[:2], script)
    assert caught.value is odd
    assert script.calls == ["a"]
    assert h.clock.slept == []


async def test_a_hint_beyond_max_retry_interval_answers_at_once() -> None:
    # The wait is the nearest recovery; a Google hint longer than the window is not waited for,
    # and the next request meets the local cooldown answer for the rest of it.
    h = Harness(request_retry=3, max_retry_interval=30)
    body = b'{"error":{"code":429,"message":"Your quota will reset after 31s."}}'
    script = Script({"a": [classify(429, body, google_hint=True)]})
    with pytest.raises(UpstreamError) as caught:
        await h.run(KEYS[:1], script)
    assert caught.value.status == 429
    assert h.clock.slept == []
    h.clock.t += 0.5
    with pytest.raises(ModelCooldownError) as cooled:
        await h.run(KEYS[:1], script)
    assert (cooled.value.reset_seconds, cooled.value.headers["Retry-After"]) == (31, "31")
    assert script.calls == ["a"]
