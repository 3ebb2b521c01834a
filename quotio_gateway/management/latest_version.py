"""``GET /v0/management/latest-version``: the newest CLIProxyAPI release on GitHub
(``internal/api/handlers/management/config_basic.go`` GetLatestVersion).

One call to the ``releases/latest`` API (config.yaml's ``proxy-url``, 10 s, ``User-Agent:
CLIProxyAPI``); the answer is its ``tag_name``, else its ``name``. Failures are 502s whose ``error``
says which step failed. The ``message`` texts of ``request_failed`` and ``decode_failed`` describe
the failure in the gateway's words, not Go's (docs/compatibility.md).
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from ..appkeys import CONFIG_STORE
from ..gostrings import go_trim
from .github_client import github_api_url, github_client
from .responses import Field, GoJSONError, Struct, as_str, decode_body, gin_h, json_response

__all__ = ["LATEST_RELEASE_URL", "get_latest_version"]

LATEST_RELEASE_URL = "https://api.github.com/repos/router-for-me/CLIProxyAPI/releases/latest"
USER_AGENT = "CLIProxyAPI"
TIMEOUT_SECONDS = 10.0
_ERROR_BODY_LIMIT = 1024  # how much of a non-200 answer the message quotes
_RELEASE = Struct(Field("tag_name", as_str), Field("name", as_str))


def _failure(status: int, error: str, message: str) -> web.Response:
    return json_response(status, gin_h(error=error, message=message))


def _request_failed_message(url: str, exc: BaseException) -> str:
    # Go's *url.Error reads `Get "<url>": <cause>`; the cause is described as aiohttp saw it.
    if isinstance(exc, TimeoutError):
        cause = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    else:
        cause = str(exc) or type(exc).__name__
    return f'Get "{url}": {cause}'


async def get_latest_version(request: web.Request) -> web.StreamResponse:
    url = github_api_url(LATEST_RELEASE_URL)
    proxy_url = request.app[CONFIG_STORE].current.proxy_url or ""
    headers = {"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT}
    try:
        async with github_client(proxy_url, TIMEOUT_SECONDS) as client:
            try:
                response_cm = client.get(url, headers)
            except ValueError as exc:  # only an unusable override URL gets here
                return _failure(500, "request_create_failed", str(exc))
            async with response_cm as resp:
                if resp.status != 200:
                    head = await resp.content.read(_ERROR_BODY_LIMIT)
                    text = go_trim(head.decode("utf-8", errors="replace"))
                    return _failure(502, "unexpected_status", f"status {resp.status}: {text}")
                body = await resp.read()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return _failure(502, "request_failed", _request_failed_message(url, exc))
    try:
        info = decode_body(body, _RELEASE, whole=False) or {}
    except GoJSONError as exc:
        return _failure(502, "decode_failed", str(exc))
    version = go_trim(info.get("tag_name", "")) or go_trim(info.get("name", ""))
    if not version:
        return _failure(502, "invalid_response", "missing release version")
    return json_response(200, {"latest-version": version})
