"""Kiro (AWS CodeWhisperer / Amazon Q) logins as CLIProxyAPIPlus does them, and Kiro's two refreshes.

Facts: reference cliproxyapi-providers.md §8 and CLIProxyAPIPlus internal/auth/kiro/{sso_oidc.go,
social_auth.go,oauth.go,protocol_handler.go,aws.go}, sdk/auth/kiro.go.

- **AWS Builder ID**: AWS SSO-OIDC with a client registered per login, then a device flow. Every
  body is camelCase JSON. The poll interval is the server's (default 5 s), ``slow_down`` adds 5 s,
  and the wait ends at ``expiresIn``.
- **Social (Google / GitHub)**: the Kiro auth service with PKCE S256 and a ``kiro://`` redirect.
  The operating system hands that redirect to a small handler which calls our local server at
  ``http://127.0.0.1:<19876..19880>/oauth/callback``; the state must match exactly.

Deliberate difference: Plus installs the ``kiro://`` protocol handler into the desktop (a .desktop
file, a registry key or an app bundle). We do not touch the user's desktop: the local server is the
same, and :meth:`KiroSocialLogin.deliver_redirect` accepts the ``kiro://`` URL pasted from the
browser, which also works on headless machines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import structlog
from aiohttp import web

from handlers.auth.credential import Credential, new_credential
from handlers.auth.stores import TokenStore
from handlers.logins.device_http import (
    TokenEndpointError,
    call_endpoint,
    expiry_after,
    require_token_json,
    rfc3339,
)
from handlers.logins.device_login import (
    CAMEL_KEYS,
    DEVICE_GRANT,
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
from handlers.logins.endpoints import KiroEndpoints, ProviderEndpoints

log = structlog.get_logger("handlers.logins.kiro")

KIRO_REDIRECT_URI = "kiro://kiro.kiroAgent/authenticate-success"
# The protocol-handler script Plus installs tries exactly these ports, so we must listen on one.
KIRO_HANDLER_PORTS = (19876, 19877, 19878, 19879, 19880)
KIRO_SOCIAL_TIMEOUT = 600.0
KIRO_USER_AGENT = "cli-proxy-api/1.0.0"
KIRO_DEFAULT_LIFETIME = 3600
BUILDER_ID_TIMING = PollTiming(default_interval=5.0, max_wait=900.0, on_slow_down=lambda current: current + 5.0)
SOCIAL_IDPS = {"google": "Google", "github": "Github"}


class KiroLoginError(DeviceFlowError):
    """A Kiro social login that ended without tokens (adds reason ``state_mismatch``)."""


def _kiro_endpoints(endpoints: ProviderEndpoints) -> KiroEndpoints:
    if not isinstance(endpoints, KiroEndpoints):
        raise TypeError("kiro logins need the kiro endpoint table entry")
    return endpoints


def email_from_jwt(token: str) -> str:
    """The account email in an access token's claims, unverified (it only names the file)."""
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return ""
    if not isinstance(claims, dict):
        return ""
    for key in ("email", "preferred_username", "sub"):
        value = as_str(claims.get(key))
        if value and (key == "email" or "@" in value):
            return value
    return ""


def sanitize_for_file_name(text: str) -> str:
    """Plus's SanitizeEmailForFilename: no path separators, no encoded ones, no leading dots."""
    if not text:
        return ""
    out = text
    for encoded in ("%2F", "%2f", "%5C", "%5c", "%2E", "%2e", "%00", "%"):
        out = out.replace(encoded, "_")
    for char in ("/", "\\", ":", "*", "?", '"', "<", ">", "|", " ", "\x00"):
        out = out.replace(char, "_")
    pieces = []
    for piece in out.split("_"):
        stripped = piece.lstrip(".")
        pieces.append("_" * (len(piece) - len(stripped)) + stripped)
    return "_".join(pieces)


def kiro_identifier(email: str, profile_arn: str) -> str:
    if email:
        return sanitize_for_file_name(email)
    if profile_arn and "/" in profile_arn:
        return sanitize_for_file_name(profile_arn.rsplit("/", 1)[1])
    # Same last resort as Plus: a short number, so two anonymous logins rarely collide.
    return str(time.time_ns() % 100000)


@dataclass(frozen=True)
class KiroTokens:
    access_token: str
    refresh_token: str
    profile_arn: str
    expires_at: str
    auth_method: str
    provider: str
    email: str = ""
    client_id: str = ""
    client_secret: str = ""

    def __repr__(self) -> str:  # tokens and the client secret stay out of tracebacks and logs
        return f"KiroTokens(auth_method={self.auth_method!r}, provider={self.provider!r})"


