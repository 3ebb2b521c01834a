from __future__ import annotations

import orjson
import pytest

from handlers.rotation.errors import (
    AuthNotFoundError,
    AuthUnavailableError,
    ModelCooldownError,
    ceil_seconds,
    go_duration_seconds,
)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"),
    (0.2, "1s"),  # anything under a second but above zero shows as 1s
    (0.999, "1s"),
    (1, "1s"),
    (1.49, "1s"),
    (1.5, "2s"),  # half rounds away from zero, like Go's Duration.Round
    (59.5, "1m0s"),
    (60, "1m0s"),
    (89.4, "1m29s"),
    (90, "1m30s"),
    (1800, "30m0s"),
    (3600, "1h0m0s"),
    (3661, "1h1m1s"),
    (43200, "12h0m0s"),
    (-3, "0s"),
])
def test_go_duration_seconds(seconds: float, text: str) -> None:
    assert go_duration_seconds(seconds) == text


@pytest.mark.parametrize(("seconds", "whole"), [
    (0, 0), (0.2, 1), (1, 1), (1.000000001, 2), (29.9999999999, 30), (89.4, 90), (-1, 0),
])
def test_ceil_seconds(seconds: float, whole: int) -> None:
    assert ceil_seconds(seconds) == whole


def test_model_cooldown_answer_is_exact() -> None:
    error = ModelCooldownError("gemini-2.5-pro", 89.4)
    assert error.status == 429
    assert dict(error.headers) == {"Content-Type": "application/json", "Retry-After": "90"}
    assert error.body == (b'{"error":{"code":"model_cooldown","message":"All credentials for model gemini-2.5-pro'
                          b' are cooling down","model":"gemini-2.5-pro","reset_seconds":90,"reset_time":"1m29s"}}')
    assert str(error) == error.body.decode()
    assert error.code == "model_cooldown"


def test_model_cooldown_with_provider_and_escaping() -> None:
    error = ModelCooldownError("a<b>&c", 0.25, provider="claude")
    doc = orjson.loads(error.body)
    assert doc == {"error": {"code": "model_cooldown",
                             "message": "All credentials for model a<b>&c are cooling down via provider claude",
                             "model": "a<b>&c", "provider": "claude", "reset_seconds": 1, "reset_time": "1s"}}
    # Go's encoder escapes HTML characters; key order is Go's sorted map order.
    assert b'"model":"a\\u003cb\\u003e\\u0026c","provider":"claude","reset_seconds":1' in error.body
    assert error.headers["Retry-After"] == "1"


def test_model_cooldown_without_model_name() -> None:
    error = ModelCooldownError("", 0)
    assert orjson.loads(error.body)["error"] == {
        "code": "model_cooldown", "message": "All credentials for model requested model are cooling down",
        "model": "", "reset_seconds": 0, "reset_time": "0s"}
    assert error.headers["Retry-After"] == "0"


@pytest.mark.parametrize(("error", "message"), [
    (AuthNotFoundError(), "auth_not_found: no auth available"),
    (AuthUnavailableError(), "auth_unavailable: no auth available"),
])
def test_no_auth_answers_are_500_openai_envelopes(error: AuthNotFoundError, message: str) -> None:
    assert error.status == 500
    assert dict(error.headers) == {"Content-Type": "application/json"}
    assert str(error) == message
    assert error.body == (b'{"error":{"message":"' + message.encode()
                          + b'","type":"server_error","code":"internal_server_error"}}')
