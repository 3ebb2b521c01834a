"""Registry of native handlers: what the gateway can answer itself, by method and path template.

Templates use aiohttp's syntax (``/v0/management/request-error-logs/{name}``). The app factory
mounts every registered handler behind the dispatcher, so the flag table still decides per request
whether the native handler, the legacy server, or both answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class NativeRoute:
    method: str
    path: str
    handler: Handler


@dataclass
class NativeRegistry:
    routes: list[NativeRoute] = field(default_factory=list)

    def add(self, method: str, path: str, handler: Handler) -> None:
        method = method.upper()
        for existing in self.routes:
            if existing.method == method and existing.path == path:
                raise ValueError(f"native route {method} {path} registered twice")
        self.routes.append(NativeRoute(method, path, handler))

    def get(self, path: str, handler: Handler) -> None:
        self.add("GET", path, handler)

    def put(self, path: str, handler: Handler) -> None:
        self.add("PUT", path, handler)

    def patch(self, path: str, handler: Handler) -> None:
        self.add("PATCH", path, handler)

    def post(self, path: str, handler: Handler) -> None:
        self.add("POST", path, handler)

    def delete(self, path: str, handler: Handler) -> None:
        self.add("DELETE", path, handler)
