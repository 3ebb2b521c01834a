from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from handlers.logins.sessions import (
    LOGIN_SESSIONS,
    CallbackRejected,
    CallbackResult,
    LoginSessions,
    normalize_oauth_provider,
    sessions_for,
    valid_state,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_provider_aliases() -> None:
    assert normalize_oauth_provider("Claude") == "anthropic"
    assert normalize_oauth_provider("openai") == "codex"
    assert normalize_oauth_provider("google") == "gemini"
    assert normalize_oauth_provider("i-flow") == "iflow"
    assert normalize_oauth_provider("anti-gravity") == "antigravity"
    assert normalize_oauth_provider("qwen") == "qwen"
    assert normalize_oauth_provider("kiro") is None


@pytest.mark.parametrize(("state", "ok"), [
    ("abc", True), ("gem-123", True), ("a.b_c-d", True), ("", False), ("a/b", False), ("a\\b", False),
    ("a..b", False), ("x" * 128, True), ("x" * 129, False), ("a b", False), ("é", False),
])
def test_state_rules(state: str, ok: bool) -> None:
    assert valid_state(state) is ok


def test_status_body_for_every_situation() -> None:
    clock = Clock()
    table = LoginSessions(clock=clock)
    assert table.status_body("") == (200, {"status": "ok"})
    assert table.status_body("bad/state") == (400, {"status": "error", "error": "invalid state"})
    assert table.status_body("unknown") == (200, {"status": "ok"})
    table.register("s1", "anthropic")
    assert table.status_body("s1") == (200, {"status": "wait"})
    table.set_error("s1", "State code error")
    assert table.status_body("s1") == (200, {"status": "error", "error": "State code error"})
    table.set_error("s1", "   ")
    assert table.status_body("s1") == (200, {"status": "error", "error": "Authentication failed"})
    table.register("s2", "codex")
    table.complete("s2")
    assert table.status_body("s2") == (200, {"status": "ok"})


def test_sessions_expire_after_ten_minutes_and_errors_extend() -> None:
    clock = Clock()
    table = LoginSessions(clock=clock)
    table.register("s1", "codex")
    clock.now += 599
    assert table.is_pending("s1")
    table.set_error("s1", "boom")
    clock.now += 599
    assert table.status_body("s1")[1]["status"] == "error"
    clock.now += 2
    assert table.get("s1") is None
    assert len(table) == 0


def test_complete_provider_drops_only_that_provider() -> None:
    table = LoginSessions()
    table.register("a", "codex")
    table.register("b", "codex")
    table.register("c", "iflow")
    assert table.complete_provider("codex") == 2
    assert table.get("a") is None and table.get("c") is not None


async def test_deliver_wakes_the_waiter() -> None:
    table = LoginSessions()
    table.register("s", "anthropic")
    waiter = asyncio.ensure_future(table.wait_callback("s", 5))
    await asyncio.sleep(0)
    table.deliver("s", "anthropic", code="c1")
    assert await waiter == CallbackResult(code="c1", state="s", error="")


async def test_deliver_refusals_have_the_legacy_answers() -> None:
    table = LoginSessions()
    with pytest.raises(CallbackRejected) as info:
        table.deliver("nope", "anthropic", code="c")
    assert (info.value.status, info.value.message) == (404, "unknown or expired state")
    table.register("s", "anthropic")
    with pytest.raises(CallbackRejected) as info:
        table.deliver("s", "codex", code="c")
    assert (info.value.status, info.value.message) == (400, "provider does not match state")
    table.deliver("s", "anthropic", code="c")
    with pytest.raises(CallbackRejected) as info:
        table.deliver("s", "anthropic", code="c")
    assert (info.value.status, info.value.message) == (409, "oauth flow is not pending")
    table.register("t", "iflow")
    table.set_error("t", "x")
    with pytest.raises(CallbackRejected) as info:
        table.deliver("t", "iflow", code="c")
    assert (info.value.status, info.value.message) == (409, "oauth flow is not pending")


async def test_wait_times_out_and_unknown_state_is_keyerror() -> None:
    table = LoginSessions()
    table.register("s", "codex")
    with pytest.raises(TimeoutError):
        await table.wait_callback("s", 0.01)
    # The callback still arrives later: the session stays pending until the flow gives up.
    table.deliver("s", "codex", code="late")
    assert (await table.wait_callback("s", 1)).code == "late"
    with pytest.raises(KeyError):
        await table.wait_callback("other", 1)


async def test_set_error_cancels_the_wait() -> None:
    table = LoginSessions()
    table.register("s", "codex")
    waiter = asyncio.ensure_future(table.wait_callback("s", 5))
    await asyncio.sleep(0)
    table.set_error("s", "gone")
    with pytest.raises(asyncio.CancelledError):
        await waiter


def test_sessions_for_prefers_the_installed_table() -> None:
    app = web.Application()
    lazy = sessions_for(app)
    assert sessions_for(app) is lazy
    other = web.Application()
    installed = LoginSessions()
    other[LOGIN_SESSIONS] = installed
    assert sessions_for(other) is installed
