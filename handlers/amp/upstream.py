"""The reverse proxy to the Amp upstream (``ampcode.upstream-url``), as ``proxy.go`` builds it on
Go's ``httputil.ReverseProxy``.

Outgoing: the upstream URL's path joined with the request's, the two queries joined; the client's
credentials (``Authorization``, ``X-Api-Key``, ``X-Goog-Api-Key``, and a ``key``/``auth_token``
query value equal to the client key) removed and the upstream key sent as ``X-Api-Key`` and
``Authorization: Bearer``; hop-by-hop headers dropped; the peer appended to ``X-Forwarded-For``.
Incoming: status and headers as the upstream sent them (hop-by-hop headers dropped), the body
streamed; a 2xx non-SSE body that is gzip without a ``Content-Encoding`` is unpacked. An upstream
that cannot be reached is a 502 with the legacy's body.
"""

from __future__ import annotations

import gzip
import zlib
from urllib.parse import quote_plus

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from quotio_gateway.clientinfo import peer_address
from quotio_gateway.dispatch import BEFORE_MIDDLEWARE_KEY, CORS_HEADERS, UPSTREAM_SERVER_KEY
from quotio_gateway.goquery import _query_unescape

from .state import AMP

log = structlog.get_logger("handlers.amp.upstream")

PROXY_ERROR_BODY = b'{"error":"amp_upstream_proxy_error","message":"Failed to reach Amp upstream"}'

_HOP_BY_HOP = ("Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
               "Te", "Trailer", "Transfer-Encoding", "Upgrade")
_CLIENT_CREDENTIALS = ("Authorization", "X-Api-Key", "X-Goog-Api-Key")
# Go's transport writes these itself from the URL and the body it sends.
_TRANSPORT_OWNED = ("Host", "Content-Length")

def _join_path(base: str, path: str) -> str:
    """``singleJoiningSlash``: exactly one ``/`` between the two parts."""
    if base.endswith("/") and path.startswith("/"):
        return base + path[1:]
    if not base.endswith("/") and not path.startswith("/") and base and path:
        return base + "/" + path
    return base + path


def _drop_client_key(query: str, name: str, client_key: str) -> str:
    """``removeQueryValuesMatching``: only when ``name`` is present is the query re-encoded, and
    then as Go's ``url.Values.Encode`` writes it (keys sorted, pairs Go cannot parse gone)."""
    if not client_key or not query:
        return query
    values: dict[str, list[str]] = {}
    for piece in query.split("&"):
        if not piece or ";" in piece:
            continue
        raw_key, _, raw_value = piece.partition("=")
        key, value = _query_unescape(raw_key), _query_unescape(raw_value)
        if key is None or value is None:
            continue
        values.setdefault(key, []).append(value)
    if name not in values:
        return query
    kept = [v for v in values[name] if v != client_key]
    if kept:
        values[name] = kept
    else:
        del values[name]
    return "&".join(f"{_escape(k)}={_escape(v)}" for k in sorted(values) for v in values[k])


def _escape(text: str) -> str:
    return quote_plus(text.encode("utf-8", "surrogateescape"), safe="")


def upstream_url(base: str, request: web.Request, client_key: str) -> str:
    target = base.strip()
    scheme_end = target.find("://")
    split_at = target.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    origin, target_path = (target[:split_at], target[split_at:]) if split_at >= 0 else (target, "")
    target_path, _, target_query = target_path.partition("?")
    path = _join_path(target_path, request.rel_url.raw_path)
    query = request.rel_url.raw_query_string
    if target_query and query:
        query = f"{target_query}&{query}"
    else:
        query = target_query or query
    query = _drop_client_key(query, "key", client_key)
    query = _drop_client_key(query, "auth_token", client_key)
    return origin + path + ("?" + query if query else "")


def _connection_named(headers: CIMultiDictProxy[str]) -> set[str]:
    names: set[str] = set()
    for value in headers.getall("Connection", ()):
        names.update(part.strip().lower() for part in value.split(",") if part.strip())
    return names


