"""Sending upstream calls: pooled sessions, timeouts, cancellation, stream reading.

A call without a proxy goes out on ``direct_http.DirectClient`` (pooled keep-alive sockets per
origin, the same request bytes aiohttp would write, a fraction of its CPU); a call through a proxy
(its ``proxy-url``, or else the one ``HTTPS_PROXY`` / ``HTTP_PROXY`` name, see env_proxy.py),
or with a framing header of its own, uses one ``aiohttp.ClientSession`` per proxy URL, created on
first use and kept for the life of the ``UpstreamClient``. Either way keep-alive connections are
reused across requests and a proxy never carries traffic meant for another.

Three timeouts, none of them total (the legacy has none; a long generation must not be cut):

* ``connect``: TCP (and proxy) connection set-up;
* ``first_byte``: from sending the request until the response headers arrive;
* ``idle``: the longest silence between two body chunks.

Every failure without an upstream status becomes a transient ``UpstreamError`` with ``status``
``None``. Leaving a stream early (client disconnect, task cancelled, ``break``) closes the upstream
connection instead of returning it to the pool, so the upstream stops generating.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson
import structlog
from aiohttp_socks import ProxyConnector
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from handlers.translation.sse import SSEEvent, SSEParser, json_text, loads_upstream

from .base import PreparedRequest, StreamEvent, UpstreamError, UpstreamResult, transport_error
from .direct_http import DirectClient, DirectError, DirectResponse, eligible, request_head
from .env_proxy import EnvProxy
from .redirects import MAX_REDIRECTS, REDIRECT_STATUSES, RedirectChain
from .upstream_log import CONTEXT_CANCELED, UPSTREAM_LOG, UpstreamLog, head_cancelled, note_cancelled
from .usage_filter import filter_usage_metadata
from .whole_answers import sse_body

if TYPE_CHECKING:
    from .base import Executor

log = structlog.get_logger("handlers.providers")

ErrorFactory = Callable[[int, bytes, Mapping[str, str]], UpstreamError]


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 30.0
    first_byte: float = 600.0  # a non-stream answer only starts once generation is over
    idle: float = 300.0


class UpstreamClient:
    """Owns the pooled sessions. Create one per gateway inside the running loop; ``close`` it on
    shutdown."""

    def __init__(self, timeouts: Timeouts | None = None, *, limit_per_host: int = 0,
                 ssl_context: ssl.SSLContext | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._timeouts = timeouts or Timeouts()
        # A call with no proxy-url goes through the proxy the environment names, as Go's default
        # transport sends it (env_proxy.py); read once, as Go does.
        self._env_proxy = EnvProxy.from_environ(os.environ if environ is None else environ)
        self._limit_per_host = limit_per_host
        # config.yaml's global ``proxy-url``: a call whose credential names no proxy of its own
        # goes through it (the legacy's auth proxy, then cfg.ProxyURL: proxy_helpers.go:36-45).
        self.default_proxy = ""
        self._sessions: dict[str, tuple[aiohttp.ClientSession, str | None]] = {}
        # Direct calls skip aiohttp (direct_http.py); a per-host limit is aiohttp's to keep.
        self._direct = DirectClient(self._timeouts.connect, ssl_context) if not limit_per_host else None

    @property
    def timeouts(self) -> Timeouts:
        return self._timeouts

    @timeouts.setter
    def timeouts(self, value: Timeouts) -> None:
        # A new connect timeout reaches the next direct connection at once; aiohttp sessions keep
        # the one they were opened with.
        self._timeouts = value
        if self._direct is not None:
            self._direct.connect_timeout = value.connect

    def session_for(self, proxy_url: str) -> tuple[aiohttp.ClientSession, str | None]:
        """The session for ``proxy_url`` and the ``proxy=`` argument its requests take."""
        existing = self._sessions.get(proxy_url)
        if existing is not None and not existing[0].closed:
            return existing
        connector: aiohttp.BaseConnector | None = None
        proxy: str | None = None
        scheme = urlsplit(proxy_url).scheme.lower() if proxy_url else ""
        if scheme in ("http", "https"):
            proxy = proxy_url
        elif scheme in ("socks5", "socks5h"):
            connector = _socks_connector(proxy_url)
        elif scheme:
            # The legacy logs and goes direct on a scheme it cannot use; so do we. Only the
            # scheme is logged: a proxy URL may carry a password.
            log.warning("unsupported proxy scheme, connecting directly", scheme=scheme)
        if connector is None:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._limit_per_host)
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self.timeouts.connect,
                                        sock_read=None)
        # No cookie jar, like the legacy's Go client: a cookie one credential's call received must not
        # be sent on a later call for another credential to the same host.
        # Nor an Accept of its own: Go adds none; the calls that want one set it.
        session = aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(),
                                        skip_auto_headers=("Accept",))
        self._sessions[proxy_url] = (session, proxy)
        return session, proxy

    async def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
        sessions, self._sessions = self._sessions, {}
        for session, _ in sessions.values():
            await session.close()

    async def open(self, prepared: PreparedRequest, proxy_url: str) -> Response:
        """Send the request and wait for the response headers, following redirects as Go's
        client does (redirects.py)."""
        prepared = with_go_defaults(prepared)
        try:
            response = await self._open_once(prepared, proxy_url)
            if response.status not in REDIRECT_STATUSES:
                return response
            chain = RedirectChain(prepared)
            while True:
                following = chain.follow(prepared, response.status, response.headers.get("Location", ""))
                if following is None:
                    return response
                response.close()
                if chain.exhausted:
                    raise transport_error(f"request to {_target(prepared.url)} failed: stopped after "
                                          f"{MAX_REDIRECTS} redirects")
                prepared = following
                response = await self._open_once(prepared, proxy_url)
        except asyncio.CancelledError:
            # The client hung up: Go's client reports the hop it was waiting on (its url.Error).
            note_cancelled(head_cancelled(prepared.method, prepared.url))
            raise

    async def _open_once(self, prepared: PreparedRequest, proxy_url: str) -> Response:
        url = _url(prepared.url)
        proxy_url = proxy_url or self.default_proxy
        if not proxy_url and self._env_proxy.active:
            proxy_url = self._env_proxy.proxy_for(url.scheme, url.host or "", url.port)
        # A GET without a body (a 301/302/303 the call followed) is written as Go writes it, with
        # no Content-Length or Content-Type: aiohttp does that for data=None, the direct head not.
        bodyless = not prepared.body and prepared.method in ("GET", "HEAD")
        if not proxy_url and self._direct is not None and eligible(url) and not bodyless:
            head = request_head(prepared.method, url, prepared.headers, prepared.body)
            if head is not None:
                return await self._open_direct(prepared, url, head)
        session, proxy = self.session_for(proxy_url)
        target = _target(prepared.url)
        try:
            async with asyncio.timeout(self.timeouts.first_byte):
                return await session.request(prepared.method, url, headers=list(prepared.headers),
                                             data=None if bodyless else prepared.body, proxy=proxy,
                                             allow_redirects=False)
        except aiohttp.ConnectionTimeoutError as exc:
            raise transport_error(f"connect to {target} timed out after {self.timeouts.connect:g}s") from exc
        except TimeoutError as exc:
            raise transport_error(f"{target} sent no response within {self.timeouts.first_byte:g}s") from exc
        except aiohttp.ClientProxyConnectionError as exc:
            raise transport_error("proxy connection failed") from exc
        except aiohttp.ClientConnectorError as exc:
            raise transport_error(f"connect to {target} failed: {exc.os_error.strerror or exc.os_error}") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise transport_error(f"{target} closed the connection before answering") from exc
        except aiohttp.ClientError as exc:
            raise transport_error(f"request to {target} failed: {type(exc).__name__}") from exc

    async def _open_direct(self, prepared: PreparedRequest, url: URL, head: bytes) -> DirectResponse:
        assert self._direct is not None
        try:
            return await self._direct.origin(url).send(head, prepared.body, self.timeouts.first_byte)
        except DirectError as exc:
            target = _target(prepared.url)
            if exc.stage == "connect-timeout":  # the limit that applied, in its detail
                raise transport_error(f"connect to {target} timed out after {exc}s") from exc
            if exc.stage == "connect":
                os_error = exc.os_error
                reason = (os_error.strerror or os_error) if os_error is not None else exc
                raise transport_error(f"connect to {target} failed: {reason}") from exc
            if exc.stage == "closed":
                raise transport_error(f"{target} closed the connection before answering") from exc
            raise transport_error(f"request to {target} failed: {exc}") from exc
        except TimeoutError as exc:
            raise transport_error(f"{_target(prepared.url)} sent no response within "
                                  f"{self.timeouts.first_byte:g}s") from exc

    async def read_chunk(self, response: Response) -> bytes:
        """The next body chunk (``b""`` at the end), within the idle timeout."""
        content = response.content
        try:
            # Bytes already buffered (or the end already seen) need no idle timer: arming and
            # cancelling one for every chunk of a fast stream was a visible share of its CPU.
            chunk = content.read_nowait()
            if chunk or content.is_eof():
                return chunk
            async with asyncio.timeout(self.timeouts.idle):
                return await content.readany()
        except _BODY_ERRORS as exc:
            raise self._body_error(exc) from exc

    async def read_watched(self, response: Response, watchdog: _IdleWatchdog) -> bytes:
        """``read_chunk`` for a stream: the stream's one watchdog times the wait instead of a new
        timer per read (a stream of slow tokens waits on nearly every read)."""
        content = response.content
        try:
            chunk = content.read_nowait()
            if chunk or content.is_eof():
                return chunk
            watchdog.arm()
            try:
                return await content.readany()
            finally:
                watchdog.disarm()
        except _BODY_ERRORS as exc:
            raise self._body_error(exc) from exc

    def _body_error(self, exc: BaseException) -> UpstreamError:
        """What a failed body read becomes, for ``read_chunk`` and ``read_watched`` alike."""
        if isinstance(exc, TimeoutError):
            error = transport_error(f"upstream sent nothing for {self.timeouts.idle:g}s")
        elif isinstance(exc, aiohttp.ClientPayloadError | DirectError):
            error = transport_error("upstream connection broke mid-body")
        else:
            error = transport_error(f"reading the upstream body failed: {type(exc).__name__}")
        error.mid_body = True
        return error

    async def read_body(self, response: Response) -> bytes:
        parts: list[bytes] = []
        while chunk := await self.read_chunk(response):
            parts.append(chunk)
        return b"".join(parts)

    async def open_logged(self, prepared: PreparedRequest, proxy_url: str) -> tuple[Response, UpstreamLog | None]:
        """``open``, with the answer's head (or the failure) in the request log when one is kept."""
        log = UPSTREAM_LOG.get()
        if log is None:
            return await self.open(prepared, proxy_url), None
        try:
            response = await self.open(prepared, proxy_url)
        except UpstreamError as exc:
            log.error(exc.message)
            raise
        log.response_head(response.status, response.headers.items())
        return response, log

    async def request(self, prepared: PreparedRequest, proxy_url: str, error_for: ErrorFactory) -> UpstreamResult:
        """A whole call: 2xx gives the result, anything else the classified error."""
        response, log = await self.open_logged(prepared, proxy_url)
        complete = False
        try:
            body = await self.read_body(response)
            complete = True
        except UpstreamError as exc:
            if log is not None:
                log.error(exc.message)
            raise
        except asyncio.CancelledError:
            note_cancelled(CONTEXT_CANCELED)  # the client hung up while the body came
            raise
        finally:
            _finish(response, complete)
        if log is not None:
            log.chunk(body)
        headers = CIMultiDictProxy(CIMultiDict(response.headers))
        if not 200 <= response.status < 300:
            raise error_for(response.status, body, headers)
        return UpstreamResult(response.status, headers, body)

    async def stream(self, prepared: PreparedRequest, proxy_url: str, error_for: ErrorFactory, *,
                     executor: Executor) -> UpstreamStream:
        response, log = await self.open_logged(prepared, proxy_url)
        try:
            if not 200 <= response.status < 300:
                body = await self.read_body(response)
                if log is not None:
                    log.chunk(body)
                raise error_for(response.status, body, CIMultiDict(response.headers))
        except BaseException:
            response.close()
            raise
        return UpstreamStream(self, response, executor, raw=prepared.raw_stream, log=log)


