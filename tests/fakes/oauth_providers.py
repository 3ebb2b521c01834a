"""Fake OAuth providers for the browser logins: Anthropic, OpenAI (Codex), Google, iFlow, Vertex.

One aiohttp server on 127.0.0.1 plays every family under its own path prefix (``/claude``,
``/codex``, ``/google``, ``/iflow``). Each family has an authorize endpoint (it "consents" at once
and redirects to the ``redirect_uri`` with a fresh code and the caller's state), a token endpoint
(authorization code with the family's client authentication and PKCE check, and refresh), the
follow-up calls the legacy makes (user info, Cloud Code Assist onboarding, project list, service
usage, iFlow's cookie API-key endpoints) and one simple inference endpoint that accepts only
tokens this fake issued.

    fake = FakeOAuthProviders()
    await fake.start()
    cfg = {"provider-endpoints": fake.overrides()}      # a config ``gateway`` section
    ...
    await fake.stop()

Google also answers Antigravity's ``fetchAvailableModels`` (``fake.antigravity_models``), and
``/vertex`` plays Google's JWT-bearer token grant for service accounts (the assertion's signature
is checked against ``fake.vertex_keys[client_email]`` when a public key is registered there) and
the Vertex ``aiplatform`` generateContent endpoint.

Faults are set per family: ``fake.token_fault["claude"] = "malformed" | "http500"``,
``fake.deny_consent = True`` (authorize redirects with ``error=access_denied``). Everything
received is in ``fake.requests`` (path, method, headers, parsed body) for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from .loopback import serve_on_loopback

CLAUDE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
GEMINI_CLIENT = ("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
                 "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")
ANTIGRAVITY_CLIENT = ("1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com",
                      "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")
IFLOW_CLIENT = ("10009311001", "4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW")
GOOGLE_CLIENTS = dict((GEMINI_CLIENT, ANTIGRAVITY_CLIENT))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def fake_jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT (the signature is random bytes; nobody checks it)."""
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(secrets.token_bytes(16))}"


@dataclass
class _Grant:
    family: str
    client_id: str
    redirect_uri: str
    challenge: str


