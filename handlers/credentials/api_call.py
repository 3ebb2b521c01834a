"""``POST /v0/management/api-call``: an HTTP call made for the management caller with a chosen
credential's token (``internal/api/handlers/management/api_tools.go``). The Quotio app warms
Antigravity accounts up with it.

The credential is picked by ``auth_index`` (as ``GET /auth-files`` lists it, or an API key's);
``$TOKEN$`` in a header value becomes its token: for Gemini CLI and Antigravity a current access
token (refreshed when due), for the others what the file holds (``accessToken``, ``access_token``,
``token``, ``id_token``, ``cookie``) or the API key. The call goes through the credential's proxy,
else config.yaml's ``proxy-url``, else directly (environment proxies are not used).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from handlers.auth.credential import stable_index
from handlers.providers.base import credentials_from_config
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.gostrings import go_canonical_header_key, go_trim
from quotio_gateway.management.responses import (
    Field,
    GoJSONError,
    Struct,
    as_str,
    decode_body,
    error_response,
    json_response,
    map_of,
)

from .views import auth_entries
from .wiring import CREDENTIALS

__all__ = ["api_call"]

TIMEOUT = aiohttp.ClientTimeout(total=60)  # defaultAPICallTimeout
# net/http refuses a method that is not an HTTP token before anything is sent.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_ESCAPED = re.compile("[\udc80-\udcff]")
_REFRESHED = frozenset({"gemini-cli", "antigravity"})
_BODY = Struct(Field("auth_index", as_str), Field("authIndex", as_str), Field("AuthIndex", as_str),
               Field("method", as_str), Field("url", as_str), Field("header", map_of(as_str), nilable=True),
               Field("data", as_str))


def _metadata_token(meta: Mapping[str, Any]) -> str:
    """``tokenValueFromMetadata``."""
    for key in ("accessToken", "access_token"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    nested = meta.get("token")
    if isinstance(nested, dict):
        for key in ("access_token", "accessToken"):
            value = nested.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    for key in ("token", "id_token", "cookie"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@dataclass(frozen=True, slots=True)
class _Picked:
    """The credential an ``auth_index`` names: its proxy, and how to get its token."""

    proxy: str
    token: Callable[[], Awaitable[str]]


def _pick(request: web.Request, auth_index: str) -> _Picked | None:
    """``authByIndex``: the file or project entry (as ``GET /auth-files`` lists them), else a
    config API key, whose index matches."""
    if not auth_index:
        return None
    services = request.app.get(CREDENTIALS)
    if services is not None:
        runtime = services.runtime
        for credential in runtime.files():
            for entry in auth_entries(credential):
                if entry.auth_index != auth_index:
                    continue
                view = runtime.get(entry.id)
                if credential.provider in _REFRESHED and view is not None:
                    return _Picked(view.proxy_url or credential.proxy_url, view.tokens.access_token)

                async def from_file(meta: Mapping[str, Any] = credential.metadata) -> str:
                    return _metadata_token(meta)
                return _Picked(credential.proxy_url, from_file)
    for keyed in credentials_from_config(request.app[CONFIG_STORE].current):
        if keyed.api_key and stable_index("api_key:" + keyed.api_key) == auth_index:

            async def from_key(key: str = keyed.api_key) -> str:
                return key
            return _Picked(keyed.proxy_url, from_key)
    return None


def _go_string(raw: bytes) -> str:
    """``string(respBody)`` through Go's JSON encoder: each byte of invalid UTF-8 becomes U+FFFD."""
    return _ESCAPED.sub("\ufffd", raw.decode("utf-8", "surrogateescape"))


def _gunzip(raw: bytes) -> bytes:
    """Go's gzip reader: gzip framing only, members read one after another until the end."""
    out: list[bytes] = []
    while raw:
        unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(unpacker.decompress(raw))
        if not unpacker.eof:
            raise zlib.error("unexpected EOF")
        raw = unpacker.unused_data
    return b"".join(out)


async def api_call(request: web.Request) -> web.StreamResponse:
    try:
        body = decode_body(await request.read(), _BODY, whole=False) or {}
    except GoJSONError:
        return error_response(400, "invalid body")
    method = go_trim(body.get("method", "")).upper()
    if not method:
        return error_response(400, "missing method")
    raw_url = go_trim(body.get("url", ""))
    if not raw_url:
        return error_response(400, "missing url")
    try:
        url = URL(raw_url, encoded=True)
    except ValueError:
        url = None
    if url is None or not url.scheme or not url.host:
        return error_response(400, "invalid url")
    auth_index = next((go_trim(body[k]) for k in ("auth_index", "authIndex", "AuthIndex")
                       if go_trim(body.get(k, ""))), "")
    picked = _pick(request, auth_index)
    headers: dict[str, str] = dict(body.get("header") or {})
    token: str | None = None
    for name, value in list(headers.items()):
        if "$TOKEN$" not in value:
            continue
        if token is None:
            try:
                token = await picked.token() if picked is not None else ""
            except Exception:
                return error_response(400, "auth token refresh failed")
        if picked is not None and not token:
            return error_response(400, "auth token not found")
        if token:
            headers[name] = value.replace("$TOKEN$", token)
    host = next((go_trim(v) for k, v in headers.items() if k.lower() == "host"), "")
    out_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
    if host:
        out_headers["Host"] = host
    proxy = (picked.proxy if picked is not None else "") or str(
        getattr(request.app[CONFIG_STORE].current, "proxy_url", "") or "")
    if not _TOKEN.match(method):
        return error_response(400, "failed to build request")
    # Go's transport asks for gzip itself only when the caller did not name an encoding (nor a
    # Range, nor HEAD), and only then unpacks the answer and drops its encoding and length.
    added_gzip = method != "HEAD" and not any(k.lower() in ("accept-encoding", "range") for k in out_headers)
    if added_gzip:
        out_headers["Accept-Encoding"] = "gzip"
    data = body.get("data") or None
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT, trust_env=False, auto_decompress=False) as session, \
                session.request(method, url, headers=out_headers, data=data.encode() if data else None,
                                proxy=go_trim(proxy) or None, allow_redirects=True,
                                skip_auto_headers=("Accept-Encoding",)) as resp:
            unpack = added_gzip and resp.headers.get("Content-Encoding", "").lower() == "gzip"
            try:
                answer = await resp.read()
                if unpack:
                    answer = _gunzip(answer)
            except (aiohttp.ClientError, TimeoutError, zlib.error):
                return error_response(502, "failed to read response")
            grouped: dict[str, list[str]] = {}
            for name, value in resp.headers.items():
                if unpack and name.lower() in ("content-encoding", "content-length"):
                    continue
                grouped.setdefault(go_canonical_header_key(name), []).append(value)
            # Go marshals the header map with its keys sorted.
            return json_response(200, {"status_code": resp.status, "header": {k: grouped[k] for k in sorted(grouped)},
                                       "body": _go_string(answer)})
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return error_response(502, "request failed")