class AnswerStream:
    """A whole upstream answer handed to a stream client as a stream of one event (same use as
    ``UpstreamStream``): for an upstream call that cannot stream, such as Imagen's ``predict``.
    A body that is not JSON comes as an event without payload, as a stream line would."""

    def __init__(self, result: UpstreamResult) -> None:
        self.status = result.status
        self.headers = result.headers
        data = result.body.decode("utf-8", errors="replace")
        try:
            payload = orjson.loads(result.body)
        except orjson.JSONDecodeError:
            payload = None
        self._event = StreamEvent("", data, payload)
        self.pending = 0
        self.answerless = False
        self._done = False

    async def __aenter__(self) -> AnswerStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[StreamEvent | bytes]:
        return self._iterate()

    @property
    def closed(self) -> bool:
        return self._done

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self._done = True

    async def _iterate(self) -> AsyncIterator[StreamEvent | bytes]:
        if not self._done:
            self._done = True
            yield self._event


# What Go's net/http client sends when a request names neither (the legacy executors for Gemini
# and Vertex set no User-Agent; only Claude's sets an Accept-Encoding): gzip, which it decodes
# itself, and its own name for an HTTP/1.1 call, which ours are.
GO_USER_AGENT = "Go-http-client/1.1"
GO_ACCEPT_ENCODING = "gzip"


