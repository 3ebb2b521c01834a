"""Every provider's login and inference endpoints, in one table, with config overrides.

The defaults are the public constants CLIProxyAPI v6.7.15 (and CLIProxyAPIPlus for GitHub Copilot
and Kiro) compiles in. An operator can point any URL of any provider elsewhere in config.yaml::

    gateway:
      provider-endpoints:
        claude:
          authorize-url: http://127.0.0.1:9100/oauth/authorize
          token-url: http://127.0.0.1:9100/v1/oauth/token

That is how tests reach fake providers and how private deployments reach a relay. Only config can
change them: nothing a client sends is ever consulted here.

Usage::

    ep = endpoints_for("codex", cfg)      # cfg: quotio_gateway.config Config, a dict, or None
    ep.token_url, ep.client_id, ep.callback_port

Key names are the field names with ``_`` written as ``-`` (``token_url`` -> ``token-url``); the
README in this package lists them per provider. Unknown providers or keys and values that are not
absolute http(s) URLs raise :class:`EndpointConfigError`, so a typo fails loudly instead of sending
a login to the real provider.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "PROVIDERS",
    "AntigravityEndpoints",
    "EndpointConfigError",
    "GeminiCliEndpoints",
    "GitHubCopilotEndpoints",
    "IFlowEndpoints",
    "KiroEndpoints",
    "ProviderEndpoints",
    "VertexEndpoints",
    "canonical_provider",
    "default_endpoints",
    "endpoints_for",
    "override_keys",
]


class EndpointConfigError(ValueError):
    """``gateway.provider-endpoints`` names an unknown provider or key, or holds a bad URL."""


@dataclass(frozen=True, slots=True)
class ProviderEndpoints:
    """Endpoints and public client identity shared by every provider.

    An empty string means the provider has no such endpoint (for example no ``device_url`` for an
    authorization-code provider); ``callback_port`` 0 means no local callback server.
    """

    provider: str
    authorize_url: str = ""
    token_url: str = ""
    # Usually the token URL; kept apart because iFlow's cookie logins refresh elsewhere and a relay
    # may split the two.
    refresh_url: str = ""
    device_url: str = ""
    userinfo_url: str = ""
    inference_base_url: str = ""
    callback_port: int = 0
    callback_path: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: tuple[str, ...] = ()
    pkce: bool = False

    @property
    def redirect_uri(self) -> str:
        """The redirect URI the provider has registered for this client (fixed host and port)."""
        if not self.callback_port:
            return ""
        return f"http://localhost:{self.callback_port}{self.callback_path}"


@dataclass(frozen=True, slots=True)
class GeminiCliEndpoints(ProviderEndpoints):
    """Gemini CLI adds the Cloud Code Assist onboarding calls and project discovery."""

    # Base of ``/v1internal:loadCodeAssist`` and ``/v1internal:onboardUser`` during login.
    code_assist_url: str = ""
    projects_url: str = ""
    # Prefix of ``/<project>/services/cloudaicompanion.googleapis.com`` (GET, then ``:enable``).
    service_usage_url: str = ""


@dataclass(frozen=True, slots=True)
class AntigravityEndpoints(ProviderEndpoints):
    """Antigravity looks its project up at login and falls back across three inference bases."""

    code_assist_url: str = ""
    # Tried after ``inference_base_url`` in order; overriding ``inference-base-url`` alone clears
    # them, as a ``base_url`` in a credential file does in the legacy executor.
    inference_fallback_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IFlowEndpoints(ProviderEndpoints):
    """iFlow turns an OAuth token or a browser cookie into an API key."""

    # Where the local callback server sends the browser after a login, good or bad.
    success_redirect_url: str = ""
    error_redirect_url: str = ""
    # GET shows the key of the cookie's account, POST regenerates it (cookie login and refresh).
    cookie_api_key_url: str = ""


@dataclass(frozen=True, slots=True)
class GitHubCopilotEndpoints(ProviderEndpoints):
    """GitHub's device login, then a per-request swap for a short-lived Copilot token."""

    copilot_token_url: str = ""


