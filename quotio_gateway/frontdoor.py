"""The front door: lanes below aiohttp's server for the common requests.

Each client connection starts on ``_Connection``, a plain asyncio protocol. It reads a request
head, and when the head alone decides ``legacy`` (see ``FrontDoor.plan``) it forwards the request
over the legacy pool and writes the answer itself, with the same head, metrics and access line as
the aiohttp lane (dispatch.py). A small ``POST`` decided ``native`` is answered on the native lane
(frontdoor_native.py: aiohttp's own Request and StreamWriter, without its RequestHandler). Any
other request — other native ones, canary, the gateway's own endpoints, WebSocket upgrades,
escapes in the path, chunked, compressed or large request bodies, HTTP/1.0 — hands the whole
connection to aiohttp's RequestHandler at that request boundary, replaying the bytes read so far;
from then on aiohttp serves the connection as if it had accepted it.

The lane exists for latency: at one connection the aiohttp request/response objects, router and
signals cost about as much as the forward itself (docs/performance.md). It is on by default and
``QUOTIO_GATEWAY_FRONTDOOR=off`` turns it off (every connection then goes to aiohttp at once).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from aiohttp import __version__ as aiohttp_version
from aiohttp import web

from . import appkeys, frontdoor_native
from .access_log import log_access
from .clientinfo import is_trusted
from .dispatch import _OWN_FILE_ROUTES, on_response_prepare
from .envswitch import switch
from .errors import error_body, sse_error_frame
from .flags.matcher import Decision
from .flags.schema import Mode
from .frontdoor_http import (
    MAX_HEAD,
    MAX_INLINE_BODY,
    RequestHead,
    find_head_end,
    must_be_empty,
    parse_head,
    response_head,
)
from .legacy.headers import client_response_headers, upstream_request_headers
from .legacy.peer_guard import guarded as peer_guarded
from .legacy.pool import RequestSpec, UpstreamError, UpstreamResponse
from .logging import bind_request_id
from .shadow.capture import BodyTee
from .shadow.offline import resolve_native
from .shadow.remote import ShadowWorker
from .shadow.runner import plan_shadow
from .shadow.types import Captured

log = structlog.get_logger("quotio_gateway.frontdoor")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Answers with a known length up to this size are read whole and written with the head at once.
_SMALL_BODY = 256 * 1024
# Bytes a client may send ahead (pipelining) while an answer is still running, before reads pause.
_READ_AHEAD = 256 * 1024
# aiohttp's keep-alive timeout for idle client connections, swept every few seconds here.
KEEPALIVE_TIMEOUT = 75.0
_SWEEP_EVERY = 5.0
ENV_SWITCH = "QUOTIO_GATEWAY_FRONTDOOR"
NATIVE_LANE_SWITCH = "QUOTIO_GATEWAY_NATIVE_LANE"
ADMIT_SWITCH = "QUOTIO_GATEWAY_ADMIT_PER_TURN"
DEFAULT_ADMIT_PER_TURN = 4


def admit_per_turn(environ: dict[str, str] | None = None) -> int:
    """New native requests started per loop turn under a backlog (0: no limit)."""
    raw = (environ if environ is not None else os.environ).get(ADMIT_SWITCH, "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_ADMIT_PER_TURN
    except ValueError:
        return DEFAULT_ADMIT_PER_TURN


def frontdoor_enabled(environ: dict[str, str] | None = None) -> bool:
    return switch(ENV_SWITCH, default=True, environ=environ)


def native_lane_enabled(environ: dict[str, str] | None = None) -> bool:
    return switch(NATIVE_LANE_SWITCH, default=True, environ=environ)


def gateway_owned_paths(app: web.Application) -> tuple[frozenset[str], tuple[str, ...]]:
    """Paths the aiohttp router answers without the flag table (/healthz, /metrics, /v0/gateway/...).

    Exact paths for plain resources; for anything else the literal prefix before its first
    variable, so the lane can only ever err towards handing a request to aiohttp.
    """
    exact: set[str] = set()
    prefixes: set[str] = set()
    for route in app.router.routes():
        if hasattr(route.handler, "quotio_native"):
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        if "path" in info:
            exact.add(info["path"])
        else:
            literal = str(info.get("formatter") or info.get("prefix") or "/").split("{", 1)[0]
            prefixes.add(literal)
    return frozenset(exact), tuple(sorted(prefixes))


class FrontDoor:
    """Protocol factory for the listening socket; ``fallback`` builds aiohttp's RequestHandler."""

    def __init__(self, app: web.Application, fallback: Callable[[], asyncio.Protocol], *,
                 enabled: bool = True, worker: ShadowWorker | None = None) -> None:
        self.app = app
        self.fallback = fallback
        # Shadowed requests take this lane only while the shadow worker runs their native legs.
        self.worker = worker
        self.shadow = app[appkeys.SHADOW]
        self._natives: dict[tuple[str, str], bool] = {}
        self._shadow_plans: dict[tuple[int, str, str, str], tuple[str | None, str | None, bool]] = {}
        self.loop = asyncio.get_running_loop()
        self.metrics = app[appkeys.METRICS]
        self.flags = app[appkeys.FLAG_STORE]
        self.legacy = app[appkeys.LEGACY]
        self.config = app[appkeys.CONFIG_STORE]
        self.inflight = app[appkeys.RUNTIME].inflight
        self.supervised = app[appkeys.SUPERVISOR] is not None
        self.own_paths, self.own_prefixes = gateway_owned_paths(app)
        # The lane reproduces exactly what dispatch.py and its one response hook add; an app that
        # grew middlewares or other hooks gets every request on the aiohttp lane instead.
        extra_hooks = [hook for hook in app.on_response_prepare if hook is not on_response_prepare]
        self.enabled = enabled and not app.middlewares and not extra_hooks
        self.native_lane = native_lane_enabled() and frontdoor_native.COMPATIBLE
        self.admission = Admission(self.loop, admit_per_turn())
        if not frontdoor_native.COMPATIBLE:
            log.warning("native lane off: not verified with this aiohttp", aiohttp=aiohttp_version)
        if enabled and not self.enabled:
            log.warning("front door off: the app has middlewares or response hooks it does not reproduce")
        self.connections: set[_Connection] = set()
        self.draining = False
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._sweeper: asyncio.TimerHandle | None = self.loop.call_later(_SWEEP_EVERY, self._sweep)

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)

    def may_answer(self, buffer: bytearray) -> bool:
        """False when the request line alone shows neither lane will answer (a GET to a native
        route, say): the connection then goes to aiohttp without the head being parsed here
        first. True leaves the decision to ``plan`` on the parsed head. ``buffer`` holds a
        complete head."""
        if not self.enabled or self.draining:
            return False
        parts = bytes(buffer[:buffer.find(b"\r\n")]).split(b" ")
        if len(parts) != 3:
            return self.legacy.configured  # an unusual request line: parse_head judges it
        method = parts[0].decode("latin-1")
        result = self.flags.current.match(method, parts[1].partition(b"?")[0].decode("latin-1"))
        if result.needs_model:
            return False
        if self._native_mode(method, result.decision.mode):
            return True
        return self.legacy.configured and result.decision.mode in (Mode.LEGACY, Mode.SHADOW)

    def _native_mode(self, method: str, mode: Mode) -> bool:
        # The dispatcher answers natively what the table sends native, and everything when no
        # legacy server is configured (`make run`).
        return self.native_lane and method == "POST" and (mode is Mode.NATIVE or not self.legacy.configured)

    def plan(self, head: RequestHead) -> Decision | None:
        """The decision when this request is the front door's to answer, else None (aiohttp
        answers). A NATIVE decision means the native lane (frontdoor_native.py) serves it."""
        if not self.enabled or self.draining:
            return None
        path = head.path
        if path in self.own_paths or path.startswith(self.own_prefixes):
            return None
        table = self.flags.current
        if head.content_length is not None and head.content_length > min(
                MAX_INLINE_BODY, table.table.server.max_body_bytes):
            return None
        result = table.match(head.method, path)
        mode = result.decision.mode
        if result.needs_model:
            return None
        if self._native_mode(head.method, mode):
            if head.content_length is None or head.compressed:
                return None
            if mode is Mode.NATIVE:
                return result.decision
            return Decision(Mode.NATIVE, result.decision.route, result.decision.label, result.decision.version)
        if not self.legacy.configured:
            return None
        if mode is Mode.SHADOW:
            if self.worker is None:
                return None
            if not self.worker.ready:
                self.worker.ensure_started()
                return None
        elif mode is not Mode.LEGACY:
            return None
        if self.supervised and (head.method, path) in _OWN_FILE_ROUTES:
            return None
        if peer_guarded(head.method, path, self.config.current):
            return None  # the dispatcher checks the client's address first (legacy/peer_guard.py)
        return result.decision

    async def has_native(self, method: str, path: str) -> bool:
        key = (method, path)
        known = self._natives.get(key)
        if known is None:
            native, _ = await resolve_native(self.app, method, path)
            known = native is not None
            if len(self._natives) > 4096:
                self._natives.clear()
            self._natives[key] = known
        return known

    async def shadow_comparator(self, head: RequestHead, decision: Decision) -> str | None:
        """As Dispatcher._shadow decides: the comparator when this request is compared, else None
        (a skip with a reason is counted here)."""
        route = decision.route
        key = (decision.version, decision.label, head.method, head.path)
        planned = self._shadow_plans.get(key)
        if planned is None:
            # Everything but the sample draw depends on the table and the request line only.
            kind, reason = plan_shadow(head.method, head.path, shadow_llm=bool(route and route.shadow_llm),
                                       sample=1.0, draw=0.0)
            native = kind is not None and await self.has_native(head.method, head.path)
            if len(self._shadow_plans) > 4096:
                self._shadow_plans.clear()
            planned = self._shadow_plans[key] = (kind, reason, native)
        kind, reason, native = planned
        if kind is not None:
            if random.random() >= (route.sample if route is not None else 1.0):
                self.shadow.not_sampled(decision.label)
                return None
            if not native:
                kind, reason = None, "no native handler"
            elif (head.content_length or 0) > self.shadow.settings.max_compare_bytes:
                kind, reason = None, "too large"
        if kind is None and reason is not None:
            self.shadow.skip(decision.label, reason)
        return kind

    def record(self, decision: Decision, head: RequestHead, request_id: str, peer: str, status: int,
               start: float, head_at: float, end: float) -> None:
        """Metrics and access line, identical in meaning to Dispatcher._finish."""
        route, mode = decision.label, decision.mode.value
        key = (route, mode, status)
        children = self._children.get(key)
        if children is None:
            metrics = self.metrics
            children = (metrics.requests.labels(route=route, mode=mode, side="legacy", status=str(status)),
                        metrics.request_duration.labels(route=route, mode=mode, side="legacy"),
                        metrics.ttfb.labels(route=route, mode=mode, side="legacy"))
            if len(self._children) > 4096:
                self._children.clear()
            self._children[key] = children
        count, duration, ttfb = children
        elapsed = end - start
        count.inc()
        duration.observe(elapsed)
        ttfb.observe((head_at - start) if head_at else elapsed)
        log_access(request_id=request_id, method=head.method, path_qs=head.target, status=status,
                   duration=elapsed, route=route, mode=mode, side="legacy", peer=peer)

    def start_drain(self) -> None:
        """Shutdown: no new requests on the lane; idle connections close, busy ones after their answer."""
        self.draining = True
        for conn in list(self.connections):
            conn.close_if_idle()

    def abort_all(self) -> None:
        """End of the grace period: cut whatever the lane still serves."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self.connections):
            conn.abort()

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in list(self.connections):
            if conn.task is None and now - conn.idle_since > KEEPALIVE_TIMEOUT:
                conn.close_if_idle()
        self._sweeper = self.loop.call_later(_SWEEP_EVERY, self._sweep)


class _Queued:
    """A native request read whole and waiting for its turn (``Admission``); cancel drops it."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class Admission:
    """Starts of new native requests, at most ``per_turn`` per event-loop turn.

    A native request's set-up (routing, translation, the upstream call) is one uninterrupted
    stretch of CPU. Under a burst, starting every request the moment its bytes arrive puts all
    those stretches in the ready queue ahead of the upstream answers of requests already
    started, so every stream's first byte waits for the whole burst's set-up. Admitting a few per
    turn lets the answers that arrived meanwhile go out between them; with no backlog a request
    starts at once, as before.
    """

    __slots__ = ("_busy", "_loop", "_waiting", "per_turn")

    def __init__(self, loop: asyncio.AbstractEventLoop, per_turn: int) -> None:
        self._loop = loop
        self.per_turn = per_turn
        self._waiting: deque[Callable[[], None]] = deque()
        self._busy = False

    def __len__(self) -> int:
        return len(self._waiting)

    def admit(self, start: Callable[[], None]) -> None:
        if self.per_turn <= 0:
            start()  # switched off: every request starts as its bytes arrive
            return
        if self._busy:
            self._waiting.append(start)
            return
        self._busy = True
        start()
        self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        waiting = self._waiting
        if not waiting:
            self._busy = False
            return
        for _ in range(min(self.per_turn, len(waiting))):
            waiting.popleft()()
        self._loop.call_soon(self._turn)


