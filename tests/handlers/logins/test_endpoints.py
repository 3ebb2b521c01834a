from __future__ import annotations

from types import SimpleNamespace

import pytest

from handlers.logins.endpoints import (
    PROVIDERS,
    AntigravityEndpoints,
    EndpointConfigError,
    GeminiCliEndpoints,
    VertexEndpoints,
    canonical_provider,
    default_endpoints,
    endpoints_for,
    override_keys,
)


def test_all_ten_providers_are_in_the_table() -> None:
    assert set(PROVIDERS) == {"gemini-cli", "claude", "codex", "antigravity", "iflow", "qwen", "github-copilot",
                              "kiro", "vertex", "openai-compatibility"}


def test_defaults_are_the_legacy_constants() -> None:
    claude = default_endpoints("claude")
    assert claude.authorize_url == "https://claude.ai/oauth/authorize"
    assert claude.token_url == "https://console.anthropic.com/v1/oauth/token"
    assert claude.redirect_uri == "http://localhost:54545/callback"
    assert claude.pkce and claude.client_id == "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
    codex = default_endpoints("codex")
    assert codex.redirect_uri == "http://localhost:1455/auth/callback"
    assert codex.inference_base_url == "https://chatgpt.com/backend-api/codex"
    gemini = default_endpoints("gemini")
    assert isinstance(gemini, GeminiCliEndpoints)
    assert gemini.redirect_uri == "http://localhost:8085/oauth2callback"
    assert gemini.authorize_url == "https://accounts.google.com/o/oauth2/auth"
    assert default_endpoints("antigravity").redirect_uri == "http://localhost:51121/oauth-callback"
    assert default_endpoints("iflow").redirect_uri == "http://localhost:11451/oauth2callback"
    assert default_endpoints("qwen").device_url == "https://chat.qwen.ai/api/v1/oauth2/device/code"
    assert default_endpoints("qwen").redirect_uri == ""
    assert default_endpoints("github-copilot").client_id == "Iv1.b507a08c87ecfe98"


def test_no_config_means_defaults() -> None:
    assert endpoints_for("codex", None) is default_endpoints("codex")
    assert endpoints_for("codex", SimpleNamespace(gateway=None)) is default_endpoints("codex")
    assert endpoints_for("codex", {"other": 1}) is default_endpoints("codex")


def test_override_from_a_config_object_and_refresh_follows_token() -> None:
    cfg = SimpleNamespace(gateway={"provider-endpoints": {"anthropic": {"token-url": "http://127.0.0.1:9/t"}}})
    ep = endpoints_for("claude", cfg)
    assert ep.token_url == "http://127.0.0.1:9/t"
    assert ep.refresh_url == "http://127.0.0.1:9/t"
    assert ep.authorize_url == "https://claude.ai/oauth/authorize"
    assert ep.client_id == default_endpoints("claude").client_id


def test_explicit_refresh_url_is_kept() -> None:
    ep = endpoints_for("codex", {"provider-endpoints": {"codex": {"token-url": "http://a/t",
                                                                  "refresh-url": "http://b/r"}}})
    assert (ep.token_url, ep.refresh_url) == ("http://a/t", "http://b/r")


def test_antigravity_base_override_drops_fallbacks_unless_given() -> None:
    base = {"inference-base-url": "http://relay/ag"}
    ep = endpoints_for("antigravity", {"provider-endpoints": {"antigravity": base}})
    assert isinstance(ep, AntigravityEndpoints)
    assert ep.inference_fallback_urls == ()
    both = {**base, "inference-fallback-urls": ["http://relay/b"]}
    ep = endpoints_for("antigravity", {"provider-endpoints": {"antigravity": both}})
    assert ep.inference_fallback_urls == ("http://relay/b",)


def test_vertex_template_is_allowed() -> None:
    ep = endpoints_for("vertex", {"provider-endpoints": {"vertex": {"inference-base-url": "http://{location}.relay"}}})
    assert isinstance(ep, VertexEndpoints)
    assert ep.base_for("eu") == "http://eu.relay"


@pytest.mark.parametrize(("table", "message"), [
    ({"nope": {}}, "gateway.provider-endpoints: unknown provider 'nope'"),
    ({"claude": {"device-url": "http://x"}}, "gateway.provider-endpoints.claude: unknown key 'device-url'"),
    ({"claude": {"client-id": "x"}}, "gateway.provider-endpoints.claude: unknown key 'client-id'"),
    ({"claude": {"token-url": "ftp://x/t"}},
     "gateway.provider-endpoints.claude.token-url must be an absolute http(s) URL, got 'ftp://x/t'"),
    ({"claude": {"token-url": "/relative"}},
     "gateway.provider-endpoints.claude.token-url must be an absolute http(s) URL, got '/relative'"),
    ({"claude": {"token-url": 5}}, "gateway.provider-endpoints.claude.token-url must be a non-empty URL string"),
    ({"claude": ["x"]}, "gateway.provider-endpoints.claude must be a mapping"),
    ({"antigravity": {"inference-fallback-urls": "http://x"}},
     "gateway.provider-endpoints.antigravity.inference-fallback-urls must be a list of URLs"),
    ({"openai-compatibility": {"token-url": "http://x"}},
     "gateway.provider-endpoints.openai-compatibility: unknown key 'token-url'"),
])
def test_bad_overrides_are_refused_by_name(table: dict, message: str) -> None:
    provider = next(iter(table))
    with pytest.raises(EndpointConfigError) as info:
        endpoints_for(provider if provider != "nope" else "claude", {"provider-endpoints": table})
    assert str(info.value).startswith(message)


def test_table_must_be_a_mapping() -> None:
    with pytest.raises(EndpointConfigError, match="must be a mapping of provider names"):
        endpoints_for("claude", {"provider-endpoints": ["claude"]})


def test_override_keys_list_only_existing_endpoints() -> None:
    assert override_keys("claude") == ("authorize-url", "token-url", "refresh-url", "inference-base-url")
    assert override_keys("openai-compatibility") == ()
    assert "cookie-api-key-url" in override_keys("iflow")


def test_unknown_provider_name() -> None:
    with pytest.raises(KeyError):
        canonical_provider("bogus")
    assert canonical_provider(" Gemini ") == "gemini-cli"
