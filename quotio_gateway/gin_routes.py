"""CLIProxyAPI v6.7.15's Gin route table, and what Gin answers for a path outside it.

The gateway answers a path it has no handler for itself whenever no legacy server takes the
request (the route is native, or no legacy is configured). What the client sees must then be what
Gin's defaults give (surface §1): a path that a route of the same method matches once a trailing
slash is added or removed is redirected there (``RedirectTrailingSlash``: 301 for GET, 307 for
any other method, before any middleware runs, so without CORS headers); everything else is the
plain ``404 page not found``. A path the legacy does serve, but the gateway cannot, is the
forwarder's business (503 when there is no legacy server), not a 404.

Routes: ``internal/api/server.go`` (setupRoutes, AttachWebsocketRoute's default path,
registerManagementRoutes, which runs once a management secret exists) and
``internal/api/modules/amp/routes.go`` (always registered). Gin syntax: ``:name`` is one non-empty
path piece up to the next ``/``; ``/*name`` is the rest of the path from that ``/`` on.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from aiohttp import web

# gin's anyMethods: what engine.Any / group.Any register.
_ANY = ("GET", "POST", "PUT", "PATCH", "HEAD", "OPTIONS", "DELETE", "CONNECT", "TRACE")

_CORE: tuple[tuple[str, str], ...] = (
    ("GET", "/management.html"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/messages/count_tokens"),
    ("POST", "/v1/responses"),
    ("GET", "/v1beta/models"),
    ("POST", "/v1beta/models/*action"),
    ("GET", "/v1beta/models/*action"),
    ("GET", "/"),
    ("POST", "/v1internal:method"),
    ("GET", "/anthropic/callback"),
    ("GET", "/codex/callback"),
    ("GET", "/google/callback"),
    ("GET", "/iflow/callback"),
    ("GET", "/antigravity/callback"),
    ("GET", "/v1/ws"),
)

_AMP_PROXIED = ("internal", "user", "auth", "meta", "telemetry", "threads", "otel", "tab")


def _amp() -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    for name in _AMP_PROXIED:
        routes += [(m, f"/api/{name}") for m in _ANY] + [(m, f"/api/{name}/*path") for m in _ANY]
    routes += [(m, "/api/ads") for m in _ANY]
    routes += [(m, "/api/provider/google/v1beta1/*path") for m in _ANY]
    for name in ("threads", "docs", "settings"):
        routes += [("GET", f"/{name}"), ("GET", f"/{name}/*path")]
    routes += [("GET", "/threads.rss"), ("GET", "/news.rss")]
    routes += [(m, "/auth") for m in _ANY] + [(m, "/auth/*path") for m in _ANY]
    provider = "/api/provider/:provider"
    routes += [("GET", f"{provider}/models"), ("POST", f"{provider}/chat/completions"),
               ("POST", f"{provider}/completions"), ("POST", f"{provider}/responses"),
               ("GET", f"{provider}/v1/models"), ("POST", f"{provider}/v1/chat/completions"),
               ("POST", f"{provider}/v1/completions"), ("POST", f"{provider}/v1/responses"),
               ("POST", f"{provider}/v1/messages"), ("POST", f"{provider}/v1/messages/count_tokens"),
               ("GET", f"{provider}/v1beta/models"), ("POST", f"{provider}/v1beta/models/*action"),
               ("GET", f"{provider}/v1beta/models/*action")]
    return routes


_MANAGEMENT_PATHS: tuple[tuple[str, str], ...] = (
    ("GET", "usage"), ("GET", "usage/export"), ("POST", "usage/import"),
    ("GET", "config"), ("GET", "config.yaml"), ("PUT", "config.yaml"), ("GET", "latest-version"),
    ("GET PUT PATCH", "debug"), ("GET PUT PATCH", "logging-to-file"), ("GET PUT PATCH", "logs-max-total-size-mb"),
    ("GET PUT PATCH", "usage-statistics-enabled"), ("GET PUT PATCH DELETE", "proxy-url"), ("POST", "api-call"),
    ("GET PUT PATCH", "quota-exceeded/switch-project"), ("GET PUT PATCH", "quota-exceeded/switch-preview-model"),
    ("GET PUT PATCH DELETE", "api-keys"), ("GET PUT PATCH DELETE", "gemini-api-key"), ("GET DELETE", "logs"),
    ("GET", "request-error-logs"), ("GET", "request-error-logs/:name"), ("GET", "request-log-by-id/:id"),
    ("GET PUT PATCH", "request-log"), ("GET PUT PATCH", "ws-auth"), ("GET", "ampcode"),
    ("GET PUT PATCH DELETE", "ampcode/upstream-url"), ("GET PUT PATCH DELETE", "ampcode/upstream-api-key"),
    ("GET PUT PATCH", "ampcode/restrict-management-to-localhost"),
    ("GET PUT PATCH DELETE", "ampcode/model-mappings"), ("GET PUT PATCH", "ampcode/force-model-mappings"),
    ("GET PUT PATCH DELETE", "ampcode/upstream-api-keys"), ("GET PUT PATCH", "request-retry"),
    ("GET PUT PATCH", "max-retry-interval"), ("GET PUT PATCH", "force-model-prefix"),
    ("GET PUT PATCH", "routing/strategy"), ("GET PUT PATCH DELETE", "claude-api-key"),
    ("GET PUT PATCH DELETE", "codex-api-key"), ("GET PUT PATCH DELETE", "openai-compatibility"),
    ("GET PUT PATCH DELETE", "vertex-api-key"), ("GET PUT PATCH DELETE", "oauth-excluded-models"),
    ("GET PUT PATCH DELETE", "oauth-model-alias"), ("GET POST DELETE", "auth-files"), ("GET", "auth-files/models"),
    ("GET", "auth-files/download"), ("POST", "vertex/import"), ("GET", "anthropic-auth-url"),
    ("GET", "codex-auth-url"), ("GET", "gemini-cli-auth-url"), ("GET", "antigravity-auth-url"),
    ("GET", "qwen-auth-url"), ("GET POST", "iflow-auth-url"), ("POST", "oauth-callback"), ("GET", "get-auth-status"),
)


def _management() -> list[tuple[str, str]]:
    return [(method, f"/v0/management/{path}") for methods, path in _MANAGEMENT_PATHS for method in methods.split()]


def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    for piece in re.split(r"(:[A-Za-z_]+|/\*[A-Za-z_]+$)", pattern):
        if piece.startswith(":"):
            out.append("[^/]+")
        elif piece.startswith("/*"):
            out.append("/.*")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out) + r"\Z")


class RouteTable:
    """Which (method, path) pairs a set of Gin routes matches."""

    def __init__(self, routes: Iterable[tuple[str, str]]) -> None:
        by_method: dict[str, list[re.Pattern[str]]] = {}
        for method, pattern in routes:
            by_method.setdefault(method, []).append(_compile(pattern))
        self._by_method = by_method

    def matches(self, method: str, path: str) -> bool:
        return any(p.match(path) for p in self._by_method.get(method, ()))


LEGACY = RouteTable((*_CORE, *_amp()))
MANAGEMENT = RouteTable(_management())


def legacy_serves(method: str, path: str, *, management: bool) -> bool:
    """Whether CLIProxyAPI has a route for this request (``management``: a secret is set)."""
    return LEGACY.matches(method, path) or (management and MANAGEMENT.matches(method, path))


def trailing_slash_target(method: str, path: str, *, management: bool) -> str | None:
    """The path Gin redirects an unmatched request to, or None (``404 page not found``)."""
    if method == "CONNECT" or path == "/" or legacy_serves(method, path, management=management):
        return None
    other = path[:-1] if path.endswith("/") else path + "/"
    return other if legacy_serves(method, other, management=management) else None


def _path_clean(path: str) -> str:
    """Go's ``path.Clean`` (POSIX keeps a leading ``//``; Go does not)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _redirect_clean(path: str) -> str:
    """``path.Clean`` keeping a trailing slash, as ``http.Redirect`` does with a local URL."""
    cleaned = _path_clean(path)
    return cleaned + "/" if path.endswith("/") and not cleaned.endswith("/") else cleaned


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})
_UNSAFE_PREFIX = re.compile(r"[^a-zA-Z0-9/-]+")
_REPEATED_SLASH = re.compile(r"/{2,}")


