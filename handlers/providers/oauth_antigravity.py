"""Antigravity credentials: Cloud Code ``v1internal`` with the agent envelope and base fallback.

Legacy: ``antigravity_executor.go`` (reference: providers §7.4, §7.5). The translated body is the
gemini-cli style envelope; the executor adds ``userAgent: "antigravity"``, ``requestType:
"agent"``, ``project`` (the file's project id, else a random ``<adj>-<noun>-<5 hex>``),
``requestId: "agent-<uuid>"`` and ``request.sessionId`` (from a SHA-256 of the first user text),
drops ``request.safetySettings`` and sets ``toolConfig.functionCallingConfig.mode: VALIDATED``.
Claude models get ``parametersJsonSchema`` renamed to ``parameters`` and the whole payload
schema-cleaned; Claude and ``gemini-3-pro-high`` get the fixed Antigravity system instruction
prepended (plus the ``[ignore]`` copy); other models lose ``generationConfig.maxOutputTokens``.

Base URLs are tried in order (daily sandbox, daily, prod; a ``base_url`` replaces the list): a
transport failure, or a 429 while another base remains, moves to the next one. The final 429
carries the Google retry hint. Non-stream calls for Claude and ``gemini-3-pro`` models are sent
as streams and folded into one answer, as the legacy does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import orjson

from handlers.translation.gemini_schema import clean_schema_for_antigravity
from handlers.translation.model import Format

from .base import (
    Executor,
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    json_bytes,
)
from .gemini_api import GeminiAPIExecutor
from .http import UpstreamStream
from .oauth_base import OAuthCredential, OAuthExecutor
from .oauth_gemini_cli import unwrap
from .upstream_log import note_request

BASE_URLS = (
    "https://daily-cloudcode-pa.sandbox.googleapis.com",
    "https://daily-cloudcode-pa.googleapis.com",
    "https://cloudcode-pa.googleapis.com",
)
USER_AGENT = "antigravity/1.104.0 darwin/arm64"
# The legacy's fixed instruction, sent verbatim because the upstream keys behaviour on it.
SYSTEM_INSTRUCTION = (
    "You are Antigravity, a powerful agentic AI coding assistant designed by the Google Deepmind team "
    "working on Advanced Agentic Coding.You are pair programming with a USER to solve their coding task. "
    "The task may require creating a new codebase, modifying or debugging an existing codebase, or simply "
    "answering a question.**Absolute paths only****Proactiveness**"
)
_ADJECTIVES = ("useful", "bright", "swift", "calm", "bold")
_NOUNS = ("fuze", "wave", "spark", "flow", "core")


def random_project_id() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{uuid.uuid4().hex[:5]}"


def stable_session_id(body: dict[str, Any]) -> str:
    """``-<n>`` from the first user text, so one conversation keeps one upstream session."""
    request = body.get("request")
    contents = request.get("contents") if isinstance(request, dict) else None
    for content in contents if isinstance(contents, list) else ():
        if isinstance(content, dict) and content.get("role") == "user":
            parts = content.get("parts")
            first = parts[0] if isinstance(parts, list) and parts else None
            text = first.get("text") if isinstance(first, dict) else None
            if isinstance(text, str) and text:
                digest = hashlib.sha256(text.encode()).digest()
                return f"-{int.from_bytes(digest[:8], 'big') & 0x7FFFFFFFFFFFFFFF}"
    return f"-{random.randrange(9_000_000_000_000_000_000)}"


def _rename_key(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {(new if key == old else key): _rename_key(value, old, new) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_key(item, old, new) for item in node]
    return node


def _member_object(value: Any) -> dict[str, Any] | None:
    """What the legacy's ``sjson.Set`` of a path under ``value`` writes into: a copy of an object,
    a new object in place of a scalar or null (sjson replaces it), and None for an array, where
    sjson refuses a key and the whole write is dropped, leaving the document as it was."""
    if isinstance(value, dict):
        return dict(value)
    return None if isinstance(value, list) else {}


def _edit_request(request: dict[str, Any], session: str, *, is_claude: bool) -> dict[str, Any]:
    request["sessionId"] = session
    request.pop("safetySettings", None)
    # A client value on the way is overwritten as sjson does (antigravity_executor.go:1411-1412):
    # ``"toolConfig": {"functionCallingConfig": "AUTO"}`` goes up as ``{"mode": "VALIDATED"}``.
    tool_config = _member_object(request.get("toolConfig"))
    if tool_config is not None:
        calling = _member_object(tool_config.get("functionCallingConfig"))
        if calling is not None:
            calling["mode"] = "VALIDATED"
            tool_config["functionCallingConfig"] = calling
            request["toolConfig"] = tool_config
    if is_claude:
        tools = request.get("tools")
        for tool in tools if isinstance(tools, list) else ():
            declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
            for decl in declarations if isinstance(declarations, list) else ():
                if isinstance(decl, dict) and "parametersJsonSchema" in decl:
                    schema = decl.pop("parametersJsonSchema")
                    if isinstance(schema, dict):
                        schema = {k: v for k, v in schema.items() if k != "$schema"}
                    decl["parameters"] = schema
    else:
        config = request.get("generationConfig")
        if isinstance(config, dict):
            request["generationConfig"] = {k: v for k, v in config.items() if k != "maxOutputTokens"}
    return request


def antigravity_body(body: dict[str, Any], model: str, project_id: str, *,
                     request_ids: Callable[[], str], project_ids: Callable[[], str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(body)
    out["model"] = model
    out["userAgent"] = "antigravity"
    out["requestType"] = "agent"
    out["project"] = project_id or project_ids()
    out["requestId"] = request_ids()
    is_claude = "claude" in model
    request = _member_object(out.get("request"))
    if request is not None:
        out["request"] = _edit_request(request, stable_session_id(body), is_claude=is_claude)
    # else: an array ``request`` takes none of the request edits (the legacy's sjson writes fail
    # on it); the upstream refuses it, as it refuses it from the legacy.
    if is_claude:
        out = clean_schema_for_antigravity(_rename_key(out, "parametersJsonSchema", "parameters"))
    request = out.get("request")
    if (is_claude or "gemini-3-pro-high" in model) and isinstance(request, dict):
        system = request.get("systemInstruction")
        own = system.get("parts") if isinstance(system, dict) else None
        parts: list[Any] = [{"text": SYSTEM_INSTRUCTION},
                            {"text": f"Please ignore following [ignore]{SYSTEM_INSTRUCTION}[/ignore]"}]
        if isinstance(own, list):
            parts.extend(own)
        request["systemInstruction"] = {**(system if isinstance(system, dict) else {}), "role": "user",
                                        "parts": parts}
    return out


def folds_stream(model: str) -> bool:
    """Models whose non-stream calls the legacy sends as streams and merges."""
    return "claude" in model.lower() or "gemini-3-pro" in model


def _normalised_part(part: dict[str, Any]) -> dict[str, Any]:
    out = dict(part)
    signature = out.pop("thought_signature", None)
    if out.get("thoughtSignature") or signature:
        out["thoughtSignature"] = out.get("thoughtSignature") or signature
    if "inline_data" in out:
        out["inlineData"] = out.pop("inline_data")
    return out


class _PartMerger:
    """Runs of text (or of thought text) become one part; anything else stays as sent."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []
        self._kind = ""
        self._text: list[str] = []
        self._signature = ""

    def flush(self) -> None:
        text = "".join(self._text)
        if self._kind == "text" and text.strip():
            self.parts.append({"text": text})
        elif self._kind == "thought" and (text.strip() or self._signature):
            part: dict[str, Any] = {"thought": True, "text": text}
            if self._signature:
                part["thoughtSignature"] = self._signature
            self.parts.append(part)
        self._kind, self._text, self._signature = "", [], ""

    def add(self, part: dict[str, Any]) -> None:
        signature = part.get("thoughtSignature") or part.get("thought_signature") or ""
        if "functionCall" in part or "inlineData" in part or "inline_data" in part:
            self.flush()
            self.parts.append(_normalised_part(part))
            return
        thought = part.get("thought") is True
        if thought or "text" in part:
            kind = "thought" if thought else "text"
            if self._kind and self._kind != kind:
                self.flush()
            self._kind = kind
            text = part.get("text")
            self._text.append(text if isinstance(text, str) else "")
            if thought and isinstance(signature, str) and signature:
                self._signature = signature
            return
        self.flush()
        self.parts.append(_normalised_part(part))