def outgoing_headers(request: web.Request, upstream_key: str) -> CIMultiDict[str]:
    dropped = {name.lower() for name in (*_HOP_BY_HOP, *_CLIENT_CREDENTIALS, *_TRANSPORT_OWNED)}
    dropped |= _connection_named(request.headers)
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers.items():
        if name.lower() not in dropped:
            headers.add(name, value)
    if request.headers.get("Te", "").lower() == "trailers":
        headers["Te"] = "trailers"
    prior = ", ".join(request.headers.getall("X-Forwarded-For", ()))
    peer = peer_address(request)
    if peer:
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    if upstream_key:
        headers["X-Api-Key"] = upstream_key
        headers["Authorization"] = f"Bearer {upstream_key}"
    return headers


def _maybe_gunzip(body: bytes) -> bytes | None:
    if body[:2] != b"\x1f\x8b":
        return None
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        log.warning("amp.upstream.gzip_undecodable")
        return None


async def proxy_request(request: web.Request, base_url: str, upstream_key: str, client_key: str,
                        body: bytes | None, *, cors: bool) -> web.StreamResponse:
    """Forward ``request`` (with ``body``, read already, or its own stream) to the Amp upstream.

    ``cors``: the answer carries the gateway's CORS headers ahead of the upstream's (the provider
    routes); without it none (the control-plane routes blank them)."""
    request[BEFORE_MIDDLEWARE_KEY] = True  # the CORS headers are decided here, not by the dispatcher
    url = upstream_url(base_url, request, client_key)
    headers = outgoing_headers(request, upstream_key)
    data: bytes | aiohttp.StreamReader | None = body
    if data is None and request.body_exists:
        data = request.content
    session = request.app[AMP].client_session()
    try:
        upstream = await session.request(request.method, url, headers=headers, data=data, allow_redirects=False,
                                         skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding",
                                                            "Content-Type"))
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        log.error("amp.upstream.unreachable", method=request.method, path=request.path, error=type(exc).__name__)
        answer = web.Response(status=502, body=PROXY_ERROR_BODY, headers={"Content-Type": "application/json"})
        if cors:
            for name, value in CORS_HEADERS:
                answer.headers[name] = value
        return answer
    async with upstream:
        return await _relay(request, upstream, cors=cors)


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse, *, cors: bool) -> web.StreamResponse:
    out: CIMultiDict[str] = CIMultiDict()
    if cors:
        for name, value in CORS_HEADERS:
            out.add(name, value)
    dropped = {name.lower() for name in _HOP_BY_HOP} | _connection_named(upstream.headers)
    for name, value in upstream.headers.items():
        if name.lower() not in dropped:
            out.add(name, value)
    status = upstream.status
    head = b""
    if (200 <= status < 300 and "Content-Encoding" not in upstream.headers
            and "text/event-stream" not in upstream.headers.get("Content-Type", "")):
        # Peek for gzip magic sent without a Content-Encoding (a misconfigured upstream).
        while len(head) < 2:
            more = await upstream.content.read(2 - len(head))
            if not more:
                break
            head += more
        if head == b"\x1f\x8b":
            body = head + await upstream.content.read()
            unpacked = _maybe_gunzip(body)
            if unpacked is not None:
                out.popall("Content-Length", None)
                return _whole(status, out, unpacked)
            return _whole(status, out, body)
    response = web.StreamResponse(status=status, headers=out)
    response[UPSTREAM_SERVER_KEY] = "Server" in out
    await response.prepare(request)
    try:
        if head:
            await response.write(head)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (TimeoutError, aiohttp.ClientError):
        # Go aborts the handler mid-body: the client sees the connection end early.
        log.warning("amp.upstream.body_cut", path=request.path)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


def _whole(status: int, headers: CIMultiDict[str], body: bytes) -> web.Response:
    # The legacy sets the unpacked length; aiohttp writes the length of the body it sends.
    headers.popall("Content-Length", None)
    answer = web.Response(status=status, body=body, headers=headers)
    answer[UPSTREAM_SERVER_KEY] = "Server" in headers
    return answer
