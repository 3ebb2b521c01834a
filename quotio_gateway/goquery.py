"""Go's reading of a query string (``url.ParseQuery`` / ``URL.Query().Get``), which Gin's
``c.Query`` uses: a pair holding ``;`` or a malformed ``%`` escape is dropped, ``+`` is a space.
aiohttp keeps such pairs, so routes that answer as the legacy does read their query here."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from aiohttp import web

_HEX = frozenset("0123456789abcdefABCDEF")


def _query_unescape(text: str) -> str | None:
    """``url.QueryUnescape``: ``+`` is a space; a malformed ``%`` escape rejects the pair."""
    at = text.find("%")
    while at != -1:
        if at + 2 >= len(text) or text[at + 1] not in _HEX or text[at + 2] not in _HEX:
            return None
        at = text.find("%", at + 3)
    raw = unquote_to_bytes(text.replace("+", " "))
    # Invalid UTF-8 survives as surrogates so it can never equal a configured key.
    return raw.decode("utf-8", "surrogateescape")


def go_query_first(query: str, name: str) -> str:
    """``r.URL.Query().Get(name)``: Go's parser skips pairs containing ``;`` or a bad escape."""
    value = go_query_lookup(query, name)
    return "" if value is None else value


def go_query_lookup(query: str, name: str) -> str | None:
    """Gin's ``c.GetQuery(name)``: the first value Go's parser keeps, or None when it keeps no
    pair of that name (a dropped pair does not count as present)."""
    if not query:
        return None
    for piece in query.split("&"):
        if not piece or ";" in piece:
            continue
        raw_key, _, raw_value = piece.partition("=")
        key = _query_unescape(raw_key)
        if key is None:
            continue
        value = _query_unescape(raw_value)
        if value is None:
            continue
        if key == name:
            return value
    return None


def raw_query(request: web.BaseRequest) -> str:
    # A request target has no fragment to Go (ParseRequestURI), so a "#" stays in the query.
    return request.raw_path.partition("?")[2]


def query_value(request: web.BaseRequest, name: str) -> str:
    """Gin's ``c.Query(name)``: the first value Go's parser keeps, "" when there is none."""
    return go_query_first(raw_query(request), name)