@dataclass(frozen=True, slots=True)
class KiroEndpoints(ProviderEndpoints):
    """Kiro: AWS SSO-OIDC (Builder ID) and the Kiro auth service (Google/GitHub social login).

    ``token_url``/``device_url``/``refresh_url`` are the OIDC ones; the social service has its own.
    """

    register_url: str = ""
    builder_id_start_url: str = ""
    social_login_url: str = ""
    social_token_url: str = ""
    social_refresh_url: str = ""
    amazonq_url: str = ""


@dataclass(frozen=True, slots=True)
class VertexEndpoints(ProviderEndpoints):
    """Vertex AI service accounts: JWT grant at ``token_url``, inference per region.

    ``inference_base_url`` is a template holding ``{location}``; overrides may omit it.
    """

    @property
    def redirect_uri(self) -> str:
        return ""

    def base_for(self, location: str) -> str:
        """The inference base URL for one region (``us-central1`` ...)."""
        return self.inference_base_url.replace("{location}", location)


_GOOGLE_AUTH = "https://accounts.google.com/o/oauth2/auth"
_GOOGLE_AUTH_V2 = "https://accounts.google.com/o/oauth2/v2/auth"
_GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
_GOOGLE_USERINFO = "https://www.googleapis.com/oauth2/v1/userinfo?alt=json"
_CODE_ASSIST = "https://cloudcode-pa.googleapis.com"
_GOOGLE_BASE_SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
_KIRO_OIDC = "https://oidc.us-east-1.amazonaws.com"
_KIRO_SOCIAL = "https://prod.us-east-1.auth.desktop.kiro.dev"