class _Connection(asyncio.Protocol):
    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.loop = door.loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        # The running exchange, or a _Queued placeholder while a native request waits for admission.
        self.task: asyncio.Task[None] | _Queued | None = None
        self.peer = ""
        self.peername: Any = None
        self._view: frontdoor_native.ProtocolView | None = None  # made at the first native request
        self.idle_since = self.loop.time()
        self.reading_paused = False
        self.lost = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # Head parsed and decided while its body is still arriving: (head end, head, decision).
        self._pending: tuple[int, RequestHead, Decision] | None = None
        # What the running exchange got from legacy, for its shadow comparison.
        self._answer_headers: list[tuple[str, str]] = []
        self._failure: str | None = None

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # No TCP_NODELAY here: uvloop and asyncio both set it on every accepted TCP socket, and
        # asking for the socket object costs a getsockname and a wrapper per connection.
        peer = self.peername = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self.door.enabled:
            self._handoff()
            return
        self.door.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.task is None:
            self._next()
        elif len(self.buffer) > _READ_AHEAD and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.door.connections.discard(self)
        if self.task is not None:
            # The client went away: cancelling the exchange aborts the upstream request too.
            self.task.cancel()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()

    # --- request boundaries ---------------------------------------------------------------
    def _next(self) -> None:
        """Start the next buffered request, wait for more bytes, or hand the connection over."""
        if self.transport is None or self.lost:
            return
        pending = self._pending
        if pending is None:
            if not self.buffer:
                return
            end = find_head_end(self.buffer)
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._handoff()
                return
            if not self.door.may_answer(self.buffer):
                self._handoff()
                return
            head = parse_head(bytes(self.buffer[:end]))
            decision = self.door.plan(head) if head is not None else None
            if head is None or decision is None:
                self._handoff()
                return
            pending = (end, head, decision)
        end, head, decision = pending
        length = head.content_length
        stop = end + (length or 0)
        if len(self.buffer) < stop:
            self._pending = pending  # the body is still on its way
            return
        self._pending = None
        body = bytes(self.buffer[end:stop]) if length is not None else None
        del self.buffer[:stop]
        if decision.mode is Mode.NATIVE:
            queued = self.task = _Queued()
            self.door.admission.admit(lambda: self._start_native(queued, head, body))
        else:
            self.task = self.loop.create_task(self._exchange(head, decision, body, time.monotonic()))

    def _handoff(self) -> None:
        transport = self.transport
        assert transport is not None
        self.door.connections.discard(self)
        if self.door.draining:
            transport.close()
            return
        data, self.buffer = bytes(self.buffer), bytearray()
        if self.reading_paused:
            self.reading_paused = False
            transport.resume_reading()
        handler = self.door.fallback()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if data:
            handler.data_received(data)

    def _done(self, keep_alive: bool) -> None:
        self.task = None
        self.idle_since = self.loop.time()
        if self.lost or self.transport is None:
            return
        if not keep_alive or self.door.draining:
            self.transport.close()
            return
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        if self.buffer:
            self._next()

    def close_if_idle(self) -> None:
        if self.task is None and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    # --- the native lane ------------------------------------------------------------------
    def _start_native(self, queued: _Queued, head: RequestHead, body: bytes | None) -> None:
        if queued.cancelled or self.lost or self.transport is None:
            return  # the client left while the request waited for its turn
        self.task = self.loop.create_task(self._serve_native(head, body))

    async def _serve_native(self, head: RequestHead, body: bytes | None) -> None:
        assert self.transport is not None
        if self._view is None:
            self._view = frontdoor_native.ProtocolView(self, self.transport)
        keep_alive = False
        try:
            keep_alive = await frontdoor_native.serve(self.door.app, self._view, head, body)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client left: the connection closes
        except Exception:
            # Part of an answer is already out (frontdoor_native logged why): cut the connection.
            if self.transport is not None:
                self.transport.abort()
        finally:
            self._done(keep_alive)

    @property
    def write_paused(self) -> bool:
        return self._write_paused

    async def drain(self) -> None:
        """Wait while the client's socket buffer is over its high-water mark (aiohttp's
        StreamWriter.drain lands here for native-lane answers)."""
        if self._write_paused and not self.lost:
            self._drain_waiter = self.loop.create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None
        if self.lost:
            raise ConnectionResetError("client connection lost")

    # --- writing to the client ------------------------------------------------------------
    def _wake_writer(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _write(self, data: bytes) -> None:
        assert self.transport is not None
        if self.lost:
            raise ConnectionResetError("client connection lost")
        self.transport.write(data)
        if self._write_paused:
            # Flow control: a slow client slows the upstream read, never the gateway's memory.
            await self.drain()

    # --- one forwarded exchange -----------------------------------------------------------
    async def _exchange(self, head: RequestHead, decision: Decision, body: bytes | None, start: float) -> None:
        door = self.door
        supplied = head.request_id
        request_id = supplied if supplied and _REQUEST_ID.match(supplied) else f"{random.getrandbits(64):016x}"
        # Log lines written while this request runs carry its id (this task is the request's).
        bind_request_id(request_id)
        door.inflight.enter()
        status = 499
        head_at = 0.0
        keep_alive = head.keep_alive
        tee: BodyTee | None = None
        comparator: str | None = None
        self._answer_headers = []
        self._failure = None
        sent = time.monotonic()
        try:
            if decision.mode is Mode.SHADOW:
                comparator = await door.shadow_comparator(head, decision)
                if comparator is not None:
                    tee = BodyTee(door.shadow.settings.max_compare_bytes)
            sent = time.monotonic()
            status, head_at, keep_alive = await self._forward(head, decision, body, request_id, tee)
        except (ConnectionError, asyncio.CancelledError):
            keep_alive = False
            status = 499
            self._failure = "CancelledError"
        except Exception:
            # A bug of ours mid-answer: the client may hold part of a response, so the only safe
            # end is a cut connection (and a log line to find it by).
            log.exception("front door failed while answering", method=head.method, path=head.path)
            keep_alive = False
            status = 500
            self._failure = "gateway_error"
            if self.transport is not None:
                self.transport.abort()
        finally:
            door.inflight.leave()
            if comparator is not None and tee is not None:
                # The client's answer is written; the native leg and comparison run in the worker.
                self._submit_shadow(head, decision, request_id, comparator, body, tee, status,
                                    (head_at or time.monotonic()) - sent)
            # Counted and logged after the answer is on the wire, as on the aiohttp lane.
            self.loop.call_soon(door.record, decision, head, request_id, self.peer, status, start, head_at,
                                time.monotonic())
            self._done(keep_alive)

    def _submit_shadow(self, head: RequestHead, decision: Decision, request_id: str, comparator: str,
                       body: bytes | None, tee: BodyTee, status: int, elapsed: float) -> None:
        door = self.door
        if self._failure is not None:
            # The gateway's own error answer (or none at all) is not legacy's: never compared as such.
            error = self._failure if self._failure == "CancelledError" else f"legacy {self._failure}"
            legacy = Captured(status=status, headers=[], body=b"", error=error)
        else:
            legacy = tee.result(status, self._answer_headers, elapsed)
        worker = door.worker
        if worker is None or not worker.submit(route=decision.label, request_id=request_id, method=head.method,
                                               target=head.target, headers=head.headers, peer=self.peer,
                                               comparator=comparator, body=body or b"", legacy=legacy):
            door.shadow.skip(decision.label, "queue_full")

    async def _forward(self, head: RequestHead, decision: Decision, body: bytes | None,
                       request_id: str, tee: BodyTee | None = None) -> tuple[int, float, bool]:
        door = self.door
        legacy = door.legacy
        table = door.flags.current
        route_tag = f"{decision.mode.value}/legacy" if table.table.server.route_header else None
        trusted = bool(table.trusted_proxies) and is_trusted(self.peer, table.trusted_proxies)
        headers = upstream_request_headers(head.headers, client_ip=self.peer, scheme="http", host=head.host,
                                           trusted_peer=trusted, request_id=request_id)
        keep_alive = head.keep_alive
        method = head.method
        try:
            upstream = await legacy.pool.request(RequestSpec(method, head.target, headers), body)
        except UpstreamError as exc:
            return await self._error(head, decision, exc, route_tag, request_id)
        try:
            status = upstream.status
            answer_headers = self._answer_headers = client_response_headers(upstream.headers)
            length = upstream.content_length
            if must_be_empty(method, status):
                try:
                    await upstream.read()
                except UpstreamError as exc:
                    return await self._error(head, decision, exc, route_tag, request_id)
                out, _ = response_head(status, answer_headers, method=method, length=length,
                                       keep_alive=keep_alive, route_tag=route_tag, request_id=request_id)
                await self._write(out)
                return status, time.monotonic(), keep_alive
            if length is not None and length <= _SMALL_BODY:
                try:
                    data = await upstream.read()
                except UpstreamError as exc:
                    return await self._error(head, decision, exc, route_tag, request_id)
                if tee is not None:
                    tee.feed(data)
                out, _ = response_head(status, answer_headers, method=method, length=len(data),
                                       keep_alive=keep_alive, route_tag=route_tag, request_id=request_id)
                await self._write(out + data)
                return status, time.monotonic(), keep_alive
            return await self._stream(head, decision, upstream, answer_headers, length, route_tag, request_id,
                                      tee)
        finally:
            upstream.release()

    async def _stream(self, head: RequestHead, decision: Decision, upstream: UpstreamResponse,
                      answer_headers: list[tuple[str, str]], length: int | None, route_tag: str | None,
                      request_id: str, tee: BodyTee | None) -> tuple[int, float, bool]:
        metrics = self.door.metrics
        route = decision.label
        status = upstream.status
        out, chunked = response_head(status, answer_headers, method=head.method, length=length,
                                     keep_alive=head.keep_alive, route_tag=route_tag, request_id=request_id)
        is_sse = any(n.lower() == "content-type" and v.startswith("text/event-stream") for n, v in answer_headers)
        gauge = metrics.open_streams.labels(route=route, side="legacy")
        gauge.inc()
        try:
            await self._write(out)
            head_at = time.monotonic()
            try:
                async for chunk in upstream.iter_chunks():
                    if tee is not None:
                        tee.feed(chunk)
                    await self._write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            except UpstreamError as exc:
                metrics.legacy_errors.labels(route=route, kind=exc.kind).inc()
                log.error("legacy stream broke", kind=exc.kind, error=str(exc), path=head.path)
                if is_sse and chunked:
                    frame = sse_error_frame(head.path, f"legacy stream interrupted: {exc}")
                    await self._write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(frame), frame))
                    return status, head_at, head.keep_alive
                # No framing to carry the error: a cut connection, never a complete-looking body.
                if self.transport is not None:
                    self.transport.abort()
                return status, head_at, False
            if chunked:
                await self._write(b"0\r\n\r\n")
            return status, head_at, head.keep_alive
        finally:
            gauge.dec()

    async def _error(self, head: RequestHead, decision: Decision, exc: UpstreamError, route_tag: str | None,
                     request_id: str) -> tuple[int, float, bool]:
        self._failure = exc.kind
        status, message = self.door.legacy.failure(decision.label, exc, head.method, head.path)
        payload = b"" if head.method == "HEAD" else orjson.dumps(error_body(head.path, status, message))
        length = len(orjson.dumps(error_body(head.path, status, message))) if head.method == "HEAD" else len(payload)
        out, _ = response_head(status, [("Content-Type", "application/json")], method=head.method, length=length,
                               keep_alive=head.keep_alive, route_tag=route_tag, request_id=request_id)
        await self._write(out + payload)
        return status, time.monotonic(), head.keep_alive
