"""Google logins: Gemini CLI and Antigravity (authorization code with client secret, no PKCE).

Gemini CLI also finds and onboards the Cloud Code Assist project (``loadCodeAssist`` /
``onboardUser``), checks that the Cloud AI Companion API is enabled, and writes the legacy's
``GeminiTokenStorage``: ``token`` (the OAuth token plus ``token_uri``, ``client_id``,
``client_secret``, ``scopes``, ``universe_domain``), ``project_id``, ``email``, ``auto``,
``checked``, ``type`` ("gemini").

Antigravity looks its project up with ``loadCodeAssist`` (``onboardUser`` as a fallback; a lookup
failure only leaves ``project_id`` out, as in the legacy) and writes ``type``, ``access_token``,
``refresh_token``, ``expires_in``, ``timestamp``, ``expired``, ``email``, ``project_id``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import structlog

from handlers.auth.credential import Credential, new_credential

from .authcode import AuthCodeLogin, LoginFailed, go_rfc3339, go_rfc3339_nano, with_query
from .device_http import EndpointAnswer, TokenEndpointError
from .endpoints import AntigravityEndpoints, GeminiCliEndpoints
from .security import timestamped_state
from .sessions import CallbackResult

log = structlog.get_logger("handlers.logins.google")

__all__ = ["AntigravityLogin", "GeminiCliLogin", "antigravity_file_name", "gemini_file_name"]

_GEMINI_CLI_HEADERS = {
    "User-Agent": "google-api-nodejs-client/9.15.1",
    "X-Goog-Api-Client": "gl-node/22.17.0",
    "Client-Metadata": "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI",
}
_GEMINI_METADATA = {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}
_ANTIGRAVITY_HEADERS = {
    "User-Agent": "google-api-nodejs-client/9.15.1",
    "X-Goog-Api-Client": "google-cloud-sdk vscode_cloudshelleditor/0.1",
    "Client-Metadata": '{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}',
}
_ANTIGRAVITY_METADATA = {"ideType": "ANTIGRAVITY", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}
_COMPANION_SERVICE = "cloudaicompanion.googleapis.com"


class _StepFailed(Exception):
    """One onboarding call failed; the text is log-safe."""


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def gemini_file_name(email: str, project_id: str, *, via_management: bool) -> str:
    """The legacy's ``gemini.CredentialFileName``: management logins add a ``gemini-`` prefix."""
    email, project = email.strip(), project_id.strip()
    if project.lower() == "all" or "," in project:
        return f"gemini-{email}-all.json"
    return f"{'gemini-' if via_management else ''}{email}-{project}.json"


def antigravity_file_name(email: str) -> str:
    if not email.strip():
        return "antigravity.json"
    return f"antigravity-{email.replace('@', '_').replace('.', '_')}.json"


def _project_from(value: Any) -> str:
    """``cloudaicompanionProject`` is either the id or an object holding it."""
    if isinstance(value, dict):
        return _str(value.get("id"))
    return _str(value)


def _default_tier(load: dict[str, Any]) -> str:
    tiers = load.get("allowedTiers")
    for tier in tiers if isinstance(tiers, list) else []:
        if isinstance(tier, dict) and tier.get("isDefault") is True and _str(tier.get("id")):
            return _str(tier.get("id"))
    return "legacy-tier"


