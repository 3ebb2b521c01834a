"""Qwen login: RFC 8628 device authorization with a PKCE S256 pair, and Qwen's refresh grant.

Facts: reference cliproxyapi-providers.md §9 and internal/auth/qwen/, sdk/auth/qwen.go at 9b72ea9ef.
The device request carries the PKCE challenge, the polls carry the verifier; there is no state and
no callback port. Qwen answers HTTP 400 with an RFC 8628 ``error`` while the user has not finished.

Deliberate differences: the legacy polls every 5 s whatever the server says; we wait the server's
``interval`` when it sends one (else 5 s), still grow it by half on ``slow_down`` (capped at 10 s)
and still stop after 5 minutes. Transport errors during polling are retried, as in the legacy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores import TokenStore
from handlers.logins.device_http import TokenEndpointError, call_endpoint, expiry_after, require_token_json, rfc3339
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
    pkce_pair,
)
from handlers.logins.endpoints import ProviderEndpoints

log = structlog.get_logger("handlers.logins.qwen")

QWEN_TIMING = PollTiming(
    default_interval=5.0,
    max_wait=300.0,
    on_slow_down=lambda current: min(current * 1.5, max(10.0, current)),
)


@dataclass(frozen=True)
class QwenToken:
    access_token: str
    refresh_token: str
    token_type: str
    resource_url: str
    expires_in: int


def _token_from(body: dict[str, Any], what: str, url: str) -> QwenToken:
    access = as_str(body.get("access_token"))
    if not access:
        raise TokenEndpointError("bad_response", f"{what} failed: no access_token in the answer")
    return QwenToken(
        access_token=access,
        refresh_token=as_str(body.get("refresh_token")),
        token_type=as_str(body.get("token_type")),
        resource_url=as_str(body.get("resource_url")),
        expires_in=as_int(body.get("expires_in")),
    )


class QwenDeviceLogin(DeviceLogin[ProviderEndpoints]):
    """Start a Qwen device login and wait for the user; nothing is saved here."""

    provider = "qwen"
    default_timing = QWEN_TIMING

    def accept_endpoints(self, endpoints: ProviderEndpoints) -> ProviderEndpoints:
        return endpoints

    async def start(self) -> DeviceAuthorization:
        verifier, challenge = pkce_pair()
        ep = self.endpoints
        with as_device_error():
            answer = await call_endpoint(self.session, "POST", ep.device_url, form={
                "client_id": ep.client_id,
                "scope": " ".join(ep.scopes),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            })
            body = require_token_json(answer, ep.device_url, "qwen device authorization")
        return device_authorization(body, "qwen device authorization", SNAKE_KEYS, code_verifier=verifier)

    async def _poll_once(self, authorization: DeviceAuthorization) -> PollOutcome:
        ep = self.endpoints
        # PollForToken posts with http.PostForm, which sets no Accept (the device request does).
        answer = await call_endpoint(self.session, "POST", ep.token_url, form={
            "grant_type": DEVICE_GRANT,
            "client_id": ep.client_id,
            "device_code": authorization.device_code,
            "code_verifier": authorization.code_verifier,
        }, accept=None)
        return poll_verdict(answer, ep.token_url, "qwen device token poll")

    async def wait(self, authorization: DeviceAuthorization) -> QwenToken:
        body = await self.poll_token_body(authorization)
        with as_device_error():
            return _token_from(body, "qwen device token poll", self.endpoints.token_url)


def qwen_file_name(email: str) -> str:
    return f"qwen-{email}.json"


def qwen_credential(token: QwenToken, email: str, now: datetime | None = None) -> Credential:
    """The file the legacy writes (QwenTokenStorage): every field present, empty when unknown."""
    moment = now or datetime.now(UTC)
    return new_credential(qwen_file_name(email), {
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "last_refresh": rfc3339(moment),
        "resource_url": token.resource_url,
        "email": email,
        "type": "qwen",
        "expired": expiry_after(moment, token.expires_in),
    })


async def refresh_qwen(session: aiohttp.ClientSession, endpoints: ProviderEndpoints, credential: Credential,
                       now: datetime) -> dict[str, Any]:
    """Qwen's refresh grant; returns the metadata keys to update."""
    refresh_token = as_str(credential.metadata.get("refresh_token"))
    if not refresh_token:
        raise TokenEndpointError("oauth_error", "qwen refresh impossible: the credential has no refresh_token",
                                 oauth_error="invalid_grant")
    url = endpoints.refresh_url or endpoints.token_url
    answer = await call_endpoint(session, "POST", url, form={
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": endpoints.client_id,
    }, proxy=credential.proxy_url)
    token = _token_from(require_token_json(answer, url, "qwen token refresh"), "qwen token refresh", url)
    updates: dict[str, Any] = {
        "access_token": token.access_token,
        "expired": expiry_after(now, token.expires_in),
        "type": "qwen",
        "last_refresh": rfc3339(now),
    }
    # A refresh that returns no new refresh token or host leaves the stored ones in place.
    if token.refresh_token:
        updates["refresh_token"] = token.refresh_token
    if token.resource_url:
        updates["resource_url"] = token.resource_url
    return updates


async def run_qwen_login(session: aiohttp.ClientSession, endpoints: ProviderEndpoints, store: TokenStore,
                         io: LoginIO, *, email: str = "", login: QwenDeviceLogin | None = None) -> Credential:
    """The whole CLI login: device code, browser, wait, ask for the email/alias, save."""
    flow = login or QwenDeviceLogin(session, endpoints)
    authorization = await flow.start()
    io.show_url(authorization.browser_url, "Qwen authentication")
    if authorization.user_code:
        io.say(f"Your code: {authorization.user_code}")
    io.say("Waiting for Qwen authentication...")
    token = await flow.wait(authorization)
    label = email.strip()
    if not label and io.prompt is not None:
        label = (await io.prompt("Please input your email address or alias for Qwen:")).strip()
    if not label:
        raise DeviceFlowError("provider_error", "an email address or alias is required to name the Qwen credential")
    credential = await store.save(qwen_credential(token, label))
    log.info("qwen login saved", file=credential.file_name)
    io.say(f"Qwen authentication successful; saved {credential.file_name}")
    return credential
