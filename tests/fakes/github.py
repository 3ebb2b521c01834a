"""A loopback GitHub for the management side's outgoing calls: the releases API, a release asset
download and the control panel's public fallback page.

Every route answers what its ``Answer`` says (status, body, headers; ``reset`` drops the
connection instead) and every request is recorded (``FakeGitHub.requests``: method, path, headers).
Point the gateway at it with ``QUOTIO_GATEWAY_GITHUB_API_URL=<url>`` (the API) and
``QUOTIO_GATEWAY_PANEL_FALLBACK_URL=<url>/fallback/`` (the fallback page); the asset URL is whatever
the scripted release names (``asset_release`` builds one pointing back at the fake).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .loopback import serve_on_loopback

PANEL_REPO = "router-for-me/Cli-Proxy-API-Management-Center"
GATEWAY_REPO = "router-for-me/CLIProxyAPI"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Answer:
        return cls(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


class FakeGitHub:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[Recorded] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fallback_url(self) -> str:
        return f"{self.url}/fallback/"

    def release_path(self, repo: str = PANEL_REPO) -> str:
        return f"/repos/{repo}/releases/latest"

    def set(self, path: str, answer: Answer) -> None:
        self.answers[path] = answer

    def asset_release(self, data: bytes, *, digest: str | None = None, name: str = "management.html",
                      repo: str = PANEL_REPO) -> None:
        """A panel release whose asset ``name`` downloads ``data`` from the fake; ``digest`` defaults
        to the right ``sha256:<hex>``."""
        if digest is None:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.set(self.release_path(repo), Answer.json({"tag_name": "v1.2.3", "assets": [
            {"name": "other.txt", "browser_download_url": f"{self.url}/download/other.txt", "digest": ""},
            {"name": name, "browser_download_url": f"{self.url}/download/{name}", "digest": digest}]}))
        self.set(f"/download/{name}", Answer(200, data, {"Content-Type": "application/octet-stream"}))

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded(request.method, request.path, dict(request.headers)))
        answer = self.answers.get(request.path, Answer(404, b'{"message":"Not Found"}'))
        if answer.reset:
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner, _ = await serve_on_loopback(app)
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
