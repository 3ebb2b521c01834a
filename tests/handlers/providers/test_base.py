"""Error classification, retry hints, credentials from config, header rules (pure units)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from multidict import CIMultiDict

from handlers.models.registry import build_registry
from handlers.providers import (
    APIKeyCredential,
    ClaudeAPIExecutor,
    OpenAICompatExecutor,
    UpstreamRequest,
    classify,
    credentials_from_config,
    executor_class,
)
from handlers.providers.base import (
    HeaderSet,
    google_retry_delay,
    inband_status_error,
    parse_go_duration,
    parse_retry_after,
    scope_for_status,
)
from quotio_gateway.config import Config


@pytest.mark.parametrize(("status", "scope", "reason"), [
    (400, "request", "request"), (405, "request", "request"), (413, "request", "request"),
    (422, "request", "request"), (401, "credential", "unauthorized"), (402, "credential", "payment_required"),
    (403, "credential", "payment_required"), (404, "credential", "not_found"), (429, "quota", "quota"),
    (408, "transient", "transient"), (500, "transient", "transient"), (501, "transient", "transient"),
    (502, "transient", "transient"), (503, "transient", "transient"), (504, "transient", "transient"),
    (529, "transient", "transient"),
])
def test_classify_table(status: int, scope: str, reason: str) -> None:
    error = classify(status, b'{"error":"x"}', {})
    assert (error.scope, error.status, error.reason, error.body) == (scope, status, reason, b'{"error":"x"}')
    assert scope_for_status(status) == scope


GOOGLE_BAD_KEY = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                             "status": "INVALID_ARGUMENT",
                             "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                          "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}


@pytest.mark.parametrize("body", [
    GOOGLE_BAD_KEY,
    [GOOGLE_BAD_KEY],  # Google's OpenAI-compatible endpoint wraps the error in a list
    {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "x",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_EXPIRED"}]}},
    {"error": {"code": 400, "message": "API key expired. Please renew the API key.", "status": "INVALID_ARGUMENT"}},
])
def test_google_400_for_a_refused_key_blames_the_credential(body: object) -> None:
    raw = json.dumps(body).encode()
    error = classify(400, raw, {})
    assert (error.scope, error.status, error.reason, error.body) == ("credential", 400, "invalid_api_key", raw)


@pytest.mark.parametrize("message", [
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade "
    "or purchase credits.",
    "This organization has been disabled.",
])
def test_anthropic_400_refusing_the_account_blames_the_credential(message: str) -> None:
    raw = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": message}}).encode()
    error = classify(400, raw, {})
    assert (error.scope, error.status, error.reason, error.body) == ("credential", 400, "account_refused", raw)


@pytest.mark.parametrize("body", [
    b'{"type":"error","error":{"type":"invalid_request_error","message":"messages: the credit balance field"}}',
    b'{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}',
    b'{"error":{"code":400,"message":"x","details":[{"reason":"SOMETHING_ELSE"}]}}',
    b'{"type":"error","error":{"type":"invalid_request_error","message":"the API key field is bad"}}',
    b"API key not valid",
])
def test_other_400s_stay_the_request_s_fault(body: bytes) -> None:
    assert classify(400, body, {}).scope == "request"
    # Only a 400 is read this way: Google's 403 for a key is the credential's by its status alone.
    assert classify(403, json.dumps(GOOGLE_BAD_KEY).encode(), {}).reason == "payment_required"


RETRY_INFO = (b'{"error":{"code":429,"message":"quota","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
              b'"metadata":{"quotaResetDelay":"373.801628ms"}},{"@type":"type.googleapis.com/google.rpc.RetryInfo",'
              b'"retryDelay":"0.847655010s"}]}}')


@pytest.mark.parametrize(("body", "expected"), [
    (RETRY_INFO, 0.84765501),
    (b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
     b'"metadata":{"quotaResetDelay":"373.801628ms"}}]}}', 0.373801628),
    (b'{"error":{"message":"Your quota will reset after 39s."}}', 39.0),
    # The first RetryInfo with a delay decides even when it does not parse: no hint, the backoff
    # applies (gemini_cli_executor.go:854-866); the ErrorInfo and the message are not looked at.
    (b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"}],'
     b'"message":"reset after 5s"}}', None),
    (b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":5},'
     b'{"@type":"type.googleapis.com/google.rpc.ErrorInfo","metadata":{"quotaResetDelay":"2s"}}]}}', None),
    # A RetryInfo without a delay is passed over.
    (b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":""},'
     b'{"@type":"type.googleapis.com/google.rpc.ErrorInfo","metadata":{"quotaResetDelay":"2s"}}]}}', 2.0),
    (b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"+2s"}]}}', 2.0),
    (b'{"error":{"message":"no hint"}}', None),
    (b"not json", None),
    (b'["error"]', None),
])
def test_google_retry_delay(body: bytes, expected: float | None) -> None:
    if expected is None:
        assert google_retry_delay(body) is None
    else:
        assert google_retry_delay(body) == pytest.approx(expected)


def test_google_hint_only_when_asked_and_only_on_429() -> None:
    assert classify(429, RETRY_INFO, {}).retry_after is None
    assert classify(429, RETRY_INFO, {}, google_hint=True).retry_after == pytest.approx(0.84765501)
    assert classify(503, RETRY_INFO, {}, google_hint=True).retry_after is None


@pytest.mark.parametrize(("text", "expected"), [
    ("1.5s", 1.5), ("2m3s", 123.0), ("1h", 3600.0), ("250ms", 0.25), ("0", 0.0), ("", None), ("5", None),
    ("1s x", None), ("-1s", -1.0), ("+2s", 2.0), ("-", None),
])
def test_parse_go_duration(text: str, expected: float | None) -> None:
    assert parse_go_duration(text) == expected


def test_parse_retry_after() -> None:
    now = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now=now) == 10.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(" ") is None
    assert parse_retry_after("-5") is None
    # Retry-After is only read for quota answers.
    assert classify(429, b"", CIMultiDict({"retry-after": "3"})).retry_after_header == 3.0
    assert classify(503, b"", {"Retry-After": "3"}).retry_after_header is None


def test_inband_status_error() -> None:
    assert (inband_status_error(429, "x").scope, inband_status_error(429, "x").status) == ("quota", 429)
    unknown = inband_status_error(None, "boom")
    assert (unknown.scope, unknown.status, unknown.body, unknown.client_status) == ("transient", None, b"boom", 500)
    assert inband_status_error(200, "odd").status is None


def test_credentials_from_config_follow_the_synthesizer() -> None:
    config = Config.model_validate({
        "proxy-url": "http://global:8080",
        "gemini-api-key": [{"api-key": " g1 ", "base-url": " https://g.example ", "headers": {"X-A": " 1 ", "X-B": ""}},
                           {"api-key": "  "}],
        "claude-api-key": [{"api-key": "c1", "proxy-url": "socks5://p:1080"}],
        "codex-api-key": [{"api-key": "x1", "base-url": "https://api.openai.com/v1"}],
        "openai-compatibility": [
            {"name": "OpenRouter", "base-url": "https://openrouter.ai/api/v1", "headers": {"X-Title": "q"},
             "api-key-entries": [{"api-key": "o1"}, {"api-key": "o2", "proxy-url": "http://p2:1"}]},
            {"name": "", "base-url": "http://local/v1"},
        ],
        "vertex-api-key": [{"api-key": ""}],
    })
    creds = credentials_from_config(config)
    registry = build_registry(config)
    for cred in creds:
        registered = registry.credential(cred.id)
        assert registered is not None, cred
        assert registered.provider == cred.provider
    assert len({c.id for c in creds}) == len(creds)
    assert [replace(c, id="") for c in creds] == [
        APIKeyCredential("gemini", "g1", "https://g.example", "http://global:8080", (("X-A", "1"),)),
        APIKeyCredential("claude", "c1", "", "socks5://p:1080"),
        APIKeyCredential("codex", "x1", "https://api.openai.com/v1", "http://global:8080"),
        APIKeyCredential("openrouter", "o1", "https://openrouter.ai/api/v1", "http://global:8080", (("X-Title", "q"),),
                         compat_name="OpenRouter"),
        APIKeyCredential("openrouter", "o2", "https://openrouter.ai/api/v1", "http://p2:1", (("X-Title", "q"),),
                         compat_name="OpenRouter"),
        APIKeyCredential("openai-compatibility", "", "http://local/v1", "http://global:8080"),
        APIKeyCredential("vertex", "", "", "http://global:8080"),
    ]


def test_gemini_and_vertex_entries_keep_their_own_proxy_priority_and_headers() -> None:
    # synthesizeGeminiKeys / synthesizeVertexCompat: Auth.ProxyURL is the entry's trimmed
    # proxy-url, which newProxyAwareHTTPClient prefers to the global one; the vertex base is kept
    # as written (its executor does not trim it).
    config = Config.model_validate({
        "proxy-url": "http://global:8080",
        "gemini-api-key": [{"api-key": "g1", "proxy-url": " socks5://g:1080 ", "priority": 3,
                            "headers": {"X-Goog-User-Project": "p"}}],
        "vertex-api-key": [{"api-key": " v1 ", "base-url": " https://zenmux.ai/api/ ", "proxy-url": "http://v:1",
                            "priority": -2, "headers": {" X-V ": " y "}}],
    })
    creds = [replace(c, id="") for c in credentials_from_config(config)]
    assert creds == [
        APIKeyCredential("gemini", "g1", "", "socks5://g:1080", (("X-Goog-User-Project", "p"),), priority=3),
        APIKeyCredential("vertex", "v1", "https://zenmux.ai/api/", "http://v:1", (("X-V", "y"),), priority=-2),
    ]


def test_credential_repr_hides_the_key() -> None:
    text = repr(APIKeyCredential("claude", "sk-ant-secret", "https://api.anthropic.com"))
    assert "sk-ant-secret" not in text
    assert text == "APIKeyCredential(provider='claude', base_url='https://api.anthropic.com')"


def test_header_set_follows_go_header_rules() -> None:
    headers = HeaderSet()
    headers.set("x-api-key", "a")
    headers.set("X-Api-Key", "b")
    assert headers.items() == (("X-Api-Key", "b"),)
    headers.ensure({"user-agent": " mine "}, "User-Agent", "default")
    headers.ensure({}, "X-Api-Key", "ignored")
    headers.ensure({"X-New": "  "}, "X-New", " fallback ")
    headers.ensure({}, "X-Empty", "  ")
    assert headers.items() == (("X-Api-Key", "b"), ("User-Agent", "mine"), ("X-New", "fallback"))
    headers.apply_custom((("user-agent", "custom"),))
    assert headers.get("USER-AGENT") == "custom"


def test_executor_class_by_provider() -> None:
    assert executor_class("claude") is ClaudeAPIExecutor
    assert executor_class("openrouter") is OpenAICompatExecutor


def test_request_base_model_strips_the_thinking_suffix() -> None:
    assert UpstreamRequest("gpt-5(high)", {}).base_model == "gpt-5"
    assert UpstreamRequest("plain", {}).base_model == "plain"