def kiro_credential(tokens: KiroTokens) -> Credential:
    """The file Plus writes: ``kiro-aws-<id>``, ``kiro-google-<id>`` or ``kiro-github-<id>``."""
    kind = "aws" if tokens.auth_method == "builder-id" else tokens.provider.lower()
    name = f"kiro-{kind}-{kiro_identifier(tokens.email, tokens.profile_arn)}.json"
    metadata: dict[str, Any] = {
        "type": "kiro",
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "profile_arn": tokens.profile_arn,
        "expires_at": tokens.expires_at,
        "auth_method": tokens.auth_method,
        "provider": tokens.provider,
        "email": tokens.email,
    }
    if tokens.auth_method == "builder-id":
        metadata["client_id"] = tokens.client_id
        metadata["client_secret"] = tokens.client_secret
    return new_credential(name, metadata)


class KiroBuilderIdLogin(DeviceLogin[KiroEndpoints]):
    """AWS Builder ID: register a client, start a device authorization, poll for tokens."""

    provider = "kiro"
    default_timing = BUILDER_ID_TIMING

    def accept_endpoints(self, endpoints: ProviderEndpoints) -> KiroEndpoints:
        return _kiro_endpoints(endpoints)

    async def start(self) -> DeviceAuthorization:
        ep = self.endpoints
        with as_device_error():
            registered = require_token_json(await call_endpoint(self.session, "POST", ep.register_url, json_body={
                "clientName": f"CLI-Proxy-API-{time.time_ns()}",
                "clientType": "public",
                "scopes": list(ep.scopes),
            }), ep.register_url, "kiro client registration")
            client_id = as_str(registered.get("clientId"))
            client_secret = as_str(registered.get("clientSecret"))
            if not client_id or not client_secret:
                raise TokenEndpointError("bad_response", "kiro client registration failed: no clientId/clientSecret")
            body = require_token_json(await call_endpoint(self.session, "POST", ep.device_url, json_body={
                "clientId": client_id,
                "clientSecret": client_secret,
                "startUrl": ep.builder_id_start_url,
            }), ep.device_url, "kiro device authorization")
        return device_authorization(body, "kiro device authorization", CAMEL_KEYS,
                                    extra={"client_id": client_id, "client_secret": client_secret})

    async def _poll_once(self, authorization: DeviceAuthorization) -> PollOutcome:
        ep = self.endpoints
        answer = await call_endpoint(self.session, "POST", ep.token_url, json_body={
            "clientId": authorization.extra["client_id"],
            "clientSecret": authorization.extra["client_secret"],
            "deviceCode": authorization.device_code,
            "grantType": DEVICE_GRANT,
        })
        return poll_verdict(answer, ep.token_url, "kiro device token poll")

    async def wait(self, authorization: DeviceAuthorization, now: datetime | None = None) -> KiroTokens:
        body = await self.poll_token_body(authorization)
        access = as_str(body.get("accessToken"))
        if not access:
            raise DeviceFlowError("bad_response", "kiro device token poll failed: no accessToken in the answer")
        profile_arn = await fetch_profile_arn(self.session, self.endpoints, access)
        moment = now or datetime.now(UTC)
        return KiroTokens(
            access_token=access,
            refresh_token=as_str(body.get("refreshToken")),
            profile_arn=profile_arn,
            expires_at=expiry_after(moment, as_int(body.get("expiresIn"))),
            auth_method="builder-id",
            provider="AWS",
            email=email_from_jwt(access),
            client_id=authorization.extra["client_id"],
            client_secret=authorization.extra["client_secret"],
        )


async def fetch_profile_arn(session: aiohttp.ClientSession, endpoints: KiroEndpoints, access_token: str) -> str:
    """ListProfiles, then ListAvailableCustomizations; empty when neither names a profile."""
    for target, list_key in (("AmazonCodeWhispererService.ListProfiles", "profiles"),
                             ("AmazonCodeWhispererService.ListAvailableCustomizations", "customizations")):
        try:
            answer = await call_endpoint(session, "POST", endpoints.userinfo_url, json_body={"origin": "AI_EDITOR"},
                                         headers={"Content-Type": "application/x-amz-json-1.0",
                                                  "x-amz-target": target,
                                                  "Authorization": f"Bearer {access_token}"})
        except TokenEndpointError as exc:
            log.warning("kiro profile lookup failed", target=target, error=str(exc))
            continue
        if not answer.ok or answer.body is None:
            log.warning("kiro profile lookup failed", target=target, status=answer.status)
            continue
        arn = as_str(answer.body.get("profileArn"))
        items = answer.body.get(list_key)
        if not arn and isinstance(items, list) and items and isinstance(items[0], dict):
            arn = as_str(items[0].get("arn"))
        if arn:
            return arn
    return ""


