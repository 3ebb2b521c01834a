"""The front door's native lane: a native request served on the connection that read it.

aiohttp's server machinery (a RequestHandler per connection, its parser, a task per connection
and another per request, the payload queue) costs about as much per request as the whole native
set-up of an inference call once the upstream side is done. For the plain requests the front door
already reads whole (see frontdoor_http.py), this builds the same ``web.Request`` aiohttp's
parser would have built, runs it through the application exactly as aiohttp's RequestHandler
does (router, dispatcher, response hooks, ``prepare``/``write_eof`` on aiohttp's own
StreamWriter), and leaves the connection on the front door for the next request.

What the lane does not take (chunked or compressed bodies, Expect, upgrades, HTTP/1.0, escapes,
bodies over the inline limit) still goes to aiohttp's RequestHandler, as before.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_parser import RawRequestMessage
from aiohttp.http_writer import StreamWriter
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy, istr
from yarl import URL

from .frontdoor_http import GO_MAX_HEADER_BYTES, MAX_HEADER_FIELDS, RequestHead, aiohttp_text

log = structlog.get_logger("quotio_gateway.frontdoor")

if TYPE_CHECKING:
    from .frontdoor import _Connection

# The lane builds aiohttp's request objects from their private constructor arguments, which change
# between minor releases (3.14 reads the peer from the protocol, 3.10 from its transport); with
# another aiohttp the front door hands native requests to aiohttp's server as before.
VERIFIED_AIOHTTP = (3, 14)
COMPATIBLE = tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) == VERIFIED_AIOHTTP

# aiohttp's default read limit for a request payload (web_protocol.RequestHandler).
_PAYLOAD_LIMIT = 2**16


def internal_error(request: web.Request) -> web.Response:
    """aiohttp's answer (RequestHandler.handle_error) to a handler that raised before any byte
    went out: a plain or HTML 500 by the client's Accept, and the connection closed after it."""
    title = f"{HTTPStatus.INTERNAL_SERVER_ERROR.value} {HTTPStatus.INTERNAL_SERVER_ERROR.phrase}"
    detail = HTTPStatus.INTERNAL_SERVER_ERROR.description
    if "text/html" in request.headers.get("Accept", ""):
        text = f"<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n{detail}\n</body></html>\n"
        response = web.Response(status=500, text=text, content_type="text/html")
    else:
        response = web.Response(status=500, text=f"{title}\n\n{detail}", content_type="text/plain")
    response.force_close()
    return response


class ProtocolView:
    """The part of aiohttp's server protocol that Request, StreamReader and StreamWriter read,
    backed by a front-door connection (its transport, peer and write flow control). One per
    connection, made at its first native request, as aiohttp has one RequestHandler per connection."""

    __slots__ = ("_conn", "_loop", "_reading_paused", "peername", "sockname", "ssl_context", "transport")

    # Request.multipart() reads these parser limits off the protocol for each part's headers;
    # they are the runner's (server.RUNNER_OPTIONS), so a multipart body (auth-file upload,
    # Vertex import) parses on the lane as it does on aiohttp's server.
    max_field_size = GO_MAX_HEADER_BYTES
    max_headers = MAX_HEADER_FIELDS

    def __init__(self, conn: _Connection, transport: asyncio.Transport) -> None:
        self._conn = conn
        self._loop = conn.loop
        self.transport = transport
        self.ssl_context = transport.get_extra_info("sslcontext")
        self.peername = conn.peername
        self.sockname = transport.get_extra_info("sockname")
        self._reading_paused = False

    @property
    def _paused(self) -> bool:
        return self._conn.write_paused

    @property
    def connected(self) -> bool:
        return not self._conn.lost

    async def _drain_helper(self) -> None:
        await self._conn.drain()

    # The body is complete before the request starts: a payload never asks to pause or resume.
    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


# aiohttp's parser gives every header name as an ``istr``; clients send the same few names on
# every request, so each is made once (bounded: a client inventing names gets fresh ones).
_NAMES: dict[str, istr] = {}


def _name(text: str) -> istr:
    name = _NAMES.get(text)
    if name is None:
        name = istr(text)
        if len(_NAMES) < 512:
            _NAMES[text] = name
    return name


def build_request(app: web.Application, protocol: ProtocolView, head: RequestHead, body: bytes | None,
                  task: asyncio.Task[Any]) -> web.Request:
    """The ``web.Request`` aiohttp's parser and request factory would build for this head and body."""
    if head.ascii:
        # Every text is already what aiohttp's parser decodes: no per-value check.
        headers = CIMultiDict([(_name(name), value) for name, value in head.headers])
        target = head.target
        path, _, query = target.partition("?")
    else:
        headers = CIMultiDict([(_name(aiohttp_text(name)), aiohttp_text(value)) for name, value in head.headers])
        target = aiohttp_text(head.target)
        path, _, query = head.target.partition("?")
        path, query = aiohttp_text(path), aiohttp_text(query)
    url = URL.build(path=path, query_string=query, encoded=True)
    message = RawRequestMessage(head.method, target, HttpVersion11, CIMultiDictProxy(headers),
                                tuple(head.raw), not head.keep_alive, None, False, False, url)
    loop = protocol._loop
    if body:
        payload: StreamReader = StreamReader(protocol, _PAYLOAD_LIMIT, loop=loop)  # type: ignore[arg-type]
        payload.feed_data(body)
        payload.feed_eof()
    else:
        payload = EMPTY_PAYLOAD
    writer = StreamWriter(protocol, loop)  # type: ignore[arg-type]
    return app._make_request(message, payload, protocol, writer, task)  # type: ignore[arg-type]


async def serve(app: web.Application, protocol: ProtocolView, head: RequestHead,
                body: bytes | None) -> bool:
    """Answer one request through the application; returns whether to keep the connection."""
    task = asyncio.current_task()
    assert task is not None
    request = build_request(app, protocol, head, body, task)
    try:
        try:
            response = await app._handle(request)
        except web.HTTPException as exc:
            response = exc
        except Exception:
            log.exception("native lane handler raised", method=request.method, path=request.path)
            if request.writer.output_size:
                raise  # part of an answer is out: only a cut connection is safe now
            response = internal_error(request)
        if not response.prepared:
            await response.prepare(request)
        await response.write_eof()
        return bool(response.keep_alive)
    finally:
        request._finish()
