"""Routes the legacy guards by its TCP peer, answered here when the gateway forwards them.

Behind the gateway every connection the legacy server sees comes from the gateway itself on
127.0.0.1, so a check on ``RemoteAddr`` there always passes. Two routes rely on one:

* ``POST /v1internal:<method>`` (Gemini CLI's internal API, no API key) answers any peer other
  than ``127.0.0.1`` with 403 (gemini-cli_handlers.go:52-59).
* The Amp management routes, with ``ampcode.restrict-management-to-localhost`` on and an Amp
  upstream configured, answer a peer that is not a loopback address with 403
  (amp/routes.go:53-91); the availability check (503 without an upstream) comes first, and an
  OPTIONS request is refused by the CORS check before this one.

The gateway applies the same rule to its own client socket before a request goes to the legacy,
so a remote client gets the legacy's own 403 instead of the legacy's service.
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import web

from ..config.models import Config
from ..management.responses import json_response

_CLI_PREFIX = "/v1internal"

# Gin patterns of the Amp management routes (routes.go:109-152): ``/api/<name>`` and
# ``/api/<name>/*path`` for any method, the root-level GETs, and ``/auth`` for any method.
_AMP_API = re.compile(r"/api/(?:internal|user|auth|meta|telemetry|threads|otel|tab)(?:/.*)?|/api/ads")
_AMP_ROOT_GET = re.compile(r"/(?:threads|docs|settings)(?:/.*)?|/threads\.rss|/news\.rss")
_AMP_ROOT_ANY = re.compile(r"/auth(?:/.*)?")


def is_cli_route(method: str, path: str) -> bool:
    """Gin's ``POST /v1internal:method``: a non-empty piece right after the literal, no ``/``."""
    rest = path[len(_CLI_PREFIX):] if path.startswith(_CLI_PREFIX) else ""
    return method == "POST" and bool(rest) and "/" not in rest


def cli_peer_allowed(peer: str) -> bool:
    """``strings.HasPrefix(RemoteAddr, "127.0.0.1:")``: IPv4 127.0.0.1 only, not ``::1``."""
    return peer == "127.0.0.1"


def cli_refusal() -> web.Response:
    return json_response(403, {"error": {"message": "CLI reply only allow local access", "type": "forbidden"}})


def is_amp_control_route(method: str, path: str) -> bool:
    """The Amp control-plane passthrough routes (not the provider aliases)."""
    if _AMP_API.fullmatch(path) or _AMP_ROOT_ANY.fullmatch(path):
        return True
    return method == "GET" and _AMP_ROOT_GET.fullmatch(path) is not None


def loopback_peer(peer: str) -> bool:
    """``net.IP.IsLoopback`` of a socket peer (127.0.0.0/8, ::1); an unparsable one is not."""
    try:
        address = ipaddress.ip_address(peer.partition("%")[0])
    except ValueError:
        return False
    # Go sees a v4 client of a dual-stack socket as its v4 address.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def _amp_guarded(method: str, path: str, cfg: Config) -> bool:
    amp = cfg.ampcode
    return (amp.restrict_management_to_localhost and bool(amp.upstream_url.strip()) and method != "OPTIONS"
            and is_amp_control_route(method, path))


def guarded(method: str, path: str, cfg: Config) -> bool:
    """Whether the legacy decides this request by its peer address (so the gateway must)."""
    return is_cli_route(method, path) or _amp_guarded(method, path, cfg)


def refusal(method: str, path: str, peer: str, cfg: Config) -> web.Response | None:
    """The legacy's 403 for this client socket address, or None when the legacy would serve it."""
    if is_cli_route(method, path):
        return None if cli_peer_allowed(peer) else cli_refusal()
    if _amp_guarded(method, path, cfg) and not loopback_peer(peer):
        return json_response(403, {"error": "Access denied: management routes restricted to localhost"})
    return None
