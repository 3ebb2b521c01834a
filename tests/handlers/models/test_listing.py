"""The three model-list shapes, the Gemini single-model answer and the legacy error bodies."""

from __future__ import annotations

import pytest

from handlers.models.catalog import GEMINI, ModelInfo
from handlers.models.listing import (
    build_error_body,
    error_response,
    gemini_model_response,
    gemini_models_response,
    is_claude_cli,
    unknown_model_response,
    v1_models_response,
)

FULL = ModelInfo(id="gemini-2.5-pro", created=1750118400, owned_by="google", type="gemini",
                 display_name="Gemini 2.5 Pro", name="models/gemini-2.5-pro", version="2.5",
                 description="Stable <release>", input_token_limit=1048576, output_token_limit=65536,
                 supported_generation_methods=("generateContent", "countTokens"), context_length=9,
                 max_completion_tokens=8)
BARE = ModelInfo(id="a&b", owned_by="")
COMPAT = ModelInfo(id="team/m1", created=5, owned_by="OpenRouter", type="openai-compatibility", display_name="m1")
JSON_UTF8 = "application/json; charset=utf-8"


def test_openai_shape() -> None:
    response = v1_models_response([FULL, BARE, COMPAT], "curl/8")
    assert response.status == 200
    assert response.headers["Content-Type"] == JSON_UTF8
    assert response.body == (
        b'{"data":[{"created":1750118400,"id":"gemini-2.5-pro","object":"model","owned_by":"google"},'
        b'{"id":"a\\u0026b","object":"model","owned_by":""},'
        b'{"created":5,"id":"team/m1","object":"model","owned_by":"OpenRouter"}],"object":"list"}')


def test_claude_cli_shape() -> None:
    response = v1_models_response([FULL, BARE, COMPAT], "claude-cli/2.0.1 (external, cli)")
    assert response.headers["Content-Type"] == JSON_UTF8
    assert response.body == (
        b'{"data":[{"created":1750118400,"display_name":"Gemini 2.5 Pro","id":"gemini-2.5-pro",'
        b'"object":"model","owned_by":"google","type":"gemini"},'
        b'{"id":"a\\u0026b","object":"model","owned_by":""},'
        b'{"created":5,"display_name":"m1","id":"team/m1","object":"model","owned_by":"OpenRouter",'
        b'"type":"openai-compatibility"}]}')


@pytest.mark.parametrize(("agent", "claude"), [
    ("claude-cli/1.0", True), ("claude-cli", True), ("Claude-cli/1.0", False), (" claude-cli", False), ("", False),
])
def test_user_agent_switch(agent: str, claude: bool) -> None:
    assert is_claude_cli(agent) is claude


def test_empty_lists() -> None:
    assert v1_models_response([], "x").body == b'{"data":[],"object":"list"}'
    assert v1_models_response([], "claude-cli/1").body == b'{"data":[]}'
    assert gemini_models_response([]).body == b'{"models":[]}'


def test_gemini_list_rewrites_names() -> None:
    response = gemini_models_response([FULL, COMPAT])
    assert response.headers["Content-Type"] == JSON_UTF8
    assert response.body == (
        b'{"models":[{"description":"models/gemini-2.5-pro","displayName":"models/gemini-2.5-pro",'
        b'"inputTokenLimit":1048576,"name":"models/gemini-2.5-pro","outputTokenLimit":65536,'
        b'"supportedGenerationMethods":["generateContent","countTokens"],"version":"2.5"},'
        b'{"description":"team/m1","displayName":"team/m1","name":"models/team/m1",'
        b'"supportedGenerationMethods":["generateContent"]}]}')


def test_gemini_get_matches_with_or_without_models_prefix() -> None:
    expected = (
        b'{"description":"Stable \\u003crelease\\u003e","displayName":"Gemini 2.5 Pro",'
        b'"inputTokenLimit":1048576,"name":"models/gemini-2.5-pro","outputTokenLimit":65536,'
        b'"supportedGenerationMethods":["generateContent","countTokens"],"version":"2.5"}')
    for action in ("/gemini-2.5-pro", "/models/gemini-2.5-pro"):
        response = gemini_model_response([BARE, FULL], action)
        assert response.status == 200
        assert response.body == expected
    compat = gemini_model_response([COMPAT], "/team/m1")
    assert compat.body == b'{"displayName":"m1","name":"models/team/m1"}'


@pytest.mark.parametrize("action", ["/", "/gemini-2.5-PRO", "/models/models/gemini-2.5-pro", "//gemini-2.5-pro"])
def test_gemini_get_not_found(action: str) -> None:
    response = gemini_model_response([FULL], action)
    assert response.status == 404
    assert response.headers["Content-Type"] == JSON_UTF8
    assert response.body == b'{"error":{"message":"Not Found","type":"not_found"}}'


def test_gemini_catalogue_list_entry() -> None:
    body = gemini_models_response(GEMINI[:1]).body
    assert body is not None and body.startswith(b'{"models":[{"description":"models/gemini-2.5-pro",')


def test_unknown_model_response() -> None:
    response = unknown_model_response("gpt-9(high)")
    assert response.status == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.body == (
        b'{"error":{"message":"unknown provider for model gpt-9(high)","type":"invalid_request_error"}}')
    # Go trims the error text, so an empty model loses the trailing space.
    assert unknown_model_response("").body == (
        b'{"error":{"message":"unknown provider for model","type":"invalid_request_error"}}')


@pytest.mark.parametrize(("status", "text", "body"), [
    (401, "bad key", b'{"error":{"message":"bad key","type":"authentication_error","code":"invalid_api_key"}}'),
    (403, "no", b'{"error":{"message":"no","type":"permission_error","code":"insufficient_quota"}}'),
    (429, "slow", b'{"error":{"message":"slow","type":"rate_limit_error","code":"rate_limit_exceeded"}}'),
    (404, "gone", b'{"error":{"message":"gone","type":"invalid_request_error","code":"model_not_found"}}'),
    (500, "boom", b'{"error":{"message":"boom","type":"server_error","code":"internal_server_error"}}'),
    (503, "", b'{"error":{"message":"Service Unavailable","type":"server_error","code":"internal_server_error"}}'),
    (418, "tea", b'{"error":{"message":"tea","type":"invalid_request_error"}}'),
    (0, "x", b'{"error":{"message":"x","type":"server_error","code":"internal_server_error"}}'),
    (502, '  {"error":{"code":502}} ', b'{"error":{"code":502}}'),
    (400, "NaN", b'{"error":{"message":"NaN","type":"invalid_request_error"}}'),
])
def test_build_error_body(status: int, text: str, body: bytes) -> None:
    assert build_error_body(status, text) == body


def test_error_response_trims_text() -> None:
    response = error_response(429, "  later  ")
    assert response.status == 429
    assert response.body == (
        b'{"error":{"message":"later","type":"rate_limit_error","code":"rate_limit_exceeded"}}')
