"""Outgoing calls the management side makes to GitHub: the latest gateway release and the control
panel's release asset (``GET /v0/management/latest-version``, ``panel_asset.py``).

Proxies as the legacy's ``util.SetProxy`` picks them: config.yaml's ``proxy-url`` when its scheme is
``http``, ``https`` or ``socks5``; otherwise (empty, another scheme, unparsable) Go's default
transport, which asks the environment (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``, never for a
loopback host; see ``handlers/providers/env_proxy.py``). No cookie jar, as Go's bare client has none.

``QUOTIO_GATEWAY_GITHUB_API_URL`` (read on every call) sends what would go to
``https://api.github.com`` to another origin instead, keeping the path. It exists so the tests can
play GitHub on a loopback port (the legacy has the URLs as constants); unset, nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from aiohttp_socks import ProxyConnector
from yarl import URL

if TYPE_CHECKING:
    from handlers.providers.env_proxy import EnvProxy

__all__ = ["GITHUB_API", "GITHUB_API_ENV", "GitHubClient", "github_api_url", "github_client"]

GITHUB_API = "https://api.github.com"
GITHUB_API_ENV = "QUOTIO_GATEWAY_GITHUB_API_URL"


def github_api_url(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``url`` itself, or, when the override is set and ``url`` is on api.github.com, the same path
    on the override's origin."""
    override = (os.environ if environ is None else environ).get(GITHUB_API_ENV, "").strip().rstrip("/")
    if not override:
        return url
    parts = urlsplit(url)
    if (parts.hostname or "").lower() != "api.github.com":
        return url
    rest = url[len(f"{parts.scheme}://{parts.netloc}"):]
    return override + rest


def _configured_proxy(proxy_url: str) -> tuple[str, str]:
    """(scheme, url) of a ``proxy-url`` the legacy would use; ("", "") means the default transport."""
    proxy_url = proxy_url.strip()
    if not proxy_url:
        return "", ""
    try:
        scheme = urlsplit(proxy_url).scheme.lower()
    except ValueError:
        return "", ""
    if scheme in ("http", "https", "socks5"):
        return scheme, proxy_url
    return "", ""


class GitHubClient:
    """One session for one check (the legacy makes a fresh ``http.Client`` each time)."""

    def __init__(self, session: aiohttp.ClientSession, proxy: str | None, env: EnvProxy | None) -> None:
        self._session = session
        self._proxy = proxy
        self._env = env

    def get(self, url: str, headers: Mapping[str, str]) -> aiohttp.client._RequestContextManager:
        target = URL(url)
        proxy = self._proxy
        if self._env is not None:
            proxy = self._env.proxy_for(target.scheme, target.host or "", target.explicit_port) or None
        return self._session.get(target, headers=dict(headers), proxy=proxy)


@asynccontextmanager
async def github_client(proxy_url: str, seconds: float) -> AsyncIterator[GitHubClient]:
    """A client whose every request (redirects included) is bounded by ``seconds``, as
    Go's ``http.Client.Timeout`` bounds each ``Do`` and its body read."""
    scheme, configured = _configured_proxy(proxy_url)
    connector: aiohttp.BaseConnector | None = ProxyConnector.from_url(configured) if scheme == "socks5" else None
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=seconds),
                                    cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("Accept",),
                                    trust_env=False)
    try:
        if scheme in ("http", "https"):
            yield GitHubClient(session, configured, None)
        elif scheme == "socks5":
            yield GitHubClient(session, None, None)
        else:
            # Imported here: handlers.providers imports the management package (a cycle at import).
            from handlers.providers.env_proxy import EnvProxy

            yield GitHubClient(session, None, EnvProxy.from_environ(os.environ))
    finally:
        await session.close()