def with_go_defaults(prepared: PreparedRequest) -> PreparedRequest:
    """The request with Go's default User-Agent and Accept-Encoding where the executor set none,
    instead of aiohttp's (``Python/3.x aiohttp/…``; ``gzip, deflate, br, zstd``)."""
    has_agent = has_encoding = False
    for name, _ in prepared.headers:
        lowered = name.lower()
        if lowered == "user-agent":
            has_agent = True
        elif lowered == "accept-encoding":
            has_encoding = True
    if has_agent and has_encoding:
        return prepared
    extra = (() if has_agent else (("User-Agent", GO_USER_AGENT),)) + \
        (() if has_encoding else (("Accept-Encoding", GO_ACCEPT_ENCODING),))
    return replace(prepared, headers=prepared.headers + extra)


# Everything a body read may raise that is the upstream's doing (``_body_error`` says which).
_BODY_ERRORS = (TimeoutError, aiohttp.ClientError, DirectError, ConnectionError)


class _IdleTimeout(TimeoutError):
    """Put into a stream's body reader by its watchdog; the waiting read raises it."""


class _IdleWatchdog:
    """The idle timeout of one stream as a single timer.

    ``arm`` before waiting for bytes, ``disarm`` after: both only move a deadline. The timer, once
    scheduled, checks the deadline when it fires and re-schedules itself for a later one, so a
    stream costs one timer per idle period instead of one armed and cancelled per read. When the
    deadline passed with a read still waiting, the body reader gets ``_IdleTimeout``.
    """

    __slots__ = ("_content", "_deadline", "_handle", "_idle", "_loop")

    def __init__(self, content: aiohttp.StreamReader | DirectResponse, idle: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._content = content
        self._idle = idle
        self._deadline: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        self._deadline = self._loop.time() + self._idle
        if self._handle is None:
            self._handle = self._loop.call_at(self._deadline, self._fire)

    def disarm(self) -> None:
        self._deadline = None

    def close(self) -> None:
        self._deadline = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        deadline = self._deadline
        if deadline is None:
            return
        if self._loop.time() < deadline:
            self._handle = self._loop.call_at(deadline, self._fire)
            return
        self._deadline = None
        self._content.set_exception(_IdleTimeout())


_Item = TypeVar("_Item")


class OpenStream(Generic[_Item]):
    """What every open upstream stream shares: iterated once inside ``async with``, its connection
    given back to the pool after a clean end and dropped otherwise, so the upstream stops."""

    _response: Response
    _complete: bool
    _iterator: AsyncIterator[_Item] | None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[_Item]:
        if self._iterator is None:
            self._iterator = self._iterate()
        return self._iterator

    def _iterate(self) -> AsyncIterator[_Item]:
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return self._response.closed

    async def aclose(self) -> None:
        iterator = self._iterator
        if iterator is not None and hasattr(iterator, "aclose"):
            await iterator.aclose()
        self.close()

    def close(self) -> None:
        _finish(self._response, self._complete)


class UpstreamStream(OpenStream[StreamEvent | bytes]):
    """An open 2xx upstream stream. Iterate it once inside ``async with``.

    Yields ``StreamEvent`` values (blank ``data:`` events skipped, JSON decoded; data that is not
    JSON comes with no payload, like ``[DONE]``), or ``bytes`` for a raw stream. Raises
    ``UpstreamError`` (transient, no status unless the executor says so) when the connection
    breaks, stalls past the idle timeout, or ends cleanly before the executor's terminal event.
    """

    def __init__(self, client: UpstreamClient, response: Response, executor: Executor, *,
                 raw: bool = False, log: UpstreamLog | None = None) -> None:
        self.status = response.status
        headers = response.headers
        # Both kinds of response hold their headers in a read-only view of a dict nothing changes
        # after the head: shared, not copied, per stream.
        self.headers: CIMultiDictProxy[str] = headers if isinstance(headers, CIMultiDictProxy) \
            else CIMultiDictProxy(CIMultiDict(headers))
        self._client = client
        self._response = response
        self._executor = executor
        self._raw = raw
        # The executors whose legacy counterpart runs FilterSSEUsageMetadata on each line.
        self._usage_stops: set[str] | None = set() if executor.filters_usage_metadata else None
        self._complete = False
        self._iterator: AsyncIterator[StreamEvent | bytes] | None = None
        self._log = log  # the request log's upstream half, while request-log is on
        # Events already parsed from the last chunk and not yet yielded: a consumer may hold its
        # output until this is zero and send one write per upstream chunk instead of one per event.
        self.pending = 0
        # Set at the end of a stream the upstream ended on purpose before its terminal event
        # (``Executor.ends_answer``): whole as a stream, but with no answer in it to fold.
        self.answerless = False
        # Decided once, from the head: a JSON answer to a stream request may be the whole answer
        # object (``Executor.reads_whole_answers``); an SSE answer never pays for the check.
        self._whole_json = executor.reads_whole_answers and not raw and _json_media(headers.get("Content-Type"))

    def _reader(self) -> tuple[Callable[[], Awaitable[bytes]], Callable[[], None]]:
        """How this stream's bytes are read: a call giving the next chunk (``b""`` at the end,
        an ``UpstreamError`` caused by ``TimeoutError`` when the upstream goes quiet) and the
        call that stops reading. A partial, not a method, so a chunk costs no extra frame."""
        watchdog = _IdleWatchdog(self._response.content, self._client.timeouts.idle)
        return partial(self._client.read_watched, self._response, watchdog), watchdog.close

    def _logged_reader(self) -> tuple[Callable[[], Awaitable[bytes]], Callable[[], None]]:
        read, stop = self._reader()
        return (read if self._log is None else self._log.recording(read)), stop

    def _note_failure(self, exc: UpstreamError) -> None:
        """A read failure that ends the stream goes into the request log (one that only follows
        the answer's end does not: the answer was whole)."""
        if self._log is not None:
            self._log.error(exc.message)

    async def _iterate(self) -> AsyncIterator[StreamEvent | bytes]:
        read, stop = self._logged_reader()
        if self._whole_json:
            read = _whole_answer_reader(read, self._executor)
        try:
            if self._raw:
                empty = True
                try:
                    while chunk := await read():
                        empty = False
                        yield chunk
                except UpstreamError as exc:
                    self._note_failure(exc)
                    raise
                if empty:
                    # A raw relay has no terminal event to wait for, but an answer with no bytes
                    # at all is no answer (compatibility row 4a), as for an SSE stream.
                    raise self.truncated_error()
                self._complete = True
                return
            parser = SSEParser(bare_json=self._executor.bare_json_lines)
            ended = False
            # The last event said the upstream ends here on purpose (``Executor.ends_answer``).
            said_end = False
            # The upstream went quiet after its terminal event without closing: the answer is
            # whole, so the stream ends there instead of in an idle-timeout error (the legacy waits
            # for the close with no limit and then ends the client's stream cleanly).
            stalled_after_end = False
            while True:
                try:
                    chunk = await read()
                except UpstreamError as exc:
                    if not (ended and isinstance(exc.__cause__, TimeoutError)):
                        self._note_failure(exc)
                        raise
                    chunk, stalled_after_end = b"", True
                batch = parser.feed(chunk) if chunk else parser.finish()
                events, failure = self._decode_batch(batch)
                left = len(events)
                for event in events:
                    left -= 1
                    self.pending = left
                    yield event
                    if event.error is not None:
                        # The upstream gave up inside the stream; whatever follows is not ours.
                        return
                    ended = ended or self._executor.terminal(event)
                    said_end = self._executor.ends_answer(event)
                if failure is not None:
                    raise failure
                if not chunk:
                    break
            if not ended and not said_end:
                raise self.truncated_error()
            # Ended by the upstream's own word: a relay ends as after the terminal event, a
            # fold finds no answer (``answerless``).
            self.answerless = not ended
            # A connection whose body never ended cannot go back to the pool.
            self._complete = not stalled_after_end
        finally:
            stop()
            self.close()

    def truncated_error(self) -> UpstreamError:
        """The error for a stream that ended before its terminal event; also what a fold reports
        for an ``answerless`` one."""
        error = self._executor.truncated_error()
        error.truncated = True
        return error

    def _decode_batch(self, batch: list[SSEEvent]) -> tuple[list[StreamEvent], UpstreamError | None]:
        """The events of one chunk, decoded up front so ``pending`` counts only events that will be
        yielded; ends at an in-band error, and a malformed event comes back as the error to raise
        once the good events before it have been handed out."""
        events: list[StreamEvent] = []
        for raw_event in batch:
            try:
                event = self._decode(raw_event)
                if event is not None and event.payload is None and "\n" in event.data:
                    split = self._decode_lines(raw_event)
                    if split is not None:
                        events.extend(split)
                        if split and split[-1].error is not None:
                            break
                        continue
            except UpstreamError as exc:
                return events, exc
            if event is None:
                continue
            events.append(event)
            if event.error is not None:
                break
        return events, None

    def _decode_lines(self, raw: SSEEvent) -> list[StreamEvent] | None:
        """A block whose ``data:`` lines are each a whole JSON value (or ``[DONE]``) but were sent
        without the blank line between events, read as one event per line, as the legacy's line
        scanners read every ``data:`` line on its own (openai_compat_executor.go:256-266,
        claude_executor.go:349-356, gemini_executor.go:301-311, codex_executor.go:282-288).
        None when a line is not such a value: the block stays one event, as the spec joins it.

        Such a block keeps only its last ``event:`` name; each line's own is the JSON ``type``
        (which names it in every upstream protocol that sends names at all)."""
        lines = [line for line in raw.data.split("\n") if line.strip()]
        parsed: list[tuple[str, Any]] = []
        for line in lines:
            text = line.strip()
            if text == "[DONE]":
                parsed.append((line, None))
                continue
            try:
                parsed.append((line, loads_upstream(text)))
            except orjson.JSONDecodeError:
                return None
        events: list[StreamEvent] = []
        for line, payload in parsed:
            kind = payload.get("type") if raw.event and isinstance(payload, dict) else None
            event = self._decode(SSEEvent(line, kind if isinstance(kind, str) else raw.event, raw.id, raw.retry))
            if event is None:
                continue
            events.append(event)
            if event.error is not None:
                break
        return events

    def _decode(self, raw: SSEEvent) -> StreamEvent | None:
        data = raw.data.strip()
        if not data:
            return None
        if data == "[DONE]":
            return StreamEvent(raw.event, raw.data, None)
        try:
            payload = loads_upstream(data)
        except orjson.JSONDecodeError:
            # The legacy reads such a line with gjson, which finds nothing in it: same-protocol
            # relays pass it on as it came and translators skip it, and the stream goes on
            # (claude_executor.go:321-345, openai_compat_executor.go:256-277). No payload, as for
            # ``[DONE]``: every translator already passes over those.
            return StreamEvent(raw.event, raw.data, None)
        data = raw.data
        if self._usage_stops is not None and isinstance(payload, dict):
            filtered = filter_usage_metadata(payload, self._usage_stops)
            if filtered is not None:
                # ``json_text`` falls back to the standard encoder where orjson refuses (nesting
                # beyond its 254 levels, which it reads up to 1024).
                payload, data = filtered, json_text(filtered)
        event = StreamEvent(raw.event, data, payload)
        error = self._executor.inband_error(event)
        if error is not None:
            event = StreamEvent(raw.event, data, payload, error)
        return event


def _json_media(content_type: str | None) -> bool:
    return content_type is not None and content_type.partition(";")[0].strip().lower() == "application/json"


def _whole_answer_reader(read: Callable[[], Awaitable[bytes]], executor: Executor,
                         ) -> Callable[[], Awaitable[bytes]]:
    """``read`` for a JSON answer to a stream request: the whole body at once, as the SSE body of
    the events it stands for when it is the upstream's complete answer object
    (``Executor.whole_answer_events``), else as it came, for the SSE reader to find in it what it
    finds today. The request log still records the upstream's own bytes (``read`` is the logged
    reader)."""
    done = False

    async def whole() -> bytes:
        nonlocal done
        if done:
            return b""
        done = True
        parts: list[bytes] = []
        while chunk := await read():
            parts.append(chunk)
        body = b"".join(parts)
        try:
            payload = loads_upstream(body)
        except orjson.JSONDecodeError:
            return body
        events = executor.whole_answer_events(payload)
        return body if events is None else sse_body(events)

    return whole


def _finish(response: Response, complete: bool) -> None:
    if complete:
        response.release()
    else:
        response.close()


# What ``open`` hands back: aiohttp's response for proxied calls, the lean one for direct calls.
Response = aiohttp.ClientResponse | DirectResponse

_URLS: dict[str, URL] = {}


def _url(url: str) -> URL:
    """The parsed URL, kept per string: executors build the same few URLs (one per base URL and
    path) for every call, and parsing one is a visible part of aiohttp's per-request cost."""
    parsed = _URLS.get(url)
    if parsed is None:
        if len(_URLS) >= 1024:
            _URLS.clear()
        parsed = _URLS[url] = URL(url)
    return parsed


def _target(url: str) -> str:
    # Host and path only: some upstreams take keys in the query string.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _socks_connector(proxy_url: str) -> aiohttp.BaseConnector:
    # socks5:// and socks5h:// as CLIProxyAPI's proxy-url accepts them (aiohttp has no SOCKS of its own).
    return ProxyConnector.from_url(proxy_url)