@dataclass
class _GoogleLogin(AuthCodeLogin):
    """Shared code exchange and user-info lookup of the two Google clients."""

    # Both Google clients of the legacy word these two session errors alike.
    timeout_message: ClassVar[str] = "OAuth flow timed out"
    save_failed_message: ClassVar[str] = "Failed to save token to file"

    def _authorize_params(self) -> dict[str, str]:
        ep = self.endpoints
        return {
            "access_type": "offline",
            "client_id": ep.client_id,
            "prompt": "consent",
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": " ".join(ep.scopes),
            "state": self.state,
        }

    def authorize_url(self) -> str:
        return with_query(self.endpoints.authorize_url, self._authorize_params())

    async def _exchange(self, callback: CallbackResult, *, state_optional: bool) -> EndpointAnswer:
        """Check the callback, then swap its code; ``state_optional`` accepts a callback without state.

        (The Antigravity client of the legacy only compares a state that came back.)
        """
        if callback.error:
            raise LoginFailed("Authentication failed", f"provider returned error {callback.error[:100]!r}")
        if (callback.state or not state_optional) and callback.state != self.state:
            raise LoginFailed("Authentication failed: state mismatch", "callback state does not match")
        if not callback.code:
            raise LoginFailed("Authentication failed: code not found")
        try:
            return await self.post_code_with_secret(callback.code)
        except TokenEndpointError as exc:
            raise LoginFailed("Failed to exchange token", str(exc)) from None

    async def _email(self, access_token: str, call_failed: str, status_failed: str) -> str:
        """The account's email from the user-info endpoint; the two messages are each client's wording
        (``status_failed`` gets the HTTP status through ``{status}``)."""
        try:
            info = await self.call("GET", self.endpoints.userinfo_url,
                                   headers={"Authorization": f"Bearer {access_token}"})
        except TokenEndpointError as exc:
            raise LoginFailed(call_failed, str(exc)) from None
        if not info.ok:
            raise LoginFailed(status_failed.format(status=info.status))
        return _str(info.body.get("email")) if info.body else ""

    async def _json_call(self, method: str, url: str, access_token: str, headers: dict[str, str],
                         body: dict[str, Any] | None = None) -> dict[str, Any]:
        sent = dict(headers)
        sent["Authorization"] = f"Bearer {access_token}"
        try:
            answer = await self.call(method, url, headers=sent, json_body=body)
        except TokenEndpointError as exc:
            raise _StepFailed(str(exc)) from None
        if not answer.ok or answer.body is None:
            raise _StepFailed(self.describe(answer, url))
        return answer.body


