"""``aistudio``: Gemini calls carried over the ``/v1/ws`` relay instead of HTTP.

Legacy: ``aistudio_executor.go`` (reference: providers §5.7). The call is built as the Gemini
API-key executor builds it (``https://generativelanguage.googleapis.com/v1beta/models/<m>:<action>``,
``?alt=sse`` for streams) but with only ``Content-Type`` for headers and without
``generationConfig.maxOutputTokens`` / ``responseMimeType`` / ``responseJsonSchema``; it goes to
the channel's relay client as an ``http_request`` frame, and the client's frames are the answer.

Waits on the relay use the upstream timeouts (``first_byte`` for the first frame, ``idle`` between
stream frames); the legacy waits without a limit (docs/compatibility.md).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from handlers.translation.gjson_values import int_of
from handlers.translation.model import Format
from handlers.translation.sse import normalise_alt
from handlers.wsrelay import messages as m
from handlers.wsrelay.session import Inbox, RelaySession, SessionClosed

from .base import (
    PreparedRequest,
    UpstreamError,
    UpstreamRequest,
    UpstreamResult,
    json_bytes,
    transport_error,
)
from .gemini_api import API_VERSION, DEFAULT_BASE_URL, GeminiAPIExecutor, gemini_body
from .http import UpstreamClient, UpstreamStream
from .upstream_log import UPSTREAM_LOG, note_request

if TYPE_CHECKING:
    from handlers.wsrelay.manager import RelayManager

# Dropped from every aistudio request after the payload rules (translateRequest).
_GENERATION_DROPPED = ("maxOutputTokens", "responseMimeType", "responseJsonSchema")


def aistudio_body(request: UpstreamRequest) -> dict[str, Any]:
    body = gemini_body(request)
    body.pop("model", None)  # the relay call names the model in its URL only
    config = body.get("generationConfig")
    if isinstance(config, dict):
        body["generationConfig"] = {k: v for k, v in config.items() if k not in _GENERATION_DROPPED}
    return body


class _RelayAnswer:
    """The response half ``UpstreamStream`` reads its status and headers from; closing it tells
    the session the request is abandoned."""

    def __init__(self, session: RelaySession, ident: str, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self.closed = False
        self._session = session
        self._ident = ident

    def release(self) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._session.forget(self._ident)


class RelayStream(UpstreamStream):
    """A 200 relay stream: ``stream_chunk`` data parsed as the SSE body (or handed back raw for a
    non-SSE ``alt``), ended by ``stream_end`` or a whole ``http_response``."""

    def __init__(self, client: UpstreamClient, answer: _RelayAnswer, executor: AIStudioExecutor,
                 inbox: Inbox, first: list[bytes], *, raw: bool, done: bool = False) -> None:
        super().__init__(client, answer, executor, raw=raw, log=UPSTREAM_LOG.get())  # type: ignore[arg-type]
        self._inbox = inbox
        self._first = first
        self._done = done  # the first frame was already the last (a whole answer, or the end)

    def _reader(self) -> tuple[Callable[[], Awaitable[bytes]], Callable[[], None]]:
        return self._read, _nothing

    def _logged_reader(self) -> tuple[Callable[[], Awaitable[bytes]], Callable[[], None]]:
        # The request log gets each relay frame's bytes as one piece (``_read``, as
        # aistudio_executor.go), not the SSE lines an HTTP stream is recorded by.
        return self._reader()

    async def _read(self) -> bytes:
        """The next non-empty relay chunk, ``b""`` once the relay ended the answer."""
        while True:
            if self._first:
                chunk = self._first.pop(0)
            elif self._done:
                return b""
            else:
                chunk = self._frame_body(await _next(self._inbox, self._client.timeouts.idle))
                if self._log is not None:
                    self._log.chunk(chunk)
            if chunk and not self._raw and chunk.lstrip()[:1] in (b"{", b"["):
                # A whole JSON answer (an ``http_response`` body) rather than SSE lines.
                chunk = b"data: " + chunk.strip() + b"\n\n"
            if chunk:
                return chunk

    def _frame_body(self, message: Any) -> bytes:
        if message is None:
            raise transport_error("wsrelay: stream closed")
        if message.type == m.STREAM_CHUNK:
            return m.decode_chunk(message.payload)
        if message.type == m.HTTP_RESPONSE:
            self._done = True
            return m.decode_response(message.payload).body
        if message.type == m.STREAM_END:
            self._done = True
            return b""
        if message.type == m.ERROR:
            raise transport_error(f"wsrelay: {m.decode_error(message.payload)}")
        return b""  # a frame kind that carries no body


def _nothing() -> None:
    return None


async def _next(inbox: Inbox, wait: float) -> Any:
    try:
        async with asyncio.timeout(wait):
            return await inbox.get()
    except TimeoutError as exc:
        # Caused by the timeout, so a relay gone quiet after its terminal event ends the stream
        # as an HTTP upstream's does (``UpstreamStream``).
        raise transport_error(f"wsrelay: relay client sent nothing for {wait:g}s") from exc


class AIStudioExecutor(GeminiAPIExecutor):
    name = "aistudio"
    format = Format.GEMINI
    filters_usage_metadata = True  # aistudio_executor.go runs FilterSSEUsageMetadata on chunks
    payload_on_count = True

    def __init__(self, client: UpstreamClient, relay: RelayManager) -> None:
        super().__init__(client)
        self.relay = relay

    def prepare(self, credential: Any, request: UpstreamRequest) -> PreparedRequest:
        action = self.action(request)
        alt = normalise_alt(request.alt)
        url = f"{DEFAULT_BASE_URL}/{API_VERSION}/models/{request.base_model}:{action}"
        if request.stream and action != "countTokens":
            url += f"?$alt={alt}" if alt else "?alt=sse"
        elif alt and action != "countTokens":
            url += f"?$alt={alt}"
        return PreparedRequest("POST", url, (("Content-Type", "application/json"),),
                               json_bytes(aistudio_body(request)), raw_stream=request.stream and bool(alt))

    async def _send(self, credential: Any, request: UpstreamRequest) -> tuple[RelaySession, str, Inbox]:
        prepared = self.prepare(credential, request)
        session = self.relay.session(credential.id)
        if session is None:
            raise transport_error(f"wsrelay: provider {credential.id} not connected")
        ident = str(uuid.uuid4())
        note_request(prepared, self.name, credential)
        relay_request = m.RelayRequest(prepared.method, prepared.url,
                                     {name: [value] for name, value in prepared.headers}, prepared.body)
        try:
            inbox = await session.request(m.Message(ident, m.HTTP_REQUEST, relay_request.payload()))
        except (SessionClosed, ConnectionError, RuntimeError) as exc:
            raise transport_error(f"wsrelay: {exc}") from exc
        return session, ident, inbox

    async def execute(self, credential: Any, request: UpstreamRequest) -> UpstreamResult:
        """``Manager.NonStream``: a whole ``http_response``, or stream frames gathered into one."""
        session, ident, inbox = await self._send(credential, request)
        log = UPSTREAM_LOG.get()
        try:
            status, headers, body = await self._gather(inbox)
        except UpstreamError as exc:
            if log is not None:
                log.error(exc.message)
            raise
        finally:
            session.forget(ident)
        if log is not None:
            log.response_head(status, headers.items())
            log.chunk(body)
        if not 200 <= status < 300:
            raise self.error_for(status, body, headers)
        if request.action == "countTokens":
            total = _total_tokens(body)
            if total <= 0:
                raise transport_error("wsrelay: totalTokens missing in response")
        return UpstreamResult(status, headers, body)

    async def _gather(self, inbox: Inbox) -> tuple[int, dict[str, str], bytes]:
        streamed: m.RelayResponse | None = None
        parts: list[bytes] = []
        first = True
        while True:
            message = await _next(inbox, self.client.timeouts.first_byte if first else self.client.timeouts.idle)
            first = False
            if message is None:
                if streamed is None:
                    raise transport_error("wsrelay: connection closed during response")
                break
            if message.type == m.HTTP_RESPONSE:
                answer = m.decode_response(message.payload)
                if streamed is not None and parts and not answer.body:
                    answer.body = b"".join(parts)
                return answer.status, answer.header_map(), answer.body
            if message.type == m.ERROR:
                raise transport_error(m.decode_error(message.payload))
            if message.type == m.STREAM_START:
                streamed, parts = m.decode_response(message.payload), []
            elif message.type == m.STREAM_CHUNK:
                if streamed is None:
                    streamed = m.RelayResponse()
                parts.append(m.decode_chunk(message.payload))
            elif message.type == m.STREAM_END:
                if streamed is None:
                    return 200, {}, b""
                break
        return streamed.status, streamed.header_map(), b"".join(parts)

    async def stream(self, credential: Any, request: UpstreamRequest) -> UpstreamStream:
        """``Manager.Stream`` read as ``ExecuteStream`` does: a first frame with a status other than
        200 makes the whole call fail with that status and the body gathered after it."""
        session, ident, inbox = await self._send(credential, request)
        log = UPSTREAM_LOG.get()
        try:
            message = await _next(inbox, self.client.timeouts.first_byte)
            if message is None:
                raise transport_error("wsrelay: stream closed before start")
            if message.type == m.ERROR:
                raise transport_error(f"wsrelay: {m.decode_error(message.payload)}")
            status, headers, first = 200, {}, []
            done = message.type in m.TERMINAL
            if message.type in (m.STREAM_START, m.HTTP_RESPONSE):
                answer = m.decode_response(message.payload)
                status, headers = answer.status, answer.header_map()
                if message.type == m.HTTP_RESPONSE:
                    first = [answer.body]
            elif message.type == m.STREAM_CHUNK:
                first = [m.decode_chunk(message.payload)]
            if log is not None:
                log.response_head(status, headers.items())
                for chunk in first:
                    log.chunk(chunk)
            if status > 0 and status != 200:
                body = b"".join(first)
                if not done:
                    rest = await self._rest(inbox)
                    if log is not None:
                        log.chunk(rest)
                    body += rest
                raise self.error_for(status, body, headers)
        except UpstreamError as exc:
            if log is not None and exc.status is None:
                log.error(exc.message)
            session.forget(ident)
            raise
        except BaseException:
            session.forget(ident)
            raise
        answer_head = _RelayAnswer(session, ident, status, headers)
        raw = request.stream and bool(normalise_alt(request.alt))
        return RelayStream(self.client, answer_head, self, inbox, first, raw=raw, done=done)

    async def _rest(self, inbox: Inbox) -> bytes:
        """The body of a failed stream: chunks up to the end, or an error's text when none came."""
        parts: list[bytes] = []
        while True:
            message = await _next(inbox, self.client.timeouts.idle)
            if message is None or message.type == m.STREAM_END:
                break
            if message.type == m.ERROR:
                if not parts:
                    parts.append(m.decode_error(message.payload).encode())
                break
            if message.type == m.STREAM_CHUNK:
                parts.append(m.decode_chunk(message.payload))
            elif message.type == m.HTTP_RESPONSE:
                parts.append(m.decode_response(message.payload).body)
                break
        return b"".join(parts)


def _total_tokens(body: bytes) -> int:
    # gjson Int() (aistudio_executor.go:366), as the count translator reads it after this check:
    # a numeric string or ``true`` is a count there too.
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    return int_of(answer.get("totalTokens")) if isinstance(answer, dict) else 0


__all__ = ["AIStudioExecutor", "RelayStream", "UpstreamError", "aistudio_body"]
