"""The ``redirect_url`` of ``POST /v0/management/oauth-callback`` read as Go's ``url.Parse`` reads it.

The legacy answers 400 ``invalid redirect_url`` exactly when ``url.Parse`` fails, and otherwise
takes ``state``/``code``/``error`` from ``URL.Query()``, which never fails: a malformed query pair
is just dropped. So what decides the answer is where ``url.Parse`` is strict (net/url, Go 1.24):

- any ASCII control character; a leading ``:`` (missing protocol scheme);
- without a scheme, a colon in the first path segment;
- in the authority: bad userinfo characters, a port that is not digits, a host byte Go would
  have to escape, an unclosed ``[``;
- a malformed ``%`` escape in the userinfo, host, path or fragment (not in the query); in the
  host only ``%25`` and escapes of bytes >= 0x80 are allowed.

A URL with a scheme and no ``/`` after it is opaque (``mailto:x``): Go checks nothing more.
"""

from __future__ import annotations

import re

__all__ = ["redirect_query"]

_CTL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Bytes below 0x80 that Go's shouldEscape(c, encodeHost) lets through unescaped.
_HOST_OK = re.compile(r"[A-Za-z0-9\-_.~!$&'()*+,;=:\[\]<>\"%\x80-\U0010ffff]*")
_USERINFO_OK = re.compile(r"[A-Za-z0-9\-._:~!$&'()*+,;=%@]*")
# In a host Go accepts only %25 and escapes of bytes >= 0x80.
_HOST_BAD_ESCAPE = re.compile(r"%(?!25|[89A-Fa-f][0-9A-Fa-f])")
_PORT_OK = re.compile(r"(:[0-9]*)?")


def _split_scheme(raw: str) -> tuple[str, str] | None:
    """Go's ``getScheme``: (scheme, rest); None for a leading ``:``."""
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            return (raw[:i], raw[i + 1:]) if i else None
        return "", raw
    return "", raw


def _host_ok(host: str) -> bool:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0 or _PORT_OK.fullmatch(host[end + 1:]) is None:
            return False
    else:
        colon = host.rfind(":")
        if colon >= 0 and _PORT_OK.fullmatch(host[colon:]) is None:
            return False
    return _HOST_OK.fullmatch(host) is not None and not _HOST_BAD_ESCAPE.search(host)


def _authority_ok(authority: str) -> bool:
    at = authority.rfind("@")
    if not _host_ok(authority[at + 1:]):
        return False
    if at < 0:
        return True
    userinfo = authority[:at]
    return _USERINFO_OK.fullmatch(userinfo) is not None and not _BAD_ESCAPE.search(userinfo)


def redirect_query(raw: str) -> str | None:
    """The raw query of ``raw`` (for :func:`quotio_gateway.goquery.go_query_first`), or None when
    Go's ``url.Parse`` refuses ``raw``."""
    if _CTL.search(raw):
        return None
    head, _, fragment = raw.partition("#")
    if _BAD_ESCAPE.search(fragment):
        return None
    split = _split_scheme(head)
    if split is None:
        return None
    scheme, rest = split
    if rest.endswith("?") and rest.count("?") == 1:
        rest, query = rest[:-1], ""
    else:
        rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return query  # opaque: Go validates nothing further
        if ":" in rest.partition("/")[0]:
            return None
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        authority, slash, path = rest[2:].partition("/")
        if not _authority_ok(authority):
            return None
        rest = slash + path
    if _BAD_ESCAPE.search(rest):
        return None
    return query
