"""Where the control panel page (``management.html``) lives, and keeping it current from GitHub
(CLIProxyAPI's ``internal/managementasset/updater.go``).

The file: ``MANAGEMENT_STATIC_PATH`` (a directory, or a path whose last part is
``management.html``), else ``$WRITABLE_PATH/static/management.html``, else ``static/management.html``
beside config.yaml. Without a config file (the gateway's embedded defaults) only the two variables
can name a place; otherwise there is no panel.

A check looks up the ``releases/latest`` of ``remote-management.panel-github-repository``, takes the
asset named ``management.html``, and downloads it unless its ``digest`` equals the local file's
SHA-256; the file is replaced atomically. When the lookup or the download fails and there is no
local file, the public panel page is saved instead. Checks run at start-up, every 3 hours, after
every config reload, and when a request finds no file; whatever starts them, at most one per 3
hours goes out (the legacy's limit is per process; here it is per app, which is one per process),
and none while the panel is disabled. Enabling the panel again lifts the limit.

``QUOTIO_GATEWAY_PANEL_FALLBACK_URL`` (read on every check) replaces the public page's address, as
``QUOTIO_GATEWAY_GITHUB_API_URL`` replaces GitHub's API origin (github_client.py): for tests only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import structlog
from aiohttp import web

from ..config.models import Config
from ..fileio import atomic_write
from ..gostrings import go_trim
from .github_client import GitHubClient, github_api_url, github_client
from .responses import Field, GoJSONError, Struct, as_str, decode_body, list_of

if TYPE_CHECKING:
    from ..config.store import ConfigStore

__all__ = ["PANEL_UPDATER", "PanelUpdater", "panel_file", "release_url", "static_dir"]

log = structlog.get_logger("quotio_gateway.management.panel")

ASSET_NAME = "management.html"
DEFAULT_RELEASE_URL = "https://api.github.com/repos/router-for-me/Cli-Proxy-API-Management-Center/releases/latest"
FALLBACK_URL = "https://cpamc.router-for.me/"
FALLBACK_ENV = "QUOTIO_GATEWAY_PANEL_FALLBACK_URL"
USER_AGENT = "CLIProxyAPI-management-updater"
CHECK_INTERVAL = 3 * 3600.0
TIMEOUT_SECONDS = 15.0
_ERROR_BODY_LIMIT = 1024

_ASSET = Struct(Field("name", as_str), Field("browser_download_url", as_str), Field("digest", as_str))
_RELEASE = Struct(Field("assets", list_of(_ASSET), nilable=True))


def _env(environ: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = go_trim(environ.get(name, ""))
        if value:
            return value
    return ""


def _override(environ: Mapping[str, str]) -> Path | None:
    value = _env(environ, "MANAGEMENT_STATIC_PATH")
    return Path(os.path.normpath(value)) if value else None


def static_dir(config_path: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The directory holding ``management.html`` (``StaticDir``), or None when there is none."""
    environ = os.environ if environ is None else environ
    override = _override(environ)
    if override is not None:
        return override.parent if override.name.casefold() == ASSET_NAME else override
    writable = _env(environ, "WRITABLE_PATH", "writable_path")
    if writable:
        return Path(os.path.normpath(writable)) / "static"
    if config_path is None:
        return None
    base = config_path if config_path.is_dir() else config_path.parent
    return base / "static"


