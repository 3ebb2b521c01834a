"""``GET /management.html``: the control panel page, for anyone, no key (``internal/api/server.go``
serveManagementControlPanel). The page then calls ``/v0/management/*`` with the key its user types.

404 with an empty body while ``remote-management.disable-control-panel`` is on or when there is no
file (which also starts a background check, see panel_asset.py); 500 when the file cannot be
looked at; otherwise the file as Gin's ``c.File`` sends it (servefile.py).
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from aiohttp import web

from ..appkeys import CONFIG_STORE
from ..native import NativeRegistry
from ..servefile import open_error, serve_content
from .panel_asset import PANEL_UPDATER, panel_file

__all__ = ["get_management_html", "setup_panel_route"]

PANEL_PATH = "/management.html"
CONTENT_TYPE = "text/html; charset=utf-8"  # Go's mime.TypeByExtension(".html")


def _read(path: Path) -> tuple[os.stat_result, bytes]:
    # Go opens a directory without complaint and only then finds out what it is.
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        return info, b""
    with path.open("rb") as handle:
        return os.fstat(handle.fileno()), handle.read()


async def get_management_html(request: web.Request) -> web.StreamResponse:
    store = request.app[CONFIG_STORE]
    if store.current.remote_management.disable_control_panel:
        return web.Response(status=404)
    updater = request.app.get(PANEL_UPDATER)
    path = updater.panel_file() if updater is not None else panel_file(store.path)
    if path is None:
        return web.Response(status=404)
    try:
        path.stat()
    except FileNotFoundError:
        if updater is not None:
            updater.check_soon()
        return web.Response(status=404)
    except OSError:
        return web.Response(status=500)
    try:
        info, data = await asyncio.to_thread(_read, path)
    except OSError as exc:
        return open_error(exc)
    if stat.S_ISDIR(info.st_mode):
        # http.ServeFile's answer for a directory: to the same name with a slash (localRedirect).
        query = request.rel_url.raw_query_string
        return web.Response(status=301, headers={"Location": "management.html/" + (f"?{query}" if query else "")})
    return serve_content(request.method, request.headers, data, info.st_mtime, CONTENT_TYPE)


def setup_panel_route(registry: NativeRegistry) -> None:
    registry.get(PANEL_PATH, get_management_html)