@dataclass
class FakeOAuthProviders:
    email: str = "user@example.com"
    codex_plan: str = "plus"
    codex_account_id: str = "acct-123"
    google_projects: list[str] = field(default_factory=lambda: ["proj-one", "proj-two"])
    # loadCodeAssist answer for Gemini CLI / Antigravity; None means "no project, onboard".
    assist_project: str | None = "assist-project"
    api_enabled: bool = True
    iflow_api_key: str = "sk-iflow-fake"
    iflow_cookie_name: str = "user@example.com"
    deny_consent: bool = False
    token_fault: dict[str, str] = field(default_factory=dict)
    expires_in: int = 3600
    vertex_expires_in: int = 3600
    # Keys of the fetchAvailableModels answer; the values are what the real service sends per model.
    antigravity_models: dict[str, Any] = field(default_factory=lambda: {
        "gemini-2.5-flash": {"displayName": "Gemini 2.5 Flash"},
        "gemini-3-pro-high": {"displayName": "Gemini 3 Pro"},
        "chat_20706": {}, "gemini-2.5-pro": {},
    })
    vertex_keys: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    issued_tokens: set[str] = field(default_factory=set)
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    url: str = ""

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/{family}/authorize", self._authorize)
        r.add_post("/claude/token", self._claude_token)
        r.add_post("/codex/token", self._codex_token)
        r.add_post("/google/token", self._google_token)
        r.add_post("/iflow/token", self._iflow_token)
        r.add_get("/google/userinfo", self._google_userinfo)
        r.add_get("/google/projects", self._google_projects)
        r.add_post("/google/assist/v1internal:loadCodeAssist", self._load_code_assist)
        r.add_post("/google/assist/v1internal:onboardUser", self._onboard_user)
        r.add_get("/google/serviceusage/{project}/services/{service}", self._service_state)
        r.add_post("/google/serviceusage/{project}/services/{service}", self._service_enable)
        r.add_get("/iflow/userinfo", self._iflow_userinfo)
        r.add_get("/iflow/apikey", self._iflow_apikey_get)
        r.add_post("/iflow/apikey", self._iflow_apikey_post)
        r.add_post("/claude/v1/messages", self._claude_messages)
        r.add_post("/codex/responses", self._codex_responses)
        r.add_post("/google/assist/v1internal:generateContent", self._gemini_generate)
        r.add_post("/iflow/v1/chat/completions", self._openai_chat)
        r.add_post("/google/assist/v1internal:fetchAvailableModels", self._fetch_available_models)
        r.add_post("/google/assist/v1internal:streamGenerateContent", self._gemini_stream)
        r.add_post("/vertex/token", self._vertex_token)
        r.add_post("/vertex/v1/{tail:.*}", self._vertex_generate)
        self._runner, self.url = await serve_on_loopback(app, access_log=None)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def overrides(self) -> dict[str, dict[str, Any]]:
        """``gateway.provider-endpoints`` pointing every family at this fake."""
        u = self.url
        google = {
            "token-url": f"{u}/google/token",
            "userinfo-url": f"{u}/google/userinfo",
            "code-assist-url": f"{u}/google/assist",
        }
        return {
            "claude": {"authorize-url": f"{u}/claude/authorize", "token-url": f"{u}/claude/token",
                       "inference-base-url": f"{u}/claude"},
            "codex": {"authorize-url": f"{u}/codex/authorize", "token-url": f"{u}/codex/token",
                      "inference-base-url": f"{u}/codex"},
            "gemini-cli": {**google, "authorize-url": f"{u}/gemini/authorize",
                           "projects-url": f"{u}/google/projects",
                           "service-usage-url": f"{u}/google/serviceusage",
                           "inference-base-url": f"{u}/google/assist"},
            "antigravity": {**google, "authorize-url": f"{u}/antigravity/authorize",
                            "inference-base-url": f"{u}/google/assist"},
            "iflow": {"authorize-url": f"{u}/iflow/authorize", "token-url": f"{u}/iflow/token",
                      "userinfo-url": f"{u}/iflow/userinfo", "cookie-api-key-url": f"{u}/iflow/apikey",
                      "success-redirect-url": f"{u}/iflow/success", "error-redirect-url": f"{u}/iflow/error",
                      "inference-base-url": f"{u}/iflow/v1"},
            "vertex": {"token-url": f"{u}/vertex/token", "inference-base-url": f"{u}/vertex"},
        }

    def seen(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    # -- helpers ----------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        body: Any
        if request.content_type == "application/x-www-form-urlencoded":
            body = dict((await request.post()).items())
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "headers": dict(request.headers), "body": body})
        return await handler(request)

    def _issue(self, prefix: str) -> str:
        token = f"{prefix}-{secrets.token_hex(8)}"
        self.issued_tokens.add(token)
        return token

    def _fault(self, family: str) -> web.Response | None:
        fault = self.token_fault.get(family)
        if fault == "malformed":
            return web.Response(status=200, text="{not json", content_type="application/json")
        if fault == "http500":
            return web.json_response({"error": "server_error"}, status=500)
        return None

    def _take_code(self, family: str, code: str, client_id: str, redirect_uri: str,
                   verifier: str | None) -> web.Response | None:
        grant = self._codes.pop(code, None)
        if grant is None or grant.family != family:
            return web.json_response({"error": "invalid_grant"}, status=400)
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            return web.json_response({"error": "invalid_request"}, status=400)
        if grant.challenge:
            expected = _b64url(hashlib.sha256((verifier or "").encode()).digest())
            if expected != grant.challenge:
                return web.json_response({"error": "invalid_grant", "error_description": "pkce"}, status=400)
        return None

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.issued_tokens

    # -- authorize --------------------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        family = request.match_info["family"]
        q = request.query
        redirect = q.get("redirect") if family == "iflow" else q.get("redirect_uri")
        if not redirect or "state" not in q:
            return web.json_response({"error": "invalid_request"}, status=400)
        if self.deny_consent:
            target = f"{redirect}?{urlencode({'error': 'access_denied', 'state': q['state']})}"
            raise web.HTTPFound(target)
        code = secrets.token_urlsafe(12)
        token_family = "google" if family in ("gemini", "antigravity") else family
        self._codes[code] = _Grant(token_family, q.get("client_id", ""), redirect, q.get("code_challenge", ""))
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, 'state': q['state']})}")

    # -- token endpoints --------------------------------------------------------------------------

    async def _claude_token(self, request: web.Request) -> web.StreamResponse:
        if fault := self._fault("claude"):
            return fault
        body = await request.json()
        if body.get("grant_type") == "refresh_token":
            if body.get("refresh_token") not in self.issued_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            refused = self._take_code("claude", body.get("code", ""), body.get("client_id", ""),
                                      body.get("redirect_uri", ""), body.get("code_verifier"))
            if refused is not None:
                return refused
        return web.json_response({
            "access_token": self._issue("claude-at"), "refresh_token": self._issue("claude-rt"),
            "token_type": "Bearer", "expires_in": self.expires_in,
            "organization": {"uuid": "org-1", "name": "Org"},
            "account": {"uuid": "acc-1", "email_address": self.email},
        })

    async def _codex_token(self, request: web.Request) -> web.StreamResponse:
        if fault := self._fault("codex"):
            return fault
        form = await request.post()
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.issued_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            refused = self._take_code("codex", str(form.get("code", "")), str(form.get("client_id", "")),
                                      str(form.get("redirect_uri", "")), str(form.get("code_verifier", "")))
            if refused is not None:
                return refused
        auth_claim = {"chatgpt_account_id": self.codex_account_id, "chatgpt_plan_type": self.codex_plan}
        id_token = fake_jwt({"email": self.email, "https://api.openai.com/auth": auth_claim,
                             "exp": int(time.time()) + self.expires_in})
        return web.json_response({
            "access_token": self._issue("codex-at"), "refresh_token": self._issue("codex-rt"),
            "id_token": id_token, "token_type": "Bearer", "expires_in": self.expires_in,
        })

    async def _google_token(self, request: web.Request) -> web.StreamResponse:
        if fault := self._fault("google"):
            return fault
        form = await request.post()
        client_id = str(form.get("client_id", ""))
        if GOOGLE_CLIENTS.get(client_id) != form.get("client_secret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.issued_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response({"access_token": self._issue("google-at"), "expires_in": self.expires_in,
                                      "token_type": "Bearer"})
        refused = self._take_code("google", str(form.get("code", "")), client_id,
                                  str(form.get("redirect_uri", "")), None)
        if refused is not None:
            return refused
        return web.json_response({
            "access_token": self._issue("google-at"), "refresh_token": self._issue("google-rt"),
            "token_type": "Bearer", "expires_in": self.expires_in, "scope": "openid",
        })

    async def _iflow_token(self, request: web.Request) -> web.StreamResponse:
        if fault := self._fault("iflow"):
            return fault
        expected = "Basic " + base64.b64encode(f"{IFLOW_CLIENT[0]}:{IFLOW_CLIENT[1]}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.issued_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            refused = self._take_code("iflow", str(form.get("code", "")), str(form.get("client_id", "")),
                                      str(form.get("redirect_uri", "")), None)
            if refused is not None:
                return refused
        return web.json_response({
            "access_token": self._issue("iflow-at"), "refresh_token": self._issue("iflow-rt"),
            "token_type": "bearer", "expires_in": self.expires_in, "scope": "read",
        })

    # -- follow-up calls --------------------------------------------------------------------------

    async def _google_userinfo(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"email": self.email, "verified_email": True})

    async def _google_projects(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"projects": [{"projectId": p, "name": p.title()} for p in self.google_projects]})

    async def _load_code_assist(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        answer: dict[str, Any] = {"allowedTiers": [{"id": "free-tier", "isDefault": True}]}
        requested = body.get("cloudaicompanionProject")
        if requested:
            answer["cloudaicompanionProject"] = requested
        elif self.assist_project is not None:
            answer["cloudaicompanionProject"] = {"id": self.assist_project}
        return web.json_response(answer)

    async def _onboard_user(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        project = body.get("cloudaicompanionProject") or "onboarded-project"
        return web.json_response({"done": True, "response": {"cloudaicompanionProject": {"id": project}}})

    async def _service_state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"state": "ENABLED" if self.api_enabled else "DISABLED"})

    async def _service_enable(self, request: web.Request) -> web.StreamResponse:
        if self.api_enabled:
            return web.json_response({"done": True})
        return web.json_response({"error": {"message": "permission denied"}}, status=403)

    async def _iflow_userinfo(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("accessToken") not in self.issued_tokens:
            return web.json_response({"success": False}, status=200)
        return web.json_response({"success": True, "data": {"apiKey": self.iflow_api_key, "email": self.email,
                                                            "phone": ""}})

    def _cookie_ok(self, request: web.Request) -> bool:
        return "BXAuth=" in request.headers.get("Cookie", "")

    async def _iflow_apikey_get(self, request: web.Request) -> web.StreamResponse:
        if fault := self._fault("iflow-cookie"):
            return fault
        if not self._cookie_ok(request):
            return web.json_response({"success": False, "message": "not logged in"})
        return web.json_response({"success": True, "code": "200", "message": "ok", "data": {
            "hasExpired": False, "expireTime": "2030-01-01 00:00", "name": self.iflow_cookie_name,
            "apiKey": "", "apiKeyMask": "sk-****"}})

    async def _iflow_apikey_post(self, request: web.Request) -> web.StreamResponse:
        if not self._cookie_ok(request):
            return web.json_response({"success": False, "message": "not logged in"})
        body = await request.json()
        return web.json_response({"success": True, "code": "200", "message": "ok", "data": {
            "hasExpired": False, "expireTime": "2030-01-01 00:00", "name": body.get("name", ""),
            "apiKey": self.iflow_api_key, "apiKeyMask": "sk-****"}})

    # -- inference --------------------------------------------------------------------------------

    async def _claude_messages(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"type": "error", "error": {"type": "authentication_error"}}, status=401)
        body = await request.json()
        if body.get("stream"):
            return await self._claude_stream(request, body.get("model", ""))
        return web.json_response({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model", ""),
            "content": [{"type": "text", "text": "hello from fake claude"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 4},
        })

    async def _claude_stream(self, request: web.Request, model: str) -> web.StreamResponse:
        """The same answer as Anthropic's event stream, the text in two deltas."""
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 0}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "hello from "}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "fake claude"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                               "usage": {"output_tokens": 4}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for name, data in events:
            await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await resp.write_eof()
        return resp

    async def _codex_responses(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "unauthorized"}}, status=401)
        body = await request.json()
        completed = {"type": "response.completed", "response": {
            "id": "resp_fake", "object": "response", "model": body.get("model", ""), "status": "completed",
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "hello from fake codex"}]}],
            "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}}
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(f"data: {json.dumps(completed)}\n\n".encode())
        await resp.write_eof()
        return resp

    async def _gemini_generate(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": {"code": 401, "message": "unauthorized"}}, status=401)
        return web.json_response({"response": {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hello from fake gemini"}]},
                            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}}})

    async def _gemini_stream(self, request: web.Request) -> web.StreamResponse:
        """``v1internal:streamGenerateContent?alt=sse``: the answer in two wrapped chunks."""
        if not self._authorized(request):
            return web.json_response({"error": {"code": 401, "message": "unauthorized"}}, status=401)
        chunks = [
            {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello from "}]}}]}},
            {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "fake gemini"}]},
                                          "finishReason": "STOP"}],
                          "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4,
                                            "totalTokenCount": 7}}},
        ]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in chunks:
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write_eof()
        return resp

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.iflow_api_key}":
            return web.json_response({"error": {"message": "unauthorized"}}, status=401)
        body = await request.json()
        return web.json_response({
            "id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from fake iflow"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        })

    async def _fetch_available_models(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": {"code": 401, "message": "unauthorized"}}, status=401)
        return web.json_response({"models": self.antigravity_models})

    # -- vertex (service accounts) ----------------------------------------------------------------

    async def _vertex_token(self, request: web.Request) -> web.StreamResponse:
        if fault := self._fault("vertex"):
            return fault
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            head, payload, signature = str(form.get("assertion", "")).split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return web.json_response({"error": "invalid_grant", "error_description": "bad assertion"}, status=400)
        key = self.vertex_keys.get(claims.get("iss"))
        if key is not None:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            try:
                key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                           f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return web.json_response({"error": "invalid_grant", "error_description": "signature"}, status=400)
        if claims.get("aud") != f"{self.url}/vertex/token":
            return web.json_response({"error": "invalid_grant", "error_description": "audience"}, status=400)
        return web.json_response({"access_token": self._issue("vertex-at"), "expires_in": self.vertex_expires_in,
                                  "token_type": "Bearer"})

    async def _vertex_generate(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": {"code": 401, "message": "unauthorized"}}, status=401)
        return web.json_response({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hello from fake vertex"}]},
                            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}})
