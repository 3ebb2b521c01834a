"""The proxy the environment names for an upstream call that has no ``proxy-url`` of its own.

The legacy's executors use Go's default transport when neither the credential nor the config
sets a proxy, and that transport asks ``http.ProxyFromEnvironment``: ``HTTPS_PROXY`` for https
URLs, ``HTTP_PROXY`` for http ones (upper case first, then lower case), ``NO_PROXY`` for the
exceptions, and never a proxy for ``localhost`` or a loopback address. Go reads the variables once
per process; so does ``EnvProxy.from_environ`` when the upstream client is made.

Rules as ``golang.org/x/net/http/httpproxy`` has them: a proxy value without a scheme is read as
``http://``; ``NO_PROXY`` is a comma list of ``*`` (no proxy at all), IP addresses and CIDR ranges,
and domain names with an optional port, where ``example.com`` also covers its subdomains and
``.example.com`` / ``*.example.com`` only them; with ``REQUEST_METHOD`` set (a CGI process)
``HTTP_PROXY`` is not used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _first(environ: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = environ.get(name, "")
        if value:
            return value
    return ""


def _proxy_url(value: str) -> str:
    """Go's ``parseProxy``: a value with no scheme or host is tried again as ``http://value``."""
    if not value:
        return ""
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return "http://" + value
    return value


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _split_host_port(entry: str) -> tuple[str, str] | None:
    """``net.SplitHostPort`` for the forms NO_PROXY entries take; None when there is no port."""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if bracket and rest.startswith(":"):
            return host, rest[1:]
        return None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return None


@dataclass(frozen=True, slots=True)
class _Domain:
    suffix: str  # always starts with "."
    port: str
    match_host: bool  # the bare domain matches too, not only its subdomains

    def matches(self, host: str, port: str) -> bool:
        if host.endswith(self.suffix) or (self.match_host and host == self.suffix[1:]):
            return not self.port or self.port == port
        return False


@dataclass(frozen=True, slots=True)
class EnvProxy:
    http: str = ""
    https: str = ""
    cgi: bool = False
    no_proxy_all: bool = False
    networks: tuple[IPNetwork, ...] = ()
    addresses: tuple[tuple[IPAddress, str], ...] = ()
    domains: tuple[_Domain, ...] = field(default=())

    @property
    def active(self) -> bool:
        return bool(self.http or self.https)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EnvProxy:
        http = _proxy_url(_first(environ, "HTTP_PROXY", "http_proxy"))
        https = _proxy_url(_first(environ, "HTTPS_PROXY", "https_proxy"))
        cgi = bool(environ.get("REQUEST_METHOD", ""))
        networks: list[IPNetwork] = []
        addresses: list[tuple[IPAddress, str]] = []
        domains: list[_Domain] = []
        for raw in _first(environ, "NO_PROXY", "no_proxy").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                return cls(http, https, cgi, no_proxy_all=True)
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    pass
                else:
                    continue
            split = _split_host_port(entry)
            host, port = split if split is not None else (entry, "")
            if split is not None and not host:
                continue  # ":80" names no host: Go skips it
            address = _ip(host)
            if address is not None:
                addresses.append((address, port))
                continue
            if host.startswith("*."):
                host = host[1:]
            match_host = not host.startswith(".")
            domains.append(_Domain(host if not match_host else "." + host, port, match_host))
        return cls(http, https, cgi, False, tuple(networks), tuple(addresses), tuple(domains))

    def proxy_for(self, scheme: str, host: str, port: int | None) -> str:
        """The proxy URL for a call to ``scheme://host:port``, or "" to connect directly."""
        if scheme == "https":
            proxy = self.https
        elif scheme == "http":
            proxy = "" if self.cgi else self.http
        else:
            proxy = ""
        if not proxy or not self._use_proxy(host.lower(), str(port or _DEFAULT_PORTS.get(scheme, ""))):
            return ""
        return proxy

    def _use_proxy(self, host: str, port: str) -> bool:
        if host == "localhost":
            return False
        address = _ip(host)
        if address is not None and address.is_loopback:
            return False
        if self.no_proxy_all:
            return False
        if address is not None:
            if any(address in network for network in self.networks):
                return False
            if any(address == listed and (not want or want == port) for listed, want in self.addresses):
                return False
        return not any(domain.matches(host, port) for domain in self.domains)