def redirect_response(method: str, raw_path_qs: str, forwarded_prefix: str, *, management: bool,
                      decoded_path: str) -> web.Response | None:
    """Gin's trailing-slash redirect for this request, or None when Gin would not redirect.

    ``decoded_path`` decides (Gin matches the decoded path); the Location keeps the request's own
    encoding and query, as ``req.URL.String()`` does, behind a cleaned ``X-Forwarded-Prefix``.
    """
    if trailing_slash_target(method, decoded_path, management=management) is None:
        return None
    raw_path, mark, query = raw_path_qs.partition("?")
    prefix = _path_clean(forwarded_prefix)
    if prefix != ".":
        raw_path = _REPEATED_SLASH.sub("/", _UNSAFE_PREFIX.sub("", prefix)) + "/" + raw_path
    raw_target = raw_path[:-1] if len(raw_path) > 1 and raw_path.endswith("/") else raw_path + "/"
    location = _redirect_clean(raw_target) + (mark + query if query else "")
    status = 301 if method == "GET" else 307
    headers = {"Location": location}
    if method in ("GET", "HEAD"):
        headers["Content-Type"] = "text/html; charset=utf-8"
    # net/http writes the short HTML note for GET only; Fprintln adds the second newline.
    body = f'<a href="{location.translate(_HTML_ESCAPES)}">Moved Permanently</a>.\n\n'.encode() \
        if method == "GET" else b""
    return web.Response(status=status, body=body, headers=headers)
