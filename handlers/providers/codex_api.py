"""``codex-api-key`` entries: the OpenAI Responses API at ``{base-url}/responses``.

Legacy: ``codex_executor.go`` (reference: providers §3.4, §3.6). The upstream is always asked to
stream; a non-stream call reads the whole SSE body and answers with the ``response.completed``
event, or fails with 408 when the body has none. API keys send no ``Originator`` and no
``Chatgpt-Account-Id``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from handlers.translation.gjson_values import text_of
from handlers.translation.token_count import codex_encoding, codex_input_text, codex_usage

from . import tokenizers
from .base import (
    APIKeyCredential,
    Executor,
    HeaderSet,
    PreparedRequest,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    inband_status_error,
    json_bytes,
)
from .whole_answers import codex_response_events

DEFAULT_BASE_URL = "https://chatgpt.com/backend-api/codex"
USER_AGENT = "codex_cli_rs/0.50.0 (Mac OS 26.0.1; arm64) Apple_Terminal/464"
COMPLETED = "response.completed"
# The legacy's exact text for a stream that ends before response.completed.
TRUNCATED_MESSAGE = b"stream error: stream disconnected before completion: stream closed before response.completed"
DROPPED_FIELDS = ("previous_response_id", "prompt_cache_retention", "safety_identifier")
RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "usage_limit_reached", "insufficient_quota"})


class ClaudeClientSessions:
    """The legacy's ``codexCache`` for Claude clients (codex_executor.go:511-523, cache_helpers.go):
    one random UUID per (model, ``metadata.user_id``), kept for an hour from its creation, so a
    Claude Code conversation keeps one Codex prompt cache. The pipeline, which sees the client
    body, passes the result as ``UpstreamRequest.prompt_cache_id``."""

    TTL = 3600.0

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self._clock = clock
        self._new_id = new_id
        self._entries: dict[str, tuple[str, float]] = {}

    def session_id(self, model: str, user_id: str) -> str:
        now = self._clock()
        key = f"{model}-{user_id}"
        found = self._entries.get(key)
        if found is not None and found[1] >= now:
            return found[0]
        if len(self._entries) > 1024:
            # The legacy purges every 15 minutes; purging on growth keeps the same bound.
            self._entries = {k: v for k, v in self._entries.items() if v[1] >= now}
        session = self._new_id()
        self._entries[key] = (session, now + self.TTL)
        return session


CLAUDE_CLIENT_SESSIONS = ClaudeClientSessions()


def client_cache_key(body: dict[str, Any]) -> str:
    """The ``prompt_cache_key`` a Responses client sent, which the legacy ``cacheHelper`` reuses as
    the body key and both session headers (codex_executor.go:524-538). The pipeline reads it from
    the client's body; an executor called without one reads the translated body."""
    return text_of(body.get("prompt_cache_key"))


class CodexAPIExecutor(Executor):
    name = "codex"

    def __init__(self, client: Any, *, session_ids: Callable[[], str] | None = None) -> None:
        super().__init__(client)
        self._session_ids = session_ids or (lambda: str(uuid.uuid4()))

    def prepare(self, credential: APIKeyCredential, request: UpstreamRequest) -> PreparedRequest:
        body: dict[str, Any] = dict(request.body)
        body["model"] = request.base_model
        body["stream"] = True
        for name in DROPPED_FIELDS:
            body.pop(name, None)
        body.setdefault("instructions", "")
        cache_id = request.prompt_cache_id
        if cache_id is None:
            cache_id = client_cache_key(body)
        body["prompt_cache_key"] = cache_id

        headers = HeaderSet()
        # Sent even when empty, like the legacy; Session_id then falls back to a fresh UUID.
        headers.set("Conversation_id", cache_id)
        headers.set("Session_id", cache_id)
        headers.set("Content-Type", "application/json")
        headers.set("Authorization", "Bearer " + credential.api_key)
        client = request.client_headers
        headers.ensure(client, "Version", "0.21.0")
        headers.ensure(client, "Openai-Beta", "responses=experimental")
        headers.ensure(client, "Session_id", self._session_ids())
        headers.ensure(client, "User-Agent", USER_AGENT)
        headers.set("Accept", "text/event-stream")
        headers.set("Connection", "Keep-Alive")
        headers.apply_custom(credential.headers)
        url = (credential.base_url or DEFAULT_BASE_URL).removesuffix("/") + "/responses"
        return PreparedRequest("POST", url, headers.items(), json_bytes(body))

    async def count_locally(self, request: UpstreamRequest) -> bytes | None:
        # codex_executor.go CountTokens: tiktoken over the translated Responses body; no call out,
        # so neither an API key nor an OAuth token is needed.
        count = await tokenizers.count(codex_encoding(request.base_model), codex_input_text(request.body))
        return json_bytes(codex_usage(count))

    async def execute(self, credential: APIKeyCredential, request: UpstreamRequest) -> UpstreamResult:
        result = await super().execute(credential, request)
        events = list(_data_events(result.body))
        for data, payload in events:
            if isinstance(payload, dict) and payload.get("type") == COMPLETED:
                return UpstreamResult(result.status, result.headers, data)
        # No completion: the upstream's own failure when it sent one, else the legacy's 408.
        failures = (self.inband_error(StreamEvent("", data.decode("utf-8", errors="replace"), payload))
                    for data, payload in events)
        raise next((f for f in failures if f is not None), None) or self.truncated_error()

    reads_whole_answers = True

    def whole_answer_events(self, payload: Any) -> list[dict[str, Any]] | None:
        return codex_response_events(payload)

    @property
    def terminal_name(self) -> str:
        return COMPLETED

    def terminal(self, event: StreamEvent) -> bool:
        return isinstance(event.payload, dict) and event.payload.get("type") == COMPLETED

    def ends_answer(self, event: StreamEvent) -> bool:
        # The Responses API's own end for a cut answer (max_output_tokens, content filter): the
        # legacy relays it and ends the stream cleanly (codex_executor.go:282-304).
        return isinstance(event.payload, dict) and event.payload.get("type") == "response.incomplete"

    def truncated_error(self) -> UpstreamError:
        return UpstreamError("transient", 408, TRUNCATED_MESSAGE, reason="transient")

    def inband_error(self, event: StreamEvent) -> UpstreamError | None:
        payload = event.payload
        if not isinstance(payload, dict) or payload.get("type") not in ("error", "response.failed"):
            return None
        error: Any = {k: v for k, v in payload.items() if k not in ("type", "sequence_number")}
        if payload.get("type") == "response.failed":
            response = payload.get("response")
            error = response.get("error") if isinstance(response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        # The failure as an error body (``{"error": {code, message}}``) a client's SDK reads, for
        # the clients that get it as an answer or an error frame; a Responses stream relays the
        # event itself.
        body = orjson.dumps({"error": error}).decode() if isinstance(error, dict) else event.data
        return inband_status_error(429 if code in RATE_LIMIT_CODES else None, body)


def _data_events(body: bytes) -> Iterator[tuple[bytes, Any]]:
    """``(data, decoded JSON)`` of each ``data:`` line of a whole SSE body that holds JSON."""
    for line in body.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        try:
            yield data, orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