_DEFAULTS: dict[str, ProviderEndpoints] = {
    "gemini-cli": GeminiCliEndpoints(
        provider="gemini-cli",
        authorize_url=_GOOGLE_AUTH,
        token_url=_GOOGLE_TOKEN,
        refresh_url=_GOOGLE_TOKEN,
        userinfo_url=_GOOGLE_USERINFO,
        inference_base_url=_CODE_ASSIST,
        callback_port=8085,
        callback_path="/oauth2callback",
        client_id="681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
        client_secret="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",
        scopes=_GOOGLE_BASE_SCOPES,
        code_assist_url=_CODE_ASSIST,
        projects_url="https://cloudresourcemanager.googleapis.com/v1/projects",
        service_usage_url="https://serviceusage.googleapis.com/v1/projects",
    ),
    "claude": ProviderEndpoints(
        provider="claude",
        authorize_url="https://claude.ai/oauth/authorize",
        token_url="https://console.anthropic.com/v1/oauth/token",
        refresh_url="https://console.anthropic.com/v1/oauth/token",
        inference_base_url="https://api.anthropic.com",
        callback_port=54545,
        callback_path="/callback",
        client_id="9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        scopes=("org:create_api_key", "user:profile", "user:inference"),
        pkce=True,
    ),
    "codex": ProviderEndpoints(
        provider="codex",
        authorize_url="https://auth.openai.com/oauth/authorize",
        token_url="https://auth.openai.com/oauth/token",
        refresh_url="https://auth.openai.com/oauth/token",
        inference_base_url="https://chatgpt.com/backend-api/codex",
        callback_port=1455,
        callback_path="/auth/callback",
        client_id="app_EMoamEEZ73f0CkXaXp7hrann",
        scopes=("openid", "email", "profile", "offline_access"),
        pkce=True,
    ),
    "antigravity": AntigravityEndpoints(
        provider="antigravity",
        authorize_url=_GOOGLE_AUTH_V2,
        token_url=_GOOGLE_TOKEN,
        refresh_url=_GOOGLE_TOKEN,
        userinfo_url=_GOOGLE_USERINFO,
        inference_base_url="https://daily-cloudcode-pa.sandbox.googleapis.com",
        callback_port=51121,
        callback_path="/oauth-callback",
        client_id="1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com",
        client_secret="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",
        scopes=(
            *_GOOGLE_BASE_SCOPES,
            "https://www.googleapis.com/auth/cclog",
            "https://www.googleapis.com/auth/experimentsandconfigs",
        ),
        code_assist_url=_CODE_ASSIST,
        inference_fallback_urls=("https://daily-cloudcode-pa.googleapis.com", _CODE_ASSIST),
    ),
    "iflow": IFlowEndpoints(
        provider="iflow",
        authorize_url="https://iflow.cn/oauth",
        token_url="https://iflow.cn/oauth/token",
        refresh_url="https://iflow.cn/oauth/token",
        userinfo_url="https://iflow.cn/api/oauth/getUserInfo",
        inference_base_url="https://apis.iflow.cn/v1",
        callback_port=11451,
        callback_path="/oauth2callback",
        client_id="10009311001",
        client_secret="4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW",
        success_redirect_url="https://iflow.cn/oauth/success",
        error_redirect_url="https://iflow.cn/oauth/error",
        cookie_api_key_url="https://platform.iflow.cn/api/openapi/apikey",
    ),
    "qwen": ProviderEndpoints(
        provider="qwen",
        token_url="https://chat.qwen.ai/api/v1/oauth2/token",
        refresh_url="https://chat.qwen.ai/api/v1/oauth2/token",
        device_url="https://chat.qwen.ai/api/v1/oauth2/device/code",
        inference_base_url="https://portal.qwen.ai/v1",
        client_id="f0304373b74a44d2b584a3fb70ca9e56",
        scopes=("openid", "profile", "email", "model.completion"),
        pkce=True,
    ),
    "github-copilot": GitHubCopilotEndpoints(
        provider="github-copilot",
        token_url="https://github.com/login/oauth/access_token",
        device_url="https://github.com/login/device/code",
        userinfo_url="https://api.github.com/user",
        inference_base_url="https://api.githubcopilot.com",
        client_id="Iv1.b507a08c87ecfe98",
        scopes=("user:email",),
        copilot_token_url="https://api.github.com/copilot_internal/v2/token",
    ),
    "kiro": KiroEndpoints(
        provider="kiro",
        token_url=f"{_KIRO_OIDC}/token",
        refresh_url=f"{_KIRO_OIDC}/token",
        device_url=f"{_KIRO_OIDC}/device_authorization",
        userinfo_url="https://codewhisperer.us-east-1.amazonaws.com",
        inference_base_url="https://codewhisperer.us-east-1.amazonaws.com",
        scopes=(
            "codewhisperer:completions",
            "codewhisperer:analysis",
            "codewhisperer:conversations",
        ),
        pkce=True,
        register_url=f"{_KIRO_OIDC}/client/register",
        builder_id_start_url="https://view.awsapps.com/start",
        social_login_url=f"{_KIRO_SOCIAL}/login",
        social_token_url=f"{_KIRO_SOCIAL}/oauth/token",
        social_refresh_url=f"{_KIRO_SOCIAL}/refreshToken",
        amazonq_url="https://q.us-east-1.amazonaws.com",
    ),
    "vertex": VertexEndpoints(
        provider="vertex",
        token_url=_GOOGLE_TOKEN,
        inference_base_url="https://{location}-aiplatform.googleapis.com",
        scopes=("https://www.googleapis.com/auth/cloud-platform",),
    ),
    # Each openai-compatibility entry carries its own base-url in config; nothing to default.
    "openai-compatibility": ProviderEndpoints(provider="openai-compatibility"),
}

PROVIDERS: tuple[str, ...] = tuple(_DEFAULTS)

# Spellings the legacy uses for the same provider (file ``type`` values, route names).
_ALIASES = {"gemini": "gemini-cli", "anthropic": "claude", "copilot": "github-copilot"}