def panel_file(config_path: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The panel file the route serves (``FilePath``), or None when there is none."""
    environ = os.environ if environ is None else environ
    override = _override(environ)
    if override is not None:
        return override if override.name.casefold() == ASSET_NAME else override / ASSET_NAME
    directory = static_dir(config_path, environ)
    return directory / ASSET_NAME if directory is not None else None


def release_url(repository: str) -> str:
    """The ``releases/latest`` API URL for ``panel-github-repository`` (``resolveReleaseURL``): a
    github.com repository URL is converted, an api.github.com URL is kept (``/releases/latest``
    added when missing), anything else means the default repository."""
    repository = go_trim(repository)
    if not repository:
        return DEFAULT_RELEASE_URL
    try:
        parts = urlsplit(repository)
    except ValueError:
        return DEFAULT_RELEASE_URL
    host = parts.netloc.lower()
    path = parts.path.removesuffix("/")
    if host == "api.github.com":
        if not path.lower().endswith("/releases/latest"):
            path += "/releases/latest"
        return urlunsplit(parts._replace(path=path))
    if host == "github.com":
        pieces = path.strip("/").split("/")
        if len(pieces) >= 2 and pieces[0] and pieces[1]:
            return f"https://api.github.com/repos/{pieces[0]}/{pieces[1].removesuffix('.git')}/releases/latest"
    return DEFAULT_RELEASE_URL


def _digest(value: str) -> str:
    """``sha256:<hex>`` → ``<hex>`` (lower case); whatever precedes a colon is dropped."""
    value = go_trim(value)
    return go_trim(value.partition(":")[2] if ":" in value else value).lower()


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class _CheckFailed(Exception):
    """One step of a check failed; the message is logged (it never holds a token)."""


async def _read_ok(resp: aiohttp.ClientResponse, what: str) -> bytes:
    if resp.status != 200:
        head = await resp.content.read(_ERROR_BODY_LIMIT)
        raise _CheckFailed(f"unexpected {what} status {resp.status}: "
                           f"{go_trim(head.decode('utf-8', errors='replace'))}")
    return await resp.read()


async def _latest_asset(client: GitHubClient, url: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(download URL, expected SHA-256 or "") of the release's ``management.html``."""
    headers = {"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT}
    # The legacy lets a GitHub-hosted git token store lift the API's anonymous rate limit.
    token = go_trim(environ.get("GITSTORE_GIT_TOKEN", ""))
    if token and "github.com" in go_trim(environ.get("GITSTORE_GIT_URL", "")).lower():
        headers["Authorization"] = "Bearer " + token
    try:
        async with client.get(url, headers) as resp:
            body = await _read_ok(resp, "release")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise _CheckFailed(f"release request: {type(exc).__name__}") from exc
    try:
        release = decode_body(body, _RELEASE, whole=False) or {}
    except GoJSONError as exc:
        raise _CheckFailed(f"decode release response: {exc}") from exc
    for asset in release.get("assets") or ():
        if asset.get("name", "").casefold() == ASSET_NAME:
            return asset.get("browser_download_url", ""), _digest(asset.get("digest", ""))
    raise _CheckFailed(f"management asset {ASSET_NAME} not found in latest release")


async def _download(client: GitHubClient, url: str) -> bytes:
    if not go_trim(url):
        raise _CheckFailed("empty download url")
    try:
        async with client.get(url, {"User-Agent": USER_AGENT}) as resp:
            return await _read_ok(resp, "download")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise _CheckFailed(f"download request: {type(exc).__name__}") from exc


class PanelUpdater:
    """The checks for one gateway: their rate limit, the panel switch, and the tasks in flight."""

    def __init__(self, config_path: Path | None, config: Callable[[], Config], *, active: bool = True,
                 clock: Callable[[], float] = time.monotonic, environ: Mapping[str, str] | None = None) -> None:
        self.config_path = config_path
        # An inactive updater only says where the file is (the shadow worker's copy of the app:
        # the gateway process does the checks).
        self.active = active
        self._config = config
        self.clock = clock
        self._environ = environ
        self._disabled = bool(config().remote_management.disable_control_panel)
        self._last_check: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic: asyncio.Task[None] | None = None

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def panel_file(self) -> Path | None:
        return panel_file(self.config_path, self.environ)

    # --- triggers ------------------------------------------------------------------------------

    def start(self) -> None:
        """The start-up check and the 3-hourly ones (the legacy's auto-updater)."""
        if not self.active or static_dir(self.config_path, self.environ) is None or self._periodic is not None:
            return
        self.check_soon()
        self._periodic = asyncio.get_running_loop().create_task(self._every_interval(), name="panel-updater")

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            self.check_soon()

    def config_changed(self, old: Config, new: Config) -> None:
        """Config listener: follow the panel switch, then check (rate limit permitting)."""
        was_disabled = self._disabled
        self._disabled = bool(new.remote_management.disable_control_panel)
        if was_disabled and not self._disabled:
            self._last_check = None
        if not self._disabled:
            self.check_soon()

    def check_soon(self) -> None:
        """Start a check in the background; the caller never waits for GitHub."""
        if not self.active:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a config saved before the app runs; start-up checks anyway
            return
        task = loop.create_task(self.check(), name="panel-check")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Wait until no check is in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._periodic] if self._periodic is not None else [])]
        self._periodic = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- one check -----------------------------------------------------------------------------

    def _take_slot(self) -> bool:
        now = self.clock()
        if self._last_check is not None and now - self._last_check < CHECK_INTERVAL:
            return False
        self._last_check = now
        return True

    async def check(self) -> None:
        """``EnsureLatestManagementHTML``: never raises; failures are logged."""
        try:
            await self._check()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("management asset check failed")

    async def _check(self) -> None:
        if self._disabled:
            return
        directory = static_dir(self.config_path, self.environ)
        if directory is None:
            return
        local = directory / ASSET_NAME
        missing = not local.exists()
        if not self._take_slot():
            log.debug("management asset check skipped: checked less than 3 h ago")
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot prepare the management asset directory", error=type(exc).__name__)
            return
        cfg = self._config()
        environ = self.environ
        url = github_api_url(release_url(cfg.remote_management.panel_github_repository), environ)
        local_hash = await asyncio.to_thread(_file_sha256, local)
        async with github_client(cfg.proxy_url or "", TIMEOUT_SECONDS) as client:
            try:
                download_url, remote_hash = await _latest_asset(client, url, environ)
                if remote_hash and local_hash and remote_hash == local_hash:
                    log.debug("management asset is up to date")
                    return
                data = await _download(client, download_url)
            except _CheckFailed as exc:
                if not missing:
                    log.warning("management asset not updated", reason=str(exc))
                    return
                log.warning("management asset unavailable, trying the fallback page", reason=str(exc))
                await self._save_fallback(client, local, environ)
                return
        got = hashlib.sha256(data).hexdigest()
        if remote_hash and remote_hash != got:
            log.warning("management asset digest differs from the release's", expected=remote_hash, got=got)
        await self._write(local, data, "management asset updated", got)

    async def _save_fallback(self, client: GitHubClient, local: Path, environ: Mapping[str, str]) -> None:
        url = go_trim(environ.get(FALLBACK_ENV, "")) or FALLBACK_URL
        try:
            data = await _download(client, url)
        except _CheckFailed as exc:
            log.warning("fallback management page unavailable", reason=str(exc))
            return
        await self._write(local, data, "management asset saved from the fallback page",
                          hashlib.sha256(data).hexdigest())

    @staticmethod
    async def _write(local: Path, data: bytes, message: str, digest: str) -> None:
        try:
            await asyncio.to_thread(atomic_write, local, data, 0o644)
        except OSError as exc:
            log.warning("cannot write the management asset", error=type(exc).__name__)
            return
        log.info(message, sha256=digest)


PANEL_UPDATER = web.AppKey("panel_updater", PanelUpdater)


def install_panel_updater(app: web.Application, config_store: ConfigStore, *, active: bool = True) -> PanelUpdater:
    """Create the app's updater: checks start with the app, follow config reloads, stop with it."""
    updater = PanelUpdater(config_store.path, lambda: config_store.current, active=active)
    app[PANEL_UPDATER] = updater
    config_store.subscribe(updater.config_changed)

    async def startup(app: web.Application) -> None:
        updater.start()

    async def cleanup(app: web.Application) -> None:
        await updater.stop()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return updater