def merge_stream(events: list[StreamEvent]) -> dict[str, Any]:
    """``convertStreamToNonStream``: the last chunk's response as the template, with the first
    candidate's parts merged over the whole stream and the last seen role, finish reason, model
    version, response id, usage and trace id."""
    template: dict[str, Any] | None = None
    merger = _PartMerger()
    found: dict[str, Any] = {}
    trace = ""
    for event in events:
        root = event.payload
        if not isinstance(root, dict):
            continue
        node = root.get("response")
        if not isinstance(node, dict):
            if "candidates" not in root:
                continue
            node = root
        template = node
        if isinstance(root.get("traceId"), str) and root["traceId"]:
            trace = root["traceId"]
        candidates = node.get("candidates")
        first = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict) else {}
        content = first.get("content") if isinstance(first.get("content"), dict) else {}
        if "role" in content:
            found["role"] = content["role"]
        for key, value in (("finishReason", first.get("finishReason")), ("modelVersion", node.get("modelVersion")),
                           ("responseId", node.get("responseId"))):
            if isinstance(value, str) and value:
                found[key] = value
        if "usageMetadata" in node:
            found["usageMetadata"] = node["usageMetadata"]
        elif "usageMetadata" in root:
            found["usageMetadata"] = root["usageMetadata"]
        for part in content.get("parts") or () if isinstance(content.get("parts"), list) else ():
            if isinstance(part, dict):
                merger.add(part)
    merger.flush()
    response = dict(template) if template is not None else {"candidates": [{"content": {"role": "model", "parts": []}}]}
    raw_candidates = response.get("candidates")
    candidates = list(raw_candidates) if isinstance(raw_candidates, list) and raw_candidates else [{}]
    candidate = dict(candidates[0]) if isinstance(candidates[0], dict) else {}
    content = dict(candidate.get("content")) if isinstance(candidate.get("content"), dict) else {}
    content["parts"] = merger.parts
    if "role" in found:
        content["role"] = found["role"]
    candidate["content"] = content
    if "finishReason" in found:
        candidate["finishReason"] = found["finishReason"]
    candidates[0] = candidate
    response["candidates"] = candidates
    for key in ("modelVersion", "responseId", "usageMetadata"):
        if key in found:
            response[key] = found[key]
    if "usageMetadata" not in response:
        response["usageMetadata"] = {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}
    return {"response": response, "traceId": trace}