# Fields that identify the provider or the public client, not where to reach it.
_NOT_OVERRIDABLE = frozenset({"provider", "client_id", "client_secret", "scopes", "pkce",
                              "callback_port", "callback_path"})


def canonical_provider(name: str) -> str:
    """The table's name for ``name`` (``gemini`` -> ``gemini-cli``); KeyError when unknown."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _DEFAULTS:
        raise KeyError(name)
    return key


def default_endpoints(provider: str) -> ProviderEndpoints:
    """The compiled-in endpoints of ``provider``, ignoring config."""
    return _DEFAULTS[canonical_provider(provider)]


def override_keys(provider: str) -> tuple[str, ...]:
    """The config keys accepted under ``provider-endpoints.<provider>``."""
    ep = default_endpoints(provider)
    # Only endpoints the provider actually has: overriding Claude's (absent) device URL would be
    # silently ignored, so it is refused like any typo.
    return tuple(
        f.name.replace("_", "-")
        for f in dataclasses.fields(ep)
        if f.name not in _NOT_OVERRIDABLE and getattr(ep, f.name)
    )


def endpoints_for(provider: str, cfg: Any = None) -> ProviderEndpoints:
    """The endpoints of ``provider`` with ``gateway.provider-endpoints`` applied.

    ``cfg`` is a loaded Config (its ``gateway`` dict is read), the ``gateway`` dict itself, or None.
    """
    name = canonical_provider(provider)
    base = _DEFAULTS[name]
    overrides = _overrides_of(cfg).get(name)
    if not overrides:
        return base
    if not isinstance(overrides, Mapping):
        raise EndpointConfigError(f"gateway.provider-endpoints.{name} must be a mapping")
    allowed = set(override_keys(name))
    changes: dict[str, Any] = {}
    for raw_key, value in overrides.items():
        key = str(raw_key)
        if key not in allowed:
            raise EndpointConfigError(
                f"gateway.provider-endpoints.{name}: unknown key {key!r} "
                f"(known: {', '.join(sorted(allowed))})"
            )
        attr = key.replace("-", "_")
        where = f"gateway.provider-endpoints.{name}.{key}"
        if attr == "inference_fallback_urls":
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise EndpointConfigError(f"{where} must be a list of URLs")
            changes[attr] = tuple(_checked_url(where, v, name == "vertex") for v in value)
        else:
            changes[attr] = _checked_url(where, value, name == "vertex")
    # A relay that replaces the token endpoint almost always serves refreshes too.
    if "token_url" in changes and "refresh_url" not in changes and base.refresh_url == base.token_url:
        changes["refresh_url"] = changes["token_url"]
    if (
        isinstance(base, AntigravityEndpoints)
        and "inference_base_url" in changes
        and "inference_fallback_urls" not in changes
    ):
        changes["inference_fallback_urls"] = ()
    return dataclasses.replace(base, **changes)


def _overrides_of(cfg: Any) -> Mapping[str, Any]:
    gateway = cfg if isinstance(cfg, Mapping) or cfg is None else getattr(cfg, "gateway", None)
    if not gateway:
        return {}
    table = gateway.get("provider-endpoints") if isinstance(gateway, Mapping) else None
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise EndpointConfigError("gateway.provider-endpoints must be a mapping of provider names")
    out: dict[str, Any] = {}
    for raw_name, value in table.items():
        try:
            name = canonical_provider(str(raw_name))
        except KeyError:
            raise EndpointConfigError(
                f"gateway.provider-endpoints: unknown provider {raw_name!r} "
                f"(known: {', '.join(PROVIDERS)})"
            ) from None
        out[name] = value
    return out


def _checked_url(where: str, value: Any, template_ok: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EndpointConfigError(f"{where} must be a non-empty URL string")
    url = value.strip()
    probe = url.replace("{location}", "x") if template_ok else url
    parts = urlsplit(probe)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointConfigError(f"{where} must be an absolute http(s) URL, got {url!r}")
    return url

