"""quotio_gateway/gin_routes.py: CLIProxyAPI's Gin route table and Gin's trailing-slash redirect."""

from __future__ import annotations

import pytest

from quotio_gateway.gin_routes import legacy_serves, redirect_response, trailing_slash_target


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("POST", "/v1/messages/count_tokens"),
    ("GET", "/v1beta/models"), ("GET", "/v1beta/models/gemini-2.5-pro"), ("GET", "/v1beta/models/"),
    ("POST", "/v1beta/models/gemini-2.5-pro:generateContent"), ("POST", "/v1internal:generateContent"),
    ("GET", "/codex/callback"), ("GET", "/v1/ws"), ("GET", "/api/provider/anthropic/v1/models"),
    ("POST", "/api/provider/openai/v1/chat/completions"), ("DELETE", "/api/internal/anything/deep"),
    ("OPTIONS", "/auth"), ("GET", "/threads.rss"),
])
def test_routes_the_legacy_registers(method: str, path: str) -> None:
    assert legacy_serves(method, path, management=False)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/nope"), ("HEAD", "/v1/models"), ("GET", "/v1/chat/completions"), ("POST", "/v1/models"),
    # Gin's ":method" starts at the colon and may not be empty: "/v1internal" alone is no match.
    ("POST", "/v1internal"), ("POST", "/v1internal:a/b"), ("GET", "/api/provider//models"),
    ("PUT", "/v1/models"), ("GET", "/v1/models/"),
])
def test_paths_the_legacy_answers_404(method: str, path: str) -> None:
    assert not legacy_serves(method, path, management=False)


def test_management_routes_exist_only_once_a_secret_is_set() -> None:
    assert not legacy_serves("GET", "/v0/management/usage", management=False)
    assert legacy_serves("GET", "/v0/management/usage", management=True)
    assert legacy_serves("PATCH", "/v0/management/debug", management=True)
    assert legacy_serves("GET", "/v0/management/request-error-logs/error-1.log", management=True)
    assert not legacy_serves("POST", "/v0/management/usage", management=True)


@pytest.mark.parametrize(("method", "path", "target"), [
    ("GET", "/v1/models/", "/v1/models"),
    ("POST", "/v1/chat/completions/", "/v1/chat/completions"),
    ("POST", "/v1internal:generateContent/", "/v1internal:generateContent"),
    # A catch-all route wants its slash: /v1beta/models/*action.
    ("POST", "/v1beta/models", "/v1beta/models/"),
    ("GET", "/api/provider/openai/models/", "/api/provider/openai/models"),
    ("OPTIONS", "/api/ads/", "/api/ads"),
    ("GET", "/v1/models", None), ("GET", "/", None), ("GET", "/nope/", None), ("HEAD", "/v1/models/", None),
    ("PUT", "/v1/models/", None), ("CONNECT", "/api/ads/", None), ("GET", "/v1beta/models/", None),
    ("GET", "/v0/management/config/", None),
])
def test_trailing_slash_target(method: str, path: str, target: str | None) -> None:
    assert trailing_slash_target(method, path, management=False) == target


def test_management_paths_redirect_only_with_a_secret() -> None:
    assert trailing_slash_target("GET", "/v0/management/config/", management=True) == "/v0/management/config"
    assert trailing_slash_target("PUT", "/v0/management/config.yaml/", management=True) == "/v0/management/config.yaml"


def test_get_redirect_is_a_301_with_net_http_s_html_note() -> None:
    response = redirect_response("GET", "/v1/models/?a=1&b='x'", "", management=False, decoded_path="/v1/models/")
    assert response is not None
    assert response.status == 301
    assert response.headers["Location"] == "/v1/models?a=1&b='x'"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.body == b'<a href="/v1/models?a=1&amp;b=&#39;x&#39;">Moved Permanently</a>.\n\n'


def test_other_methods_get_a_307_without_body_or_content_type() -> None:
    response = redirect_response("POST", "/v1/messages/", "", management=False, decoded_path="/v1/messages/")
    assert response is not None
    assert (response.status, response.body) == (307, b"")
    assert response.headers["Location"] == "/v1/messages"
    assert "Content-Type" not in response.headers


def test_head_gets_the_content_type_but_no_body() -> None:
    response = redirect_response("HEAD", "/api/ads/", "", management=False, decoded_path="/api/ads/")
    assert response is not None
    assert (response.status, response.body, response.headers["Content-Type"]) == (
        307, b"", "text/html; charset=utf-8")


def test_forwarded_prefix_is_cleaned_and_put_in_front() -> None:
    response = redirect_response("GET", "/v1/models/", "/edge//proxy$1/", management=False,
                                 decoded_path="/v1/models/")
    assert response is not None
    assert response.headers["Location"] == "/edge/proxy1/v1/models"


def test_no_redirect_is_none() -> None:
    assert redirect_response("GET", "/nope/", "", management=False, decoded_path="/nope/") is None
