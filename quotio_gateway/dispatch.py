"""Per request: decide the route from the flag table, then answer from legacy, native or both.

The decision is taken once from the table that is current when the request starts; a table swap
never changes the answer of a request already in flight.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web

from . import appkeys
from .access_log import log_access
from .clientinfo import LazyClientAddress, client_key
from .errors import UnreadableBody, error_response, invalid_request, read_request_body
from .flags.matcher import Decision, canary_bucket
from .flags.schema import Mode
from .gin_routes import legacy_serves, redirect_response
from .legacy.forwarder import LEGACY_FAILURE_KEY
from .legacy.peer_guard import is_cli_route
from .legacy.peer_guard import refusal as peer_refusal
from .logging import bind_request_id
from .management.auth import management_enabled
from .management.responses import gin_not_found
from .native import Handler
from .shadow.capture import BodyTee, capture_native
from .shadow.runner import plan_shadow
from .shadow.types import Captured

log = structlog.get_logger("quotio_gateway.dispatch")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The legacy splits the action (after one "/") at ":" and needs exactly two parts; the model part
# may hold a "/" (a prefixed model such as "teamB/gemini-2.5-flash").
_GEMINI_MODEL = re.compile(r"^/v1beta/models/([^:]+):[^:]*$")
_INLINE_BODY = 64 * 1024
_OWN_FILE_ROUTES = frozenset({("GET", "/v0/management/config.yaml")})
CORS_HEADERS = (("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"),
                ("Access-Control-Allow-Headers", "*"))

REQUEST_ID_KEY = "quotio_request_id"
ROUTE_TAG_KEY = "quotio_route_tag"
SIDE_KEY = "quotio_side"
HEAD_AT_KEY = "quotio_head_at"
# The answer whose head went out: what the request is counted as when its handler raises after it.
HEAD_RESPONSE_KEY = "quotio_head_response"
SHADOW_GO_KEY = "quotio_shadow_go"
BEFORE_MIDDLEWARE_KEY = "quotio_before_middleware"
# On the dispatcher's stand-in answer (499, never sent) for a client that left before the end.
CLIENT_GONE_KEY = "quotio_client_gone"
# While a native handler runs: its route's open_streams child, raised by on_response_prepare when
# the handler starts streaming (STREAM_OPEN_KEY), lowered when the handler is done.
STREAM_GAUGE_KEY = "quotio_stream_gauge"
STREAM_OPEN_KEY = "quotio_stream_open"
# Set by a native handler whose streamed answer (its 200 head already out) ended in an error
# frame or event: the status cannot tell, native_stream_errors_total does.
STREAM_FAILED_KEY = "quotio_stream_failed"
# Set on an answer whose headers are an upstream's, copied as the legacy copies them (its Server too).
UPSTREAM_SERVER_KEY = "quotio_upstream_server"


def new_request_id() -> str:
    # Correlation ids need uniqueness, not secrecy: the Mersenne Twister avoids a syscall per request.
    return f"{random.getrandbits(64):016x}"


def _model_of(path: str, body: bytes) -> str | None:
    match = _GEMINI_MODEL.match(path)
    if match:
        return match.group(1)
    if not body:
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    model = doc.get("model") if isinstance(doc, dict) else None
    return model if isinstance(model, str) else None


class Dispatcher:
    def __init__(self, app: web.Application) -> None:
        self.metrics = app[appkeys.METRICS]
        self.flags = app[appkeys.FLAG_STORE]
        self.legacy = app[appkeys.LEGACY]
        self.shadow = app[appkeys.SHADOW]
        self.supervised = app[appkeys.SUPERVISOR] is not None
        self.inflight = app[appkeys.RUNTIME].inflight
        # Built inside the serving loop (create_app). Kept, because asyncio.get_running_loop() costs
        # a getpid() system call per call on Python 3.11.
        self.loop = asyncio.get_running_loop()
        self.answered = app.get(appkeys.ANSWERED, [])
        # Label children looked up once per (route, mode, side, status): .labels() is costly per call.
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any, Any]] = {}
        self._stream_gauges: dict[str, Any] = {}

    def wrap(self, native: Handler | None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def dispatched(request: web.Request) -> web.StreamResponse:
            return await self.handle(request, native)

        # The front door tells flag-routed paths from the gateway's own endpoints by this mark,
        # and finds a route's native handler (for shadow legs) without a Request.
        dispatched.quotio_native = native  # type: ignore[attr-defined]
        return dispatched

    async def handle(self, request: web.Request, native: Handler | None) -> web.StreamResponse:
        self.inflight.enter()
        try:
            return await self._handle(request, native)
        finally:
            self.inflight.leave()

    async def _handle(self, request: web.Request, native: Handler | None) -> web.StreamResponse:
        start = time.monotonic()
        supplied = request.headers.get("X-Request-Id")
        request_id = supplied if supplied and _REQUEST_ID.match(supplied) else new_request_id()
        request[REQUEST_ID_KEY] = request_id
        # Every log line written while this request runs carries its id (one task per request).
        bind_request_id(request_id)
        table = self.flags.current
        server = table.table.server
        # aiohttp bounds a read by the size the app was made with; the operator's current limit
        # (flags.yaml may have changed it since) is what every read of this request must obey.
        request._client_max_size = server.max_body_bytes
        client = LazyClientAddress(request, table.trusted_proxies)
        body: bytes | None = None
        try:
            result = table.match(request.method, request.path)
            if result.needs_model:
                body = await read_request_body(request)
                result = table.match(request.method, request.path, _model_of(request.path, body),
                                     model_known=True)
        except web.HTTPRequestEntityTooLarge:
            response = error_response(request.path, 413, f"request body exceeds {server.max_body_bytes} bytes")
            self._finish(request, response, start, "(default)", "legacy", "native")
            return response
        except UnreadableBody as exc:
            # What the native handler answers for the same body, whichever way the table sends it.
            response = invalid_request(str(exc))
            self._finish(request, response, start, "(default)", "legacy", "native")
            return response
        decision = result.decision
        if decision.mode is not Mode.NATIVE and (
                not self.legacy.configured
                or (self.supervised and native is not None and (request.method, request.path) in _OWN_FILE_ROUTES)):
            # No legacy server at all (e.g. `make run`): answer natively whatever can be. And a
            # supervised legacy only knows its derived config copy (internal port), so the
            # operator's file is always shown by the native handler.
            decision = Decision(Mode.NATIVE, decision.route, decision.label, decision.version)
        side = "legacy"
        response: web.StreamResponse | None = None
        try:
            response, side = await self._answer(request, decision, native, body=body, client=client,
                                                request_id=request_id,
                                                route_header=server.route_header, limit=server.max_body_bytes)
            return response
        except (asyncio.CancelledError, ConnectionError):
            # The client went away: aiohttp (or the front door) cancels the handler and with it the
            # upstream call, or a write to the closing socket fails before that cancellation lands.
            response = web.Response(status=499)
            response[CLIENT_GONE_KEY] = True
            # Counted against the side that was answering (a native stream cut mid-way is native's).
            side = request._state.get(SIDE_KEY) or side
            raise
        except Exception:
            # A handler that raised after its head went out: the client saw that status and a cut
            # answer, so the request is counted and logged under it (native_errors_total has the raise).
            response = request._state.get(HEAD_RESPONSE_KEY)
            side = request._state.get(SIDE_KEY) or side
            raise
        finally:
            if response is not None:
                # Counted and logged after the answer is on the wire: off the latency path, and
                # the head time (TTFB) of a plain Response is known by then.
                self.loop.call_soon(self._finish, request, response, start, decision.label, decision.mode.value,
                                    side)

    async def _answer(self, request: web.Request, decision: Decision, native: Handler | None, *,
                      body: bytes | None, client: LazyClientAddress, request_id: str,
                      route_header: bool, limit: int) -> tuple[web.StreamResponse, str]:
        mode = decision.mode
        if mode is Mode.CANARY:
            sticky = client_key(request) or client.ip
            use_native = canary_bucket(decision.label, sticky) < decision.route.percent  # type: ignore[union-attr]
            if use_native:
                return await self._native(request, decision, native, body, client, request_id,
                                          route_header, limit)
            return await self._legacy(request, decision, body, client, request_id,
                                      route_header, limit), "legacy"
        if mode is Mode.NATIVE:
            return await self._native(request, decision, native, body, client, request_id,
                                      route_header, limit)
        if mode is Mode.SHADOW:
            return await self._shadow(request, decision, native, body, client, request_id,
                                      route_header, limit), "legacy"
        return await self._legacy(request, decision, body, client, request_id, route_header,
                                  limit), "legacy"

    @staticmethod
    def _tag(request: web.Request, decision: Decision, side: str, route_header: bool) -> None:
        """Remember who answers; on_response_prepare writes it into the response head."""
        request[ROUTE_TAG_KEY] = f"{decision.mode.value}/{side}" if route_header else None
        request[SIDE_KEY] = side

    async def _legacy(self, request: web.Request, decision: Decision, body: bytes | None, client: LazyClientAddress,
                      request_id: str, route_header: bool, limit: int,
                      tee: BodyTee | None = None) -> web.StreamResponse:
        refused = peer_refusal(request.method, request.path, client.peer, request.app[appkeys.CONFIG_STORE].current)
        if refused is not None:
            # The legacy would see the gateway's 127.0.0.1, never this client: its 403 is given here.
            self._tag(request, decision, "native", route_header)
            if not is_cli_route(request.method, request.path):
                request[BEFORE_MIDDLEWARE_KEY] = True  # Amp's CORS check removed the global headers
            return refused
        self._tag(request, decision, "legacy", route_header)
        if request.headers.get("Upgrade", "").lower() == "websocket" and request.method == "GET":
            return await self.legacy.forward_websocket(request, route=decision.label, request_id=request_id,
                                                       peer=client.peer, trusted_peer=client.trusted_peer)
        content_length = request.content_length
        if body is None and content_length is not None:
            if content_length > limit:
                return error_response(request.path, 413, f"request body exceeds {limit} bytes")
            if content_length <= _INLINE_BODY:
                # Typical API calls: send head and body to legacy in one write, keep Content-Length.
                body = await request.read()
        return await self.legacy.forward(request, route=decision.label, request_id=request_id,
                                         peer=client.peer, trusted_peer=client.trusted_peer, body=body, tee=tee,
                                         limit=limit)

    async def _native(self, request: web.Request, decision: Decision, native: Handler | None,
                      body: bytes | None, client: LazyClientAddress, request_id: str,
                      route_header: bool, limit: int) -> tuple[web.StreamResponse, str]:
        fallback = decision.fallback_to_legacy
        if native is None:
            management = management_enabled(request)
            prefix = request.headers.get("X-Forwarded-Prefix", "")
            redirect = redirect_response(request.method, request.raw_path, prefix, management=management,
                                         decoded_path=request.path)
            if redirect is not None:
                self._tag(request, decision, "native", route_header)
                # Gin redirects before any middleware runs: no CORS headers on this answer.
                request[BEFORE_MIDDLEWARE_KEY] = True
                return redirect, "native"
            if request.method == "OPTIONS":
                self._tag(request, decision, "native", route_header)
                return web.Response(status=204), "native"
            # A route the legacy serves and the gateway has no handler for (auth files, usage,
            # logs, ...) stays the legacy's whatever the table says: a native-wide table must not
            # turn Quotio's auth-file refresh into a 404. Without a legacy server it is the 503.
            if fallback or legacy_serves(request.method, request.path, management=management):
                if fallback:
                    self.metrics.canary_fallbacks.labels(route=decision.label).inc()
                return await self._legacy(request, decision, body, client, request_id,
                                          route_header, limit), "legacy"
            self._tag(request, decision, "native", route_header)
            return gin_not_found(), "native"
        if fallback and body is None and request.body_exists:
            # Keep the body so legacy can still be asked if the native handler fails early.
            body = await request.read()
        self._tag(request, decision, "native", route_header)
        state = request._state
        gauge = self._stream_gauges.get(decision.label)
        if gauge is None:
            gauge = self._stream_gauges[decision.label] = self.metrics.open_streams.labels(
                route=decision.label, side="native")
        state[STREAM_GAUGE_KEY] = gauge
        try:
            try:
                response = await native(request)
            finally:
                # A stream ends with its handler (a client that left cancels it); a response
                # aiohttp prepares after the handler returned (a file) is not counted.
                del state[STREAM_GAUGE_KEY]
                if state.pop(STREAM_OPEN_KEY, False):
                    gauge.dec()
                    if state.get(STREAM_FAILED_KEY):
                        self.metrics.native_stream_errors.labels(route=decision.label).inc()
        except web.HTTPException as exc:
            return exc, "native"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ConnectionError) and client_gone(request):
                raise  # a write to a client that hung up (see _handle): not the handler's failure
            self.metrics.native_errors.labels(route=decision.label).inc()
            log.exception("native handler raised", route=decision.label, path=request.path,
                          request_id=request_id)
            if fallback and not request.get(HEAD_AT_KEY):
                self.metrics.canary_fallbacks.labels(route=decision.label).inc()
                return await self._legacy(request, decision, body, client, request_id,
                                          route_header, limit), "legacy"
            if request.get(HEAD_AT_KEY):
                raise
            return error_response(request.path, 500, "internal error in the gateway"), "native"
        if fallback and response.status >= 500 and not response.prepared:
            self.metrics.canary_fallbacks.labels(route=decision.label).inc()
            return await self._legacy(request, decision, body, client, request_id,
                                      route_header, limit), "legacy"
        return response, "native"

    async def _shadow(self, request: web.Request, decision: Decision, native: Handler | None,
                      body: bytes | None, client: LazyClientAddress, request_id: str,
                      route_header: bool, limit: int) -> web.StreamResponse:
        route = decision.route
        label = decision.label
        settings = self.shadow.settings
        kind, reason = plan_shadow(request.method, request.path, shadow_llm=bool(route and route.shadow_llm),
                                   sample=route.sample if route is not None else 1.0, draw=random.random())
        if kind is not None and native is None:
            kind, reason = None, "no native handler"
        elif kind is not None and request.headers.get("Upgrade"):
            kind, reason = None, "upgrade"
        elif kind is not None and (request.content_length or 0) > settings.max_compare_bytes:
            kind, reason = None, "too large"
        if kind is None:
            if reason is not None:
                self.shadow.skip(label, reason)
            else:
                self.shadow.not_sampled(label)
            return await self._legacy(request, decision, body, client, request_id,
                                      route_header, limit)
        if not self.shadow.try_acquire():
            self.shadow.skip(label, "concurrency")
            return await self._legacy(request, decision, body, client, request_id,
                                      route_header, limit)
        if body is None:
            try:
                body = await request.read() if request.body_exists else b""
            except web.HTTPRequestEntityTooLarge:
                # Over server.max_body_bytes: the 413 a legacy route gives (the forwarder's), and
                # the slot back, or every such request would take one comparison slot for good.
                self.shadow.release()
                self.shadow.skip(label, "too large")
                self._tag(request, decision, "legacy", route_header)
                return error_response(request.path, 413, f"request body exceeds {limit} bytes")
        loop = asyncio.get_running_loop()
        legacy_done: asyncio.Future[Captured] = loop.create_future()
        # The native leg starts once the legacy head is on its way to the client, so its CPU time
        # never sits in front of the client's answer; a stream's body still overlaps with it.
        head_out: asyncio.Future[None] = loop.create_future()
        request[SHADOW_GO_KEY] = head_out
        tee = BodyTee(settings.max_compare_bytes)
        assert native is not None
        self.shadow.submit(route=label, request_id=request_id, method=request.method, path=request.path_qs,
                           comparator=kind, legacy=legacy_done,
                           native=_after(head_out, capture_native(native, request, body, settings.max_compare_bytes)))
        started = time.monotonic()
        try:
            response = await self._legacy(request, decision, body, client, request_id,
                                          route_header, limit, tee=tee)
        except BaseException as exc:
            if not legacy_done.done():
                legacy_done.set_result(Captured(status=499, headers=[], body=b"", error=type(exc).__name__))
            raise
        finally:
            # A plain Response is prepared right after this returns; release the leg then at latest.
            loop.call_soon(_release, head_out)
        if not legacy_done.done():
            failure = request.get(LEGACY_FAILURE_KEY)
            if failure is not None:
                legacy_done.set_result(Captured(status=response.status, headers=[], body=b"",
                                                error=f"legacy {failure}"))
            else:
                legacy_done.set_result(tee.result(response.status, list(response.headers.items()),
                                                  time.monotonic() - started))
        return response

    def _finish(self, request: web.Request, response: web.StreamResponse, start: float, route: str, mode: str,
                side: str) -> None:
        elapsed = time.monotonic() - start
        status = response.status
        key = (route, mode, side, status)
        children = self._children.get(key)
        if children is None:
            metrics = self.metrics
            children = (metrics.requests.labels(route=route, mode=mode, side=side, status=str(status)),
                        metrics.request_duration.labels(route=route, mode=mode, side=side),
                        metrics.ttfb.labels(route=route, mode=mode, side=side))
            if len(self._children) > 4096:
                self._children.clear()
            self._children[key] = children
        count, duration, ttfb = children
        count.inc()
        duration.observe(elapsed)
        head_at = request.get(HEAD_AT_KEY)
        ttfb.observe((head_at - start) if head_at else elapsed)
        log_access(request_id=request.get(REQUEST_ID_KEY, ""), method=request.method, path_qs=request.raw_path,
                   status=status, duration=elapsed, route=route, mode=mode, side=side,
                   peer=request.remote or "")
        for hook in self.answered:
            hook(request, response, side)


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _release(gate: asyncio.Future[None]) -> None:
    if not gate.done():
        gate.set_result(None)


async def _after(gate: asyncio.Future[None], leg: Awaitable[Captured]) -> Captured:
    try:
        await gate
    except BaseException:
        if asyncio.iscoroutine(leg):
            leg.close()
        raise
    return await leg


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Last look before the head goes out: route tag, request id, and Gin's CORS headers for native."""
    # The request's own dict (what ``request[key]`` reads): ``request.get`` goes through the
    # generic Mapping.get, which raises and catches a KeyError for every absent key, on every answer.
    state: dict[str, Any] = request._state
    state[HEAD_AT_KEY] = time.monotonic()
    state[HEAD_RESPONSE_KEY] = response
    headers = response.headers
    # aiohttp adds `Server: Python/… aiohttp/…` before this hook runs; CLIProxyAPI (Go net/http)
    # sends no Server header, and a client must not be able to tell the sides apart by it.
    # The response's own dict, for the same reason as the request's above.
    if not response._state.get(UPSTREAM_SERVER_KEY):
        headers.popall("Server", None)
    gate = state.get(SHADOW_GO_KEY)
    if gate is not None:
        asyncio.get_running_loop().call_soon(_release, gate)
    side = state.get(SIDE_KEY)
    if side is None:
        return
    tag = state.get(ROUTE_TAG_KEY)
    if tag and "X-Quotio-Route" not in headers:
        headers["X-Quotio-Route"] = tag
    if "X-Request-Id" not in headers:
        headers["X-Request-Id"] = state[REQUEST_ID_KEY]
    if side == "native":
        gauge = state.get(STREAM_GAUGE_KEY)
        if gauge is not None and not isinstance(response, web.Response):
            # The native handler streams this answer itself (SSE, keep-alive newlines, a relay).
            gauge.inc()
            state[STREAM_OPEN_KEY] = True
        if not state.get(BEFORE_MIDDLEWARE_KEY):
            for name, value in CORS_HEADERS:
                headers.setdefault(name, value)
