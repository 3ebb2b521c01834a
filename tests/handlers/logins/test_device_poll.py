"""The shared RFC 8628 polling loop: timing, the deadline, transport retries, and the terminal helper."""

from __future__ import annotations

import pytest

from handlers.logins.device_http import TokenEndpointError
from handlers.logins.device_poll import (
    DeviceAuthorization,
    DeviceFlowError,
    LoginIO,
    PollOutcome,
    PollTiming,
    classify_oauth_error,
    pkce_pair,
    poll_for_token,
    s256_challenge,
)
from tests.fakes.device_providers import FakeTime


def authorization(expires_in: float = 60, interval: float = 2) -> DeviceAuthorization:
    return DeviceAuthorization(device_code="d", user_code="U", verification_uri="https://x/v",
                               verification_uri_complete="", expires_in=expires_in, interval=interval)


def scripted(*outcomes: object):
    queue = list(outcomes)

    async def attempt() -> PollOutcome:
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, PollOutcome)
        return item

    return attempt


async def test_transport_failures_are_retried_until_a_token_arrives():
    clock = FakeTime()
    token = await poll_for_token(
        scripted(TokenEndpointError("unreachable", "x unreachable"), PollOutcome.pending(),
                 PollOutcome.done({"access_token": "t"})),
        authorization(), PollTiming(), provider="test", sleep=clock.sleep, clock=clock.clock)
    assert token == {"access_token": "t"}
    assert clock.sleeps == [2, 2, 2]


async def test_other_endpoint_errors_end_the_poll():
    clock = FakeTime()
    with pytest.raises(DeviceFlowError) as caught:
        await poll_for_token(scripted(TokenEndpointError("http_error", "boom")), authorization(), PollTiming(),
                             provider="test", sleep=clock.sleep, clock=clock.clock)
    assert caught.value.reason == "http_error"
    assert str(caught.value) == "boom"


async def test_deadline_is_the_shorter_of_expires_in_and_the_bound():
    clock = FakeTime()
    with pytest.raises(DeviceFlowError) as caught:
        await poll_for_token(scripted(*[PollOutcome.pending()] * 100), authorization(expires_in=10),
                             PollTiming(max_wait=900), provider="test", sleep=clock.sleep, clock=clock.clock)
    assert str(caught.value) == "timed out after 10s waiting for the user to authorize"
    assert clock.sleeps == [2, 2, 2, 2, 2]
    clock = FakeTime()
    with pytest.raises(DeviceFlowError):
        await poll_for_token(scripted(*[PollOutcome.pending()] * 100), authorization(expires_in=0),
                             PollTiming(max_wait=7), provider="test", sleep=clock.sleep, clock=clock.clock)
    assert clock.sleeps == [2, 2, 2]


def test_oauth_error_words():
    assert classify_oauth_error("authorization_pending").kind == "pending"
    assert classify_oauth_error("slow_down").kind == "slow_down"
    with pytest.raises(DeviceFlowError) as caught:
        classify_oauth_error("expired_token")
    assert caught.value.reason == "expired"
    with pytest.raises(DeviceFlowError) as caught:
        classify_oauth_error("access_denied")
    assert caught.value.reason == "denied"
    with pytest.raises(DeviceFlowError) as caught:
        classify_oauth_error("unsupported_grant_type")
    assert str(caught.value) == "device token poll failed (unsupported_grant_type)"


def test_pkce_pair_is_32_bytes_and_s256():
    verifier, challenge = pkce_pair()
    assert len(verifier) == 43
    assert challenge == s256_challenge(verifier)
    # RFC 7636 appendix B example.
    assert s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_login_io_prints_the_url_when_no_browser_opens():
    said: list[str] = []
    LoginIO(say=said.append, open_browser=lambda _url: False).show_url("https://x/v?c=1", "Qwen authentication")
    assert said == ["Visit this URL to continue Qwen authentication:\nhttps://x/v?c=1"]
    said.clear()
    opened: list[str] = []
    LoginIO(say=said.append, open_browser=lambda url: opened.append(url) is None).show_url("https://x/v", "it")
    assert opened == ["https://x/v"]
    assert said == ["Opened your browser for it. If nothing appears, visit:\nhttps://x/v"]
    said.clear()
    LoginIO(say=said.append, open_browser=lambda url: opened.append(url) is None, no_browser=True).show_url(
        "https://x/w", "it")
    assert opened == ["https://x/v"]
    assert said == ["Visit this URL to continue it:\nhttps://x/w"]
