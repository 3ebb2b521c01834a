"""GitHub Copilot login: GitHub's device flow, then the swap for short-lived Copilot API tokens.

Facts: reference cliproxyapi-providers.md §4 and CLIProxyAPIPlus internal/auth/copilot/,
sdk/auth/github_copilot.go. GitHub answers polls with HTTP 200 and an ``error`` field while it
waits. Polls are at least 5 s apart, ``slow_down`` adds 5 s, and the wait ends at the code's
``expires_in`` or 15 minutes. The GitHub token never expires and has no refresh token; what does
expire is the Copilot API token it buys from ``copilot_internal/v2/token``, which lives only in
memory (:class:`CopilotTokenCache`), so "refreshing" a Copilot credential never rewrites its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import aiohttp
import structlog

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores import TokenStore
from handlers.logins.device_http import TokenEndpointError, call_endpoint, require_token_json
from handlers.logins.device_login import (
    DEVICE_GRANT,
    SNAKE_KEYS,
    DeviceLogin,
    as_device_error,
    device_authorization,
    poll_verdict,
)
from handlers.logins.device_poll import (
    DeviceAuthorization,
    DeviceFlowError,
    LoginIO,
    PollOutcome,
    PollTiming,
    as_int,
    as_str,
)
from handlers.logins.endpoints import GitHubCopilotEndpoints, ProviderEndpoints
from handlers.logins.token_cache import CredentialTokenCache

log = structlog.get_logger("handlers.logins.copilot")

# GitHub answers in snake_case but has no pre-filled verification page to read.
GITHUB_KEYS = replace(SNAKE_KEYS, complete="")
COPILOT_TIMING = PollTiming(default_interval=5.0, min_interval=5.0, max_wait=900.0,
                            on_slow_down=lambda current: current + 5.0)

# Headers the Plus client sends when buying a Copilot token (it presents itself as VS Code).
COPILOT_USER_AGENT = "GithubCopilot/1.0"
COPILOT_EDITOR_VERSION = "vscode/1.100.0"
COPILOT_PLUGIN_VERSION = "copilot/1.300.0"
# A cached Copilot token is reused while more than this many seconds remain.
COPILOT_EXPIRY_BUFFER = 300.0
# Lifetime assumed when the exchange answer has no ``expires_at``.
COPILOT_DEFAULT_LIFETIME = 25 * 60.0


@dataclass(frozen=True)
class GitHubToken:
    access_token: str = field(repr=False)
    token_type: str
    scope: str


@dataclass(frozen=True)
class CopilotApiToken:
    token: str = field(repr=False)
    # Unix seconds; 0 when the answer had none.
    expires_at: int
    api_endpoint: str = ""


def _copilot_endpoints(endpoints: ProviderEndpoints) -> GitHubCopilotEndpoints:
    if not isinstance(endpoints, GitHubCopilotEndpoints):
        raise TypeError("github-copilot logins need the github-copilot endpoint table entry")
    return endpoints


class CopilotDeviceLogin(DeviceLogin[GitHubCopilotEndpoints]):
    """Start a GitHub device login and wait for the user; nothing is saved here."""

    provider = "github-copilot"
    default_timing = COPILOT_TIMING

    def accept_endpoints(self, endpoints: ProviderEndpoints) -> GitHubCopilotEndpoints:
        return _copilot_endpoints(endpoints)

    async def start(self) -> DeviceAuthorization:
        ep = self.endpoints
        with as_device_error():
            answer = await call_endpoint(self.session, "POST", ep.device_url, form={
                "client_id": ep.client_id,
                "scope": " ".join(ep.scopes),
            })
            body = require_token_json(answer, ep.device_url, "github device authorization")
        # GitHub offers no pre-filled verification page, so ``verification_uri_complete`` stays empty.
        return device_authorization(body, "github device authorization", GITHUB_KEYS)

    async def _poll_once(self, authorization: DeviceAuthorization) -> PollOutcome:
        ep = self.endpoints
        answer = await call_endpoint(self.session, "POST", ep.token_url, form={
            "client_id": ep.client_id,
            "device_code": authorization.device_code,
            "grant_type": DEVICE_GRANT,
        })
        return poll_verdict(answer, ep.token_url, "github device token poll")

    async def wait(self, authorization: DeviceAuthorization) -> GitHubToken:
        body = await self.poll_token_body(authorization)
        access = as_str(body.get("access_token"))
        if not access:
            raise DeviceFlowError("bad_response", "github device token poll failed: no access_token in the answer")
        return GitHubToken(access, as_str(body.get("token_type")), as_str(body.get("scope")))

    async def username(self, token: GitHubToken) -> str:
        """The GitHub login name; ``unknown`` when the lookup fails, as the Plus client does."""
        ep = self.endpoints
        try:
            answer = await call_endpoint(self.session, "GET", ep.userinfo_url, headers={
                "Authorization": f"Bearer {token.access_token}",
                "User-Agent": "CLIProxyAPI",
            })
            login = as_str(require_token_json(answer, ep.userinfo_url, "github user lookup").get("login"))
        except TokenEndpointError as exc:
            log.warning("github user lookup failed", error=str(exc))
            login = ""
        return login or "unknown"


async def exchange_copilot_token(session: aiohttp.ClientSession, endpoints: ProviderEndpoints, github_token: str,
                                 *, proxy: str = "") -> CopilotApiToken:
    """Buy a Copilot API token with the GitHub token (scheme ``token``, not ``Bearer``)."""
    ep = _copilot_endpoints(endpoints)
    if not github_token:
        raise TokenEndpointError("oauth_error", "copilot token exchange impossible: no github access_token",
                                 oauth_error="invalid_grant")
    answer = await call_endpoint(session, "GET", ep.copilot_token_url, headers={
        "Authorization": f"token {github_token}",
        "User-Agent": COPILOT_USER_AGENT,
        "Editor-Version": COPILOT_EDITOR_VERSION,
        "Editor-Plugin-Version": COPILOT_PLUGIN_VERSION,
    }, proxy=proxy)
    if answer.status in (401, 403):
        # GitHub revoked the OAuth token or the account lost Copilot: no retry can fix that.
        raise TokenEndpointError("oauth_error", f"copilot token exchange refused: HTTP {answer.status}",
                                 status=answer.status, oauth_error="invalid_grant")
    body = require_token_json(answer, ep.copilot_token_url, "copilot token exchange")
    token = as_str(body.get("token"))
    if not token:
        raise TokenEndpointError("bad_response", "copilot token exchange failed: no token in the answer")
    endpoints_obj = body.get("endpoints")
    api = as_str(endpoints_obj.get("api")) if isinstance(endpoints_obj, dict) else ""
    return CopilotApiToken(token, as_int(body.get("expires_at")), api)


def copilot_file_name(username: str) -> str:
    return f"github-copilot-{username}.json"


def copilot_credential(token: GitHubToken, username: str) -> Credential:
    """The file Plus writes (CopilotTokenStorage; ``expires_at`` is omitted when empty)."""
    return new_credential(copilot_file_name(username), {
        "access_token": token.access_token,
        "token_type": token.token_type,
        "scope": token.scope,
        "username": username,
        "type": "github-copilot",
    })


class CopilotTokenCache(CredentialTokenCache[CopilotApiToken]):
    """Copilot API tokens in memory, keyed by credential file, one exchange at a time per file."""

    expiry_margin = COPILOT_EXPIRY_BUFFER

    def _source(self, credential: Credential) -> str:
        return as_str(credential.metadata.get("access_token"))

    async def _obtain(self, credential: Credential, source: str) -> tuple[CopilotApiToken, float]:
        token = await exchange_copilot_token(self.session, self.endpoints, source, proxy=credential.proxy_url)
        expires = float(token.expires_at) if token.expires_at > 0 else self.wall_clock() + COPILOT_DEFAULT_LIFETIME
        return token, expires


async def run_copilot_login(session: aiohttp.ClientSession, endpoints: ProviderEndpoints, store: TokenStore,
                            io: LoginIO, *, login: CopilotDeviceLogin | None = None) -> Credential:
    """The whole CLI login: device code, wait, user name, prove Copilot access, save."""
    flow = login or CopilotDeviceLogin(session, endpoints)
    authorization = await flow.start()
    io.say(f"To authenticate, visit {authorization.verification_uri} and enter the code: {authorization.user_code}")
    io.show_url(authorization.verification_uri, "GitHub Copilot authentication")
    io.say("Waiting for GitHub authorization...")
    token = await flow.wait(authorization)
    username = await flow.username(token)
    try:
        await exchange_copilot_token(session, endpoints, token.access_token)
    except TokenEndpointError as exc:
        # Same rule as Plus: a GitHub account without Copilot gets no credential file.
        raise DeviceFlowError("provider_error",
                              f"could not verify Copilot access; is a Copilot subscription active? ({exc})") from None
    credential = await store.save(copilot_credential(token, username))
    log.info("github copilot login saved", file=credential.file_name)
    io.say(f"GitHub Copilot authentication successful for user {username}; saved {credential.file_name}")
    return credential

