"""Who is calling: the peer address (or a trusted proxy's claim) and the client key for stickiness."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import NamedTuple

from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def parse_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def peer_address(request: web.Request) -> str:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


def is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    if not trusted or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in parse_networks(trusted))


class ClientAddress(NamedTuple):
    ip: str  # the client, as far as we can believe it
    trusted_peer: bool  # the socket peer is one of server.trusted_proxies
    peer: str  # the socket peer itself (the hop X-Forwarded-For records)


def client_address(request: web.Request, trusted: tuple[str, ...]) -> ClientAddress:
    """Forwarding headers count only from trusted peers."""
    peer = peer_address(request)
    if not is_trusted(peer, trusted):
        return ClientAddress(peer, False, peer)
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        # Walk right to left past our own trusted proxies; the first other hop is the client.
        for hop in reversed(hops):
            if not is_trusted(hop, trusted):
                return ClientAddress(hop, True, peer)
        if hops:
            return ClientAddress(hops[0], True, peer)
    real = request.headers.get("X-Real-IP", "").strip()
    return ClientAddress(real or peer, True, peer)


def client_key(request: web.Request) -> str | None:
    """The client's API key from the same sources CLIProxyAPI accepts, in its order."""
    auth = request.headers.get("Authorization")
    if auth:
        scheme, _, rest = auth.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" and rest.strip() else auth
    for header in ("X-Goog-Api-Key", "X-Api-Key"):
        value = request.headers.get(header)
        if value:
            return value
    query = request.rel_url.query
    return query.get("key") or query.get("auth_token") or None


class LazyClientAddress:
    """``client_address`` worked out on first use: a request answered natively never asks (only
    the legacy forwarder and canary stickiness do), and the peer lookup and proxy check are a
    visible part of a native request's cost."""

    __slots__ = ("_request", "_trusted", "_value")

    def __init__(self, request: web.Request, trusted: tuple[str, ...]) -> None:
        self._request = request
        self._trusted = trusted
        self._value: ClientAddress | None = None

    def _get(self) -> ClientAddress:
        if self._value is None:
            self._value = client_address(self._request, self._trusted)
        return self._value

    @property
    def ip(self) -> str:
        return self._get().ip

    @property
    def trusted_peer(self) -> bool:
        return self._get().trusted_peer

    @property
    def peer(self) -> str:
        return self._get().peer
