"""The PKCE code-login base shared by Claude and Codex (callback checks, expiry stamp)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from handlers.logins.authcode import LoginFailed
from handlers.logins.claude import ClaudeLogin
from handlers.logins.device_poll import s256_challenge
from handlers.logins.endpoints import default_endpoints
from handlers.logins.pkce_code import expiry_stamp, text_of
from handlers.logins.sessions import CallbackResult


async def test_each_attempt_gets_its_own_pkce_pair_and_callback_checks() -> None:
    async with aiohttp.ClientSession() as http:
        first = ClaudeLogin(http, default_endpoints("claude"))
        second = ClaudeLogin(http, default_endpoints("claude"))
    assert first.verifier != second.verifier
    assert first.challenge == s256_challenge(first.verifier)
    with pytest.raises(LoginFailed) as caught:
        first.check_callback(CallbackResult("c", first.state, "access_denied"), "Bad request")
    assert (caught.value.message, caught.value.detail) == ("Bad request", "provider returned error 'access_denied'")
    with pytest.raises(LoginFailed) as caught:
        first.check_callback(CallbackResult("c", second.state), "Bad request")
    assert (caught.value.message, caught.value.detail) == ("State code error", "callback state does not match")
    first.check_callback(CallbackResult("c", first.state), "Bad request")


def test_expiry_stamp_and_text_of() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    assert expiry_stamp(now, 3600) == "2026-01-02T04:04:05Z"
    assert expiry_stamp(now, 59.9) == "2026-01-02T03:05:04Z"
    assert expiry_stamp(now, "3600") == expiry_stamp(now, True) == "2026-01-02T03:04:05Z"
    assert (text_of("a"), text_of(None), text_of(5)) == ("a", "", "")