@dataclass(frozen=True)
class _Callback:
    code: str
    state: str
    error: str


_PAGE_OK = ("<!DOCTYPE html><html><head><title>Login Successful</title></head><body>"
            "<h1>Login Successful!</h1><p>You can close this window and return to the terminal.</p>"
            "<script>window.close();</script></body></html>")
_PAGE_FAILED = ("<!DOCTYPE html><html><head><title>Login Failed</title></head><body>"
                "<h1>Login Failed</h1><p>The sign-in was not completed.</p><p>You can close this window.</p>"
                "</body></html>")


class KiroSocialLogin:
    """Kiro social login: local callback server, login URL, state check, code exchange."""

    def __init__(self, session: aiohttp.ClientSession, endpoints: ProviderEndpoints, idp: str, *,
                 ports: tuple[int, ...] = KIRO_HANDLER_PORTS, host: str = "127.0.0.1",
                 timeout: float = KIRO_SOCIAL_TIMEOUT) -> None:
        name = SOCIAL_IDPS.get(idp.strip().lower())
        if name is None:
            raise ValueError(f"unknown kiro social provider {idp!r}; use google or github")
        self.session = session
        self.endpoints = _kiro_endpoints(endpoints)
        self.idp = name
        self.ports = ports
        self.host = host
        self.timeout = timeout
        self.port = 0
        self.state = ""
        self._verifier = ""
        self._runner: web.AppRunner | None = None
        self._result: asyncio.Future[_Callback] | None = None

    async def start(self) -> str:
        """Bind the callback server and return the login URL to open."""
        self._result = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get("/oauth/callback", self._on_callback)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in self.ports:
            site = web.TCPSite(runner, self.host, port)
            try:
                await site.start()
            except OSError:
                log.info("kiro callback port busy, trying the next", port=port)
                continue
            self.port = runner.addresses[-1][1]
            break
        else:
            await runner.cleanup()
            busy = f"{self.ports[0]}-{self.ports[-1]}"
            raise KiroLoginError("unreachable", f"kiro callback server: ports {busy} are busy")
        self._runner = runner
        self._verifier, challenge = pkce_pair()
        self.state = secrets.token_urlsafe(16)
        return (f"{self.endpoints.social_login_url}?idp={self.idp}"
                f"&redirect_uri={quote(KIRO_REDIRECT_URI, safe='')}&code_challenge={challenge}"
                f"&code_challenge_method=S256&state={self.state}&prompt=select_account")

    async def _on_callback(self, request: web.Request) -> web.Response:
        query = request.query
        self.deliver(query.get("code", ""), query.get("state", ""), query.get("error", ""))
        failed = bool(query.get("error"))
        return web.Response(status=400 if failed else 200, text=_PAGE_FAILED if failed else _PAGE_OK,
                            content_type="text/html", charset="utf-8")

    def deliver(self, code: str, state: str, error: str = "") -> None:
        """Hand in a callback; only the first one counts, as in Plus."""
        if self._result is not None and not self._result.done():
            self._result.set_result(_Callback(code, state, error))

    def deliver_redirect(self, url: str) -> None:
        """Accept the ``kiro://...?code=&state=`` URL a user pasted from the browser."""
        query = parse_qs(urlsplit(url.strip()).query)
        self.deliver(*(query.get(key, [""])[0] for key in ("code", "state", "error")))

    async def wait(self, now: datetime | None = None) -> KiroTokens:
        if self._result is None:
            raise RuntimeError("call start() first")
        try:
            callback = await asyncio.wait_for(asyncio.shield(self._result), self.timeout)
        except TimeoutError:
            raise KiroLoginError("expired", "timed out waiting for the Kiro sign-in callback") from None
        finally:
            await self.close()
        if callback.error:
            raise KiroLoginError("denied", f"kiro sign-in failed: {callback.error[:200]}")
        if callback.state != self.state:
            raise KiroLoginError("state_mismatch", "OAuth state validation failed - please try again")
        if not callback.code:
            raise KiroLoginError("provider_error", "no authorization code received")
        ep = self.endpoints
        try:
            body = require_token_json(await call_endpoint(self.session, "POST", ep.social_token_url, json_body={
                "code": callback.code,
                "code_verifier": self._verifier,
                "redirect_uri": KIRO_REDIRECT_URI,
            }, headers={"User-Agent": KIRO_USER_AGENT}), ep.social_token_url, "kiro code exchange")
        except TokenEndpointError as exc:
            raise KiroLoginError(exc.reason, str(exc)) from None
        access = as_str(body.get("accessToken"))
        if not access:
            raise KiroLoginError("bad_response", "kiro code exchange failed: no accessToken in the answer")
        moment = now or datetime.now(UTC)
        return KiroTokens(
            access_token=access,
            refresh_token=as_str(body.get("refreshToken")),
            profile_arn=as_str(body.get("profileArn")),
            expires_at=expiry_after(moment, as_int(body.get("expiresIn")) or KIRO_DEFAULT_LIFETIME),
            auth_method="social",
            provider=self.idp,
            email=email_from_jwt(access),
        )

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