@dataclass
class GeminiCliLogin(_GoogleLogin):
    provider: ClassVar[str] = "gemini-cli"
    session_key: ClassVar[str] = "gemini"
    callback_route: ClassVar[str] = "/google/callback"
    # "" picks the first project of the account, "ALL" every project, else that id (or a list).
    project_id: str = ""
    # onboardUser is polled until done; the legacy waits 5 s between polls, with no limit.
    onboard_poll_seconds: float = 5.0
    onboard_max_polls: int = 60

    def new_state(self) -> str:
        return timestamped_state("gem")

    @property
    def title(self) -> str:
        return "Gemini CLI"

    @property
    def _ep(self) -> GeminiCliEndpoints:
        assert isinstance(self.endpoints, GeminiCliEndpoints)
        return self.endpoints

    async def finish(self, callback: CallbackResult) -> Credential:
        answer = await self._exchange(callback, state_optional=False)
        ep = self._ep
        token = answer.body if answer.ok else None
        access_token = _str(token.get("access_token")) if token else ""
        if token is None or not access_token:
            raise LoginFailed("Failed to exchange token", self.describe(answer, ep.token_url))
        email = await self._email(access_token, "Failed to execute request",
                                  "Get user info request failed with status {status}")

        requested = self.project_id.strip()
        checked = False
        try:
            if requested.upper() == "ALL":
                projects = await self._all_projects(access_token)
                project_id = ",".join(projects)
                auto = False
            else:
                auto = not requested and self.via_management
                candidates = [p.strip() for p in requested.split(",") if p.strip()]
                if not candidates:
                    listed = await self._list_projects(access_token)
                    if not listed:
                        raise _StepFailed("no Google Cloud projects available for this account")
                    candidates = [listed[0]]
                activated: list[str] = []
                for candidate in candidates:
                    final = await self._setup(access_token, candidate)
                    if final not in activated:
                        activated.append(final)
                project_id = ",".join(activated)
                projects = activated
        except _StepFailed as exc:
            raise LoginFailed("Failed to complete Gemini CLI onboarding", str(exc)) from None
        if not project_id:
            raise LoginFailed("Failed to resolve project ID")
        try:
            for pid in projects:
                await self._ensure_api_enabled(access_token, pid)
        except _StepFailed as exc:
            raise LoginFailed("Failed to verify Cloud AI API status", str(exc)) from None
        checked = True

        now = datetime.now(UTC)
        expires_in = _as_int(token.get("expires_in"))
        oauth_token: dict[str, Any] = {"access_token": access_token}
        if _str(token.get("token_type")):
            oauth_token["token_type"] = _str(token.get("token_type"))
        if _str(token.get("refresh_token")):
            oauth_token["refresh_token"] = _str(token.get("refresh_token"))
        if expires_in:
            oauth_token["expiry"] = go_rfc3339_nano(now + timedelta(seconds=expires_in))
            oauth_token["expires_in"] = expires_in
        oauth_token.update({
            "token_uri": ep.token_url,
            "client_id": ep.client_id,
            "client_secret": ep.client_secret,
            "scopes": list(ep.scopes),
            "universe_domain": "googleapis.com",
        })
        name = gemini_file_name(email, project_id, via_management=self.via_management)
        return new_credential(name, {
            "token": oauth_token,
            "project_id": project_id,
            "email": email,
            "auto": auto,
            "checked": checked,
            "type": "gemini",
        })

    async def _list_projects(self, access_token: str) -> list[str]:
        body = await self._json_call("GET", self._ep.projects_url, access_token, {})
        projects = body.get("projects")
        ids: list[str] = []
        for project in projects if isinstance(projects, list) else []:
            pid = _str(project.get("projectId")) if isinstance(project, dict) else ""
            if pid and pid not in ids:
                ids.append(pid)
        return ids

    async def _all_projects(self, access_token: str) -> list[str]:
        listed = await self._list_projects(access_token)
        if not listed:
            raise _StepFailed("no Google Cloud projects available for this account")
        activated: list[str] = []
        for candidate in listed:
            final = await self._setup(access_token, candidate)
            if final not in activated:
                activated.append(final)
        return activated

    async def _setup(self, access_token: str, requested: str) -> str:
        """loadCodeAssist then onboardUser for one project; returns the project id to store."""
        base = self._ep.code_assist_url.rstrip("/")
        load_body: dict[str, Any] = {"metadata": _GEMINI_METADATA}
        if requested:
            load_body["cloudaicompanionProject"] = requested
        load = await self._json_call("POST", f"{base}/v1internal:loadCodeAssist", access_token,
                                     _GEMINI_CLI_HEADERS, load_body)
        tier = _default_tier(load)
        project = requested or _project_from(load.get("cloudaicompanionProject"))
        if not project:
            raise _StepFailed("project selection required")
        onboard_body = {"tierId": tier, "metadata": _GEMINI_METADATA, "cloudaicompanionProject": project}
        for poll in range(self.onboard_max_polls):
            if poll:
                await asyncio.sleep(self.onboard_poll_seconds)
            result = await self._json_call("POST", f"{base}/v1internal:onboardUser", access_token,
                                           _GEMINI_CLI_HEADERS, onboard_body)
            if result.get("done") is not True:
                continue
            response = result.get("response")
            returned = _project_from(response.get("cloudaicompanionProject")) if isinstance(response, dict) else ""
            if not returned:
                return project
            if requested and returned.lower() != project.lower():
                # Free tiers only reach preview models through the backend's project; paid
                # accounts keep the one they asked for (the legacy's rule).
                free = project.startswith("gen-lang-client-") or tier.upper() in {"FREE", "LEGACY"}
                return returned if free else project
            return returned
        raise _StepFailed("onboarding did not complete")

    async def _ensure_api_enabled(self, access_token: str, project_id: str) -> None:
        url = f"{self._ep.service_usage_url.rstrip('/')}/{project_id}/services/{_COMPANION_SERVICE}"
        headers = {"Authorization": f"Bearer {access_token}", "User-Agent": _GEMINI_CLI_HEADERS["User-Agent"]}
        try:
            state = await self.call("GET", url, headers=headers)
            if state.status == 200 and state.body is not None and state.body.get("state") == "ENABLED":
                return
            enabled = await self.call("POST", f"{url}:enable", headers=headers, json_body={})
        except TokenEndpointError as exc:
            raise _StepFailed(str(exc)) from None
        if enabled.status in (200, 201):
            return
        if enabled.status == 400 and "already enabled" in _error_message(enabled).lower():
            return
        raise _StepFailed(f"project activation required for {project_id} (HTTP {enabled.status})")


