"""The shared device-login pieces: reading the device answer, poll verdicts, error mapping."""

from __future__ import annotations

import pytest

from handlers.logins.device_http import EndpointAnswer, TokenEndpointError
from handlers.logins.device_login import (
    CAMEL_KEYS,
    SNAKE_KEYS,
    as_device_error,
    device_authorization,
    poll_verdict,
)
from handlers.logins.device_poll import DeviceFlowError


def test_snake_case_answer_is_read_with_its_verifier() -> None:
    got = device_authorization({"device_code": "dc", "user_code": "UC", "verification_uri": "https://v",
                                "verification_uri_complete": "https://v?c=UC", "expires_in": "600",
                                "interval": 7}, "qwen device authorization", SNAKE_KEYS, code_verifier="ver")
    assert (got.device_code, got.user_code, got.browser_url) == ("dc", "UC", "https://v?c=UC")
    assert (got.expires_in, got.interval, got.code_verifier, got.extra) == (600.0, 7.0, "ver", {})


def test_camel_case_answer_keeps_the_extras() -> None:
    got = device_authorization({"deviceCode": "dc", "userCode": "UC", "verificationUri": "https://v",
                                "expiresIn": 300}, "kiro device authorization", CAMEL_KEYS,
                               extra={"client_id": "cid"})
    assert (got.device_code, got.verification_uri_complete, got.expires_in) == ("dc", "", 300.0)
    assert got.extra == {"client_id": "cid"}


@pytest.mark.parametrize(("keys", "message"), [
    (SNAKE_KEYS, "x failed: no device_code in the answer"),
    (CAMEL_KEYS, "x failed: no deviceCode in the answer"),
])
def test_answer_without_a_device_code_ends_the_login(keys, message) -> None:
    with pytest.raises(DeviceFlowError) as caught:
        device_authorization({"user_code": "UC", "userCode": "UC"}, "x", keys)
    assert (caught.value.reason, str(caught.value)) == ("bad_response", message)


def test_endpoint_faults_become_device_errors_with_their_reason() -> None:
    with pytest.raises(DeviceFlowError) as caught, as_device_error():
        raise TokenEndpointError("unreachable", "down")
    assert (caught.value.reason, str(caught.value)) == ("unreachable", "down")


def test_poll_verdicts() -> None:
    pending = EndpointAnswer(status=400, body={"error": "authorization_pending"})
    assert poll_verdict(pending, "https://t/token", "poll").kind == "pending"
    done = poll_verdict(EndpointAnswer(status=200, body={"access_token": "a"}), "https://t/token", "poll")
    assert (done.kind, done.token) == ("token", {"access_token": "a"})
    with pytest.raises(DeviceFlowError) as caught:
        poll_verdict(EndpointAnswer(status=400, body={"error": "access_denied"}), "https://t/token", "poll")
    assert caught.value.reason == "denied"
