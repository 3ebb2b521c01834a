"""Following an upstream's redirect the way the legacy's Go ``http.Client`` does (sans-io).

Every legacy executor sends through an ``http.Client`` with the default redirect policy, so a
base URL that answers 301/302/303/307/308 with a ``Location`` (an ``http://`` endpoint a proxy
upgrades to https, a moved path) is followed, at most 10 times:

* 307 and 308 repeat the request with its method and the original body;
* 301, 302 and 303 turn anything but GET and HEAD into a GET without a body, and the headers that
  describe a body (``Content-Type``, ``Content-Encoding``, ``Content-Language``,
  ``Content-Location``) are not sent again;
* the headers are those of the first request; credentials in ``Authorization``, ``Cookie`` and
  their kin are dropped for good once the chain leaves the first host and its subdomains (API-key
  headers such as ``x-api-key`` are not in Go's list and go along);
* ``Referer`` names the previous URL (without user info), except from https to http.

A 3xx without ``Location`` is the answer itself, as in Go.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urljoin, urlsplit, urlunsplit

from .base import PreparedRequest

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10

_SENSITIVE = frozenset({"authorization", "www-authenticate", "cookie", "cookie2", "proxy-authorization",
                        "proxy-authenticate"})
_BODY_HEADERS = frozenset({"content-encoding", "content-language", "content-location", "content-type"})


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _domain_or_subdomain(sub: str, parent: str) -> bool:
    """Go's ``isDomainOrSubdomain``: the same host, or a name under it (never for IPv6 literals)."""
    if sub == parent:
        return True
    if ":" in sub:
        return False
    return sub.endswith("." + parent)


def _referer(last: str, new: str, explicit: str) -> str:
    """Go's ``refererForURL``: nothing from https to http, else the request's own Referer, else
    the previous URL without user info."""
    last_parts = urlsplit(last)
    if last_parts.scheme == "https" and urlsplit(new).scheme == "http":
        return ""
    if explicit:
        return explicit
    netloc = last_parts.netloc.rpartition("@")[2]
    return urlunsplit(last_parts._replace(netloc=netloc))


class RedirectChain:
    """The state of one call's redirects: ``follow`` gives the next request or None to stop."""

    __slots__ = ("_hops", "_initial", "_strip_sensitive")

    def __init__(self, initial: PreparedRequest) -> None:
        self._initial = initial
        self._hops = 0
        self._strip_sensitive = False

    @property
    def exhausted(self) -> bool:
        """Go's ``defaultCheckRedirect``, asked after ``follow``: a redirect answering the tenth
        request is an error (``stopped after 10 redirects``), not an eleventh request."""
        return self._hops >= MAX_REDIRECTS

    def follow(self, current: PreparedRequest, status: int, location: str) -> PreparedRequest | None:
        """The request the redirect asks for, or None when ``status``/``location`` is not one."""
        if status not in REDIRECT_STATUSES or not location:
            return None
        initial = self._initial
        if status in (307, 308):
            method, include_body = current.method, True
        else:
            method = current.method if current.method in ("GET", "HEAD") else "GET"
            include_body = False
        url = urljoin(current.url, location)
        if not self._strip_sensitive and urlsplit(initial.url).netloc != urlsplit(url).netloc \
                and not _domain_or_subdomain(_host(url), _host(initial.url)):
            self._strip_sensitive = True
        headers = [(name, value) for name, value in initial.headers
                   if not (self._strip_sensitive and name.lower() in _SENSITIVE)
                   and not (not include_body and name.lower() in _BODY_HEADERS)]
        explicit = next((value for name, value in headers if name.lower() == "referer"), "")
        referer = _referer(current.url, url, explicit)
        if referer:
            headers = [(name, value) for name, value in headers if name.lower() != "referer"]
            headers.append(("Referer", referer))
        self._hops += 1
        return replace(initial, method=method, url=url, headers=tuple(headers),
                       body=initial.body if include_body else b"")