class AntigravityExecutor(OAuthExecutor, GeminiAPIExecutor):
    name = "antigravity"
    filters_usage_metadata = True  # antigravity_executor.go:356, :723
    upstream_format = Format.ANTIGRAVITY
    google_hint = True
    # antigravity_executor.go makes no canvas fix, so nothing comes before its payload rules.
    before_payload = Executor.before_payload

    def __init__(self, client: Any, *, request_ids: Callable[[], str] | None = None,
                 project_ids: Callable[[], str] | None = None) -> None:
        super().__init__(client)
        self._request_ids = request_ids or (lambda: f"agent-{uuid.uuid4()}")
        self._project_ids = project_ids or random_project_id

    def base_urls(self, credential: OAuthCredential) -> tuple[str, ...]:
        # One trailing "/" goes here and one more when the URL is built, as in the legacy
        # (antigravity_executor.go:1378-1387 then :1172 and :829): "x///" still leaves "x/".
        custom = credential.base_url.strip().removesuffix("/")
        # A configured base keeps the configured fallbacks after it (provider-endpoints'
        # inference-fallback-urls); a file's own base_url stands alone, as in the legacy.
        return (custom, *credential.fallback_urls) if custom else BASE_URLS

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest, *,  # type: ignore[override]
                base: str = "") -> PreparedRequest:
        base = (base or self.base_urls(credential)[0]).removesuffix("/") or self.base_urls(credential)[0]
        action = self.action(request)
        stream = request.stream and action != "countTokens"
        alt = request.alt if request.alt != "sse" else ""
        url = f"{base}/v1internal:{action}"
        if stream:
            url += f"?$alt={quote_plus(alt)}" if alt else "?alt=sse"
        elif alt:
            url += f"?$alt={quote_plus(alt)}"
        model = request.base_model
        if action == "countTokens":
            body: dict[str, Any] = {k: v for k, v in request.body.items() if k not in ("project", "model")}
            inner = body.get("request")
            if isinstance(inner, dict):
                body["request"] = {k: v for k, v in inner.items() if k != "safetySettings"}
        else:
            body = antigravity_body(dict(request.body), model, credential.project_id,
                                    request_ids=self._request_ids, project_ids=self._project_ids)
        headers = HeaderSet()
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.token)
        headers.set("User-Agent", credential.meta_str("user_agent") or USER_AGENT)
        headers.set("Accept", "text/event-stream" if stream else "application/json")
        return PreparedRequest("POST", url, headers.items(), json_bytes(body), raw_stream=stream and bool(alt))

    async def _each_base(self, credential: OAuthCredential, request: UpstreamRequest,
                         send: Callable[[PreparedRequest], Any], *, body_read_falls_back: bool) -> Any:
        bases = self.base_urls(credential)
        for index, base in enumerate(bases):
            more = index + 1 < len(bases)
            try:
                return await send(self.prepare(credential, request, base=base))
            except UpstreamError as err:
                # Another base has its own quota pool and may be reachable; anything else is final.
                # A body that broke after the headers came is final for a whole-answer call, which
                # reads every body before looking at the status (antigravity_executor.go:179-187,
                # :883-890); a stream call reads only an error body, and falls back when that
                # breaks (:297-318, :662-684).
                reachable = err.status is None and (body_read_falls_back or not err.mid_body)
                if more and (reachable or err.status == 429):
                    continue
                raise
        raise UpstreamError("transient", 503, b"antigravity executor: no base url available", reason="transient")

    async def execute(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamResult:  # type: ignore[override]
        authorized = await self.authorize(credential)
        if not request.stream and request.action != "countTokens" and folds_stream(request.base_model):
            streamed = dataclasses.replace(request, stream=True, alt="")
            events: list[StreamEvent] = []
            async with await self._open_stream(authorized, streamed) as stream:
                async for event in stream:
                    if isinstance(event, StreamEvent):
                        if event.error is not None:
                            raise event.error
                        events.append(event)
            return UpstreamResult(stream.status, stream.headers, orjson.dumps(merge_stream(events)))
        return await self._each_base(
            authorized, request, lambda prepared: self.client.request(
                _noted(prepared, self.name, authorized), credential.proxy_url, self.error_for),
            body_read_falls_back=False)

    async def stream(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamStream:  # type: ignore[override]
        return await self._open_stream(await self.authorize(credential), request)

    async def _open_stream(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamStream:
        return await self._each_base(
            credential, request,
            lambda prepared: self.client.stream(_noted(prepared, self.name, credential), credential.proxy_url,
                                                self.error_for, executor=self),
            body_read_falls_back=True)

    def terminal(self, event: StreamEvent) -> bool:
        return GeminiAPIExecutor.terminal(self, unwrap(event))

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        return GeminiAPIExecutor.inband_error(self, unwrap(event))


def _noted(prepared: PreparedRequest, provider: str, credential: OAuthCredential) -> PreparedRequest:
    """Each base URL tried is its own upstream call in the request log."""
    note_request(prepared, provider, credential)
    return prepared