def _error_message(answer: EndpointAnswer) -> str:
    if answer.body is None:
        return ""
    error = answer.body.get("error")
    if isinstance(error, dict):
        return _str(error.get("message"))
    return json.dumps(answer.body)[:300]


@dataclass
class AntigravityLogin(_GoogleLogin):
    provider: ClassVar[str] = "antigravity"
    session_key: ClassVar[str] = "antigravity"
    callback_route: ClassVar[str] = "/antigravity/callback"
    onboard_poll_seconds: float = 2.0
    onboard_attempts: int = 5

    @property
    def title(self) -> str:
        return "Antigravity"

    async def finish(self, callback: CallbackResult) -> Credential:
        answer = await self._exchange(callback, state_optional=True)
        ep = self.endpoints
        if not answer.ok:
            raise LoginFailed(f"Token exchange failed: {answer.status}", self.describe(answer, ep.token_url))
        token = answer.body
        if token is None:
            raise LoginFailed("Failed to parse token response", self.describe(answer, ep.token_url))
        access_token = _str(token.get("access_token"))
        email = ""
        project_id = ""
        if access_token:
            email = await self._email(access_token, "Failed to execute user info request",
                                      "User info request failed: {status}")
            try:
                project_id = await self._project(access_token)
            except _StepFailed as exc:
                log.warning("antigravity project lookup failed; saving without project_id", error=str(exc))
        now = datetime.now(UTC)
        expires_in = _as_int(token.get("expires_in"))
        metadata: dict[str, Any] = {
            "type": "antigravity",
            "access_token": access_token,
            "refresh_token": _str(token.get("refresh_token")),
            "expires_in": expires_in,
            "timestamp": int(now.timestamp() * 1000),
            "expired": go_rfc3339(now + timedelta(seconds=expires_in)),
        }
        if email:
            metadata["email"] = email
        if project_id:
            metadata["project_id"] = project_id
        return new_credential(antigravity_file_name(email), metadata)

    async def _project(self, access_token: str) -> str:
        assert isinstance(self.endpoints, AntigravityEndpoints)
        return await antigravity_project(self._json_call, self.endpoints.code_assist_url, access_token,
                                         attempts=self.onboard_attempts, poll_seconds=self.onboard_poll_seconds)


JsonCall = Callable[[str, str, str, dict[str, str], "dict[str, Any] | None"], Awaitable[dict[str, Any]]]


async def antigravity_project(json_call: JsonCall, code_assist_url: str, access_token: str, *,
                              attempts: int = 5, poll_seconds: float = 2.0) -> str:
    """``FetchAntigravityProjectID``: ``loadCodeAssist``, then ``onboardUser`` polled until done;
    "" when onboarding never finished. ``json_call(method, url, token, headers, body)`` answers
    the JSON body or raises (a failed step). Used at login and when a refresh finds no project."""
    base = code_assist_url.rstrip("/")
    load = await json_call("POST", f"{base}/v1internal:loadCodeAssist", access_token,
                           _ANTIGRAVITY_HEADERS, {"metadata": _ANTIGRAVITY_METADATA})
    project = _project_from(load.get("cloudaicompanionProject"))
    if project:
        return project
    body = {"tierId": _default_tier(load), "metadata": _ANTIGRAVITY_METADATA}
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(poll_seconds)
        result = await json_call("POST", f"{base}/v1internal:onboardUser", access_token, _ANTIGRAVITY_HEADERS, body)
        if result.get("done") is True:
            response = result.get("response")
            found = _project_from(response.get("cloudaicompanionProject")) if isinstance(response, dict) else ""
            if found:
                return found
            raise _StepFailed("no project_id in response")
    return ""
