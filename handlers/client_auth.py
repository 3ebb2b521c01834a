"""Client API-key authentication, as CLIProxyAPI's ``AuthMiddleware`` with the ``config-api-key``
provider applies it to ``/v1/*``, ``/v1beta/*`` and ``/api/provider/*``.

The key may come from five places, tried in order; the first one holding a configured key wins:
``Authorization`` (``Bearer <k>``, else the whole header value), ``X-Goog-Api-Key``, ``X-Api-Key``,
``?key=`` and ``?auth_token=``. With no ``api-keys`` configured every request is let through.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from quotio_gateway.goquery import go_query_first, raw_query
from quotio_gateway.management.responses import json_response

MISSING_KEY = "Missing API key"
INVALID_KEY = "Invalid API key"

def bearer_token(header: str) -> str:
    """``extractBearerToken``: ``Bearer <k>`` (scheme case-insensitive) gives ``k`` trimmed; any
    other shape gives the header unchanged."""
    if not header:
        return ""
    scheme, sep, rest = header.partition(" ")
    if not sep or scheme.lower() != "bearer":
        return header
    return rest.strip()


def authenticate(request: web.BaseRequest, api_keys: Sequence[str]) -> str | web.Response | None:
    """The matched key (the principal), ``None`` when no keys are configured (open access), or
    the exact 401 answer to send."""
    if not api_keys:
        return None
    keys = {key for key in api_keys if key}
    if not keys:
        # A key list of empty strings is a provider that handles nothing: Go then reports
        # "no credentials" whatever the request carries.
        return json_response(401, {"error": MISSING_KEY})
    authorization = request.headers.get("Authorization", "")
    bearer = bearer_token(authorization)
    if bearer and bearer in keys:
        return bearer  # the first source tried; the others are only read when it does not match
    google = request.headers.get("X-Goog-Api-Key", "")
    anthropic = request.headers.get("X-Api-Key", "")
    query = raw_query(request)
    query_key = go_query_first(query, "key")
    query_token = go_query_first(query, "auth_token")
    if not (authorization or google or anthropic or query_key or query_token):
        return json_response(401, {"error": MISSING_KEY})
    for candidate in (bearer, google, anthropic, query_key, query_token):
        if candidate and candidate in keys:
            return candidate
    return json_response(401, {"error": INVALID_KEY})