async def refresh_kiro(session: aiohttp.ClientSession, endpoints: ProviderEndpoints, credential: Credential,
                       now: datetime) -> dict[str, Any]:
    """Builder ID refreshes at AWS SSO-OIDC with its client; everything else at the Kiro service."""
    ep = _kiro_endpoints(endpoints)
    meta = credential.metadata
    refresh_token = as_str(meta.get("refresh_token")) or as_str(meta.get("refreshToken"))
    if not refresh_token:
        raise TokenEndpointError("oauth_error", "kiro refresh impossible: the credential has no refresh_token",
                                 oauth_error="invalid_grant")
    client_id = as_str(meta.get("client_id"))
    client_secret = as_str(meta.get("client_secret"))
    if client_id and client_secret and as_str(meta.get("auth_method")) == "builder-id":
        url = ep.refresh_url or ep.token_url
        answer = await call_endpoint(session, "POST", url, json_body={
            "clientId": client_id,
            "clientSecret": client_secret,
            "refreshToken": refresh_token,
            "grantType": "refresh_token",
        }, proxy=credential.proxy_url)
    else:
        url = ep.social_refresh_url
        answer = await call_endpoint(session, "POST", url, json_body={"refreshToken": refresh_token},
                                     headers={"User-Agent": KIRO_USER_AGENT}, proxy=credential.proxy_url)
    body = require_token_json(answer, url, "kiro token refresh")
    access = as_str(body.get("accessToken"))
    if not access:
        raise TokenEndpointError("bad_response", "kiro token refresh failed: no accessToken in the answer")
    updates: dict[str, Any] = {
        "access_token": access,
        "expires_at": expiry_after(now, as_int(body.get("expiresIn")) or KIRO_DEFAULT_LIFETIME),
        "last_refresh": rfc3339(now),
    }
    if new_refresh := as_str(body.get("refreshToken")):
        updates["refresh_token"] = new_refresh
    return updates


async def run_kiro_builder_id_login(session: aiohttp.ClientSession, endpoints: ProviderEndpoints,
                                    store: TokenStore, io: LoginIO, *,
                                    login: KiroBuilderIdLogin | None = None) -> Credential:
    flow = login or KiroBuilderIdLogin(session, endpoints)
    authorization = await flow.start()
    io.show_url(authorization.browser_url, "Kiro (AWS Builder ID) authentication")
    io.say(f"Or go to {authorization.verification_uri} and enter the code: {authorization.user_code}")
    io.say("Waiting for authorization...")
    tokens = await flow.wait(authorization)
    credential = await store.save(kiro_credential(tokens))
    log.info("kiro builder id login saved", file=credential.file_name)
    io.say(f"Kiro authentication successful; saved {credential.file_name}")
    return credential


async def run_kiro_social_login(session: aiohttp.ClientSession, endpoints: ProviderEndpoints, store: TokenStore,
                                io: LoginIO, idp: str, *, login: KiroSocialLogin | None = None) -> Credential:
    flow = login or KiroSocialLogin(session, endpoints, idp)
    url = await flow.start()
    io.show_url(url, f"Kiro ({flow.idp}) authentication")
    io.say("After signing in, the browser opens a kiro:// link. Without a kiro:// handler installed, "
           "copy that link and paste it here.")
    if io.prompt is not None:
        prompt = io.prompt

        async def read_paste() -> None:
            pasted = await prompt("Paste the kiro:// redirect URL (or wait for the callback):")
            if pasted.strip():
                flow.deliver_redirect(pasted)

        paste_task = asyncio.create_task(read_paste())
        try:
            tokens = await flow.wait()
        finally:
            paste_task.cancel()
    else:
        tokens = await flow.wait()
    credential = await store.save(kiro_credential(tokens))
    log.info("kiro social login saved", file=credential.file_name, idp=flow.idp)
    io.say(f"Kiro authentication successful; saved {credential.file_name}")
    return credential
