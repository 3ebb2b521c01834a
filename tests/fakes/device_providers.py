"""Fake token services for the device logins and for refresh: Qwen, GitHub/Copilot, Kiro, Google, Claude,
Codex, iFlow. One real aiohttp server; each provider lives under its own path prefix, and
:func:`provider_endpoints` gives the ``gateway.provider-endpoints`` table that points the gateway at it.

Written from the reference (cliproxyapi-providers.md §4, §5, §8, §9, §12.2), not from the gateway code.
Behaviour is scripted per test through :class:`DeviceProviderState`:

- ``polls[provider]``: what each device-token poll answers, in order (``pending``, ``slow_down``,
  ``expired_token``, ``access_denied``, ``token``, ``malformed``, ``http500``); the last entry repeats.
- ``refresh_fault[provider]``: ``malformed`` / ``http500`` / ``invalid_grant`` for refresh grants.
- ``rotate_refresh``: a used refresh token stops working (as Qwen, Claude and Kiro do).
- ``refresh_gate``: hold every refresh answer until this many refreshes are waiting (races).

Every request is recorded in ``state.requests`` (method, path, form/json body, headers). PKCE is
checked for real (Qwen's poll must carry the verifier of the challenge it registered), and
JWT-bearer assertions are verified with the service account's public key.

Inference: Qwen (``/qwen/v1/chat/completions``) and Copilot (``/copilot/chat/completions``) answer
OpenAI Chat Completions (JSON or SSE); Kiro (``/kiro/api/generateAssistantResponse`` and the Amazon
Q path ``/kiro/api/``) answers a binary AWS event stream. Each accepts only access tokens this fake
issued for it (``valid_access``); ``revoke(provider)`` makes every token issued so far answer 401,
as an upstream that dropped a session does. ``provider_endpoints`` points the inference base URLs
here too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .loopback import serve_on_loopback

STATE_KEY = web.AppKey("device_provider_state", object)
PROVIDERS = ("qwen", "github", "kiro", "kiro-social", "google", "claude", "codex", "iflow")


def fake_jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT whose claims the gateway reads (email, account id)."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none'})}.{part(claims)}.c2ln"


@dataclass
class DeviceProviderState:
    base_url: str = ""
    polls: dict[str, list[str]] = field(default_factory=dict)
    interval: int = 5
    expires_in: int = 3600
    refresh_fault: dict[str, str] = field(default_factory=dict)
    rotate_refresh: bool = True
    refresh_gate: int = 0
    copilot_status: int = 200
    kiro_email: str = "dev@example.com"
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Refresh tokens each provider currently accepts.
    valid_refresh: dict[str, set[str]] = field(default_factory=dict)
    # Service-account public keys by client_email, for JWT-bearer checks.
    service_accounts: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    challenges: dict[str, str] = field(default_factory=dict)
    # Access tokens each inference endpoint accepts (``qwen``, ``copilot``, ``kiro``).
    valid_access: dict[str, set[str]] = field(default_factory=dict)
    # Seconds a Copilot API token lives (``expires_at`` = now + this).
    copilot_lifetime: int = 1800
    answer: str = "hello from the fake"
    # Kiro: reasoning written inline before the answer, as the service does when thinking is on.
    kiro_thinking: str = ""
    # Kiro: bytes cut off the end of the event stream (a connection that dies inside a frame).
    kiro_truncate: int = 0
    # Kiro: an in-band error event sent after the first half of the answer (``{"type": "error"}``).
    kiro_error: str = ""
    # The status a refused Kiro token gets (the service answers 401 or 403 with the same text).
    kiro_refused_status: int = 401
    # What the Antigravity project lookup (loadCodeAssist) finds; None: nothing, then onboarding.
    assist_project: str | None = "ag-project"
    # iFlow getUserInfo: replaces the usual success answer when set (the key is still per token).
    iflow_user_info: dict[str, Any] | None = None
    # iFlow cookie API-key POST: replaces the usual success answer (status 200) when set.
    iflow_key_answer: dict[str, Any] | None = None
    _waiting: list[asyncio.Future[None]] = field(default_factory=list)

    def next_id(self, provider: str) -> int:
        self.counters[provider] = self.counters.get(provider, 0) + 1
        return self.counters[provider]

    def issue_refresh(self, provider: str, token: str) -> str:
        self.valid_refresh.setdefault(provider, set()).add(token)
        return token

    def issue_access(self, provider: str, token: str) -> str:
        self.valid_access.setdefault(provider, set()).add(token)
        return token

    def revoke(self, provider: str) -> None:
        """Refuse every access token issued so far (tokens issued later work again)."""
        self.valid_access.pop(provider, None)

    def calls(self, path_suffix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith(path_suffix)]

    def _poll(self, provider: str) -> str:
        script = self.polls.get(provider) or ["token"]
        step = script.pop(0) if len(script) > 1 else script[0]
        return "authorization_pending" if step == "pending" else step


async def _record(request: web.Request) -> dict[str, Any]:
    state: DeviceProviderState = request.app[STATE_KEY]  # type: ignore[assignment]
    body: Any = None
    raw = await request.read()
    ctype = request.content_type
    if ctype == "application/x-www-form-urlencoded":
        body = dict((await request.post()).items())
    elif raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
    entry = {"method": request.method, "path": request.path, "query": dict(request.query),
             "headers": dict(request.headers), "body": body}
    state.requests.append(entry)
    return entry


def _state(request: web.Request) -> DeviceProviderState:
    return request.app[STATE_KEY]  # type: ignore[return-value]


def _oauth_error(code: str, status: int = 400) -> web.Response:
    return web.json_response({"error": code, "error_description": f"fake {code}"}, status=status)


def _fault_response(kind: str) -> web.Response | None:
    if kind == "malformed":
        return web.Response(status=200, text="{not json", content_type="application/json")
    if kind == "http500":
        return web.Response(status=500, text="upstream exploded")
    if kind == "invalid_grant":
        return _oauth_error("invalid_grant")
    return None


async def _gate(state: DeviceProviderState) -> None:
    if state.refresh_gate <= 1:
        return
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    state._waiting.append(waiter)
    if len(state._waiting) >= state.refresh_gate:
        for w in state._waiting:
            if not w.done():
                w.set_result(None)
        state._waiting.clear()
    await asyncio.wait_for(waiter, 10)


async def _refresh_common(state: DeviceProviderState, provider: str, refresh_token: str) -> web.Response | None:
    """Shared refresh rules: scripted faults, then the token must be one we issued and not used."""
    await _gate(state)
    fault = _fault_response(state.refresh_fault.get(provider, ""))
    if fault is not None:
        return fault
    valid = state.valid_refresh.setdefault(provider, set())
    if refresh_token not in valid:
        return _oauth_error("invalid_grant")
    if state.rotate_refresh:
        valid.discard(refresh_token)
    return None


# ---- Qwen -------------------------------------------------------------------------------------

async def qwen_device(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    form = entry["body"]
    if form.get("code_challenge_method") != "S256" or not form.get("code_challenge"):
        return _oauth_error("invalid_request")
    n = state.next_id("qwen-device")
    device_code = f"qwen-device-{n}"
    state.challenges[device_code] = form["code_challenge"]
    return web.json_response({
        "device_code": device_code, "user_code": f"QW-{n:04d}",
        "verification_uri": f"{state.base_url}/qwen/verify",
        "verification_uri_complete": f"{state.base_url}/qwen/verify?user_code=QW-{n:04d}",
        "expires_in": 300, "interval": state.interval,
    })


async def qwen_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    form = entry["body"]
    if form.get("grant_type") == "refresh_token":
        refused = await _refresh_common(state, "qwen", form.get("refresh_token", ""))
        if refused is not None:
            return refused
        n = state.next_id("qwen")
        return web.json_response({
            "access_token": state.issue_access("qwen", f"qwen-access-{n}"), "token_type": "Bearer",
            "expires_in": state.expires_in,
            "refresh_token": state.issue_refresh("qwen", f"qwen-refresh-{n}"), "resource_url": "portal.qwen.ai",
        })
    verifier = form.get("code_verifier", "")
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    if state.challenges.get(form.get("device_code", "")) != digest:
        return _oauth_error("invalid_grant")
    step = state._poll("qwen")
    fault = _fault_response(step)
    if fault is not None:
        return fault
    if step != "token":
        return _oauth_error(step)
    n = state.next_id("qwen")
    return web.json_response({
        "access_token": state.issue_access("qwen", f"qwen-access-{n}"),
        "refresh_token": state.issue_refresh("qwen", f"qwen-refresh-{n}"),
        "token_type": "Bearer", "resource_url": "portal.qwen.ai", "expires_in": state.expires_in,
    })


# ---- GitHub / Copilot -------------------------------------------------------------------------

async def github_device(request: web.Request) -> web.Response:
    await _record(request)
    state = _state(request)
    n = state.next_id("github-device")
    return web.json_response({"device_code": f"gh-device-{n}", "user_code": f"ABCD-{n:04d}",
                              "verification_uri": f"{state.base_url}/github/login/device",
                              "expires_in": 900, "interval": state.interval})


async def github_token(request: web.Request) -> web.Response:
    await _record(request)
    state = _state(request)
    step = state._poll("github")
    fault = _fault_response(step)
    if fault is not None:
        return fault
    if step != "token":
        # GitHub answers 200 while it waits, with the reason in ``error``.
        return web.json_response({"error": step, "error_description": f"fake {step}"})
    n = state.next_id("github")
    return web.json_response({"access_token": f"gho_fake{n}", "token_type": "bearer", "scope": "user:email"})


async def github_user(request: web.Request) -> web.Response:
    await _record(request)
    if not request.headers.get("Authorization", "").startswith("Bearer gho_"):
        return web.json_response({"message": "Bad credentials"}, status=401)
    return web.json_response({"login": "octocat", "id": 1})


async def copilot_token(request: web.Request) -> web.Response:
    await _record(request)
    state = _state(request)
    if state.copilot_status != 200:
        return web.json_response({"message": "no copilot"}, status=state.copilot_status)
    if not request.headers.get("Authorization", "").startswith("token gho_"):
        return web.json_response({"message": "Bad credentials"}, status=401)
    n = state.next_id("copilot")
    return web.json_response({"token": state.issue_access("copilot", f"tid=copilot-{n}"),
                              "expires_at": int(time.time()) + state.copilot_lifetime,
                              "endpoints": {"api": "https://api.githubcopilot.invalid"}})


# ---- Kiro -------------------------------------------------------------------------------------

async def kiro_register(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    if entry["body"].get("clientType") != "public":
        return web.json_response({"error": "invalid_request"}, status=400)
    n = state.next_id("kiro-client")
    return web.json_response({"clientId": f"kiro-client-{n}", "clientSecret": f"kiro-secret-{n}",
                              "clientIdIssuedAt": 1, "clientSecretExpiresAt": 2})


async def kiro_device(request: web.Request) -> web.Response:
    await _record(request)
    state = _state(request)
    return web.json_response({"deviceCode": "kiro-device", "userCode": "KIRO-1",
                              "verificationUri": f"{state.base_url}/kiro/verify",
                              "verificationUriComplete": f"{state.base_url}/kiro/verify?code=KIRO-1",
                              "expiresIn": 600, "interval": state.interval})


def _kiro_tokens(state: DeviceProviderState, provider: str, *, social: bool) -> dict[str, Any]:
    n = state.next_id(provider)
    body: dict[str, Any] = {
        "accessToken": state.issue_access("kiro", fake_jwt({"email": state.kiro_email, "provider": provider, "n": n})),
        "refreshToken": state.issue_refresh(provider, f"{provider}-refresh-{n}"),
        "expiresIn": state.expires_in,
    }
    if social:
        body["profileArn"] = "arn:aws:codewhisperer:us-east-1:123456789012:profile/SOCIAL"
    else:
        body["tokenType"] = "Bearer"
    return body


async def kiro_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    body = entry["body"]
    if body.get("grantType") == "refresh_token":
        refused = await _refresh_common(state, "kiro", body.get("refreshToken", ""))
        return refused or web.json_response(_kiro_tokens(state, "kiro", social=False))
    step = state._poll("kiro")
    fault = _fault_response(step)
    if fault is not None:
        return fault
    if step != "token":
        return web.json_response({"error": step, "error_description": f"fake {step}"}, status=400)
    return web.json_response(_kiro_tokens(state, "kiro", social=False))


async def kiro_profiles(request: web.Request) -> web.Response:
    await _record(request)
    if request.headers.get("x-amz-target") == "AmazonCodeWhispererService.ListProfiles":
        return web.json_response({"profiles": [{"arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/BLD"}]})
    return web.json_response({"message": "unknown target"}, status=400)


async def kiro_social_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    body = entry["body"]
    if body.get("code") != "social-code" or not body.get("code_verifier"):
        return web.json_response({"message": "bad code"}, status=400)
    return web.json_response(_kiro_tokens(state, "kiro-social", social=True))


async def kiro_social_refresh(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    refused = await _refresh_common(state, "kiro-social", entry["body"].get("refreshToken", ""))
    return refused or web.json_response(_kiro_tokens(state, "kiro-social", social=True))


# ---- Google (refresh and JWT bearer) ----------------------------------------------------------

def _verify_assertion(state: DeviceProviderState, assertion: str) -> str:
    header_b64, claims_b64, sig_b64 = assertion.split(".")
    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    header = json.loads(decode(header_b64))
    claims = json.loads(decode(claims_b64))
    if header.get("alg") != "RS256":
        raise ValueError("alg")
    key = state.service_accounts.get(claims.get("iss", ""))
    if key is None:
        raise ValueError("unknown issuer")
    key.verify(decode(sig_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    if claims.get("aud") != f"{state.base_url}/google/token" or "cloud-platform" not in claims.get("scope", ""):
        raise ValueError("claims")
    return str(claims["iss"])


async def load_code_assist(request: web.Request) -> web.Response:
    await _record(request)
    project = _state(request).assist_project
    answer: dict[str, Any] = {"allowedTiers": [{"id": "free-tier", "isDefault": True}]}
    if project is not None:
        answer["cloudaicompanionProject"] = {"id": project}
    return web.json_response(answer)


async def onboard_user(request: web.Request) -> web.Response:
    await _record(request)
    return web.json_response({"done": True, "response": {"cloudaicompanionProject": {"id": "onboarded-project"}}})


async def google_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    form = entry["body"]
    if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        try:
            _verify_assertion(state, form.get("assertion", ""))
        except (ValueError, InvalidSignature):
            return _oauth_error("invalid_grant")
        n = state.next_id("vertex")
        return web.json_response({"access_token": f"ya29.vertex-{n}", "expires_in": 3599, "token_type": "Bearer"})
    refused = await _refresh_common(state, "google", form.get("refresh_token", ""))
    if refused is not None:
        return refused
    n = state.next_id("google")
    return web.json_response({"access_token": f"ya29.google-{n}", "expires_in": 3599, "token_type": "Bearer",
                              "scope": "https://www.googleapis.com/auth/cloud-platform"})


# ---- Claude, Codex, iFlow refresh -------------------------------------------------------------

async def claude_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    body = entry["body"]
    if not isinstance(body, dict) or body.get("grant_type") != "refresh_token":
        return _oauth_error("unsupported_grant_type")
    refused = await _refresh_common(state, "claude", body.get("refresh_token", ""))
    if refused is not None:
        return refused
    n = state.next_id("claude")
    return web.json_response({"access_token": f"sk-ant-oat-{n}", "refresh_token":
                              state.issue_refresh("claude", f"sk-ant-ort-{n}"), "expires_in": 28800,
                              "token_type": "Bearer", "account": {"email_address": "claude@example.com"}})


async def codex_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    form = entry["body"]
    refused = await _refresh_common(state, "codex", form.get("refresh_token", ""))
    if refused is not None:
        return refused
    n = state.next_id("codex")
    id_token = fake_jwt({"email": "codex@example.com",
                         "https://api.openai.com/auth": {"chatgpt_account_id": "acct-1", "chatgpt_plan_type": "plus"}})
    return web.json_response({"access_token": f"codex-access-{n}", "refresh_token":
                              state.issue_refresh("codex", f"codex-refresh-{n}"), "id_token": id_token,
                              "expires_in": 864000})


async def iflow_token(request: web.Request) -> web.Response:
    entry = await _record(request)
    state = _state(request)
    expected = base64.b64encode(b"10009311001:4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW").decode()
    if request.headers.get("Authorization") != f"Basic {expected}":
        return _oauth_error("invalid_client", 401)
    refused = await _refresh_common(state, "iflow", entry["body"].get("refresh_token", ""))
    if refused is not None:
        return refused
    n = state.next_id("iflow")
    return web.json_response({"access_token": f"iflow-access-{n}", "refresh_token":
                              state.issue_refresh("iflow", f"iflow-refresh-{n}"), "expires_in": 172800,
                              "token_type": "bearer", "scope": "read"})


async def iflow_userinfo(request: web.Request) -> web.Response:
    await _record(request)
    token = request.query.get("accessToken", "")
    state = _state(request)
    if state.iflow_user_info is not None:
        return web.json_response(state.iflow_user_info)
    return web.json_response({"success": True, "data": {"apiKey": f"sk-iflow-{token}", "email": "i@example.com"}})


async def iflow_apikey(request: web.Request) -> web.Response:
    entry = await _record(request)
    if "BXAuth=" not in request.headers.get("Cookie", ""):
        return web.json_response({"success": False, "message": "login required"}, status=401)
    if _state(request).iflow_key_answer is not None:
        return web.json_response(_state(request).iflow_key_answer)
    n = _state(request).next_id("iflow-key")
    return web.json_response({"success": True, "code": "200", "data": {
        "hasExpired": False, "expireTime": "2099-01-01 00:00", "name": entry["body"].get("name"),
        "apiKey": f"sk-iflow-cookie-{n}", "apiKeyMask": "sk-***"}})


# ---- inference ----------------------------------------------------------------------------------

def _bearer_ok(request: web.Request, provider: str) -> bool:
    auth = request.headers.get("Authorization", "")
    return auth.startswith("Bearer ") and auth[7:] in _state(request).valid_access.get(provider, set())


async def _openai_chat(request: web.Request, provider: str) -> web.StreamResponse:
    entry = await _record(request)
    state = _state(request)
    if not _bearer_ok(request, provider):
        return web.json_response({"error": {"message": "invalid access token", "type": "invalid_request_error",
                                            "code": "invalid_api_key"}}, status=401)
    body = entry["body"] if isinstance(entry["body"], dict) else {}
    model = str(body.get("model", ""))
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    if not body.get("stream"):
        return web.json_response({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": state.answer},
                         "finish_reason": "stop"}],
            "usage": usage,
        })
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    words = state.answer.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": usage})
    for chunk in chunks:
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def qwen_chat(request: web.Request) -> web.StreamResponse:
    return await _openai_chat(request, "qwen")


async def copilot_chat(request: web.Request) -> web.StreamResponse:
    return await _openai_chat(request, "copilot")


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (prelude with CRC, string headers, JSON payload, message CRC),
    written from the AWS wire format description, independently of the gateway's decoder."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        raw_name, raw_value = name.encode(), value.encode()
        headers += bytes([len(raw_name)]) + raw_name + b"\x07" + len(raw_value).to_bytes(2, "big") + raw_value
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = total.to_bytes(4, "big") + len(headers).to_bytes(4, "big")
    prelude += zlib.crc32(prelude).to_bytes(4, "big")
    message = prelude + headers + body
    return message + zlib.crc32(message).to_bytes(4, "big")


async def kiro_generate(request: web.Request) -> web.StreamResponse:
    await _record(request)
    state = _state(request)
    if not _bearer_ok(request, "kiro"):
        return web.json_response({"message": "The bearer token included in the request is invalid."},
                                 status=state.kiro_refused_status)
    text = state.answer
    if state.kiro_thinking:
        text = f"<thinking>{state.kiro_thinking}</thinking>{text}"
    half = len(text) // 2
    stream = (event_frame("assistantResponseEvent", {"content": text[:half]})
              + (event_frame("assistantResponseEvent", {"type": "error", "message": state.kiro_error})
                 if state.kiro_error else b"")
              + event_frame("assistantResponseEvent", {"content": text[half:]}))
    if state.kiro_truncate:
        stream = stream[:-state.kiro_truncate]
    resp = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await resp.prepare(request)
    # Cut inside the first frame: a client must reassemble frames across reads.
    await resp.write(stream[:7])
    await resp.write(stream[7:])
    await resp.write_eof()
    return resp


def build_app(state: DeviceProviderState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    r = app.router
    r.add_post("/qwen/device/code", qwen_device)
    r.add_post("/qwen/token", qwen_token)
    r.add_post("/github/login/device/code", github_device)
    r.add_post("/github/login/oauth/access_token", github_token)
    r.add_get("/github/user", github_user)
    r.add_get("/github/copilot_internal/v2/token", copilot_token)
    r.add_post("/kiro/client/register", kiro_register)
    r.add_post("/kiro/device_authorization", kiro_device)
    r.add_post("/kiro/token", kiro_token)
    r.add_post("/kiro/codewhisperer", kiro_profiles)
    r.add_post("/kiro-social/oauth/token", kiro_social_token)
    r.add_post("/kiro-social/refreshToken", kiro_social_refresh)
    r.add_post("/google/token", google_token)
    r.add_post("/google/assist/v1internal:loadCodeAssist", load_code_assist)
    r.add_post("/google/assist/v1internal:onboardUser", onboard_user)
    r.add_post("/claude/token", claude_token)
    r.add_post("/codex/token", codex_token)
    r.add_post("/iflow/token", iflow_token)
    r.add_get("/iflow/userinfo", iflow_userinfo)
    r.add_post("/iflow/apikey", iflow_apikey)
    r.add_post("/qwen/v1/chat/completions", qwen_chat)
    r.add_post("/copilot/chat/completions", copilot_chat)
    r.add_post("/kiro/api/generateAssistantResponse", kiro_generate)
    r.add_post("/kiro/api/", kiro_generate)
    return app


def provider_endpoints(base: str) -> dict[str, dict[str, str]]:
    """``gateway.provider-endpoints`` pointing every device/refresh URL at the fake at ``base``."""
    return {
        "qwen": {"device-url": f"{base}/qwen/device/code", "token-url": f"{base}/qwen/token",
                 "inference-base-url": f"{base}/qwen/v1"},
        "github-copilot": {"device-url": f"{base}/github/login/device/code",
                           "token-url": f"{base}/github/login/oauth/access_token",
                           "userinfo-url": f"{base}/github/user",
                           "copilot-token-url": f"{base}/github/copilot_internal/v2/token",
                           "inference-base-url": f"{base}/copilot"},
        "kiro": {"register-url": f"{base}/kiro/client/register", "device-url": f"{base}/kiro/device_authorization",
                 "token-url": f"{base}/kiro/token", "userinfo-url": f"{base}/kiro/codewhisperer",
                 "social-login-url": f"{base}/kiro-social/login", "social-token-url": f"{base}/kiro-social/oauth/token",
                 "social-refresh-url": f"{base}/kiro-social/refreshToken",
                 "inference-base-url": f"{base}/kiro/api"},
        "vertex": {"token-url": f"{base}/google/token"},
        "gemini-cli": {"token-url": f"{base}/google/token"},
        "antigravity": {"token-url": f"{base}/google/token", "code-assist-url": f"{base}/google/assist"},
        "claude": {"token-url": f"{base}/claude/token"},
        "codex": {"token-url": f"{base}/codex/token"},
        "iflow": {"token-url": f"{base}/iflow/token", "userinfo-url": f"{base}/iflow/userinfo",
                  "cookie-api-key-url": f"{base}/iflow/apikey"},
    }


async def start_device_providers(state: DeviceProviderState | None = None) -> tuple[web.AppRunner, DeviceProviderState]:
    """Start the fake on a free loopback port; ``state.base_url`` is set to where it listens."""
    state = state or DeviceProviderState()
    runner, state.base_url = await serve_on_loopback(build_app(state), access_log=None)
    return runner, state


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps; records every wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def clock(self) -> float:
        return self.now
