"""Kiro / AWS CodeWhisperer credentials (CLIProxyAPIPlus ``kiro_executor.go``, providers §8.4).

Upstream format: Claude Messages. The executor takes a Claude body, sends the Kiro
``conversationState`` payload (``oauth_kiro_translate.kiro_payload``) and turns the binary AWS
event stream it gets back (for stream and non-stream calls alike) into Claude stream events, or
folds them into one Claude message for non-stream calls.

Endpoints are tried in order, each with its own quota pool, moving on after a 429: CodeWhisperer
``generateAssistantResponse`` (origin ``AI_EDITOR``) then Amazon Q ``SendMessage`` (origin
``CLI``); ``preferred_endpoint`` (``codewhisperer``/``ide`` or ``amazonq``/``q``/``cli``) puts its
choice first. A base URL override (tests, relays) keeps the two paths on that host. Builder ID
credentials send no ``profileArn``. An error event inside a 200 stream (payload ``type`` error or
exception, or ``_type``) ends the stream with a transient error, raised as the legacy sends it on
its error channel.

A 5xx answer is tried again on the same endpoint, twice, after 1 s and then 2 s, as the legacy
executor does; the last 5xx goes to the pipeline like any transient error.

Not reproduced: the agentic system prompt of ``-agentic`` models and tool calls embedded in text.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from handlers.translation.model import Format

from .base import (
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    json_bytes,
    transport_error,
)
from .http import OpenStream, Response, UpstreamClient
from .kiro_eventstream import EventStreamDecoder, EventStreamError
from .oauth_base import OAuthCredential, OAuthExecutor
from .oauth_kiro_translate import ClaudeEvent, KiroClaudeEvents, KiroError, fold_claude_events, kiro_payload
from .upstream_log import note_request

USER_AGENT = "aws-sdk-rust/1.3.9 os/macos lang/rust/1.87.0"
AMZ_USER_AGENT = "aws-sdk-rust/1.3.9 ua/2.1 api/ssooidc/1.88.0 os/macos lang/rust/1.87.0 m/E app/AmazonQ-For-CLI"


@dataclass(frozen=True, slots=True)
class KiroEndpoint:
    name: str
    url: str
    origin: str
    target: str


CODEWHISPERER = KiroEndpoint("codewhisperer", "https://codewhisperer.us-east-1.amazonaws.com/generateAssistantResponse",
                             "AI_EDITOR", "AmazonCodeWhispererStreamingService.GenerateAssistantResponse")
AMAZON_Q = KiroEndpoint("amazonq", "https://q.us-east-1.amazonaws.com/", "CLI",
                        "AmazonQDeveloperStreamingService.SendMessage")
# kiro_executor.go: maxRetries 2 per endpoint for 5xx, sleeping 1<<attempt seconds in between.
SERVER_ERROR_RETRIES = 2
_PREFERENCES = {"codewhisperer": "codewhisperer", "ide": "codewhisperer",
                "amazonq": "amazonq", "q": "amazonq", "cli": "amazonq"}


def endpoints_for(credential: OAuthCredential) -> list[KiroEndpoint]:
    order = [CODEWHISPERER, AMAZON_Q]
    base = credential.base_url.rstrip("/")
    if base:
        order = [KiroEndpoint(e.name, base + ("/generateAssistantResponse" if e is CODEWHISPERER else "/"),
                              e.origin, e.target) for e in order]
    if credential.fallback_urls:
        # ``amazonq-url`` under gateway.provider-endpoints: the configured Amazon Q endpoint, used as given.
        order[1] = KiroEndpoint(AMAZON_Q.name, credential.fallback_urls[0], AMAZON_Q.origin, AMAZON_Q.target)
    preferred = _PREFERENCES.get(credential.meta_str("preferred_endpoint").lower())
    if preferred:
        order.sort(key=lambda e: e.name != preferred)
    return order


class KiroExecutor(OAuthExecutor):
    name = "kiro"
    upstream_format = Format.CLAUDE

    def __init__(self, client: UpstreamClient, *, clock: Callable[[], datetime] | None = None,
                 ids: Callable[[], str] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        super().__init__(client)
        self._clock = clock
        self._ids = ids or (lambda: str(uuid.uuid4()))
        self._sleep = sleep

    def profile_arn(self, credential: OAuthCredential) -> str:
        if credential.meta_str("auth_method") == "builder-id":
            return ""
        return credential.meta_str("profile_arn") or credential.meta_str("profileArn")

    def prepare(self, credential: OAuthCredential, request: UpstreamRequest, *,  # type: ignore[override]
                endpoint: KiroEndpoint | None = None) -> PreparedRequest:
        endpoint = endpoint or endpoints_for(credential)[0]
        payload = kiro_payload(request.body, request.base_model, origin=endpoint.origin,
                               profile_arn=self.profile_arn(credential),
                               now=self._clock() if self._clock else None, conversation_id=self._ids())
        headers = HeaderSet()
        headers.set("Content-Type", "application/x-amz-json-1.0")
        headers.set("Authorization", "Bearer " + credential.token)
        headers.set("Accept", "*/*")
        headers.set("X-Amz-Target", endpoint.target)
        headers.set("User-Agent", USER_AGENT)
        headers.set("X-Amz-User-Agent", AMZ_USER_AGENT)
        headers.set("Amz-Sdk-Request", "attempt=1; max=3")
        headers.set("Amz-Sdk-Invocation-Id", self._ids())
        return PreparedRequest("POST", endpoint.url, headers.items(), json_bytes(payload), raw_stream=True)

    def precheck(self, credential: OAuthCredential, request: UpstreamRequest) -> None:  # type: ignore[override]
        if request.action == "countTokens":
            raise UpstreamError("request", 501, b"count tokens not supported for kiro", reason="request")

    async def _open(self, credential: OAuthCredential, request: UpstreamRequest) -> Response:
        endpoints = endpoints_for(credential)
        for index, endpoint in enumerate(endpoints):
            for attempt in range(SERVER_ERROR_RETRIES + 1):
                prepared = self.prepare(credential, request, endpoint=endpoint)
                note_request(prepared, self.name, credential)
                response, log = await self.client.open_logged(prepared, credential.proxy_url)
                if 200 <= response.status < 300:
                    return response
                try:
                    body = await self.client.read_body(response)
                finally:
                    response.close()
                if log is not None:
                    log.chunk(body)
                if 500 <= response.status < 600 and attempt < SERVER_ERROR_RETRIES:
                    await self._sleep(float(1 << attempt))
                    continue
                error = self.error_for(response.status, body, CIMultiDict(response.headers))
                if response.status == 429 and index + 1 < len(endpoints):
                    break  # the next endpoint draws on a separate quota
                raise error
        raise UpstreamError("quota", 429, b"kiro: every endpoint is rate limited", reason="quota")

    async def execute(self, credential: OAuthCredential, request: UpstreamRequest) -> UpstreamResult:  # type: ignore[override]
        self.precheck(credential, request)
        authorized = await self.authorize(credential)
        stream = KiroStream(self.client, await self._open(authorized, request), request.base_model)
        events: list[ClaudeEvent] = []
        async with stream:
            async for event in stream:
                if event.error is not None:
                    raise event.error
                events.append((event.event, event.payload))
        return UpstreamResult(stream.status, stream.headers, orjson.dumps(fold_claude_events(events)))

    async def stream(self, credential: OAuthCredential, request: UpstreamRequest) -> KiroStream:  # type: ignore[override]
        self.precheck(credential, request)
        authorized = await self.authorize(credential)
        return KiroStream(self.client, await self._open(authorized, request), request.base_model)


class KiroStream(OpenStream[StreamEvent]):
    """An open Kiro answer read as Claude ``StreamEvent`` values (same use as ``UpstreamStream``).

    Raises ``UpstreamError`` (transient) on a broken frame, a body that ends inside a frame, or
    an in-band service error (``kiro API error: ...``).
    """

    def __init__(self, client: UpstreamClient, response: Response, model: str) -> None:
        self.status = response.status
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(response.headers))
        self._client = client
        self._response = response
        self._model = model
        self._complete = False
        self._iterator: AsyncIterator[StreamEvent] | None = None

    async def _iterate(self) -> AsyncIterator[StreamEvent]:
        decoder = EventStreamDecoder()
        translator = KiroClaudeEvents(self._model)
        try:
            while chunk := await self._client.read_chunk(self._response):
                try:
                    messages = decoder.feed(chunk)
                except EventStreamError as exc:
                    raise transport_error(f"malformed upstream event stream: {exc}") from exc
                for message in messages:
                    try:
                        claude_events = translator.feed(message)
                    except KiroError as exc:
                        # The legacy sends this down its chunk channel as an error, not as a
                        # Claude ``error`` event: clients get their protocol's terminal error
                        # frame (no ``[DONE]`` after it) with the executor's text.
                        raise transport_error(str(exc)) from exc
                    for name, payload in claude_events:
                        yield _event(name, payload)
            try:
                decoder.finish()
            except EventStreamError as exc:
                raise transport_error(f"malformed upstream event stream: {exc}") from exc
            for name, payload in translator.finish():
                yield _event(name, payload)
            self._complete = True
        finally:
            self.close()


def _event(name: str, payload: dict[str, Any]) -> StreamEvent:
    return StreamEvent(name, orjson.dumps(payload).decode(), payload)
