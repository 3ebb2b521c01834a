"""One inference request, end to end: model -> credentials -> translate -> upstream -> client.

The order follows the legacy handler and executors (surface §4-§6; ``sdk/api/handlers/
handlers.go``, ``internal/runtime/executor``): resolve the model in the registry (400 ``unknown
provider`` when nothing serves it), pick among the credentials that list it with failover before
the first byte, translate the client body for the chosen credential's upstream format, apply
thinking and payload rules, call the executor, and translate the answer back. A stream's headers
go out with the first translated bytes, so anything failing before that is a plain JSON error with
its real status; after it, the client protocol's in-stream error frame ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gzip
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from aiohttp import web

from handlers.inference.body_json import load_body
from handlers.logfiles.request_log_writer import (
    ERROR_ANSWER_KEY,
    GONE_ANSWER_KEY,
    STREAM_RESPONSE_KEY,
    STREAMED_BODY_KEY,
    TERMINAL_ERROR_KEY,
    UPSTREAM_LOG_KEY,
    TerminalError,
    records_requests,
)
from handlers.models.listing import error_response, unknown_model_response
from handlers.models.payload_rules import apply_payload_rules
from handlers.models.registry import ModelRegistry, UnknownModelError, split_thinking_suffix
from handlers.providers.base import (
    APIKeyCredential,
    Executor,
    StreamEvent,
    UpstreamError,
    UpstreamRequest,
    transport_error,
)
from handlers.providers.codex_api import CLAUDE_CLIENT_SESSIONS, client_cache_key
from handlers.providers.http import UpstreamStream
from handlers.providers.upstream_log import (
    CANCELLED_CALL,
    CONTEXT_CANCELED,
    UPSTREAM_LOG,
    CancelledCall,
    UpstreamLog,
    note_cancelled,
)
from handlers.rotation import RetrySettings, RotationError, mark_client_gone, mark_result, run_with_failover
from handlers.translation.gjson_values import text_of
from handlers.translation.model import Format
from handlers.translation.thinking import ThinkingError, apply_thinking
from handlers.usage.reporter import CLIENT_KEY, UsageReporter, usage_api
from handlers.usage.statistics import Timestamp
from quotio_gateway.dispatch import STREAM_FAILED_KEY

from .pair_table import PairLookup
from .protocols import ClientProtocol
from .runtime import Candidate, InferenceRuntime, upstream_format
from .translate import StreamTranslator, TranslateInput, Translation, TranslationError

# Request-state keys a wrapper sets to serve a request under changed terms (the Amp provider
# routes): the client headers the executors see instead of the request's own, and a rewrite
# applied to every stream write the client gets. Both read once per request.
CLIENT_HEADERS = "quotio.client_headers"
STREAM_REWRITE = "quotio.stream_rewrite"

log = structlog.get_logger("handlers.inference")

# Upstream failures before the first payload byte that ``streaming.bootstrap-retries`` retries
# (handlers.go: 401/402/403/408/429, any 5xx, or no status at all).
_BOOTSTRAP_STATUSES = frozenset({401, 402, 403, 408, 429})

# The protocol name and path root the legacy executors hand their payload rules: the envelope
# formats match rules on the inner request (gemini_cli_executor.go:132, antigravity_executor.go:145).
_PAYLOAD_TARGETS = {Format.GEMINI_CLI: ("gemini", "request"), Format.ANTIGRAVITY: ("antigravity", "request")}

# Wraps a pair's translation for one endpoint (``/v1/completions`` rides on the chat pairs).
TranslationWrapper = Callable[[Translation], Translation]


@dataclass(slots=True)
class InferenceCall:
    """The parsed client request the endpoint hands over."""

    protocol: ClientProtocol
    body: dict[str, Any]
    model: str
    stream: bool
    raw: bytes = b""
    alt: str = ""
    # Whether ``alt`` also goes to a Gemini-family upstream: it does from ``/v1beta``; the Gemini
    # CLI handler frames its own stream by it but always executes with none (gemini-cli_handlers.go:161,174).
    alt_upstream: bool = True
    action: str = ""  # Gemini/Vertex upstream action override ("countTokens")
    wrap: TranslationWrapper | None = None
    pairs: PairLookup | None = None  # another view of the pair table (token counting)
    # How the endpoint made ``body`` from the parsed ``raw`` (a chat body from a Responses-shaped
    # one, a completions body as chat), so a later attempt can have the body as it first was.
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def pristine_body(self) -> dict[str, Any]:
        """``body`` as the client sent it, for an attempt after the first: thinking and payload
        rules edit the translated body in place, and the pass-through pairs hand the client's own
        objects on, so the first attempt's edits would reach the next credential (the legacy
        translates a fresh copy of the bytes each time). Parsing the bytes again costs only
        retries; without them (a request built in process) a deep copy is all there is."""
        if not self.raw:
            return copy.deepcopy(self.body)
        # The endpoint may have needed the lenient reader (a lone surrogate escape, bytes that
        # are not UTF-8); orjson alone would fail the retry of a body the first attempt took.
        body = load_body(self.raw)
        return self.derive(body) if self.derive is not None else body


@dataclass(slots=True)
class _Opened:
    translation: Translation
    body: bytes | None  # the whole answer (non-stream client)
    stream: UpstreamStream | None  # an open upstream stream (stream client)
    # A whole stream's decoded payloads, for a pair that folds them itself (``respond_payloads``).
    payloads: list[Any] | None = None
    usage: UsageReporter | None = None  # the open stream's usage record, while it runs

    def client_answer(self) -> bytes:
        """The non-stream client's body (translation errors raise, for the caller's 500)."""
        if self.payloads is not None:
            return self.translation.respond_payloads(self.payloads)  # type: ignore[attr-defined]
        assert self.body is not None
        return self.translation.response(self.body)


def upstream_error_response(error: UpstreamError) -> web.Response:
    return error_response(error.client_status, error.client_text)


def rotation_error_response(error: RotationError) -> web.Response:
    return web.Response(status=error.status, body=error.body, headers=dict(error.headers))


def _sse_bytes(event: StreamEvent) -> bytes:
    """Re-frame one parsed upstream event, for translators that fold a whole SSE body."""
    head = f"event: {event.event}\n".encode() if event.event else b""
    return head + b"data: " + event.data.encode() + b"\n\n"


async def _drain(stream: UpstreamStream, usage: UsageReporter | None) -> list[StreamEvent | bytes]:
    """Every item of a whole stream; an in-band error raises, so the call can still rotate."""
    items: list[StreamEvent | bytes] = []
    if (upstream_log := UPSTREAM_LOG.get()) is not None:
        upstream_log.whole_bodies = True
    try:
        async with stream:
            async for item in stream:
                if not isinstance(item, bytes):
                    if item.error is not None:
                        raise item.error
                    if usage is not None:
                        usage.observe(item.payload)
                items.append(item)
    except asyncio.CancelledError:
        note_cancelled(CONTEXT_CANCELED)  # the client hung up while the body came (io.ReadAll)
        raise
    if getattr(stream, "answerless", False):  # wrapping streams (OAuth mappers) end only one way
        # Codex non-stream: no response.completed, the legacy's 408 (codex_executor.go:183).
        raise stream.truncated_error()
    return items


def _fold(translation: Translation, items: list[StreamEvent | bytes]) -> _Opened:
    """A non-stream client's answer from a whole upstream stream: from the decoded payloads when
    the pair can take them, else from the stream re-framed as the SSE body it parses."""
    respond_payloads = getattr(translation, "respond_payloads", None)
    if respond_payloads is not None and not any(isinstance(item, bytes) for item in items):
        return _Opened(translation, None, None, [item.payload for item in items])  # type: ignore[union-attr]
    body = b"".join(item if isinstance(item, bytes) else _sse_bytes(item) for item in items)
    return _Opened(translation, body, None)


class _Attempt:
    """The per-credential step ``run_with_failover`` calls."""

    def __init__(self, request: web.Request, runtime: InferenceRuntime, registry: ModelRegistry,
                 call: InferenceCall, resolved: str) -> None:
        self.request = request
        self.runtime = runtime
        self.registry = registry
        self.call = call
        self.resolved = resolved
        self._translated = False
        # The request's own dict: ``request.get`` goes through Mapping.get, which raises and
        # catches a KeyError for an absent key, on every request.
        replaced = request._state.get(CLIENT_HEADERS)
        self.client_headers = replaced if replaced is not None else request.headers

    def translate(self, candidate: Candidate) -> tuple[Translation, UpstreamRequest]:
        call = self.call
        client_body = call.pristine_body() if self._translated else call.body
        self._translated = True
        executor = self.runtime.executor_for(candidate)
        upstream = upstream_format(executor)
        factory = (call.pairs or self.runtime.pairs)(call.protocol.format, upstream)
        if factory is None:
            # Our gap, not the credential's: another credential with a translator may serve.
            raise transport_error(f"no translator from {call.protocol.format} to {upstream}")
        model = self.registry.upstream_model(candidate.id, self.resolved)
        base = split_thinking_suffix(model).name
        # Read before translating: a pass-through translation hands the client's own dict on, and
        # the payload rules edit it in place.
        cache_id = self._codex_session(upstream, model, client_body)
        try:
            translation = factory(TranslateInput(body=client_body, model=model, client_model=call.model,
                                                 stream=call.stream, alt=call.alt, raw=call.raw,
                                                 headers=self.request.headers))
            if call.wrap is not None:
                translation = call.wrap(translation)
            body = translation.upstream_body
            cfg = self.registry.config
            # Defaults look at the translated client body before thinking edits it (the legacy
            # executors pass ``originalTranslated``), so a default can replace a suffix-made value.
            # Thinking edits in place, hence the copy, made only when a default rule exists.
            # A count request gets no payload rules but on AI Studio, and no thinking on Claude's
            # (claude_executor.go:384-415 applies neither). Only AI Studio shapes a count's body
            # before its rules: its count shares the generate call's builder (aistudio_executor.go:400).
            counting = call.action == "countTokens"
            rules = not counting or executor.payload_on_count
            original = copy.deepcopy(body) if rules and (cfg.payload.default or cfg.payload.default_raw) \
                else None
            payload_first = executor.payload_before_thinking
            shaped = False
            if rules and payload_first:
                shaped = self._before_payload(executor, candidate, body, base, translation.upstream_stream)
                body = self._payload(body, base, upstream, original)
            if not (counting and (upstream is Format.CLAUDE or not executor.thinking_on_count)):
                # LookupModelInfo trims the name (model_registry.go:139): "name (high)" is registered.
                info = self.registry.get(base.strip(), candidate.provider)
                body = apply_thinking(body, model, call.protocol.format.value,
                                      executor.thinking_target or upstream.value, info)
            if rules and not payload_first:
                shaped = self._before_payload(executor, candidate, body, base, translation.upstream_stream)
                body = self._payload(body, base, upstream, original)
        except TranslationError as exc:
            raise UpstreamError("request", 400, str(exc).encode(), reason="request") from exc
        except RecursionError:
            # A body nested deeper than the translators' recursive walks go (hundreds of levels):
            # the legacy works on the raw bytes and forwards it; here it is refused as the client's.
            raise UpstreamError("request", 400, b"request body nests too deeply", reason="request") from None
        except ThinkingError as exc:
            # Checked against this provider's own entry for the model: another credential's may
            # take the same setting, so the next one is tried; with none left this is the answer.
            raise UpstreamError("model", 400, str(exc).encode(), reason="request") from exc
        alt = call.alt if call.alt_upstream and upstream.value.startswith("gemini") else ""
        upstream_request = UpstreamRequest(model=model, body=body, stream=translation.upstream_stream,
                                           client_headers=self.client_headers, action=call.action, alt=alt,
                                           prompt_cache_id=cache_id,
                                           client_stream=call.stream, shaped=shaped, client_body=client_body)
        return translation, upstream_request

    def _before_payload(self, executor: Executor, candidate: Candidate, body: dict[str, Any], base: str,
                        stream: bool) -> bool:
        return bool(executor.before_payload(candidate.credential, body, base, self.client_headers, stream))

    def _payload(self, body: dict[str, Any], base: str, upstream: Format,
                 original: dict[str, Any] | None) -> dict[str, Any]:
        protocol, root = _PAYLOAD_TARGETS.get(upstream, (upstream.value, ""))
        return apply_payload_rules(self.registry.config, base, protocol, body, original=original, root=root)

    def _codex_session(self, upstream: Format, model: str, client_body: dict[str, Any]) -> str | None:
        """The Codex prompt cache id, taken from the client's own body as ``cacheHelper`` does
        (codex_executor.go:508-538): a Claude client's one id per model and ``metadata.user_id``,
        a Responses client's ``prompt_cache_key``, else "". Never the translated body's key, which
        a payload rule may have written: the legacy overwrites that with this id."""
        if upstream is not Format.CODEX:
            return None
        client_format = self.call.protocol.format
        if client_format is Format.CLAUDE:
            metadata = client_body.get("metadata")
            if not isinstance(metadata, dict) or "user_id" not in metadata:
                return ""
            return CLAUDE_CLIENT_SESSIONS.session_id(model, text_of(metadata["user_id"]))
        if client_format is Format.OPENAI_RESPONSE:
            return client_cache_key(client_body)
        return ""

    async def __call__(self, candidate: Candidate) -> _Opened:
        # The snapshot the candidate was just picked from: after a reload during the request, a
        # later attempt resolves its model and payload rules from the config then current, as the
        # legacy's conductor and rebound executors do (conductor.go:594-597).
        self.registry = self.runtime.registry.current
        try:
            translation, upstream_request = self.translate(candidate)
        except UpstreamError:
            # The legacy executors open their usage reporter before the thinking step (e.g.
            # claude_executor.go:94-110, openai_compat_executor.go:75-98), so a refused setting is
            # a failed call on record for each credential that refused it (``trackFailure``).
            self._record_failure(candidate)
            raise
        try:
            return await self._send(candidate, translation, upstream_request)
        except UpstreamError as exc:
            oauth = self.runtime.oauth
            keyed = isinstance(candidate.credential, APIKeyCredential)
            if oauth is None or keyed or not _refused_token(exc, candidate):
                raise
            # One refresh after a 401 (or Kiro's token 403), then the same call once more; a
            # second refusal rotates on.
            if not await oauth.refresh_now(candidate.id):
                raise
            refreshed = oauth.usable(candidate.id)
            if refreshed is None:
                raise
            log.info("inference.retry_after_refresh", credential=candidate.id)
            retry = Candidate(candidate.id, candidate.priority, candidate.provider, refreshed)
            return await self._send(retry, translation, upstream_request)

    def _usage(self, candidate: Candidate, executor: Executor, upstream_request: UpstreamRequest,
               ) -> UsageReporter | None:
        """A usage record for this call while ``usage-statistics-enabled`` is on (token counts
        are not records: the legacy's CountTokens paths report none)."""
        return self._reporter(candidate, executor, upstream_request.model)

    def _reporter(self, candidate: Candidate, executor: Executor, model: str) -> UsageReporter | None:
        stats = self.runtime.usage
        if self.call.action == "countTokens" or not stats.enabled():
            return None
        key = self.request.get(CLIENT_KEY) or ""
        return UsageReporter(stats, api=key or usage_api(self.request.method, self.request.path),
                             model=split_thinking_suffix(model).name, executor=executor.name,
                             credential=candidate.credential, client_key=key)

    def abandoned(self, candidate: Candidate) -> None:
        """A credential the legacy's pass still calls after the client hung up: the call fails at
        once on the cancelled context, and the reporter its executor opened records that failure
        (``trackFailure``, e.g. claude_executor.go:95 and 228)."""
        self.registry = self.runtime.registry.current
        self._record_failure(candidate)

    def _record_failure(self, candidate: Candidate) -> None:
        """A failed usage record for a call that never reached the upstream."""
        usage = self._reporter(candidate, self.runtime.executor_for(candidate),
                               self.registry.upstream_model(candidate.id, self.resolved))
        if usage is not None:
            usage.failed()

    async def _send(self, candidate: Candidate, translation: Translation,
                    upstream_request: UpstreamRequest) -> _Opened:
        executor = self.runtime.executor_for(candidate)
        if upstream_request.action == "countTokens":
            local = await executor.count_locally(upstream_request)
            if local is not None:
                return _Opened(translation, local, None)
        usage = self._usage(candidate, executor, upstream_request)
        try:
            if not upstream_request.stream:
                result = await executor.execute(candidate.credential, upstream_request)
                if usage is not None:
                    usage.whole(result.body)
                return _Opened(translation, result.body, None)
            stream = await executor.stream(candidate.credential, upstream_request)
            if self.call.stream:
                return _Opened(translation, None, stream, usage=usage)
            # A non-stream client on a stream-only upstream: fold it here, so a failure still rotates.
            opened = _fold(translation, await _drain(stream, usage))
        except UpstreamError as exc:
            if usage is not None:
                # A fold that ended cleanly before its terminal event (row 4a) is, for the legacy's
                # reporter, a call that returned its partial answer: no failure is recorded, only
                # what the stream carried (the conductor marks it alike).
                usage.succeeded() if exc.truncated and exc.status is None else usage.failed()
            raise
        except asyncio.CancelledError:
            if usage is not None:
                usage.failed()
            raise
        if usage is not None:
            usage.succeeded()
        return opened


async def serve(request: web.Request, runtime: InferenceRuntime, call: InferenceCall) -> web.StreamResponse:
    if not records_requests(runtime.config):
        answer = await _serve(request, runtime, call)
        if answer.status >= 400 and isinstance(answer, web.Response):
            answer[ERROR_ANSWER_KEY] = True
        return answer
    # request-log on: the upstream calls made for this request go into its log file.
    upstream_log = UpstreamLog()
    request[UPSTREAM_LOG_KEY] = upstream_log
    token = UPSTREAM_LOG.set(upstream_log)
    try:
        answer = await _serve(request, runtime, call)
    finally:
        UPSTREAM_LOG.reset(token)
    if answer.status >= 400 and isinstance(answer, web.Response) and isinstance(answer.body, bytes):
        upstream_log.error_answer(_error_message(answer.body), answer.body)
    return answer


def _record_error_answer(answer: web.StreamResponse, body: bytes) -> None:
    """An error answer for the request log: with request-log on, the failed call's API response
    (WriteErrorResponse, handlers.go:671-693); with it off, the mark that makes an error file."""
    if (upstream_log := UPSTREAM_LOG.get()) is not None:
        upstream_log.error_answer(_error_message(body), body)
    else:
        answer[ERROR_ANSWER_KEY] = True


def _error_message(body: bytes) -> str:
    """The message an error answer was built from (``error.message``, else the whole text)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else body.decode("utf-8", "replace")


async def _serve(request: web.Request, runtime: InferenceRuntime, call: InferenceCall) -> web.StreamResponse:
    registry = runtime.registry.current
    try:
        providers, resolved = registry.resolve(call.model, runtime.pick_auto)
    except UnknownModelError:
        if call.stream and _headers_up_front(call):
            # The Gemini CLI handler never peeks before forwarding (gemini-cli_handlers.go:138-162):
            # the lookup error reaches ForwardStream as its terminal frame, under a 200.
            writer = _StreamWriter(request, call, 0.0, record=records_requests(runtime.config))
            await writer.start()
            await writer.fail(400, f"unknown provider for model {call.model}")
            return await writer.close()
        return unknown_model_response(call.model)
    served_model = split_thinking_suffix(resolved).name

    def candidates() -> list[Candidate]:
        # Read at every pick: a reload during the request changes who the next attempt may go to.
        return runtime.candidates(runtime.registry.current, providers, served_model)

    attempt = _Attempt(request, runtime, registry, call, resolved)
    if call.stream:
        return await _serve_stream(request, runtime, call, candidates, attempt, resolved)
    keepalive = _NonStreamKeepAlive.start(request, call, runtime)
    cancelled = CancelledCall()
    token = CANCELLED_CALL.set(cancelled)
    try:
        served = await run_with_failover(candidates, attempt, model=resolved, cfg=runtime.retry_settings(),
                                         selector=runtime.selector, state=runtime.state,
                                         on_abandon=attempt.abandoned)
    except RotationError as exc:
        return await keepalive.finish_error(rotation_error_response(exc))
    except UpstreamError as exc:
        return await keepalive.finish_error(upstream_error_response(exc))
    except asyncio.CancelledError:
        # The client hung up. The legacy's non-stream handlers do not watch for that: the
        # cancelled context fails the call, whose error (no status: 500, handlers.go:399-413)
        # WriteErrorResponse writes all the same, for the request log alone.
        keepalive.abandon(error_response(500, cancelled.text))
        raise
    finally:
        CANCELLED_CALL.reset(token)
        keepalive.stop_ticking()
    opened = served.value
    try:
        answer = opened.client_answer()
    except (TranslationError, ValueError) as exc:
        log.warning("inference.translate_response_failed", error=str(exc), model=call.model)
        return await keepalive.finish_error(error_response(500, f"cannot translate upstream answer: {exc}"))
    except Exception as exc:
        # As for streams (``_relay``): an unforeseen translator fault is still a JSON error.
        log.exception("inference.translate_response_crashed", error_type=type(exc).__name__, model=call.model)
        return await keepalive.finish_error(
            error_response(500, f"cannot translate upstream answer: {type(exc).__name__}"))
    if call.protocol.format is Format.CLAUDE and call.action != "countTokens":
        answer = gunzip_unlabelled(answer)
    return await keepalive.finish(answer)


def gunzip_unlabelled(body: bytes) -> bytes:
    """A Claude client's non-stream answer that is gzip without saying so, unpacked.

    Anthropic has answered some calls (title generation) gzip-compressed without a
    Content-Encoding header, which no client can parse; the legacy's Messages handler checks the
    gzip magic and unpacks (code_handlers.go:161-180). What does not unpack is sent as it came.
    """
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        log.warning("inference.gunzip_failed", error=str(exc))
        return body


class _NonStreamKeepAlive:
    """``nonstream-keepalive-interval``: a bare newline every N seconds while the upstream works.

    The first newline commits 200 and ``application/json``; an error after that is still written
    as the body, with the status left at 200 (surface §6).
    """

    def __init__(self, request: web.Request, interval: float, *, record: bool = False) -> None:
        self.request = request
        self.interval = interval
        self.response: web.StreamResponse | None = None
        self._record = record
        # With request-log on, the bytes sent once the answer became a stream (the log file's body).
        self._sent: bytearray | None = None
        self._task: asyncio.Task[None] | None = None
        if interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._tick())

    @classmethod
    def start(cls, request: web.Request, call: InferenceCall, runtime: InferenceRuntime) -> _NonStreamKeepAlive:
        interval = float(runtime.config.nonstream_keepalive_interval) if call.protocol.nonstream_keepalive else 0.0
        return cls(request, interval, record=records_requests(runtime.config))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.response is None:
                self.response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                if self._record:
                    self._sent = self.request[STREAMED_BODY_KEY] = bytearray()
                await self.response.prepare(self.request)
            await self._write(b"\n")

    async def _write(self, data: bytes) -> None:
        assert self.response is not None
        if self._sent is not None:
            self._sent += data
        await self.response.write(data)

    def stop_ticking(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _settle(self) -> None:
        # An error answer can arrive while the ticker still runs (the caller's ``finally`` that
        # stops it has not run yet): stop it here, or waiting for it would never end.
        self.stop_ticking()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def finish(self, body: bytes) -> web.StreamResponse:
        await self._settle()
        if self.response is None:
            return web.Response(status=200, body=body, headers={"Content-Type": "application/json"})
        await self._write(body)
        await self.response.write_eof()
        return self.response

    async def finish_error(self, answer: web.Response) -> web.StreamResponse:
        await self._settle()
        if self.response is None:
            return answer
        body = self._error_after_commit(answer)
        self.request[STREAM_FAILED_KEY] = True
        await self._write(body)
        await self.response.write_eof()
        return self.response

    def _error_after_commit(self, answer: web.Response) -> bytes:
        """WriteErrorResponse on the committed answer: it sets the error's status and records its
        body as the call's API response (handlers.go:671-693), as for an error answered outright."""
        assert self.response is not None
        body = answer.body
        assert body is not None and isinstance(body, bytes)
        self.request[TERMINAL_ERROR_KEY] = TerminalError(answer.status, body, Timestamp.now_local().rfc3339_nano(),
                                                         streams=False)
        _record_error_answer(self.response, body)
        return body

    def abandon(self, answer: web.Response) -> None:
        """The error answer the legacy's handler writes after the client hung up, kept for the
        request log only (``GONE_ANSWER_KEY``): its logging writer takes the write whether or not
        the client is there (response_writer.go:66-107), and the middleware logs once the
        handler returns (request_logging.go:56-62). After keep-alives the bytes join what was
        sent, under the error's status. Synchronous: it runs while the cancellation goes on."""
        self.stop_ticking()
        if self.response is None:
            assert isinstance(answer.body, bytes)
            _record_error_answer(answer, answer.body)
            self.request[GONE_ANSWER_KEY] = answer
            return
        body = self._error_after_commit(answer)
        if self._sent is not None:
            self._sent += body
        self.request[GONE_ANSWER_KEY] = self.response


class _HeadWithBodyResponse(web.StreamResponse):
    """A stream response whose head waits for the first body bytes and leaves in the same socket
    write. aiohttp sends a ``StreamResponse`` head on its own at ``prepare`` (its ``Response`` holds
    it back the same way); each send to the client is one of the largest costs of a stream."""

    _send_headers_immediately = False


class _StreamWriter:
    """The client side of a stream: headers with the first bytes, keep-alives, error frames."""

    def __init__(self, request: web.Request, call: InferenceCall, keepalive_seconds: float, *,
                 record: bool = False) -> None:
        self.request = request
        self.call = call
        self.response: web.StreamResponse | None = None
        # With request-log on, the bytes sent are kept for the request's log file (logfiles/wiring.py).
        self.sent: bytearray | None = None
        if record:
            self.sent = request[STREAMED_BODY_KEY] = bytearray()
        self.payload_sent = False  # translated upstream bytes went out (not keep-alives, not errors)
        self._lock = asyncio.Lock()
        self._keepalive_seconds = keepalive_seconds if call.protocol.keepalive_allowed(call.alt) else 0.0
        self._keepalive: asyncio.Task[None] | None = None
        self._rewrite: Callable[[bytes], bytes] | None = request._state.get(STREAM_REWRITE)

    @property
    def started(self) -> bool:
        return self.response is not None

    async def start(self, *, with_body: bool = False, ticking: bool = True) -> None:
        """Commit 200 and the stream headers. ``with_body``: bytes are written right after, so the
        head goes out with them instead of in a send of its own. ``ticking``: keep-alives start
        now; else at ``tick``."""
        if self.response is not None:
            return
        response_type = _HeadWithBodyResponse if with_body else web.StreamResponse
        headers = self.call.protocol.stream_headers(self.call.alt)
        if not self.request.keep_alive:
            headers.pop("Connection", None)
        self.response = response_type(status=200, headers=headers)
        if self.sent is not None:
            self.request[STREAM_RESPONSE_KEY] = self.response
        await self.response.prepare(self.request)
        if ticking:
            self.tick()

    def tick(self) -> None:
        """Start the keep-alive ticker on a started response, once."""
        if self.response is not None and self._keepalive is None and self._keepalive_seconds > 0:
            self._keepalive = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            async with self._lock:
                assert self.response is not None
                await self.response.write(b": keep-alive\n\n")

    async def write(self, frames: list[bytes]) -> None:
        if frames:
            self.payload_sent = True
        await self._send(frames, last=False)

    async def finish(self, frames: list[bytes]) -> None:
        """The last frames and the end of the body in one socket write instead of two."""
        await self._send(frames, last=True)

    async def _send(self, frames: list[bytes], *, last: bool) -> None:
        if not frames:
            return  # nothing to send; for the last frames ``close`` ends the body
        if self.response is None:
            await self.start(with_body=True)
        assert self.response is not None
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        if self._rewrite is not None:
            data = self._rewrite(data)
        if self.sent is not None:
            self.sent += data
        send = self.response.write_eof if last else self.response.write
        if self._keepalive is None:
            # Nothing else writes to this response, so the lock (taken per chunk) is not needed.
            await send(data)
            return
        if last:
            # Nothing may be written after the end: the ticker stops before it (``close`` awaits it).
            self._keepalive.cancel()
        async with self._lock:
            await send(data)

    async def fail(self, status: int, text: str) -> None:
        if (upstream_log := UPSTREAM_LOG.get()) is not None and not upstream_log.api_response().strip():
            # The handler's cancel function records the error's text as the API response when
            # nothing else is there (handlers.go:270-305): a failure before any upstream answer.
            upstream_log.error_answer(text, text.encode())
        frame = self.call.protocol.error_frame(status, text, self.call.alt)
        if self.call.protocol.status_with_error_frame:
            sent = self._rewrite(frame) if self._rewrite is not None else frame
            self.request[TERMINAL_ERROR_KEY] = TerminalError(status, sent, Timestamp.now_local().rfc3339_nano(),
                                                             streams=True)
        self.request[STREAM_FAILED_KEY] = True
        await self._send([frame], last=False)

    def stop_keepalive(self) -> None:
        """Synchronous, so it also runs while the handler is being cancelled (client gone)."""
        if self._keepalive is not None:
            self._keepalive.cancel()

    async def close(self) -> web.StreamResponse:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        if self.response is None:
            # A stream that ended on purpose with nothing the client's translator renders (an
            # OpenAI-compatible tool call and its finish in one chunk, for a Gemini client): the
            # legacy answers 200 with its stream headers and no body (gemini_handlers.go:216-223).
            await self.start()
        assert self.response is not None
        with contextlib.suppress(ConnectionError):
            await self.response.write_eof()
        return self.response


async def _pump(translator: StreamTranslator, stream: UpstreamStream, writer: _StreamWriter,
                usage: UsageReporter | None = None) -> AsyncIterator[None]:
    """Feed upstream items through the translator to the client; yields after each write so the
    caller can see whether bytes went out."""
    # Frames of events parsed from one upstream chunk go out in one write: each write is a send
    # to the client socket, the largest per-event cost of a stream. Held frames are written
    # before any failure surfaces, so the client sees exactly what it did with one write per event.
    held: list[bytes] = []
    async with stream:
        try:
            async for item in stream:
                if not isinstance(item, bytes) and item.error is not None:
                    # Before any payload the error stays ours: another credential may still serve.
                    item.error.after_payload = writer.payload_sent or bool(held)
                    verbatim = getattr(translator, "verbatim_error", None) if item.error.after_payload else None
                    frames = verbatim(item) if verbatim is not None else []
                    if frames:
                        # Same protocol, mid-stream: the client gets the upstream's own error
                        # event, as the legacy relays it, and nothing of ours after it.
                        frames, held = [*held, *frames], []
                        await writer.write(frames)
                        item.error.delivered = True
                        writer.request[STREAM_FAILED_KEY] = True
                    raise item.error
                if usage is not None and not isinstance(item, bytes):
                    usage.observe(item.payload)
                held += translator.feed(item)
                if not held and not writer.started and getattr(translator, "committed", False):
                    # The answer is a stream from here on though nothing is written yet (the
                    # completions wrapper): its head leaves with the first bytes, as Gin's does.
                    await writer.start(with_body=True)
                    writer.payload_sent = True
                # Wrapping streams (OAuth mappers, Kiro) carry no ``pending``: one write per event.
                if held and not getattr(stream, "pending", 0):
                    frames, held = held, []
                    await writer.write(frames)
                    yield None
        except Exception:
            if held:
                await writer.write(held)
            raise
    await writer.finish(held + translator.close())
    yield None


async def _serve_stream(request: web.Request, runtime: InferenceRuntime, call: InferenceCall,
                        candidates: Callable[[], list[Candidate]], attempt: _Attempt,
                        resolved: str) -> web.StreamResponse:
    config = runtime.config
    writer = _StreamWriter(request, call, float(config.streaming.keepalive_seconds),
                           record=records_requests(config))
    try:
        return await _serve_stream_with(writer, runtime, call, candidates, attempt, resolved)
    except asyncio.CancelledError:
        if writer.sent is not None and writer.response is None:
            # The client hung up before the first chunk, with request-log on. The legacy's stream
            # handler ends in its peek select on the client's context (openai_handlers.go:471-474,
            # code_handlers.go:224-226) and returns having written nothing; its middleware still
            # logs the request, under Gin's default 200, with no body (response_writer.go:249-256,
            # 300). (Cancelled while the upstream's head was awaited, the call's 500 is in the
            # error channel too by the time the select runs, handlers.go:478-495, and Go picks
            # either case; this is the pick that writes nothing, as with request-log off, where no
            # file comes of it.) Here only, so a stream that runs pays nothing for it.
            request[GONE_ANSWER_KEY] = web.Response(status=200)
        raise
    finally:
        # A client that hangs up cancels this handler mid-await; the keep-alive ticker must not
        # outlive it (it would wake up later only to fail writing to a closed transport).
        writer.stop_keepalive()


async def _serve_stream_with(writer: _StreamWriter, runtime: InferenceRuntime, call: InferenceCall,
                             candidates: Callable[[], list[Candidate]], attempt: _Attempt,
                             resolved: str) -> web.StreamResponse:
    cfg = runtime.config
    if _headers_up_front(call):
        # Committed now (the Gemini CLI handler sets its SSE headers before asking upstream), but
        # sent with the first bytes, a keep-alive or an error frame, as Gin sends a head
        # (gemini-cli_handlers.go:138-162). Its keep-alives wait for an open upstream stream:
        # ForwardStream, which ticks, runs only once ExecuteStreamWithAuthManager has returned.
        await writer.start(with_body=True, ticking=False)
    retries_left = max(0, int(cfg.streaming.bootstrap_retries))
    # An in-stream quota or credential error before any payload (a Claude ``rate_limit_error``
    # event under a 200, a Codex ``response.failed`` for usage) moves on like the same status
    # would, whatever ``bootstrap-retries`` says; the failing credential is already marked, so
    # each move reaches a different one.
    moves_left: int | None = None  # counted when first needed: most streams never move
    moved_for: UpstreamError | None = None
    while True:
        settings = runtime.retry_settings()
        try:
            served = await run_with_failover(candidates, attempt, model=resolved, cfg=settings,
                                             selector=runtime.selector, state=runtime.state, defer_success=True,
                                             on_abandon=attempt.abandoned)
        except RotationError as exc:
            if moved_for is not None:
                # No other credential could take it: the failure that moved us is the answer, as
                # the last credential's 429 status would be.
                return await _stream_failure(writer, moved_for)
            if writer.started:
                await writer.fail(exc.status, exc.body.decode())
                return await writer.close()
            return rotation_error_response(exc)
        except UpstreamError as exc:
            return await _stream_failure(writer, exc)
        except Exception as exc:
            # A fault of ours while setting the call up: a JSON 500, or, where the stream head is
            # already committed (Gemini CLI), the protocol's error frame rather than aiohttp's
            # plain-text 500 written into an open stream.
            log.exception("inference.stream_setup_crashed", error_type=type(exc).__name__)
            text = f"internal error: {type(exc).__name__}"
            if writer.started:
                await writer.fail(500, text)
                return await writer.close()
            return error_response(500, text)
        opened = served.value
        assert opened.stream is not None
        # From the first open stream on, bootstrap retries included (they run inside ForwardStream).
        writer.tick()
        error = await _relay(opened, writer, served.credential.id, resolved, runtime.state, settings)
        if error is None:
            return await writer.close()
        # ``sentPayload`` (handlers.go:508-560) counts upstream payload only: keep-alives that the
        # Gemini CLI stream writes before its first chunk do not end the bootstrap window.
        may_move = not writer.payload_sent and not error.delivered and error.scope in ("quota", "credential")
        if may_move and moves_left is None:
            moves_left = len(candidates())
        if may_move and moves_left:
            moves_left -= 1
            moved_for = error
            log.info("inference.first_event_failover", model=call.model, status=error.status, scope=error.scope)
            continue
        if not writer.payload_sent and retries_left > 0 and _bootstrap_retryable(error):
            retries_left -= 1
            log.info("inference.bootstrap_retry", model=call.model, status=error.status, left=retries_left)
            continue
        return await _stream_failure(writer, error)


async def _stream_failure(writer: _StreamWriter, error: UpstreamError) -> web.StreamResponse:
    """A stream's last failure: JSON with its status while nothing is out, else the error frame
    (unless the upstream's own error event already reached the client)."""
    if writer.started:
        if not error.delivered:
            await writer.fail(error.client_status, error.client_text)
        return await writer.close()
    return upstream_error_response(error)


def _headers_up_front(call: InferenceCall) -> bool:
    return call.protocol.headers_up_front and call.protocol.keepalive_allowed(call.alt)


def _bootstrap_retryable(error: UpstreamError) -> bool:
    return error.status is None or error.status in _BOOTSTRAP_STATUSES or error.status >= 500


async def _relay(opened: _Opened, writer: _StreamWriter, credential_id: str, model: str, state: Any,
                 settings: RetrySettings) -> UpstreamError | None:
    """Run one opened stream to its end; returns the error that ended it early, if any."""
    assert opened.stream is not None
    translator = opened.translation.stream()
    usage = opened.usage
    try:
        async for _ in _pump(translator, opened.stream, writer, usage):
            pass
    except (asyncio.CancelledError, ConnectionError):
        # The client hung up: its handler is cancelled, or a write to it fails first. The legacy
        # records that as a status-less failure of the serving credential (conductor.go:708-720).
        mark_client_gone(state, credential_id, model, settings)
        if usage is not None:
            usage.failed()
        raise
    except UpstreamError as exc:
        # A clean early end is the credential's success for the legacy (its stream readers report
        # only read errors, e.g. codex_executor.go:284-303): no cooldown for what the client was told.
        # So is an error event after payload, a line like any other there; only a quota error
        # still cools the credential here, since its next call would fail the same way.
        succeeded = exc.truncated or (exc.after_payload and exc.status != 429)
        mark_result(state, credential_id, model, None if succeeded else exc, settings)
        if usage is not None:
            # The legacy's reporter, too, sees a failure only where its reader failed.
            usage.succeeded() if exc.truncated or exc.after_payload else usage.failed()
        log.info("inference.stream_failed", status=exc.status, scope=exc.scope, started=writer.started)
        return exc
    except (TranslationError, ValueError) as exc:
        log.warning("inference.translate_stream_failed", error=str(exc))
        return transport_error(f"cannot translate upstream stream: {exc}")
    except Exception as exc:
        # A translator fault on upstream output it did not foresee (nesting deeper than the
        # interpreter recurses, say): the client gets its protocol's error, not a bare 500, and
        # the traceback goes to the log.
        log.exception("inference.translate_stream_crashed", error_type=type(exc).__name__)
        return transport_error(f"cannot translate upstream stream: {type(exc).__name__}")
    mark_result(state, credential_id, model, None, settings)
    if usage is not None:
        usage.succeeded()
    return None


def _refused_token(exc: UpstreamError, candidate: Candidate) -> bool:
    """An answer that says the access token was refused: a 401, or for Kiro also a 403 whose
    body is about the token (reference providers §8.2: it refreshes on both)."""
    if exc.status == 401:
        return True
    return exc.status == 403 and candidate.provider == "kiro" and b"token" in exc.body.lower()
